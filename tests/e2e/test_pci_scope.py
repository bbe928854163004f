"""Issue 12 item 5, PCI DSS scope proof: PMS never stores or logs a card number.

A suite-like workload runs through a real HTTP server (uvicorn, access log on): players
register, sign in, deposit, bet, win, withdraw, pay fees, get corrections, free spins,
tournament money and bonuses, edit profiles and tags, are blocked and unblocked, fall
into segments; and card numbers are offered in every free-text field, each refused.
Then every text/json column of every table (via SQL) and every log record of the
server are scanned: 0 Luhn-valid card numbers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from app.core.logging import RequestIdFilter
from app.core.text import card_numbers
from pms.asgi import create_app
from tests.auth import player_principal, service_principal, staff_principal, token_for
from tests.conftest import GraphQLClient
from tests.e2e.test_input_guard import FREE_TEXT_CASES, _refusals_missing
from tests.factories import registration
from tests.integration.wallets.conftest import MUTATIONS, new_key
from tests.realtime.conftest import free_port

PANS = ["4111111111111111", "psp-5555 5555 5555 4444", "ref 3782.822463.10005",
        "card 6011-1111-1111-1117 exp 12/29"]  # fmt: skip
GAME = service_principal("wallet:operate", "wallet:read", "player:read", client_id="game-engine")
FINANCE = staff_principal("FINANCE", "finance-officer")
ADMIN = staff_principal("ADMIN", "admin-1")
MARKETER = staff_principal("MARKETER", "marketer-1")
# Digests and hex ids (SHA-256 chains, token hashes, signatures) are not card numbers
# even where a 13-19 digit stretch of their hex happens to pass Luhn.
_HEX_TOKEN = re.compile(r"\b[0-9a-fA-F]{32,}\b")
# E.164 phone numbers (a profile's "+4915112345678" passes Luhn) are not card numbers.
_PHONE = re.compile(r"\+[0-9]{8,15}(?![0-9])")
# JSON floats (fraud z-scores, alert values: 0.39025969574088) are not card numbers either;
# dotted card spellings group at most 6 digits (4-4-4-4, 4-6-5), so they stay in the scan.
_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{7,}(?![\d.])")

REGISTER = """mutation($i: RegisterPlayerInput!) { registerPlayer(input: $i) {
  __typename ... on RegisterPlayerSuccess { player { id } } ... on ValidationError { field } } }"""
LOGIN = """mutation($l: String!, $p: String!) { login(loginOrEmail: $l, password: $p) {
  __typename ... on AuthTokens { accessToken } } }"""
PROFILE = """mutation($id: ID!, $i: UpdateProfileInput!) { updatePlayerProfile(playerId: $id,
  input: $i) { __typename ... on ValidationError { field message } } }"""
STATUS = """mutation($id: ID!, $s: PlayerStatus!, $r: String!) {
  setPlayerStatus(playerId: $id, status: $s, reason: $r) {
  __typename ... on ValidationError { field message } } }"""
TAGS = """mutation($id: ID!, $t: [String!]!) { setPlayerTags(playerId: $id, tags: $t) {
  __typename ... on ValidationError { field message } } }"""
SEGMENT = """mutation($i: SegmentInput!) { createSegment(input: $i) {
  __typename ... on ValidationError { field message } } }"""
READ = """query($id: ID!) { player(id: $id) { email profile { addressLine1 }
  wallets { kind balance { amount } transactions(first: 20) { totalCount } } } }"""


class Capture(logging.Handler):
    """Every record of every logger, formatted as the server's log would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
async def served(settings, db) -> AsyncIterator[tuple[Any, httpx.AsyncClient, Capture]]:
    capture = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # An earlier server in the same run (uvicorn's default log config) may have cut its
    # loggers off from root: let them propagate for this test, as `pms serve` has them.
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    saved = [(lg.propagate, lg.level, lg.disabled) for lg in uvicorn_loggers]
    for lg in uvicorn_loggers:
        lg.propagate, lg.disabled = True, False
        lg.setLevel(logging.INFO)
    app = create_app(settings, database=db)
    port = free_port()
    # log_config=None: uvicorn's loggers (the access log among them) propagate to root.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(3000):  # up to 30 s on a busy machine
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield app, http, capture
    finally:
        server.should_exit = True
        await task
        root.removeHandler(capture)
        root.setLevel(level)
        for lg, (propagate, lg_level, disabled) in zip(uvicorn_loggers, saved, strict=True):
            lg.propagate, lg.disabled = propagate, disabled
            lg.setLevel(lg_level)


