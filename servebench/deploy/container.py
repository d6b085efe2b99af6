"""How one registered stack runs in a container: port, environment, probes, resources.

Shared by the compose and Kubernetes renderings so both describe the same container.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.knobs import knob_env_name
from servers.registry import Stack

IMAGE = "servebench:latest"
# Build argument of the Dockerfile: the stack's own virtual environment to build into the image.
ENV_BUILD_ARG = "SERVEBENCH_ENV"


def image(stack: Stack) -> str:
    """One image for the stacks of the main environment, one per environment of its own."""
    return IMAGE if stack.environment is None else f"servebench-{stack.environment}:latest"


def build_args(stack: Stack) -> dict[str, str]:
    return {} if stack.environment is None else {ENV_BUILD_ARG: stack.environment}
# Every container listens on the same port; the registry's default_port is the host side.
CONTAINER_PORT = 8000
MODEL_PROFILE = "default"


def dns_name(stack: Stack) -> str:
    """Compose service and Kubernetes object name: DNS labels allow no underscore."""
    return stack.name.replace("_", "-")


@dataclass(frozen=True)
class Resources:
    cpus: float
    memory_mib: int
    cpus_request: float
    memory_request_mib: int


def resources(stack: Stack) -> Resources:
    """One server core per stack (what the benchmark measures), memory by process count.

    A server process with the default profile measured ~190 MiB RSS; each worker may hold
    its own model and runtime, so the limit grows with the workers knob, with headroom
    for the heavy profile.
    """
    workers = int(stack.knobs.get("workers", 1))
    memory = stack.memory_mib or 256 + 256 * workers
    return Resources(cpus=1.0, memory_mib=memory, cpus_request=0.5, memory_request_mib=memory // 2)


def environment(stack: Stack) -> dict[str, str]:
    """What the image's entry point reads: the stack, its port, its model and every knob."""
    env = {
        "SERVEBENCH_STACK": stack.name,
        "SERVEBENCH_PORT": str(CONTAINER_PORT),
        "SERVEBENCH_MODEL": MODEL_PROFILE,
    }
    env.update({knob_env_name(name): str(value) for name, value in stack.knobs.items()})
    return env


def probe_command(path: str) -> list[str]:
    """The image has no curl: the probe is a few lines of Python that exit non-zero unless 200."""
    return ["python", "-m", "servebench.probe", "--path", path]


def grace_period_s(stack: Stack) -> int:
    """Time to give a stopping container: the server's own graceful timeout plus a margin."""
    return int(stack.knobs.get("graceful_timeout_s", 10)) + 5
