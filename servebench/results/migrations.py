"""Older result files brought up to the current schema version when they are read.

Results written before version 5 did not record what the registry declared about each stack,
nor the definitions their flags and verdicts used: the tables below are those of the last
servebench that wrote version 4, frozen here, so an old run's report reads what was true when
it ran, not what today's code says. Run headers before version 8 did not describe their
workloads: those of the last servebench that wrote version 7 are frozen below too.
"""

from __future__ import annotations

from typing import Any

from servebench.results.declarations import PALETTE

Json = dict[str, Any]

_V4_FLAGS: Json = {
    "generator_bound": {"code": "G", "meaning": "a load-generator process used over 90 % of a core: the "
                                                "client may have been the limit"},
    "server_cpu_contention": {"code": "S", "meaning": "other processes used over 20 % of a core on the "
                                                      "server's CPUs"},
    "load_cpu_contention": {"code": "L", "meaning": "other processes used over 20 % of a core on the load "
                                                    "generator's CPUs"},
    "not_drained": {"code": "D", "meaning": "requests were still in flight at a phase boundary after the "
                                            "drain timeout"},
    "count_mismatch": {"code": "C", "meaning": "the generator's predicted rows differ from the server's "
                                               "ml_predictions_total delta (wrk: by more than a request "
                                               "per connection)"},
    "no_server_metrics": {"code": "M", "meaning": "/metrics did not answer at a phase boundary"},
    "users_short": {"code": "U", "meaning": "fewer users than declared were running when the measured "
                                            "phase began"},
    "failures": {"code": "F", "meaning": "some answers were wrong, malformed, errors or transport "
                                         "failures"},
    "no_resource_samples": {"code": "R", "meaning": "too few CPU/RSS samples fell inside the measured "
                                                    "phase"},
}
_V4_SOAK_FLAGS: Json = {
    "below_target": {"code": "T", "meaning": "the achieved rate stayed under the target: the pace was "
                                             "not held"},
    "failures": {"code": "F", "meaning": "some answers were wrong, malformed, errors or transport "
                                         "failures"},
    "generator_bound": {"code": "G", "meaning": "a Locust process used over 90 % of a core in some window"},
    "server_cpu_contention": {"code": "S", "meaning": "other processes used over 20 % of a core on the "
                                                      "server's CPUs in some window"},
    "probe_flagged": {"code": "P", "meaning": "the capacity probe carried flags (see its record): the "
                                              "target may be off"},
    "server_died": {"code": "X", "meaning": "the server exited during the soak"},
}
_V4_CLAIMS: list[Json] = [
    {"claim": "FastAPI + Uvicorn: p99 latency 5–20 ms (the article's comparison table)",
     "rule": "p99_range", "subjects": ["fastapi", "uvicorn"], "low": 5, "high": 20},
    {"claim": "BentoML: p99 latency 8–30 ms (the article's comparison table)",
     "rule": "p99_range", "subjects": ["bentoml"], "low": 8, "high": 30},
    {"claim": "The batch endpoint gives 3–5× the throughput of N single calls",
     "rule": "batch_gain", "low": 3, "high": 5},
    {"claim": "Calling the model inline in async def blocks the event loop and worsens performance",
     "rule": "inline_blocks", "subjects": ["fastapi", "inline"], "versus": ["fastapi", "thread pool"]},
    {"claim": "Flask with 4 workers handles about 80 req/s with a 50 ms model",
     "rule": "peak_throughput", "subjects": ["flask"], "low": 60, "high": 100, "model_ms": [25.0, 100.0],
     "comparable_model": "heavy"},
    {"claim": "FastAPI + Uvicorn handles 500+ req/s on the same hardware",
     "rule": "peak_throughput", "subjects": ["fastapi", "uvicorn"], "low": 500, "high": None,
     "model_ms": [25.0, 100.0], "comparable_model": "heavy"},
]
_FASTAPI = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic")
_V4_BATCHER_TARGETS: list[Json] = [
    {"name": "p50 at 1 user against fastapi_inline: no fixed wait when idle", "metric": "p50_ms",
     "users": [1], "against": "fastapi_inline", "limit": 1.15, "at_most": True,
     "detail": "fastapi_inline's p50 at 1 user"},
    {"name": "throughput against the best BentoML or LitServe variant", "metric": "rps",
     "users": [32, 64], "against": "peers", "limit": 4.0, "at_most": False, "detail": "best peer"},
    {"name": "p99 against fastapi_threadpool", "metric": "p99_ms", "users": [32, 64],
     "against": "fastapi_threadpool", "limit": 0.5, "at_most": True, "detail": "fastapi_threadpool's p99"},
    {"name": "peak predictions against the same server's framework ceiling", "metric": "rps",
     "users": None, "against": "ceiling", "limit": 0.6, "at_most": False, "detail": "ceiling peak"},
]
# name: title, role, tags, packages (the order gave each stack its colour)
_V4_STACKS: dict[str, tuple[str, str, list[str], tuple[str, ...]]] = {
    "flask_gunicorn": ("Flask on gunicorn (WSGI, sync workers)", "reference", ["flask", "gunicorn"],
                       ("flask", "gunicorn", "pydantic")),
    "fastapi_inline": ("FastAPI, model called inline in async def (anti-pattern)", "ours",
                       ["fastapi", "uvicorn", "inline"], _FASTAPI),
    "fastapi_threadpool": ("FastAPI, model in a thread pool", "ours", ["fastapi", "uvicorn", "thread pool"],
                           _FASTAPI),
    "fastapi_batcher": ("FastAPI + dynamic batcher", "ours", ["fastapi", "uvicorn", "batcher"], _FASTAPI),
    "bentoml": ("BentoML, adaptive batching across two services", "peer", ["bentoml"],
                ("bentoml", "pydantic")),
    "bentoml_nobatch": ("BentoML, one service, no batching", "peer", ["bentoml"], ("bentoml", "pydantic")),
    "litserve": ("LitServe, batching in the inference worker", "peer", ["litserve"],
                 ("litserve", "fastapi", "uvicorn", "pydantic")),
    "litserve_nobatch": ("LitServe, no batching", "peer", ["litserve"],
                         ("litserve", "fastapi", "uvicorn", "pydantic")),
}
_V4_CASE_GROUPS: dict[str, tuple[str, ...]] = {
    "syntax": ("malformed_json", "empty_body", "json_array", "json_null", "nan_token", "infinity_token",
               "trailing_garbage", "json_string", "json_number", "negative_infinity_token", "invalid_utf8",
               "deeply_nested"),
    "media_type": ("text_plain", "no_content_type", "json_patch_type", "form_encoded"),
    "schema": ("missing_field", "extra_field", "string_for_int", "float_for_int", "string_for_bool",
               "unknown_contract", "unknown_payment", "nan_as_string", "infinity_as_string", "null_field",
               "bool_for_int", "int_for_bool", "list_for_float", "object_for_enum", "uppercase_enum",
               "empty_object", "unicode_enum", "long_string", "unicode_field_name"),
    "range": ("negative_tenure", "tenure_too_large", "zero_products", "charges_too_large",
              "total_below_monthly", "huge_number", "huge_integer", "negative_charges", "too_many_products",
              "total_too_large"),
    "batch": ("batch_empty", "batch_too_many", "batch_not_list", "batch_one_bad_item", "batch_missing_items",
              "batch_items_null", "batch_extra_field", "batch_nested_list", "batch_bare_list"),
    "method": ("get_on_predict", "put_on_batch"),
    "size": ("body_2mib",),
}
_V4_GROUP_OF = {f"bad_{name}": group for group, names in _V4_CASE_GROUPS.items() for name in names}
_V4_GENERATORS = {
    "locust": "Locust (FastHttpUser), one process or master and workers, every answer checked",
    "wrk": "wrk, one thread, one connection per user, golden bodies from a Lua script; answers not checked",
}


