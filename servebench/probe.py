"""Container health probe: exit 0 if the server answers 200 on a path, 1 otherwise.

    python -m servebench.probe [--path /health/ready] [--port N]

Images carry no curl; this uses only the standard library so that a probe every few
seconds stays cheap (it deliberately imports nothing from the project).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

READY_PATH = "/health/ready"  # the contract's readiness path (a test keeps them equal)


def probe(url: str, timeout_s: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=READY_PATH)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVEBENCH_PORT", "8000")))
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    ok = probe(f"http://{args.host}:{args.port}{args.path}", args.timeout)
    if not ok:
        print(f"not healthy: {args.path}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
