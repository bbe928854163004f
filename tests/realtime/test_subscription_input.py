"""Issue 10 item 16 over WebSocket: subscription arguments pass the same input guard."""

from __future__ import annotations

import pytest

from tests.auth import staff_principal, token_for
from tests.realtime.conftest import WsClient, realtime_settings, start_server, stop_server

FEED = """
subscription F($filter: PlayerEventFilter) {
  playerEvents(filter: $filter) { id type subject data }
}
"""


@pytest.mark.parametrize(
    ("filter_", "field"),
    [({"types": ["player.\x00"]}, "filter.types[0]"), ({"playerId": "1\ud800"}, "filter.playerId")],
)
async def test_subscription_arguments_refuse_nul_and_lone_surrogates(settings, db, filter_, field):
    server, task, live = await start_server(realtime_settings(settings), db)
    try:
        client = await WsClient.open(live.ws_url)
        ack = await client.init(await token_for(live.app, staff_principal("ADMIN", "admin-ws")))
        assert ack["type"] == "connection_ack"
        await client.subscribe("1", FEED, {"filter": filter_})
        message = await client.next_payload()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"] == {"code": "VALIDATION_ERROR", "field": field}
        await client.close()
    finally:
        await stop_server(server, task)
