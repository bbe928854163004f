"""``POST /graphql`` with a JSON object body is served by pms/json_post.py, not by
Strawberry's HTTP view; every request below is sent through the whole ASGI app both
ways and must get the same status, headers and body (bytes), money mutations included
(the second send of a bet is its idempotent replay). Requests the path hands back to
Strawberry (batches, bad JSON, ill-typed members, stream Accept) are compared too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pms.asgi import PMSGraphQL
from schema.persisted_queries import sha256_hex
from tests.integration.wallets.conftest import GAME_ENGINE, MUTATIONS
from tests.integration.wallets.test_bets import bet, fund

ME = "query Me { me { ... on Player { id login } } }"


def view_of(app: Any) -> PMSGraphQL:
    """The PMSGraphQL instance behind the /graphql route's gate layers."""
    for route in app.routes:
        node = getattr(route, "app", None)
        while node is not None and not isinstance(node, PMSGraphQL):
            node = getattr(node, "app", None)
        if node is not None:
            return node
    raise AssertionError("no PMSGraphQL in the app")


async def post(
    app: Any, body: bytes, headers: dict[str, str]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One POST /graphql as raw ASGI messages (x-request-id fixed: it is echoed)."""
    sent: list[dict[str, Any]] = []
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]  # two chunks: more_body

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5555), "server": ("pms.test", 80),
        "headers": [(b"host", b"pms.test"), (b"x-request-id", b"json-post-test"),
                    (b"content-length", str(len(body)).encode()), *raw],
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], list(start["headers"]), content


@pytest.fixture
def strawberry_runs(app, monkeypatch) -> list[int]:
    """Counts the requests Strawberry's own HTTP view ran."""
    calls: list[int] = []
    view = view_of(app)
    original = view.run

    async def run(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(view, "run", run)
    return calls


async def both_ways(app: Any, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    view = view_of(app)
    assert view.json_fast_path
    fast = await post(app, body, headers)
    view.json_fast_path = False
    try:
        slow = await post(app, body, headers)
    finally:
        view.json_fast_path = True
    assert fast == slow
    return fast[0], fast[2]


def js(data: Any) -> bytes:
    return json.dumps(data).encode()


async def test_money_mutations_answer_as_strawberry_did(
    app, wallet_gql, player_factory, strawberry_runs
):
    player = await player_factory()
    await fund(wallet_gql, player, real="10.00")
    engine = await wallet_gql.headers(GAME_ENGINE)
    headers = {"content-type": "application/json", **engine}
    strawberry_runs.clear()

    stake = {**bet(player, "2.50"), "idempotencyKey": "jp-1"}
    reserve = {"query": MUTATIONS["reserveBet"], "variables": {"input": stake}}
    status, body = await both_ways(app, js(reserve), headers)
    answer = json.loads(body)["data"]["reserveBet"]
    assert status == 200 and answer["__typename"] == "WalletOperation"
    assert [(h["walletKind"], h["amount"]["amount"]) for h in answer["holds"]] == [("REAL", "2.50")]
    assert {w["kind"]: w["available"]["amount"] for w in answer["wallets"]}["REAL"] == "7.50"

    settle = {"query": MUTATIONS["settleBet"], "variables": {"input": {
        "playerId": player, "reservationId": answer["reservationId"], "winAmount": "1.00",
        "currency": "EUR", "transactionId": "w1", "idempotencyKey": "jp-2"}}}  # fmt: skip
    status, body = await both_ways(app, js(settle), headers)
    settled = json.loads(body)["data"]["settleBet"]
    assert settled["__typename"] == "WalletOperation", settled
    assert {w["kind"]: w["balance"]["amount"] for w in settled["wallets"]}["REAL"] == "8.50"

    # The same key with other input: the typed error, both ways.
    reused = {**reserve, "variables": {"input": {**bet(player, "3.00"), "idempotencyKey": "jp-1"}}}
    status, body = await both_ways(app, js(reused), headers)
    assert json.loads(body)["data"]["reserveBet"]["__typename"] == "IdempotencyKeyReused"
    assert len(strawberry_runs) == 3  # only the comparison sends went through Strawberry

    # A persisted (APQ) money mutation: registered with its first run, then by hash alone.
    apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(MUTATIONS["reserveBet"])}}
    second = {**bet(player, "1.00", round_id="r2", tx="b2"), "idempotencyKey": "jp-3"}
    await post(app, js({**reserve, "variables": {"input": second}, "extensions": apq}), headers)
    third = {**bet(player, "1.00", round_id="r3", tx="b3"), "idempotencyKey": "jp-4"}
    status, _, body = await post(
        app, js({"variables": {"input": third}, "extensions": apq}), headers
    )
    by_hash = json.loads(body)["data"]["reserveBet"]
    assert status == 200 and by_hash["__typename"] == "WalletOperation", body
    assert {w["kind"]: w["available"]["amount"] for w in by_hash["wallets"]}["REAL"] == "6.50"


UNKNOWN_HASH = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
WRONG_HASH = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex("{ __typename }")}}
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [
        (js({"query": "{ __typename }"}), {}, 200),
        (js({"query": "{ nope }"}), {}, 200),  # validation error, legacy media type
        (js({"query": "{ nope }"}), {"accept": GRAPHQL_RESPONSE}, 400),
        (js({"query": "{ __typename"}), {}, 200),  # syntax error
        (js({"query": "{ __typename }", "operationName": "Other"}), {}, 400),
        (js({"query": "query A { __typename } query B { __typename }"}), {}, 200),
        (js({}), {}, 400),  # no query
        (js({"query": "mutation { logout }", "variables": None}), {}, 200),  # anonymous
        (js({"query": "{ __typename }"}), {"content-type": GRAPHQL_RESPONSE}, 200),
        (js({"extensions": UNKNOWN_HASH}), {}, 200),
        (js({"query": ME, "extensions": WRONG_HASH}), {}, 400),
        # Handed back to Strawberry: its own answers.
        (b'{"query": ', {}, 400),
        (b"\xff\xfe", {}, 400),
        (js([{"query": "{ __typename }"}]), {}, 400),
        (js({"query": 7}), {}, 400),
        (js({"query": "{ __typename }", "variables": "x"}), {}, 400),
        (js({"query": "{ __typename }", "extensions": []}), {}, 400),
        (js({"query": "{ __typename }"}), {"accept": "application/json, text/event-stream"}, 200),
        (js({"query": "{ __typename }"}), {"content-type": "text/plain"}, 415),
    ],
)
async def test_other_requests_answer_as_strawberry_did(app, body, extra, status):
    headers = {"content-type": "application/json", **extra}
    got, _ = await both_ways(app, body, headers)
    assert got == status


async def test_a_player_query_and_its_persisted_hash(app, auth, player_factory):
    player = await player_factory()
    headers = {"content-type": "application/json", **await auth.player_headers(player)}
    apq = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(ME)}}
    status, body = await both_ways(app, js({"query": ME, "extensions": apq}), headers)
    assert status == 200 and json.loads(body)["data"]["me"]["id"] == str(player)
    status, again = await both_ways(app, js({"extensions": apq}), headers)
    assert again == body
