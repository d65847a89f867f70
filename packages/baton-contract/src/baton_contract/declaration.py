"""The `baton:` block of a source file (meltano/sources/<source>.meltano.yml) and the plugins the
file must declare. The ingestion job, the DAG metadata baker and the scaffolding read it here.

    baton:
      kind: postgres            # postgres | files: how the job reconciles the load with its source
      reconcile: fail           # fail | warn (BATON_RECONCILE overrides)
      secrets: [BATON_SHOP_DB_URL]          # variables the job needs from the worker
      folders: {BATON_MARKETING_DIR: marketing}   # variable -> folder under the data folder
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton_contract.job import EXIT_CONFIG
from baton_contract.naming import plugins

VARIABLE = r"^[A-Z][A-Z0-9_]*$"


class ContractError(RuntimeError):
    """A job cannot go on; `code` is the exit code it ends with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class BatonBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["postgres", "files"]
    reconcile: Literal["fail", "warn"] = "fail"
    secrets: list[str] = Field(default_factory=list)
    folders: dict[str, str] = Field(default_factory=dict)

    @field_validator("secrets")
    @classmethod
    def _upper_case_secrets(cls, names: list[str]) -> list[str]:
        return [_variable(n) for n in names]

    @field_validator("folders")
    @classmethod
    def _upper_case_folders(cls, folders: dict[str, str]) -> dict[str, str]:
        return {_variable(k): v for k, v in folders.items()}


def _variable(name: str) -> str:
    if not re.fullmatch(VARIABLE, str(name)):
        raise ValueError(f"{name!r} is not an upper-case environment variable name")
    return name


class Declaration(BaseModel):
    """A source file, as the kit reads it."""

    source: str
    path: Path
    kind: str
    reconcile: str
    extractor: dict[str, Any]
    secrets: list[str]
    folders: dict[str, str]


def _explain(path: Path, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in ("baton", *error["loc"]))
        note = " (BATON_RECONCILE overrides it)" if error["loc"][:1] == ("reconcile",) else ""
        parts.append(f"{where}: {error['msg']} (got {error.get('input')!r}){note}")
    return f"{path}: " + "; ".join(parts)


def declaration(source: str, meltano_dir: Path, environ: dict[str, str] | None = None) -> Declaration:
    """Read meltano/sources/<source>.meltano.yml; a ContractError (exit 2) names what is wrong."""
    env = os.environ if environ is None else environ
    path = meltano_dir / "sources" / f"{source}.meltano.yml"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".meltano.yml") for p in (meltano_dir / "sources").glob("*.meltano.yml"))
        raise ContractError(
            f"no source '{source}': {path} does not exist (known sources: {', '.join(known)})", EXIT_CONFIG
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ContractError(f"{path} is not valid YAML: {exc}", EXIT_CONFIG) from None
    block_data = dict(data.get("baton") or {})
    if env.get("BATON_RECONCILE"):
        block_data["reconcile"] = env["BATON_RECONCILE"]
    try:
        block = BatonBlock.model_validate(block_data)
    except ValidationError as exc:
        raise ContractError(_explain(path, exc), EXIT_CONFIG) from None
    extractor_name, loader_name = plugins(source)
    declared = {
        kind: {p.get("name"): p for p in (data.get("plugins") or {}).get(kind, []) or []}
        for kind in ("extractors", "loaders")
    }
    extractor = declared["extractors"].get(extractor_name)
    if extractor is None or loader_name not in declared["loaders"]:
        raise ContractError(
            f"{path} must declare the extractor {extractor_name} and the loader {loader_name}", EXIT_CONFIG
        )
    return Declaration(
        source=source,
        path=path,
        kind=block.kind,
        reconcile=block.reconcile,
        extractor=extractor,
        secrets=block.secrets,
        folders=block.folders,
    )