class Api:
    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.app, self.gql = app, GraphQLClient(http)
        self._tokens: dict[str, dict[str, str]] = {}

    async def __call__(self, query: str, variables: dict[str, Any], as_: Any = None) -> Any:
        headers: dict[str, str] = {}
        if as_ is not None:
            if as_.key not in self._tokens:
                token = await token_for(self.app, as_)
                self._tokens[as_.key] = {"authorization": f"Bearer {token}"}
            headers = self._tokens[as_.key]
        body = await self.gql(query, variables, **headers)
        assert "errors" not in body, body
        return next(iter(body["data"].values()))

    async def op(self, name: str, as_: Any = GAME, **fields: Any) -> Any:
        fields.setdefault("idempotencyKey", new_key())
        return await self(MUTATIONS[name], {"input": fields}, as_)


async def _workload(api: Api, db) -> list[str]:
    """The traffic of a day at a small casino; returns the players' ids."""
    players = []
    for n in range(3):
        data = registration(trafficSource="newsletter", affiliateCode=f"aff-{n}")
        answer = await api(REGISTER, {"i": data})
        assert answer["__typename"] == "RegisterPlayerSuccess", answer
        players.append(answer["player"]["id"])
        signed_in = await api(LOGIN, {"l": data["login"], "p": data["password"]})
        assert signed_in["__typename"] in {"AuthTokens", "MfaRequired"}, signed_in
    async with db.transaction() as session:
        await session.execute(text("UPDATE players SET confirm_status = 'VERIFIED'"))
    for i, player in enumerate(players):
        me = player_principal(player)
        assert (await api(PROFILE, {"id": player, "i": {
            "firstName": "Jana", "lastName": "Novak", "addressLine1": f"Hauptstr. {i + 1}",
            "city": "Berlin", "postalCode": "10115", "phone": "+4915112345678",
        }}, me))["__typename"] == "UpdatePlayerSuccess"  # fmt: skip
        deposit = await api.op("deposit", playerId=player, amount="250.00", currency="EUR",
                               paymentReference=f"tok_{i}_visa")  # fmt: skip
        assert deposit["__typename"] == "WalletOperation", deposit
        bet = await api.op("reserveBet", playerId=player, amount="10.00", currency="EUR",
                           gameRoundId=f"round-{i}", transactionId=f"bet-{i}")  # fmt: skip
        won = await api.op("settleBet", playerId=player, reservationId=bet["reservationId"],
                           winAmount="25.00", currency="EUR", transactionId=f"win-{i}",
                           gameId="starburst", gameProvider="netent")  # fmt: skip
        assert won["__typename"] == "WalletOperation", won
        withdrawal = await api.op("withdraw", playerId=player, amount="20.00", currency="EUR",
                                  paymentReference=f"tok_{i}_payout")  # fmt: skip
        assert withdrawal["__typename"] == "WalletOperation", withdrawal
        assert (await api.op("confirmWithdrawal", GAME, playerId=player,
                             withdrawalId=withdrawal["reservationId"]))["__typename"] == (
            "WalletOperation")  # fmt: skip
        for name, extra in [
            ("chargeFee", {"amount": "1.00", "currency": "EUR", "reason": "inactivity fee"}),
            ("adjustBalance", {"walletKind": "REAL", "amount": "2.50", "currency": "EUR",
                               "reason": "goodwill after ticket 42"}),
            ("grantFreeSpins", {"spins": 10, "reference": "welcome spins"}),
            ("consumeFreeSpins", {"spins": 3, "reference": "round 7"}),
            ("creditTournament", {"amount": "5.00", "currency": "EUR", "reference": "cup #3"}),
        ]:  # fmt: skip
            caller = FINANCE if name == "adjustBalance" else GAME
            answer = await api.op(name, caller, playerId=player, **extra)
            assert answer["__typename"] == "WalletOperation", (name, answer)
        assert (await api(TAGS, {"id": player, "t": ["vip", "de"]}, ADMIN))["__typename"] != (
            "ValidationError"
        )
        await api(READ, {"id": player}, staff_principal("SUPPORT", "support-1"))
    for status in ("BLOCKED", "ACTIVE"):
        answer = await api(STATUS, {"id": players[0], "s": status, "r": "chargeback review"},
                           ADMIN)  # fmt: skip
        assert answer["__typename"] != "ValidationError", answer
    rule = {"attribute": "country", "op": "eq", "value": "DE"}
    segment = {"name": "Germany", "rule": rule, "description": "players in DE"}
    assert (await api(SEGMENT, {"i": segment}, MARKETER))["__typename"] != "ValidationError"
    return players


