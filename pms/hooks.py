"""Hook wiring: every hook implementation registered into its owner's registry (ledger
extensions, ``player_attributes_changed`` listeners, the events runtime's subject cache).
Only the composition root knows both sides, so a domain never imports the domain that
extends it, and a lower package never imports a higher one."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import service as bonuses
from app.bonuses.extension import BonusExtension
from app.bonuses.models import BonusStatus
from app.core.principal import Principal, PrincipalKind
from app.core.settings import Settings
from app.events.runtime import register_subject_cache
from app.fraud.extension import FraudExtension
from app.fraud.service import step_up_required
from app.identity import hooks as identity_hooks
from app.ledger import hooks as ledger_hooks
from app.ledger import observers as ledger_observers
from app.observability.ledger import record_operation
from app.players import hooks as player_hooks
from app.players.cache import from_settings as player_cache
from app.responsible import repository as rg_repository
from app.responsible import service as rg_service
from app.responsible.extension import GamblingLimitExtension
from app.segments.service import on_player_attributes_changed, on_players_attributes_changed

_registered = False


def register_attribute_listeners() -> None:
    """``player_attributes_changed`` (kyc, profiles, playstyle announce it) -> segment
    membership, re-evaluated in the announcer's transaction. Idempotent."""
    player_hooks.register_listener(on_player_attributes_changed, on_players_attributes_changed)


def register_ledger_extensions() -> None:
    """The ledger's extensions, in the order the kernel calls them inside every money
    operation: bonuses (wagering, max bet, loyalty, deposit and tier triggers) first, then
    responsible-gambling limits (deposit, wager, loss).
    Idempotent (the ledger's registry keeps one extension per name)."""
    ledger_hooks.register(BonusExtension())
    ledger_hooks.register(GamblingLimitExtension())


_RESPONSIBLE = Principal(PrincipalKind.SYSTEM, "responsible")


async def forfeit_bonuses_on_exclusion(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID, reference: str
) -> None:
    """A break or self-exclusion forfeits the player's active bonuses (their money goes
    back), in the exclusion's transaction; the key makes a repeat a replay."""
    for bonus_id in await rg_repository.active_bonus_ids(session, player_id):
        await bonuses.end_bonus(
            session, settings, _RESPONSIBLE, player_id=player_id, bonus_id=bonus_id,
            status=BonusStatus.FORFEITED, reason="responsible gambling exclusion",
            idempotency_key=f"{reference}:bonus:{bonus_id}",
        )  # fmt: skip


def register_responsible() -> None:
    """Breaks and self-exclusions forfeit active bonuses; players' sign-in sessions are
    their play sessions, and the access token carries the gambling restriction in force.
    Idempotent."""
    rg_service.register_exclusion_listener(forfeit_bonuses_on_exclusion)
    identity_hooks.register_session_listener(rg_service.session_changed)
    identity_hooks.register_restriction_check(rg_service.restriction)


def register_events() -> None:
    """The events runtime keeps the players' profile cache fresh after every commit."""
    register_subject_cache(player_cache)


def register_fraud() -> None:
    """Fraud: withdrawals held for review (a ledger extension after bonuses) and step-up
    MFA on a flagged player's next sign-in. Scoring itself is a periodic task."""
    ledger_hooks.register(FraudExtension())
    identity_hooks.register_step_up_check(step_up_required)


def register_observability() -> None:
    """Every money operation's kind, outcome and latency -> the Prometheus metrics."""
    ledger_observers.register(record_operation)


def register_all() -> None:
    """Wire every hook. The ASGI app factory, the CLI and the tests call it, often more than
    once in one process: a second call is a no-op, because a hook registered twice would
    run twice inside every transaction that fires it.

    Each domain adds one ``register_<domain>()`` function below and one call here.
    """
    global _registered
    if _registered:
        return
    _registered = True
    register_attribute_listeners()
    register_ledger_extensions()
    register_responsible()
    register_events()
    register_fraud()
    register_observability()


def registered() -> bool:
    """Whether ``register_all`` has run in this process."""
    return _registered
