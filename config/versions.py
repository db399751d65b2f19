"""Policy versions: the policy in force from each `effective_from` on, as whole policies.

Version 0 is the file's top level; version i (1-based) is version i-1 with the sections that
`versions[i-1]` gives replaced. Each is checked like a whole policy; a problem found in a later
version is reported at the entry that introduced it."""

from __future__ import annotations

from dataclasses import dataclass

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