async def _pan_attempts(api: Api, player: str) -> None:
    """Card numbers offered on otherwise valid requests: each is a ValidationError."""
    me = player_principal(player)
    for pan in PANS:
        attempts = [
            (await api.op("deposit", playerId=player, amount="5.00", currency="EUR",
                          paymentReference=pan), "paymentReference"),
            (await api.op("chargeFee", playerId=player, amount="1.00", currency="EUR",
                          reason=pan), "reason"),
            (await api.op("grantFreeSpins", playerId=player, spins=1, reference=pan),
             "reference"),
            (await api(PROFILE, {"id": player, "i": {"addressLine1": pan}}, me),
             "addressLine1"),
            (await api(STATUS, {"id": player, "s": "BLOCKED", "r": pan}, ADMIN), "reason"),
            (await api(TAGS, {"id": player, "t": [pan]}, ADMIN), "tags[0]"),
            (await api(SEGMENT, {"i": {"name": "s", "rule": {"attribute": "country", "op": "eq",
                                 "value": "DE"}, "description": pan}}, MARKETER), "description"),
        ]  # fmt: skip
        for answer, field in attempts:
            assert answer["__typename"] == "ValidationError", (field, answer)
            assert answer["field"] == field


async def _dump(db) -> dict[str, str]:
    """Every text, varchar, char, json and jsonb column (arrays of them too) of every table,
    as one text per table."""
    async with db.read_session() as session:
        columns = (
            await session.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND (data_type IN ('text', "
                    "'character varying', 'character', 'json', 'jsonb') OR (data_type = "
                    "'ARRAY' AND udt_name IN ('_text', '_varchar', '_json', '_jsonb')))"
                )
            )
        ).all()
        tables: dict[str, list[str]] = {}
        for table, column in columns:
            tables.setdefault(table, []).append(column)
        dumped = {}
        for table, cols in tables.items():
            parts = ", ".join(f"coalesce(\"{c}\"::text, '')" for c in cols)
            rows = await session.execute(
                text(f"SELECT concat_ws(E'\\n', {parts}) FROM \"{table}\"")
            )
            dumped[table] = "\n".join(r[0] for r in rows)
    return dumped


def _findings(text_: str) -> list[str]:
    return card_numbers(_FLOAT.sub(" ", _PHONE.sub(" ", _HEX_TOKEN.sub(" ", text_))))


def test_the_scan_finds_what_it_must_and_skips_only_digests_and_phones():
    stored = '{"reference": "psp-4111 1111 1111 1111", "phone": "+4915112345678"}'
    assert _findings(stored) == ["4111111111111111"]
    assert _findings("sha256 " + "4111111111111111" + "ab" * 16) == []  # inside a digest
    assert _findings("order 5555.5555.5555.4444 shipped") == ["5555555555554444"]


async def test_no_card_number_is_ever_stored_or_logged(served, db, client, auth):
    app, http, capture = served
    api = Api(app, http)

    players = await _workload(api, db)
    await _pan_attempts(api, players[1])
    # and every free-text position of the schema, through the same server
    headers = await auth.staff_headers("ADMIN")
    for pan in PANS[:2]:
        assert await _refusals_missing(http, headers, FREE_TEXT_CASES, pan) == []

    dump = await _dump(db)
    assert {"players", "player_profiles", "ledger_transfers", "outbox_events", "segments",
            "player_settings_changes", "idempotency_keys", "audit_log"} <= set(dump)  # fmt: skip
    assert "tok_0_visa" in dump["ledger_transfers"]  # the workload's rows are in the dump
    assert "Hauptstr. 1" in dump["player_profiles"]
    found = {table: _findings(content) for table, content in dump.items()}
    assert {table: pans for table, pans in found.items() if pans} == {}

    log = "\n".join(capture.lines)
    assert "POST /graphql" in log  # the access log was captured
    assert _findings(log) == []
