"""Inputs of the anti-fraud API."""

from __future__ import annotations

import strawberry

from schema.input_guard import free_text


@strawberry.input(description="A fraud rule; saving writes its next version.")
class FraudRuleInput:
    key: str = strawberry.field(description="Stable name, 1-64 of [A-Za-z0-9_-].")
    signal: str = strawberry.field(description="One of FraudSignal's values, e.g. bet_rate.")
    threshold: float = strawberry.field(description="Fires when the signal value >= this.")
    weight: int = strawberry.field(description="0-100, added to the risk score.")
    action: str = strawberry.field(description="FLAG, ALERT, STEP_UP_MFA, HOLD_WITHDRAWALS "
                                               "or AUTO_BLOCK.")  # fmt: skip
    enabled: bool = True
    description: str = free_text(default="", description="Why the rule exists (free text).")


@strawberry.input
class FraudCaseFilter:
    status: str | None = strawberry.field(default=None, description="OPEN or DECIDED")
    player_id: strawberry.ID | None = None
    assignee: str | None = None
