"""`servebench model`: register a model of your own, list the registered ones, show one.

    servebench model add fraud --artifact model.joblib --sample inputs.csv
    servebench model list
    servebench model show fraud
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from shared_model.model_schema import SchemaError
from shared_model.models import SCHEMA_FILE, UnknownModel, get_model, model_names, models_dir
from shared_model.register import BOUNDS_MARGIN, RegistrationError, add_model


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("model", help="register a model of your own; list or show the models")
    commands = parser.add_subparsers(dest="model_command", required=True)
    add = commands.add_parser("add", help="inspect a fitted model and a sample of its inputs, register it")
    add.add_argument("name", help="the name --model will take (lower case, digits, - and _)")
    add.add_argument("--artifact", type=Path, required=True,
                     help="the fitted estimator or Pipeline: .joblib, .pkl or .skops")
    add.add_argument("--sample", type=Path, required=True,
                     help="inputs the model takes, one column per feature: .csv, .json (records) or .jsonl")
    add.add_argument("--format", choices=("joblib", "pickle", "skops"), help="default: from the suffix")
    add.add_argument("--trust", action="append", default=[], metavar="TYPE",
                     help="skops: a type to load beyond those skops trusts (repeat; check each first)")
    add.add_argument("--margin", type=float, default=BOUNDS_MARGIN,
                     help="bounds: the sample's range widened by this share of it "
                          f"(default {BOUNDS_MARGIN:g})")
    add.add_argument("--force", action="store_true", help="replace a model registered under that name")
    add.set_defaults(func=run_add)
    listing = commands.add_parser("list", help="the registered models")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_list)
    show = commands.add_parser("show", help="one model's declaration")
    show.add_argument("name")
    show.set_defaults(func=run_show)


def run_add(args: argparse.Namespace) -> int:
    try:
        model = add_model(args.name, args.artifact, args.sample, fmt=args.format, trust=args.trust,
                          margin=args.margin, force=args.force)
    except (RegistrationError, SchemaError) as error:
        raise UserError(str(error)) from None
    schema = model.schema
    assert model.directory is not None
    what = f"{len(schema.classes or [])}-class classifier" if schema.kind == "classifier" else "regressor"
    nullable = [f.name for f in schema.fields if f.nullable]
    print(f"registered {model.name}: {what} ({schema.estimator}), {len(schema.fields)} fields, "
          f"{schema.input} input" + (f", nullable: {', '.join(nullable)}" if nullable else ""))
    print(f"  {model.directory / SCHEMA_FILE}   edit to tighten bounds or categories")
    print(f"  make bench-all MODEL={model.name}   every stack, verified and measured")
    return 0


def _describe(name: str) -> dict[str, Any]:
    try:
        model = get_model(name)
    except (UnknownModel, SchemaError) as error:
        return {"name": name, "problem": str(error)}
    schema = model.schema
    return {"name": name, "builtin": model.builtin, "kind": schema.kind, "estimator": schema.estimator,
            "input": schema.input, "fields": len(schema.fields), "classes": schema.labels or None,
            "where": str(model.directory or model.artifact.parent)}


def run_list(args: argparse.Namespace) -> int:
    found = [_describe(name) for name in model_names()]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for item in found:
        if "problem" in item:
            print(f"{item['name']:16s} INVALID: {item['problem']}")
            continue
        classes = f", classes {', '.join(item['classes'])}" if item["classes"] else ""
        print(f"{item['name']:16s} {item['kind']:10s} {item['fields']:3d} fields, {item['input']} input, "
              f"{item['estimator']}{classes}  ({'built in' if item['builtin'] else item['where']})")
    print(f"(user models live in {models_dir()}; add one with `servebench model add`)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        model = get_model(args.name)
    except (UnknownModel, SchemaError) as error:
        raise UserError(str(error)) from None
    source = model.directory / SCHEMA_FILE if model.directory else None
    if source is not None:
        print(f"# {source}")
        print(source.read_text(), end="")
    else:
        from shared_model.model_schema import dump_schema

        print(dump_schema(model.schema, f"built in: {model.name}, artifact {model.artifact}"), end="")
    return 0
