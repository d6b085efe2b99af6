"""docker-compose.yml: one service per stack, probes on readiness, limits, no default secret."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from servebench.deploy import compose, container, files
from servers.process import REPO_ROOT
from servers.registry import STACKS

COMPOSE_PATH = REPO_ROOT / files.COMPOSE_FILE


def compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def run_config(env_file: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cli = compose_cli()
    if cli is None:
        # `make test` installs docker-compose (make sysdeps): without it the install is broken.
        pytest.fail("no compose CLI (docker-compose or the docker compose plugin); run `make sysdeps`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GF_")}
    env.update(extra_env)
    return subprocess.run(
        [*cli, "--env-file", env_file, "-f", str(COMPOSE_PATH), "config", "-q"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def test_one_service_per_stack_with_its_own_profile(document) -> None:
    services = document["services"]
    for stack in STACKS.values():
        service = services[container.dns_name(stack)]
        assert service["profiles"] == [stack.name, compose.ALL_PROFILE]
        assert service["environment"]["SERVEBENCH_STACK"] == stack.name
    stack_services = {name for name, s in services.items() if "profiles" in s}
    assert stack_services == {container.dns_name(s) for s in STACKS.values()}
    assert "profiles" not in services["prometheus"] and "profiles" not in services["grafana"]


def test_stack_services_probe_readiness_and_carry_knobs_and_limits(document) -> None:
    for stack in STACKS.values():
        service = document["services"][container.dns_name(stack)]
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD" and stack.paths["ready"] in test
        # Readiness, not liveness, unless the framework answers both on one path (declared).
        assert stack.paths["health"] != test[-1] or stack.paths["health"] == stack.paths["ready"]
        for knob, value in stack.knobs.items():
            assert service["environment"][f"SERVEBENCH_KNOB_{knob.upper()}"] == str(value)
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0 and limits["memory"].endswith("M")
        assert service["ports"] == [f"127.0.0.1:{stack.default_port}:{container.CONTAINER_PORT}"]
        assert service["read_only"] is True


def test_grafana_password_comes_only_from_the_environment(document) -> None:
    grafana_env = document["services"]["grafana"]["environment"]
    assert grafana_env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GF_ADMIN_PASSWORD:?")
    example = (REPO_ROOT / ".env.example").read_text()
    assert "GF_ADMIN_PASSWORD=\n" in example  # documented, but no value shipped


def test_compose_cli_accepts_the_file_when_the_password_is_set(tmp_path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_config(str(empty), {"GF_ADMIN_PASSWORD": "not-a-real-secret"})
    assert result.returncode == 0, result.stderr


def test_compose_cli_refuses_without_a_password() -> None:
    result = run_config(str(REPO_ROOT / ".env.example"), {})
    assert result.returncode != 0
    assert "GF_ADMIN_PASSWORD" in result.stderr


def test_a_stack_with_its_own_environment_runs_from_an_image_that_has_it(document) -> None:
    for name, stack in STACKS.items():
        service = document["services"][name.replace("_", "-")]
        if stack.environment is None:
            assert service["image"] == "servebench:latest" and "args" not in service["build"]
        else:
            assert service["image"] == f"servebench-{stack.environment}:latest"
            assert service["build"]["args"] == {"SERVEBENCH_ENV": stack.environment}
            assert (REPO_ROOT / "servers" / "envs" / f"{stack.environment}.txt").is_file()
