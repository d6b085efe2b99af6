from __future__ import annotations

import argparse

from servebench.cli import build_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_subcommands_help_renders() -> None:
    # A help text with a bare percent sign (a formatted share, say) breaks argparse's own
    # %-formatting only when --help is asked for.
    for name, sub in _subcommands(build_parser()).items():
        text = sub.format_help()
        assert name in text
