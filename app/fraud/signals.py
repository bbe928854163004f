"""Pure signal arithmetic on a player's baseline: no I/O, unit-testable.

Bet rate: bets are counted per wall-clock minute; once a minute has left the window
below, its count is folded into an EWMA of bets per *active* minute (idle minutes do not
decay the baseline, so a player who pauses is not "anomalous" when they come back). The
signal is the bets of the last 60 seconds over the baseline before it, reported once that
holds enough bets to mean anything. The last 60 seconds are estimated from two counters,
as sliding-window rate limiters do: this minute's count plus the previous minute's,
weighted by how much of it is still inside the window; a burst split by a minute boundary
is one burst. A new player starts from a population prior, so a bot that starts fast is
compared against normal play, not against itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.settings import Settings
from app.fraud.models import Signal
from app.fraud.repository import Baseline


@dataclass(frozen=True)
class Observation:
    signal: Signal
    value: float
    evidence: dict[str, Any]


def identifier_hash(kind: str, raw: str) -> str:
    """Identifiers are personal data: only their SHA-256 (per kind) is stored or sent."""
    return hashlib.sha256(f"{kind}:{raw.strip().casefold()}".encode()).hexdigest()


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _close_minute(b: Baseline, minute: datetime, settings: Settings) -> None:
    """Move ``b`` to ``minute``. A minute's count is folded into the baseline once it has
    left the 60-second window (one minute late), so the baseline a burst is measured
    against never holds the burst itself; until then a new player's is the prior."""
    just_before = b.minute is not None and minute - b.minute == timedelta(minutes=1)
    leaving = [b.previous_minute_count] if just_before else [b.previous_minute_count,
                                                             b.minute_count]  # fmt: skip
    alpha = settings.fraud_ewma_alpha
    for count in leaving:
        if count > 0:
            prev = (
                b.rate_ewma if b.rate_ewma is not None else settings.fraud_bet_rate_prior_per_minute
            )
            b.rate_ewma = (1 - alpha) * prev + alpha * count
    b.previous_minute_count = b.minute_count if just_before else 0
    b.minute, b.minute_count = minute, 0


def _last_60_seconds(b: Baseline, into_minute: timedelta) -> float:
    """This minute's bets and the part of the previous minute's still in the window."""
    inside = 1.0 - into_minute / timedelta(minutes=1)
    return b.minute_count + b.previous_minute_count * max(inside, 0.0)


def on_bet(
    b: Baseline, at: datetime, stake: int, win: int, settings: Settings
) -> list[Observation]:
    """Fold one settled bet into ``b`` (in place); the observations it gives."""
    alpha = settings.fraud_ewma_alpha
    out: list[Observation] = []
    minute = _minute(at)
    if b.minute != minute:
        _close_minute(b, minute, settings)
    b.minute_count += 1
    baseline_rate = max(
        b.rate_ewma if b.rate_ewma is not None else settings.fraud_bet_rate_prior_per_minute,
        1.0,
    )
    last_60s = _last_60_seconds(b, at - minute)
    if last_60s >= settings.fraud_bet_rate_min_count:
        out.append(Observation(Signal.BET_RATE, round(last_60s / baseline_rate, 3), {
            "betsLast60s": round(last_60s, 1), "betsThisMinute": b.minute_count,
            "baselinePerMinute": round(baseline_rate, 3), "minute": minute.isoformat(),
        }))  # fmt: skip
    if b.stake_ewma is not None and b.stake_count >= settings.fraud_stake_min_history:
        ratio = stake / max(b.stake_ewma, 1.0)
        out.append(Observation(Signal.STAKE_JUMP, round(ratio, 3), {
            "stake": stake, "baselineStake": round(b.stake_ewma, 2),
            "history": b.stake_count,
        }))  # fmt: skip
    b.stake_ewma = stake if b.stake_ewma is None else (1 - alpha) * b.stake_ewma + alpha * stake
    b.stake_count += 1
    b.stake_total += stake
    b.win_total += win
    if b.stake_count >= settings.fraud_win_rate_min_rounds and b.stake_total > 0:
        rtp = b.win_total / b.stake_total
        out.append(Observation(Signal.WIN_RATE, round(rtp / settings.fraud_expected_rtp, 3), {
            "rounds": b.stake_count, "stakes": b.stake_total, "wins": b.win_total,
            "expectedRtp": settings.fraud_expected_rtp,
        }))  # fmt: skip
    return out


def bonus_abuse(deposit: int, bonus: int, wagered: int, withdrawal: int) -> Observation:
    """Withdrawing soon after deposit + bonus with little play: 1 = nothing wagered."""
    basis = max(deposit + bonus, 1)
    value = max(0.0, 1.0 - wagered / basis)
    return Observation(Signal.BONUS_ABUSE, round(value, 3), {
        "deposit": deposit, "bonus": bonus, "wageredSinceBonus": wagered,
        "withdrawal": withdrawal,
    })  # fmt: skip
