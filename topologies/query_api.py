"""The status query API on each worker (aiohttp, Faust's own web library): `GET /tickets/{id}`
and `GET /at-risk`, described by `schemas/json/status-api.openapi.json`.

Any worker answers for any ticket: it looks in the partitions it owns, then asks the owner of
the ticket's partition (and, should the ticket not be there, the other workers) with
`?local=true`. `/at-risk` merges every worker's local list. Workers find each other in the
consumer group: each advertises its API URL as Faust's `canonical_url`, which the partition
assignor hands to every member with the table partitions each one owns
(`app.router.table_metadata`).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from config.model import parse_duration
from engine.instant import iso
from engine.status import ticket_status
from kafka_io.producer import partition_for
from schemas.openapi import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_WITHIN_S,
    NAME_PATTERN,
    TICKET_ID_PATTERN,
    WITHIN_PATTERN,
    document,
)
from topologies import at_risk
from topologies.settings import Settings

PEER_TIMEOUT_S = 3.0
GAUGE_INTERVAL_S = 15.0
_TICKET_ID = re.compile(TICKET_ID_PATTERN)
_WITHIN = re.compile(WITHIN_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_BOOL = {"true": True, "1": True, "false": False, "0": False}


class BadRequest(ValueError):
    """A query parameter out of bounds: a 400 with the reason."""


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _error(status: int, reason: str) -> web.Response:
    return _json({"error": reason}, status)


def _flag(query: Any, name: str) -> bool:
    raw = query.get(name)
    if raw is None:
        return False
    value = _BOOL.get(raw.lower())
    if value is None:
        raise BadRequest(f"{name}: {raw!r} is not true or false")
    return value


def _name(query: Any, name: str) -> str | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not _NAME.fullmatch(raw):
        raise BadRequest(f"{name}: 1 to 100 printable characters")
    return str(raw)


def _within(raw: str) -> int:
    if not _WITHIN.fullmatch(raw):
        raise BadRequest(
            f"within: {raw!r} is not a duration such as 90s, 15m, 4h or 2d (at most 999999 s, "
            "9999 m, 199 h or 9 d)"
        )
    us = parse_duration(raw)
    if us > MAX_WITHIN_S * 1_000_000:
        raise BadRequest(f"within: at most {MAX_WITHIN_S} s")
    return us


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


class StatusApi:
    """The handlers and the peer lookups of one worker."""

    def __init__(self, app: Any, engine: Any, settings: Settings, table: Any) -> None:
        self.app = app
        self.engine = engine
        self.settings = settings
        self.table = table
        self.me = settings.advertised_api_url
        self.clocks = tuple(rule.name for rule in engine.policy.clocks)
        self.session: ClientSession | None = None
        self.runner: web.AppRunner | None = None  # kept alive with the app

    # ownership
    def owned(self) -> list[int]:
        """Partitions of the ticket table this worker owns now (empty while recovering)."""
        if not self.engine.ready:
            return []
        topic = self.table.changelog_topic.get_topic_name()
        return sorted(
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic
        )

    def peers(self, ticket_id: str | None = None) -> list[str]:
        """API URLs of the other workers; the owner of the ticket's partition first."""
        try:
            layout = self.app.router.table_metadata(self.table.name)
        except Exception:
            return []
        urls = {str(url).rstrip("/"): tps for url, tps in layout.items()}
        urls.pop(self.me, None)
        order = sorted(urls)
        if ticket_id is not None:
            p = partition_for(ticket_id.encode(), self.settings.partitions)
            order.sort(key=lambda u: not any(p in parts for parts in urls[u].values()))
        return order

    def now(self, partition: int) -> int:
        clock = self.engine.clock(partition)
        return int(clock.now(time.time_ns() // 1000, time.monotonic()))

    # peers
    async def ask(self, url: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if self.session is None:
            self.session = ClientSession(timeout=ClientTimeout(total=PEER_TIMEOUT_S))
        async with self.session.get(url + path, params={**params, "local": "true"}) as r:
            return r.status, orjson.loads(await r.read())

    # handlers
    async def get_ticket(self, request: web.Request) -> web.Response:
        ticket_id = request.match_info["ticket_id"]
        try:
            if not _TICKET_ID.fullmatch(ticket_id):
                raise BadRequest("ticket_id: 1 to 200 characters, no control characters")
            local = _flag(request.query, "local")
        except BadRequest as e:
            return _error(400, str(e))
        if not self.engine.ready:
            return _error(503, "the worker is recovering its state; try again shortly")
        for partition in self.owned():
            ticket = self.engine.load(ticket_id, partition)
            if ticket is not None:
                return _json(ticket_status(ticket, self.now(partition)))
        if local:
            return _error(404, f"ticket {ticket_id!r} is not on this worker")
        missing = []
        for url in self.peers(ticket_id):
            try:
                status, body = await self.ask(url, f"/tickets/{quote(ticket_id, safe='')}", {})
            except (TimeoutError, OSError, ClientError, ValueError):
                missing.append(url)
                continue
            if status == 200:
                return _json(body)
            if status != 404:
                missing.append(url)
        if missing:
            return _error(503, f"not found here; no answer from {', '.join(missing)}")
        return _error(404, f"unknown ticket {ticket_id!r}")

    def _params(self, request: web.Request) -> tuple[int, at_risk.Filters, int, bool]:
        q = request.query
        within = _within(q.get("within", "15m"))
        f = at_risk.Filters(_name(q, "team"), _name(q, "priority"), _name(q, "clock"))
        if f.clock is not None and f.clock not in self.clocks:
            raise BadRequest(f"clock: {f.clock!r} is not one of {', '.join(self.clocks)}")
        return within, f, _limit(q.get("limit")), _flag(q, "local")

    async def get_at_risk(self, request: web.Request) -> web.Response:
        try:
            within, f, limit, local = self._params(request)
        except BadRequest as e:
            return _error(400, str(e))
        if not self.engine.ready:
            return _error(503, "the worker is recovering its state; try again shortly")
        wall = time.time_ns() // 1000
        indexes = {p: self.engine.indexes[p] for p in self.owned() if p in self.engine.indexes}
        walk = at_risk.at_risk(indexes, self.engine.load, self.now, within, f, limit)
        items = [e for _due, e in walk.entries]
        truncated, workers, missing = walk.truncated, 1, []
        if not local:
            params = {k: v for k, v in request.query.items() if k != "local"}
            peers = self.peers()
            answers = await asyncio.gather(
                *(self.ask(url, "/at-risk", params) for url in peers), return_exceptions=True
            )
            for url, answer in zip(peers, answers, strict=True):
                if isinstance(answer, BaseException) or answer[0] != 200:
                    missing.append(url)
                    continue
                items.extend(answer[1]["items"])
                truncated |= bool(answer[1]["truncated"])
                workers += 1
            items.sort(
                key=lambda e: (
                    datetime.fromisoformat(str(e["due_at"])),
                    str(e["ticket_id"]),
                    str(e["clock"]),
                )
            )
            truncated |= len(items) > limit
            del items[limit:]
        body = {
            "as_of": iso(wall),
            "until": iso(wall + within),
            "items": items,
            "truncated": truncated,
            "workers": workers,
            "missing": missing,
        }
        return _json(body)

    async def get_openapi(self, request: web.Request) -> web.Response:
        return _json(document(self.clocks))

    def web_app(self) -> web.Application:
        webapp = web.Application()
        webapp.router.add_get("/tickets/{ticket_id}", self.get_ticket)
        webapp.router.add_get("/at-risk", self.get_at_risk)
        webapp.router.add_get("/openapi.json", self.get_openapi)
        return webapp


def bind(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound now so that a port in use stops the start clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise SystemExit(
            f"sla-engine: cannot serve the status API on {host}:{port}: {e.strerror}; "
            "choose another with --api-port / --api-host (SLA_API_PORT, SLA_API_HOST)"
        ) from None
    return sock


def install(app: Any, engine: Any, settings: Settings, table: Any) -> StatusApi:
    """Serve the API (unless --api-port 0) and keep the at-risk gauge, inside the Faust app."""
    api = StatusApi(app, engine, settings, table)
    sock = bind(settings.api_host, settings.api_port) if settings.api_port else None

    if sock is not None:

        @app.task  # type: ignore[untyped-decorator]  # faust: App.task's union return type
        async def serve_api() -> None:
            runner = web.AppRunner(api.web_app(), access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            api.runner = runner

    @app.timer(interval=GAUGE_INTERVAL_S)  # type: ignore[untyped-decorator]  # faust: App.timer returns a bare Callable
    async def at_risk_gauge() -> None:
        if engine.ready:
            indexes = {p: engine.indexes[p] for p in api.owned() if p in engine.indexes}
            await at_risk.refresh_gauge(indexes, engine.load, api.now, api.clocks)

    return api
