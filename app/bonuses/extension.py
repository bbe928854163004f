"""Bonuses as a ledger extension (app/ledger/hooks.py): wagering, max bet, loyalty and
the deposit / tier triggers, plugged into the ledger's two statements and hook points.
Registered by the composition root (``pms.hooks.register_ledger_extensions``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import engine, triggers
from app.bonuses import repository as repo
from app.core.settings import Settings
from app.ledger.hooks import Completed, Debit, ExtensionBase, Settlement
from app.ledger.models import HoldPurpose
from app.ledger.operation import Operation


class BonusExtension(ExtensionBase):
    name = engine.NAME
    load_parts = repo.LEDGER_LOAD_PARTS
    apply_parts = repo.LEDGER_APPLY_PARTS
    batch_load_parts = repo.LEDGER_BATCH_LOAD_PARTS
    batch_apply_parts = repo.LEDGER_BATCH_APPLY_PARTS  # wagering by bonus, loyalty by player

    def loaded(self, row: Mapping[str, Any]) -> engine.BonusRows:
        return engine.BonusRows(
            json.loads(row["bonuses"] or "[]"),
            json.loads(row["loyalty"]) if row["loyalty"] else None,
        )

    def batch_copy(self, state: Any) -> engine.BonusRows:
        # The rules change a bonus's or the loyalty account's own keys, nothing nested.
        rows = state if isinstance(state, engine.BonusRows) else engine.BonusRows()
        loyalty = dict(rows.loyalty) if rows.loyalty is not None else None
        return engine.BonusRows([dict(b) for b in rows.bonuses], loyalty)

    def batch_merge(self, player_id: uuid.UUID, previous: Any | None, writes: Any,
                    state: Any) -> engine.BatchBonusWrites:  # fmt: skip
        return engine.merge_writes(player_id, previous, writes, state)

    def batch_apply_args(self, writes: Sequence[Any]) -> Sequence[Any]:
        ids: list[int] = []
        figures: list[tuple[int, str, int, int]] = []
        players: list[uuid.UUID] = []
        loyalty: list[tuple[int, str]] = []
        for w in writes:
            for bonus_id in sorted(w.bonus_updates):
                ids.append(bonus_id)
                figures.append(w.bonus_updates[bonus_id])
            if w.loyalty is not None:
                players.append(w.player_id)
                loyalty.append(w.loyalty)
        return (
            ids, [f[0] for f in figures], [f[1] for f in figures], [f[2] for f in figures],
            [f[3] for f in figures], players, [p for p, _ in loyalty], [t for _, t in loyalty],
        )  # fmt: skip

    def apply_args(self, writes: Any | None) -> Sequence[Any]:
        w = writes if isinstance(writes, engine.BonusWrites) else engine.BonusWrites()
        ids = sorted(w.bonus_updates)
        return (
            ids,
            [w.bonus_updates[i][0] for i in ids],
            [w.bonus_updates[i][1] for i in ids],
            [w.bonus_updates[i][2] for i in ids],
            [w.bonus_updates[i][3] for i in ids],
            w.loyalty[0] if w.loyalty else None,
            w.loyalty[1] if w.loyalty else None,
        )

    def before_debit(self, op: Operation, debit: Debit) -> None:
        if debit.purpose == HoldPurpose.BET:
            engine.check_max_bet(op, debit.amount, debit.currency)

    def settled(self, op: Operation, settlement: Settlement) -> None:
        assert op.settings is not None
        stake, currency, category = settlement.stake, settlement.currency, settlement.category
        if engine.rows(op).bonuses:  # wagering: only players holding an active bonus pay
            op.extra["bonusProgress"] = engine.contribute(op, stake, currency, category)
        engine.accrue_loyalty(op, stake, currency, category, op.settings)

    def round_rolled_back(self, op: Operation, derived: Mapping[str, Any]) -> None:
        assert op.settings is not None
        engine.reverse_derived(op, derived, op.settings)

    def withdrawing(self, op: Operation, currency: str) -> None:
        engine.forfeit_on_withdrawal(op, currency)

    def acts_after(self, completed: Completed) -> bool:
        if completed.operation == "deposit":
            return bool(completed.body["status"] == "OK")
        return completed.operation == "settleBet" and bool(completed.body.get("loyaltyTierChanged"))

    async def after_operation(
        self, session: AsyncSession, settings: Settings, completed: Completed
    ) -> None:
        body = completed.body
        if completed.operation == "deposit" and body["status"] == "OK":
            assert completed.currency is not None
            await triggers.after_deposit(session, settings, completed.player_id, dict(body),
                                         completed.amount, completed.currency,
                                         completed.promo_code)  # fmt: skip
        elif completed.operation == "settleBet":
            tier = body.get("loyaltyTierChanged")
            if tier:  # rare: a tier reward campaign may pay out, in this same transaction
                await triggers.after_tier_change(session, settings, completed.player_id, tier)
