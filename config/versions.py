"""Policy versions: the policy in force from each `effective_from` on, as whole policies.

Version 0 is the file's top level; version i (1-based) is version i-1 with the sections that
`versions[i-1]` gives replaced. Each is checked like a whole policy; a problem found in a later
version is reported at the entry that introduced it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from config.model import PolicyFile, VersionSpec

# Sections a version may replace (the others -- name, zone, KPIs -- hold for every version).
VERSIONED = tuple(f for f in VersionSpec.model_fields if f != "effective_from")


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One version: its index in `versions` (None: the top level), start and whole policy."""

    index: int | None
    spec: VersionSpec | None
    model: PolicyFile


def version_models(p: PolicyFile) -> list[PolicyVersion]:
    """Every version of a policy, oldest first, each as a complete policy without versions."""
    current = p.model_copy(update={"versions": []})
    out = [PolicyVersion(None, None, current)]
    for i, spec in enumerate(p.versions):
        update = {f: getattr(spec, f) for f in VERSIONED if getattr(spec, f) is not None}
        current = current.model_copy(update=update)
        out.append(PolicyVersion(i, spec, current))
    return out


def given(spec: VersionSpec) -> set[str]:
    """The sections a version entry replaces."""
    return {f for f in VERSIONED if getattr(spec, f) is not None}


def _prune(model: BaseModel, dumped: Any) -> Any:
    """`dumped` (the model's JSON dump) without the fields added since the first release that
    are at their default, so a policy that does not use them keeps its version."""
    omit: frozenset[str] = getattr(model, "hash_omit_default", frozenset())
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in omit and value == info.get_default(call_default_factory=True):
            del dumped[name]
            continue
        items: list[tuple[Any, Any]] = []
        if isinstance(value, BaseModel):
            items = [(value, dumped[name])]
        elif isinstance(value, list):
            items = list(zip(value, dumped[name], strict=True))
        elif isinstance(value, dict):
            items = list(zip(value.values(), dumped[name].values(), strict=True))
        for sub, sub_dumped in items:
            if isinstance(sub, BaseModel):
                _prune(sub, sub_dumped)
    return dumped


def version_of(model: PolicyFile) -> str:
    """Content hash of the validated policy (without its later versions): comments and layout
    do not change it, nor do fields added later while unused."""
    dumped = _prune(model, model.model_dump(mode="json"))
    dumped.pop("versions", None)
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
