"""Remote Locust workers and external services, the parts that need no server: commands, flags,
what a missing worker is told, process metrics read from a metrics text."""

from __future__ import annotations

import argparse
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests.generators.base import GeneratorSettings, RemoteWorkers
from loadtests.generators.locust import CLOSED_LOCUSTFILE, _missing_workers, commands, worker_command
from loadtests.plans import WORKERS_FILE
from loadtests.sampling import METRICS_PID, take_metrics
from servebench.cli import build_parser
from servebench.commands.common import external_from, remote_from
from servebench.errors import UserError

pytestmark = pytest.mark.unit


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_the_master_binds_where_remote_workers_reach_it_and_waits_for_all_of_them() -> None:
    remote = RemoteWorkers("10.0.0.5", 5557, 3, wait_s=45)
    (master, local) = commands(GeneratorSettings(None, workers=1, remote=remote), "http://10.0.0.5:8000",
                               8, 10, CLOSED_LOCUSTFILE)
    assert (_flag(master, "--master-bind-host"), _flag(master, "--master-bind-port")) == ("10.0.0.5", "5557")
    assert _flag(master, "--expect-workers") == "4"  # the local one and the three elsewhere
    assert _flag(master, "--expect-workers-max-wait") == "45"
    assert (_flag(local, "--master-host"), _flag(local, "--master-port")) == ("10.0.0.5", "5557")


def test_without_workers_anywhere_locust_is_one_local_process() -> None:
    (only,) = commands(GeneratorSettings(None), "http://127.0.0.1:8000", 8, 10, CLOSED_LOCUSTFILE)
    assert "--master" not in only and "--worker" not in only


def test_a_remote_worker_fetches_the_locustfile_from_the_master() -> None:
    argv = worker_command("10.0.0.5:5557")
    assert _flag(argv, "-f") == "-" and "--worker" in argv
    assert (_flag(argv, "--master-host"), _flag(argv, "--master-port")) == ("10.0.0.5", "5557")


def test_missing_workers_are_counted_and_the_connected_ones_named(tmp_path: Path) -> None:
    settings = GeneratorSettings(None, remote=RemoteWorkers("10.0.0.5", 5557, 2, wait_s=30))
    (tmp_path / WORKERS_FILE).write_text('["loadhost_1a2b"]')
    message = _missing_workers(tmp_path, settings)
    assert message is not None
    assert "1 of 2 Locust workers connected within 30s (loadhost_1a2b): 1 missing" in message
    assert "servebench worker --master 10.0.0.5:5557" in message
    (tmp_path / WORKERS_FILE).write_text('["a", "b"]')
    assert _missing_workers(tmp_path, settings) is None
    assert _missing_workers(tmp_path, GeneratorSettings(None)) is None


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


@pytest.mark.parametrize("argv", [
    ["--remote-workers", "2"],  # where would the master bind?
    ["--locust-master", "10.0.0.5:5557"],  # how many to wait for?
    ["--locust-master", "10.0.0.5", "--remote-workers", "1"],  # no port
    ["--locust-master", "10.0.0.5:5557", "--remote-workers", "1", "--workers-wait-s", "0"],
])
def test_remote_worker_flags_that_cannot_work_are_refused(argv: list[str]) -> None:
    with pytest.raises(UserError, match="--locust-master ADDRESS:PORT"):
        remote_from(_args(*argv))


def test_an_external_service_is_labelled_by_its_address_unless_named() -> None:
    external = external_from(_args("--url", "http://10.0.0.7:8000/", "--stack", "bentoml"))
    assert external is not None
    assert (external.label, external.kind, external.url) == ("10_0_0_7_8000", "bentoml", "http://10.0.0.7:8000")
    assert external_from(_args()) is None


@pytest.mark.parametrize("argv, message", [
    (["--url", "10.0.0.7:8000"], "base URL"),
    (["--url", "http://10.0.0.7:8000/api/v1"], "no path"),
    (["--url", "http://10.0.0.7:8000", "--label", "fastapi_batcher"], "registered stack"),
])
def test_external_urls_and_labels_that_would_mislead_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        external_from(_args(*argv))


@pytest.fixture
def metrics_server() -> Iterator[dict[str, str]]:
    """A real HTTP server answering /metrics with whatever text the test sets."""
    served = {"text": ""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served["text"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served["url"] = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    yield served
    server.shutdown()


def test_an_external_services_cpu_and_memory_come_from_its_process_metrics(
        metrics_server: dict[str, str]) -> None:
    metrics_server["text"] = ("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n"
                              "# TYPE process_resident_memory_bytes gauge\n"
                              "process_resident_memory_bytes 2.5e+08\n")
    sample = take_metrics(metrics_server["url"])
    assert sample is not None
    assert sample.cpu_s == {METRICS_PID: 12.5} and sample.rss == {METRICS_PID: 250_000_000}


def test_a_service_without_process_metrics_gives_no_sample_rather_than_zero(
        metrics_server: dict[str, str]) -> None:
    metrics_server["text"] = "# TYPE ml_predictions_total counter\nml_predictions_total 3\n"
    assert take_metrics(metrics_server["url"]) is None
    assert take_metrics("http://127.0.0.1:9/metrics") is None  # nothing listens there
