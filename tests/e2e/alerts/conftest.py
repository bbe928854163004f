"""Fixtures of the alert tests: the app with roomy registration limits (the tests register
many players from one address), staff clients, and the evaluator driven at chosen times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.alerts import evaluator
from app.core import counters
from app.core.db import Database
from app.core.settings import Settings
from pms.asgi import create_app
from tests.auth import staff_principal, token_for
from tests.conftest import GraphQLClient

ALERT_FIELDS = """
  id ruleKey kind metric status value lastValue threshold firedAt
  acknowledgedAt acknowledgedBy resolvedAt resolvedBy
  history { action actor at value note }
"""
SAVE_RULE = """
mutation Save($input: AlertRuleInput!) {
  saveAlertRule(input: $input) {
    __typename
    ... on AlertRule { id key version kind metric threshold clearThreshold windowSeconds
                       baselineSeconds forEvaluations minSamples enabled createdBy }
    ... on InvalidAlertRuleError { code field message }
    ... on UserError { code message }
  }
}
"""
ALERTS = f"""
query Alerts($filter: AlertFilter) {{ alerts(filter: $filter) {{ {ALERT_FIELDS} }} }}
"""
ACK = f"""
mutation Ack($id: ID!, $note: String! = "") {{
  acknowledgeAlert(id: $id, note: $note) {{
    __typename ... on Alert {{ {ALERT_FIELDS} }} ... on UserError {{ code message }}
  }}
}}
"""
RESOLVE = f"""
mutation Resolve($id: ID!) {{
  resolveAlert(id: $id) {{
    __typename ... on Alert {{ {ALERT_FIELDS} }} ... on UserError {{ code message }}
  }}
}}
"""
OPS = staff_principal("COMPLIANCE", "ops-on-call")


def alert_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"registrations_per_ip_per_hour": 10_000,
                              "alert_evaluate_interval_seconds": 10.0}  # fmt: skip
    values.update(overrides)
    return settings.model_copy(update=values)


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    """The counter buffer is process-wide: drop what earlier tests left unflushed."""
    counters.drain()


@pytest.fixture
def alert_app(settings: Settings, db: Database) -> Any:
    return create_app(alert_settings(settings), database=db)


@pytest.fixture
async def alert_client(alert_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=alert_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield http


class AlertsApi:
    """The alerts API as the on-call staff member uses it, plus the evaluator's clock."""

    def __init__(self, http: httpx.AsyncClient, app: Any, db: Database, settings: Settings):
        self.gql = GraphQLClient(http)
        self.app = app
        self.db = db
        self.settings = alert_settings(settings)
        self.clock = datetime.now(UTC)
        self._headers: dict[str, str] | None = None

    async def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {"authorization": f"Bearer {await token_for(self.app, OPS)}"}
        return self._headers

    async def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, variables, **await self.headers())
        assert "errors" not in body, body
        return body["data"]

    async def save_rule(self, **fields: Any) -> dict[str, Any]:
        return (await self.call(SAVE_RULE, {"input": fields}))["saveAlertRule"]

    async def alerts(self, **flt: Any) -> list[dict[str, Any]]:
        return (await self.call(ALERTS, {"filter": flt or None}))["alerts"]

    async def tick(self, seconds: float = 20.0) -> int:
        """One evaluation round, ``seconds`` after the previous one (the task's work)."""
        self.clock = max(self.clock + timedelta(seconds=seconds), datetime.now(UTC))
        return await evaluator.run(self.db, self.settings, now=self.clock)


@pytest.fixture
def alerts_api(alert_client: httpx.AsyncClient, alert_app: Any, db: Database,
               settings: Settings) -> AlertsApi:  # fmt: skip
    return AlertsApi(alert_client, alert_app, db, settings)


async def age_counters(db: Database, name_like: str, seconds: int) -> None:
    """Move what was counted so far ``seconds`` into the past: the baseline traffic of a
    swing or spike rule happened before the window (the API cannot send it back in time)."""
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE alert_counters SET bucket = bucket - make_interval(secs => :s)"
                 " WHERE name LIKE :n"),
            {"s": seconds, "n": name_like},
        )  # fmt: skip


async def outbox_types(db: Database, prefix: str = "alert.") -> list[str]:
    async with db.read_session() as session:
        rows = await session.execute(
            text("SELECT type FROM outbox_events WHERE type LIKE :p ORDER BY id"),
            {"p": prefix + "%"},
        )
        return [r[0] for r in rows]
