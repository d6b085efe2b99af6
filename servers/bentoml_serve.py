"""`bentoml serve` for the registered BentoML stacks: `python -m servers.bentoml_serve SERVICE ...`.

Runs BentoML's own CLI in this process, with two settings a shared benchmark machine needs:
- BentoML keeps its Prometheus multiprocess files in one directory under BENTOML_HOME and
  empties it whenever a server starts, so two BentoML servers on one machine would erase each
  other's metrics. Each server gets its own directory: the launcher's PROMETHEUS_MULTIPROC_DIR.
- No usage-statistics calls (BENTOML_DO_NOT_TRACK): the benchmark measures serving only.
- BENTOML_HOME under SERVEBENCH_RUN_DIR when that is set (a container's writable place).
"""

from __future__ import annotations

import os
import sys
import tempfile


def main(argv: list[str]) -> None:
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    if "BENTOML_HOME" not in os.environ and os.environ.get("SERVEBENCH_RUN_DIR"):
        # BentoML writes under its home (~/bentoml by default): in an image only the run
        # directory is writable.
        os.environ["BENTOML_HOME"] = os.path.join(os.environ["SERVEBENCH_RUN_DIR"], "bentoml")
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="prom-bentoml-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory

    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml_cli.cli import cli

    BentoMLContainer.prometheus_multiproc_dir.set(directory)
    cli(args=["serve", *argv], prog_name="bentoml")


if __name__ == "__main__":
    main(sys.argv[1:])