# The workloads as servebench declared them up to schema version 7.
_V7_WORKLOADS = {
    "single": "single predictions only, one golden customer per request",
    "batch": "batch predictions only, 5-20 golden customers per request",
    "seed_mix": "the seed article's mix: 8 single : 2 batch (5-20 rows) : 1 readiness probe",
    "ceiling": "liveness probes only: the same server's framework ceiling, with no model and no body "
               "to validate, measured in the same run as the predictions it bounds",
}


def _declared(stacks: list[str], packages: dict[str, str], targets_of: dict[str, list[Json]]) -> Json:
    declared = {}
    order = list(_V4_STACKS) + [s for s in stacks if s not in _V4_STACKS]
    for name in stacks:
        title, role, tags, names = _V4_STACKS.get(name, (name, "peer", [], ()))
        declared[name] = {"title": title, "role": role, "tags": tags, "protocol": "contract",
                          "colour": PALETTE[order.index(name) % len(PALETTE)],
                          "packages": {n: packages[n] for n in names if n in packages},
                          "targets": targets_of.get(name, [])}
    return declared


def _judging(flags: Json) -> Json:
    return {"flags": flags, "generator_bound_percent": 90.0, "contention_percent": 20.0, "claims": _V4_CLAIMS}


def _checks(checks: list[Json]) -> list[Json]:
    return [{**check, "group": check.get("group", _V4_GROUP_OF.get(check["name"]))} for check in checks]


