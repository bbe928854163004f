"""Live alerts for staff with alert:read: every committed fire, acknowledgement and
resolution, relayed from the outbox through the process's EventHub, with the alert as it
is now (read after the event, so its history includes the step announced)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.alerts import service
from permissions.realtime import may_watch_alerts
from resolvers.subscriptions.players import _events, forbidden
from schema.context import Info
from schema.ids import try_uuid
from schema.types.alerts import Alert, AlertEvent

ALERT_EVENTS = frozenset({"alert.fired", "alert.acknowledged", "alert.resolved"})


@strawberry.type
class AlertSubscriptions:
    @strawberry.subscription(description="Alerts as they fire, are acknowledged and resolve.")
    async def alerts(self, info: Info) -> AsyncGenerator[AlertEvent, None]:
        if not may_watch_alerts(info.context.principal):
            raise forbidden()
        async for envelope in _events(info, None, ALERT_EVENTS):
            alert_id = try_uuid((envelope.get("data") or {}).get("alertId"))
            if alert_id is None:
                continue
            async with info.context.db.read_session() as session:
                view = await service.get_alert(session, alert_id)
            if view is not None:
                yield AlertEvent(type=str(envelope["type"]), alert=Alert.from_view(view))
