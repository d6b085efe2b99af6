"""Today's definitions of flags, thresholds, claims and colours, declared once.

The engine applies them and records them in every result (RunHeader.judging, the stacks'
colours); a report reads them back from the result, never from here, so changing a definition
changes future results only.
"""

from __future__ import annotations

from servebench.results.schema import Claim, Flag, Judging

GENERATOR_BOUND_PERCENT = 90.0  # a generator process above this share of a core: the client may limit
CONTENTION_PERCENT = 20.0  # other processes' share of the pinned CPUs (of one core) above which we flag
# The harness's own latency (the same generator against the floor) over this share of a
# measurement's p50: the number is as much the client's as the stack's.
CLIENT_SHARE_PERCENT = 25.0

RUN_FLAGS: dict[str, Flag] = {
    "generator_bound": Flag(code="G", meaning="a load-generator process used over 90 % of a core: "
                                              "the client may have been the limit"),
    "server_cpu_contention": Flag(code="S", meaning="other processes used over 20 % of a core on the "
                                                    "server's CPUs"),
    "load_cpu_contention": Flag(code="L", meaning="other processes used over 20 % of a core on the load "
                                                  "generator's CPUs"),
    "not_drained": Flag(code="D", meaning="requests were still in flight at a phase boundary after the "
                                          "drain timeout"),
    "drain_unknown": Flag(code="K", meaning="the generator cannot wait for its requests in flight and "
                                            "the stack has no prediction counter to watch: whether "
                                            "each phase ended drained is unknown"),
    "count_mismatch": Flag(code="C", meaning="the generator's predicted rows differ from the server's "
                                             "ml_predictions_total delta (wrk: by more than a request "
                                             "per connection)"),
    "no_server_metrics": Flag(code="M", meaning="/metrics did not answer at a phase boundary"),
    "users_short": Flag(code="U", meaning="fewer users than declared were running when the measured "
                                          "phase began"),
    "failures": Flag(code="F", meaning="some answers were wrong, malformed, errors or transport failures"),
    "no_resource_samples": Flag(code="R", meaning="too few CPU/RSS samples fell inside the measured phase"),
    "client_bound": Flag(code="H", meaning="the harness's own latency (the same generator against a server "
                                           "answering without work) is over 25 % of this p50"),
}

SOAK_FLAGS: dict[str, Flag] = {
    "below_target": Flag(code="T", meaning="the achieved rate stayed under the target: the pace was not "
                                           "held"),
    "failures": Flag(code="F", meaning="some answers were wrong, malformed, errors or transport failures"),
    "generator_bound": Flag(code="G", meaning="a Locust process used over 90 % of a core in some window"),
    "server_cpu_contention": Flag(code="S", meaning="other processes used over 20 % of a core on the "
                                                    "server's CPUs in some window"),
    "probe_flagged": Flag(code="P", meaning="the capacity probe carried flags (see its record): the "
                                            "target may be off"),
    "server_died": Flag(code="X", meaning="the server exited during the soak"),
}

CAPACITY_FLAGS: dict[str, Flag] = {
    "server_cpu_contention": RUN_FLAGS["server_cpu_contention"],
    "load_cpu_contention": RUN_FLAGS["load_cpu_contention"],
}

# The seed article's claims. Subjects are stack tags (servers/registry.py declares each stack's).
CLAIMS: list[Claim] = [
    Claim(claim="FastAPI + Uvicorn: p99 latency 5–20 ms (the article's comparison table)",
          rule="p99_range", subjects=["fastapi", "uvicorn"], low=5, high=20),
    Claim(claim="BentoML: p99 latency 8–30 ms (the article's comparison table)",
          rule="p99_range", subjects=["bentoml"], low=8, high=30),
    Claim(claim="TorchServe: p99 latency 3–15 ms (the article's comparison table)",
          rule="p99_range", subjects=["torchserve"], low=3, high=15),
    Claim(claim="Triton Inference Server: p99 latency 1–5 ms on GPU (the article's comparison table)",
          rule="p99_range", subjects=["triton"], low=1, high=5, accelerator="GPU"),
    Claim(claim="MLflow Models: p99 latency 20–100 ms (the article's comparison table)",
          rule="p99_range", subjects=["mlflow"], low=20, high=100),
    Claim(claim="The batch endpoint gives 3–5× the throughput of N single calls",
          rule="batch_gain", low=3, high=5),
    Claim(claim="Calling the model inline in async def blocks the event loop and worsens performance",
          rule="inline_blocks", subjects=["fastapi", "inline"], versus=["fastapi", "threadpool"]),
    Claim(claim="Flask with 4 workers handles about 80 req/s with a 50 ms model",
          rule="peak_throughput", subjects=["flask"], low=60, high=100, model_ms=[25.0, 100.0],
          comparable_model="heavy"),
    Claim(claim="FastAPI + Uvicorn handles 500+ req/s on the same hardware",
          rule="peak_throughput", subjects=["fastapi", "uvicorn"], low=500, high=None,
          model_ms=[25.0, 100.0], comparable_model="heavy"),
]

# Stack colours: a stack keeps its place in the registry, hence its colour, from run to run.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def judging(flags: dict[str, Flag]) -> Judging:
    return Judging(flags=flags, generator_bound_percent=GENERATOR_BOUND_PERCENT,
                   contention_percent=CONTENTION_PERCENT, claims=CLAIMS,
                   client_share_percent=CLIENT_SHARE_PERCENT)
