"""Generate the JSON Schema files in `schemas/json/` from the models (the consumers' contract)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.events import CONTRACT, EVENT_ADAPTER
from schemas.openapi import document as openapi_document
from schemas.outputs import Alert, KpiSnapshot, Reject
from schemas.status import TicketStatus

JSON_DIR = Path(__file__).with_name("json")


def documents() -> dict[str, str]:
    """File name → JSON text for every published schema."""
    models: dict[str, type[BaseModel]] = {
        "alert.schema.json": Alert,
        "reject.schema.json": Reject,
        "kpi-snapshot.schema.json": KpiSnapshot,
        "ticket-status.schema.json": TicketStatus,
    }
    docs = {name: m.model_json_schema() for name, m in models.items()}
    docs["ticket-event.schema.json"] = {**EVENT_ADAPTER.json_schema(), "description": CONTRACT}
    docs["status-api.openapi.json"] = openapi_document()
    return {name: json.dumps(d, indent=2, sort_keys=True) + "\n" for name, d in docs.items()}


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in documents().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write():
        print(p)
