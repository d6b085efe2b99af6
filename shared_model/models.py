"""The registered models: servebench's three churn models and every model a user added.

    light, default, heavy   built in: shared_model/churn.yaml, trained by `make model` into
                            shared_model/artifacts/ (SERVEBENCH_ARTIFACTS), sha256 in the
                            metadata written beside each artifact
    models/<name>/          added by `servebench model add` (SERVEBENCH_MODELS_DIR):
        schema.yaml         the declaration (shared_model/model_schema.py), human-editable
        model.<ext>         the artifact, copied
        artifact.sha256     its sha256 (`sha256sum -c` reads it), checked at every start-up
        golden.json         sample rows with the in-process answers at registration
        sample.json         rows of the sample: what workloads send
        metadata.json       what `model add` found (estimator, classes, versions, the sample)

A server process serves the model SERVEBENCH_MODEL names (default: `default`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared_model.model_schema import ModelSchema, SchemaError, load_schema
from shared_model.profiles import DEFAULT_PROFILE, PROFILES, ModelProfile

PACKAGE_DIR = Path(__file__).resolve().parent
CHURN_SCHEMA = PACKAGE_DIR / "churn.yaml"
MODEL_ENV = "SERVEBENCH_MODEL"
MODELS_DIR_ENV = "SERVEBENCH_MODELS_DIR"
SCHEMA_FILE = "schema.yaml"
SHA256_FILE = "artifact.sha256"
GOLDEN_FILE = "golden.json"
SAMPLE_FILE = "sample.json"
METADATA_FILE = "metadata.json"


class UnknownModel(ValueError):
    """No registered model has that name."""


def models_dir() -> Path:
    """Where user models are registered: SERVEBENCH_MODELS_DIR, else models/ in the source tree."""
    return Path(os.environ.get(MODELS_DIR_ENV) or PACKAGE_DIR.parent / "models")


@cache
def _churn_schema(path: Path = CHURN_SCHEMA) -> ModelSchema:
    return load_schema(path)


@dataclass(frozen=True)
class RegisteredModel:
    """One model servebench can serve: its declaration, its artifact and where its facts live."""

    name: str
    schema: ModelSchema
    artifact: Path
    directory: Path | None = None  # models/<name>/; None for a built-in churn model
    profile: ModelProfile | None = None  # the churn profile that trains it (built-ins only)

    @property
    def builtin(self) -> bool:
        return self.profile is not None

    @property
    def metadata_path(self) -> Path:
        if self.profile is not None:
            return self.profile.metadata_path
        assert self.directory is not None
        return self.directory / METADATA_FILE

    def expected_sha256(self) -> str:
        """The registered sha256 of the artifact (OSError/ValueError when it cannot be read)."""
        if self.profile is not None:
            return str(json.loads(self.profile.metadata_path.read_text())["sha256"])
        assert self.directory is not None
        text = (self.directory / SHA256_FILE).read_text().split()
        if not text or len(text[0]) != 64:
            raise ValueError(f"{self.directory / SHA256_FILE} holds no sha256")
        return text[0]

    def metadata(self) -> dict[str, Any]:
        """What /api/v1/model describes: the registration's facts, the declaration's summary."""
        found: dict[str, Any] = json.loads(self.metadata_path.read_text())
        return {**found, "profile": self.name, "name": self.name, "kind": self.schema.kind,
                "input": self.schema.input, "schema": describe_fields(self.schema)}

    def registered_golden(self) -> list[dict[str, Any]] | None:
        """The golden cases written at registration (None for a built-in: computed at load)."""
        if self.directory is None:
            return None
        return list(json.loads((self.directory / GOLDEN_FILE).read_text())["cases"])

    def sample_rows(self) -> list[dict[str, Any]]:
        """The rows workloads send: the user's sample (golden rows first), or churn's golden rows."""
        if self.directory is None:
            from shared_model.cases import GOLDEN_REQUESTS

            return [dict(row) for row in GOLDEN_REQUESTS]
        return list(json.loads((self.directory / SAMPLE_FILE).read_text())["rows"])


def describe_fields(schema: ModelSchema) -> list[dict[str, Any]]:
    return [field.model_dump(mode="json", exclude_none=True, exclude={"description"})
            for field in schema.fields]


def churn_model(profile: ModelProfile) -> RegisteredModel:
    schema = _churn_schema().model_copy(update={
        "name": profile.name,
        "artifact": _churn_schema().artifact.model_copy(update={"file": profile.artifact.name}),
    })
    return RegisteredModel(profile.name, schema, profile.artifact, profile=profile)


def user_model(directory: Path) -> RegisteredModel:
    schema = load_schema(directory / SCHEMA_FILE)
    if schema.name != directory.name:
        raise SchemaError([f"{directory / SCHEMA_FILE}: name: {schema.name!r} is not the directory's "
                           f"name {directory.name!r}"])
    artifact = Path(schema.artifact.file)
    return RegisteredModel(schema.name, schema, artifact if artifact.is_absolute() else directory / artifact,
                           directory=directory)


def user_model_names() -> list[str]:
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SCHEMA_FILE).is_file() and p.name not in PROFILES)


def model_names() -> list[str]:
    """Every registered name: the churn models first, then the user's."""
    return [*PROFILES, *user_model_names()]


def get_model(name: str) -> RegisteredModel:
    """The model registered under `name`; SchemaError when its declaration does not hold."""
    if name in PROFILES:
        return churn_model(PROFILES[name])
    directory = models_dir() / name
    if not (directory / SCHEMA_FILE).is_file():
        raise UnknownModel(f"no model named {name!r}: registered are {', '.join(model_names())} "
                           f"(add one with `servebench model add {name} --artifact FILE --sample FILE`)")
    return user_model(directory)


def model_from_env() -> RegisteredModel:
    """The model this process serves: SERVEBENCH_MODEL (default: `default`)."""
    return get_model(os.environ.get(MODEL_ENV) or DEFAULT_PROFILE)