def header(data: Json, kind: str) -> Json:
    """A header of any older schema version as the current version would have written it."""
    data = _header_v5(data, kind)
    if kind == "run" and data["schema_version"] < 8:
        workloads = data["settings"]["workloads"]
        data = {**data, "workloads_declared": {w: _V7_WORKLOADS[w] for w in workloads if w in _V7_WORKLOADS}}
    return data


def _header_v5(data: Json, kind: str) -> Json:
    """A header of schema version 1-4 as version 5 would have written it."""
    if data["schema_version"] >= 5:
        return data
    settings = data["settings"]
    data = {**data, "kind": kind, "estimate_s": data.get("estimate_s"), "generators": _V4_GENERATORS}
    if kind == "run":
        settings = {**settings, "generator": settings.get("generator", "locust")}
        data["stacks"] = [{**outcome, "checks": _checks(outcome["checks"])} for outcome in data["stacks"]]
        flags = _V4_FLAGS
    elif kind == "soak":
        flags = _V4_SOAK_FLAGS
    else:
        flags = {name: _V4_FLAGS[name] for name in ("server_cpu_contention", "load_cpu_contention")}
    data["settings"] = settings
    targets = {"fastapi_batcher": _V4_BATCHER_TARGETS} if kind == "run" else {}
    data["stacks_declared"] = _declared(list(settings["stacks"]), data["packages"], targets)
    data["judging"] = _judging(flags)
    return data


def run_record(data: Json) -> Json:
    if "generator_commands" in data:
        return data
    data = {**data, "generator": data.get("generator", "locust")}
    data["generator_commands"] = data.pop("locust_commands")
    data["rows_sent"] = data.pop("rows_locust")
    return data


def record(data: Json, kind: str, version: int) -> Json:
    """A record of schema version 1-4 as version 5 would have written it."""
    if version >= 5:
        return data
    if kind == "run":
        return run_record(data)
    data = {**data, "checks": _checks(data.get("checks", []))}
    if kind == "capacity":
        def step(item: Json) -> Json:
            item = dict(item)
            item["generator_commands"] = item.pop("locust_commands")
            return item
        data["steps"] = [step(s) for s in data["steps"]]
        data["overload"] = [{**o, "step": step(o["step"])} for o in data["overload"]]
    elif kind == "soak":
        data["record_id"] = data["stack"]
        data["generator_commands"] = data.pop("locust_commands")
        if data.get("probe"):
            data["probe"] = run_record(data["probe"])
    return data
