"""Re-render the generated blocks of README.md from the registry: `make readme`."""

from __future__ import annotations

import re
from pathlib import Path

from servebench.commands.stacks import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    text = README.read_text()
    block = f"<!-- stacks:begin -->\n{markdown_table()}\n<!-- stacks:end -->"
    README.write_text(re.sub(r"<!-- stacks:begin -->.*?<!-- stacks:end -->", block, text, flags=re.S))


if __name__ == "__main__":
    main()
