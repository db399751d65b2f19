"""The query API's OpenAPI 3.1 description, built from the `schemas.status` models (one
definition of each answer); `python -m schemas.generate` writes it to
`schemas/json/status-api.openapi.json`, which the tests fuzz the API from."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.status import ApiError, AtRiskList, TicketStatus

# Bounds of the inputs: anything outside is a 400 with a reason.
TICKET_ID_PATTERN = r"^[^\x00-\x1f\x7f/]{1,200}$"
# Every value the pattern admits is at most MAX_WITHIN_S (about 11.5 days): 999999 s,
# 9999 m, 199 h or 9 d.
WITHIN_PATTERN = r"^([0-9]{1,6}s?|[0-9]{1,4}m|(1[0-9]{2}|[0-9]{1,2})h|[0-9]d)$"
MAX_WITHIN_S = 999_999
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,100}$"


def _ref(model: type[Any]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_LOCAL = _query(
    "local",
    {"type": "boolean", "default": False},
    "answer from this worker's partitions only (what workers ask each other)",
)
_ERRORS = {
    "400": _json(ApiError, "a malformed input, with the reason"),
    "503": _json(ApiError, "the worker is recovering its state, or a worker did not answer"),
}


def document(clocks: tuple[str, ...] = ()) -> dict[str, Any]:
    """The OpenAPI document (a plain JSON-ready dict). A worker serves it at /openapi.json
    with `clocks`, its policy's clock names, as the `clock` parameter's enum (any other name
    is a 400 there)."""
    clock: dict[str, Any] = {"type": "string", "pattern": NAME_PATTERN}
    if clocks:
        clock = {"type": "string", "enum": list(clocks)}
    _, defs = models_json_schema(
        [(m, "serialization") for m in (TicketStatus, AtRiskList, ApiError)],
        ref_template="#/components/schemas/{model}",
    )
    ticket = {
        "get": {
            "operationId": "getTicketStatus",
            "summary": "a ticket's SLA status now: counted seconds advanced to the request",
            "description": "Any worker answers for any ticket: one that does not own the "
            "ticket's partition asks the owner.",
            "parameters": [
                {
                    "name": "ticket_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": TICKET_ID_PATTERN},
                },
                _LOCAL,
            ],
            "responses": {
                "200": _json(TicketStatus, "the status"),
                "404": _json(ApiError, "no worker knows the ticket"),
                **_ERRORS,
            },
        }
    }
    at_risk = {
        "get": {
            "operationId": "getAtRisk",
            "summary": "open clocks whose next threshold falls within the window, soonest first",
            "description": "Answered from each worker's timer index (O(result)), merged.",
            "parameters": [
                _query(
                    "within",
                    {"type": "string", "pattern": WITHIN_PATTERN, "default": "15m"},
                    f"window from now: 90s, 15m, 4h, 2d or seconds; at most {MAX_WITHIN_S} s, "
                    "e.g. 9999m, 199h, 9d",
                ),
                _query("team", {"type": "string", "pattern": NAME_PATTERN}, "holder's team"),
                _query("priority", {"type": "string", "pattern": NAME_PATTERN}, "A, B, C"),
                _query("clock", clock, "a clock name of the policy (GET /openapi.json lists them)"),
                _query(
                    "limit",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                    "at most this many entries",
                ),
                _LOCAL,
            ],
            "responses": {"200": _json(AtRiskList, "the list"), **_ERRORS},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sla-engine status API",
            "version": "1",
            "description": "Live SLA status per ticket and at-risk lists, served by each worker.",
        },
        "paths": {"/tickets/{ticket_id}": ticket, "/at-risk": at_risk},
        "components": {"schemas": defs["$defs"]},
    }
