"""A starting rule set (thresholds chosen against the simulator in
tests/integration/fraud/simulator.py: every scripted fraudster caught, no normal player
hit). COMPLIANCE tunes them through ``saveFraudRule``; ``seed`` only fills an empty table."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.fraud.models import FraudRule
from app.fraud.service import RuleInput, save_rule

DEFAULT_RULES: tuple[RuleInput, ...] = (
    RuleInput("bet-rate-burst", "bet_rate", 5.0, 40, "ALERT",
              description="5x the player's own bets per minute"),
    RuleInput("stake-jump", "stake_jump", 20.0, 20, "FLAG",
              description="a stake 20x the player's usual"),
    RuleInput("win-rate", "win_rate", 2.0, 30, "FLAG",
              description="twice the expected RTP over 50+ rounds"),
    RuleInput("deposit-velocity", "deposit_velocity", 10.0, 20, "FLAG"),
    RuleInput("withdrawal-velocity", "withdrawal_velocity", 5.0, 20, "FLAG"),
    RuleInput("bonus-abuse", "bonus_abuse", 0.8, 50, "HOLD_WITHDRAWALS",
              description="withdrawal after deposit + bonus with under 20% wagered"),
    RuleInput("shared-device", "shared_device", 3.0, 60, "ALERT"),
    RuleInput("shared-payment", "shared_payment", 3.0, 60, "ALERT"),
    RuleInput("shared-ip", "shared_ip", 10.0, 10, "FLAG"),
    RuleInput("failed-logins-new-device", "failed_logins_new_device", 3.0, 40, "STEP_UP_MFA",
              description="3+ failed sign-ins, then a success from a new device"),
    RuleInput("rollbacks", "rollbacks", 10.0, 20, "FLAG"),
    RuleInput("provider-rollbacks", "provider_rollbacks", 200.0, 10, "ALERT",
              description="one provider rolled back 200+ rounds in the window"),
)  # fmt: skip


async def seed(session: AsyncSession, actor: str = "system:fraud-defaults") -> int:
    """Save the default rules when there are none yet; how many were saved."""
    if (await session.execute(select(func.count()).select_from(FraudRule))).scalar():
        return 0
    for rule in DEFAULT_RULES:
        await save_rule(session, rule, actor)
    return len(DEFAULT_RULES)
