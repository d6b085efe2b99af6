"""A real Prometheus scrapes a real stack: the counts it reports are exactly the requests sent."""

from __future__ import annotations

import httpx
import pytest

from servebench.deploy import grafana
from servebench.deploy.k8s import DEFAULT_STACK
from servebench.deploy.prometheus_config import ScrapeTarget
from servebench.prometheus import PrometheusServer, scalar
from servers.process import ServerProcess
from servers.registry import get_stack
from shared_model.cases import GOLDEN_REQUESTS

SINGLES = 7
BATCH_ROWS = 5


@pytest.fixture(scope="module")
def scraped() -> tuple[str, PrometheusServer]:
    stack = get_stack(DEFAULT_STACK)
    with ServerProcess(stack) as server:
        target = ScrapeTarget(stack, f"{server.host}:{server.port}")
        with PrometheusServer([target], scrape_interval="1s") as prometheus, httpx.Client(
            base_url=server.url, timeout=10.0
        ) as client:
            for n in range(SINGLES):
                request = GOLDEN_REQUESTS[n % len(GOLDEN_REQUESTS)]
                assert client.post(stack.paths["predict"], json=request).status_code == 200
            items = list(GOLDEN_REQUESTS[:BATCH_ROWS])
            assert client.post(stack.paths["batch"], json={"items": items}).status_code == 200
            yield stack.name, prometheus


def _count(prometheus: PrometheusServer, selector: str, expected: float) -> float | None:
    result = prometheus.wait_for(
        f"sum(ml_predictions_total{{{selector}}})", lambda r: scalar(r) == expected, timeout_s=30
    )
    return scalar(result)


def test_prometheus_counts_exactly_the_predictions_sent(scraped: tuple[str, PrometheusServer]) -> None:
    name, prometheus = scraped
    assert _count(prometheus, f'stack="{name}",endpoint="single",outcome="success"', SINGLES) == SINGLES
    assert _count(prometheus, f'stack="{name}",endpoint="batch",outcome="success"', BATCH_ROWS) == BATCH_ROWS
    assert scalar(prometheus.query(f'sum(ml_predictions_total{{stack="{name}",outcome="error"}})')) == 0
    assert prometheus.targets_health() == {name: "up"}


def test_every_dashboard_query_runs_on_real_prometheus(scraped: tuple[str, PrometheusServer]) -> None:
    name, prometheus = scraped
    prometheus.wait_for(f'ml_inference_duration_seconds_count{{stack="{name}"}}', bool, timeout_s=30)
    for panel in grafana.PANELS:
        for _, expr in panel.queries:
            # Grafana's variables, as Grafana would substitute them.
            query = expr.replace("$__rate_interval", "1m").replace("$stack", name)
            prometheus.query(query)  # raises on a PromQL error
    rows = grafana.PANELS[0].queries[0][1].replace("$__rate_interval", "1m").replace("$stack", name)
    assert prometheus.wait_for(rows, bool, timeout_s=30)[0]["metric"] == {"stack": name}
