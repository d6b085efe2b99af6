"""The Dockerfile, read instruction by instruction (no engine here to build it)."""

from __future__ import annotations

import json
import re

from servebench import probe
from servers.process import REPO_ROOT
from servers.registry import PATHS, VENV_PREFIX, VENVS_ENV

BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "cmake", "pip install")


def instructions() -> list[list[tuple[str, str]]]:
    """Stages, each a list of (INSTRUCTION, arguments) with continuations joined."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    stages: list[list[tuple[str, str]]] = [[]]
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), rest.strip()))
    return stages[1:]


def args_of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for key, rest in stage if key == keyword]


def test_multi_stage_with_a_slim_runtime() -> None:
    stages = instructions()
    assert len(stages) >= 2
    froms = [args_of(stage, "FROM")[0] for stage in stages]
    assert froms[0].endswith(" AS build") and froms[-1].endswith(" AS runtime")
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "slim" in re.search(r"ARG PYTHON_IMAGE=(\S+)", text).group(1)


def test_runtime_stage_runs_as_an_unprivileged_user_without_build_tools() -> None:
    runtime = instructions()[-1]
    (user,) = args_of(runtime, "USER")
    assert user.split(":")[0] not in ("0", "root")
    for command in args_of(runtime, "RUN"):
        assert not any(tool in command for tool in BUILD_TOOLS), command
    copies = args_of(runtime, "COPY")
    assert all(copy.startswith("--from=build ") for copy in copies), copies


def test_artifacts_are_trained_at_build_time_and_verified_in_both_stages() -> None:
    build, runtime = instructions()[0], instructions()[-1]
    build_runs = " ".join(args_of(build, "RUN"))
    assert "shared_model.training" in build_runs and "servebench.artifacts" in build_runs
    assert any("servebench.artifacts" in run for run in args_of(runtime, "RUN"))


def test_healthcheck_probes_readiness() -> None:
    (healthcheck,) = args_of(instructions()[-1], "HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[:3] == ["python", "-m", "servebench.probe"]
    assert command[command.index("--path") + 1] == PATHS["ready"]
    assert PATHS["ready"] == probe.READY_PATH


def entrypoint() -> list[str]:
    (cmd,) = args_of(instructions()[-1], "CMD")
    return json.loads(cmd)


def test_command_serves_the_stack_named_by_the_environment() -> None:
    command = entrypoint()
    assert "servebench serve \"$SERVEBENCH_STACK\"" in command[-1]
    assert "--host 0.0.0.0" in command[-1] and "$SERVEBENCH_PORT" in command[-1]


def test_dockerignore_is_an_allow_list() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*" and "!servers/" in lines and "!shared_model/" in lines
    assert "shared_model/artifacts/" in lines  # the image trains its own


def test_a_stacks_own_environment_is_built_where_the_runtime_looks_for_it() -> None:
    build, runtime = instructions()[0], instructions()[-1]
    built = " ".join(args_of(build, "RUN"))
    assert 'python -m venv "/opt/.venv-${SERVEBENCH_ENV}"' in built
    assert 'servers/envs/${SERVEBENCH_ENV}.txt' in built
    assert "SERVEBENCH_ENV" in " ".join(args_of(build, "ARG") + args_of(runtime, "ARG"))
    env = " ".join(args_of(runtime, "ENV"))
    assert f"{VENVS_ENV}=/opt" in env and f"/opt/{VENV_PREFIX}" in built
    assert "--from=build /opt /opt" in args_of(runtime, "COPY")
