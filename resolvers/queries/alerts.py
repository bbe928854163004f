"""Alert queries (staff with alert:read): the rules and the alerts with their history."""

from __future__ import annotations

import strawberry

from app.alerts import service
from permissions.roles import Permission as P
from permissions.rules import required
from schema.context import Info
from schema.inputs.alerts import AlertFilter
from schema.pagination import check_page_size
from schema.types.alerts import Alert, AlertRule


@strawberry.type
class AlertQueries:
    @strawberry.field(
        description="Alert rules: the latest version of each, or every version.",
        extensions=[required(P.ALERT_READ)],
    )
    async def alert_rules(self, info: Info, all_versions: bool = False) -> list[AlertRule]:
        async with info.context.db.read_session() as session:
            rows = await service.list_rules(session, all_versions=all_versions)
        return [AlertRule.from_model(r) for r in rows]

    @strawberry.field(
        description="Alerts, newest first, each with its history (fired, acknowledged, "
        "resolved: by whom, when).",
        extensions=[required(P.ALERT_READ)],
    )
    async def alerts(
        self, info: Info, filter: AlertFilter | None = None, first: int = 50
    ) -> list[Alert]:
        limit = check_page_size(first, info.context.settings.max_page_size)
        flt = filter or AlertFilter()
        async with info.context.db.read_session() as session:
            views = await service.list_alerts(
                session,
                statuses=[s.value for s in flt.status] if flt.status else None,
                rule_key=flt.rule_key,
                since=flt.fired_since,
                limit=limit,
            )
        return [Alert.from_view(v) for v in views]
