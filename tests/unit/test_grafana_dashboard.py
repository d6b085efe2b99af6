"""The Grafana dashboard reads only what the contract exposes, through the provisioned datasource."""

from __future__ import annotations

import json

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from servebench.deploy import files, grafana
from servers import metrics
from servers.metrics import CONTRACT_METRICS
from servers.process import REPO_ROOT


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((REPO_ROOT / files.DASHBOARD_FILE).read_text())


def exprs(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_query_names_only_contract_metrics(dashboard) -> None:
    allowed = grafana.contract_series()
    for expr in exprs(dashboard):
        names = grafana.metric_names(expr)
        assert names, f"query reads no contract metric: {expr}"
        assert names <= allowed, f"{sorted(names - allowed)} not exposed by the contract: {expr}"


def test_contract_series_match_the_real_exposition() -> None:
    # Every name the dashboard may use is one the servers' /metrics text really carries.
    metrics.ERRORS.labels("single", "probe")  # a labelled counter shows samples once used
    exposed = {
        sample.name
        for family in text_string_to_metric_families(metrics.render()[0].decode())
        for sample in family.samples
    }
    assert grafana.contract_series() <= exposed


def test_every_query_is_per_stack_and_follows_the_stack_variable(dashboard) -> None:
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert "stack" in variables
    for expr in exprs(dashboard):
        assert 'stack=~"$stack"' in expr and "by (stack" in expr, expr


def test_dashboard_covers_every_contract_metric(dashboard) -> None:
    used = {name for expr in exprs(dashboard) for name in grafana.metric_names(expr)}
    for metric in CONTRACT_METRICS:
        assert any(name == metric or name.startswith(metric + "_") for name in used), metric
    quantiles = [e for e in exprs(dashboard) if "histogram_quantile" in e]
    assert any("ml_inference_duration_seconds_bucket" in e and "0.99" in e for e in quantiles)
    assert any("ml_inference_duration_seconds_bucket" in e and "0.5" in e for e in quantiles)


def test_panels_use_the_provisioned_datasource(dashboard) -> None:
    provisioned = yaml.safe_load((REPO_ROOT / files.DATASOURCE_FILE).read_text())["datasources"]
    uids = {source["uid"] for source in provisioned}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids
        assert all(target["datasource"]["uid"] in uids for target in panel["targets"])
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_dashboard_provider_points_where_compose_mounts_the_dashboards() -> None:
    provider = yaml.safe_load((REPO_ROOT / files.PROVIDER_FILE).read_text())["providers"][0]
    compose = yaml.safe_load((REPO_ROOT / files.COMPOSE_FILE).read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./{files.DASHBOARD_FILE.rsplit('/', 1)[0]}:{provider['options']['path']}:ro" in mounts


def test_rendering_refuses_a_query_outside_the_contract(monkeypatch) -> None:
    bogus = grafana.Panel("bogus", "short", (("x", "rate(http_requests_total[1m]) + ml_not_a_metric"),))
    monkeypatch.setattr(grafana, "PANELS", (*grafana.PANELS, bogus))
    with pytest.raises(ValueError, match="ml_not_a_metric"):
        grafana.dashboard()
