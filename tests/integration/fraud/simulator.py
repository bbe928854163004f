"""The fraud simulator: scripted players through the real API (money calls with the game
engine's token, sign-ins through the public ``login`` mutation), and a crowd of normal
players generated directly as outbox events, the way the ledger writes them, for speed.

Normal players (generated): each has its own device and IP (a few households share one IP
by two), a deposit with their own payment token, a Poisson bet rate of 1-4 bets
per active minute over 2-5 active minutes, stakes around a personal level (+-50 %), wins
drawn for an RTP of 96 % (a win pays 2x with p = 0.48), and for a third of them a welcome
bonus wagered through before a withdrawal. Deterministic (seeded).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.core.db import Database
from app.fraud.signals import identifier_hash

LOGIN = """mutation($l: String!, $p: String!, $d: String) {
  login(loginOrEmail: $l, password: $p, deviceFingerprint: $d) { __typename } }"""
PASSWORD = "correct horse battery staple"


# --- scripted players through the API ------------------------------------------------


async def bets(wallet_gql: Any, player: str, n: int, stake: str = "1.00", tag: str = "b") -> None:
    for i in range(n):
        await wallet_gql.op("reserveBet", playerId=player, amount=stake, currency="EUR",
                            gameRoundId=f"{tag}-{i}", transactionId=f"{tag}-b{i}")  # fmt: skip
        settled = await wallet_gql.op(
            "settleBet", playerId=player, gameRoundId=f"{tag}-{i}", winAmount="0",
            currency="EUR", transactionId=f"{tag}-w{i}", gameId="book-of-ra",
            gameProvider="novomatic",
        )  # fmt: skip
        assert settled["__typename"] == "WalletOperation", settled


async def deposit(wallet_gql: Any, player: str, amount: str, token: str, **extra: Any) -> Any:
    done = await wallet_gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                               paymentReference=token, **extra)  # fmt: skip
    assert done["__typename"] == "WalletOperation", done
    return done


async def normal_player(wallet_gql: Any, player: str) -> None:
    """A few bets at a human pace (well under the burst threshold)."""
    await deposit(wallet_gql, player, "50.00", f"tok-n-{player[:8]}")
    await bets(wallet_gql, player, 5, "2.00", tag=f"n{player[:6]}")


async def bot(wallet_gql: Any, player: str, n: int = 60) -> None:
    """A bot: 60 bets in a burst, ten times (and more) the human pace of ~4 a minute."""
    await deposit(wallet_gql, player, "100.00", f"tok-bot-{player[:8]}")
    await bets(wallet_gql, player, n, "1.00", tag=f"bot{player[:6]}")


async def bonus_abuser(wallet_gql: Any, player: str, promo: str) -> Any:
    """Deposit with a promo code, two token bets, then straight to a withdrawal."""
    await deposit(wallet_gql, player, "50.00", f"tok-ba-{player[:8]}", promoCode=promo)
    await bets(wallet_gql, player, 2, "1.00", tag=f"ba{player[:6]}")
    return await wallet_gql.op("withdraw", playerId=player, amount="40.00", currency="EUR")


async def login(wallet_gql: Any, login_name: str, password: str, device: str | None) -> str:
    body = await wallet_gql.gql(LOGIN, {"l": login_name, "p": password, "d": device})
    assert "errors" not in body, body
    kind: str = body["data"]["login"]["__typename"]
    return kind


# --- a crowd of normal players, generated as events ----------------------------------

SOURCE = "/pms/sim"


@dataclass
class Crowd:
    players: list[uuid.UUID] = field(default_factory=list)
    events: int = 0


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _event(kind: str, player: uuid.UUID, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"e": uuid.uuid4(), "t": kind, "s": SOURCE, "sub": str(player), "at": at,
            "d": json.dumps({"playerId": str(player), **data})}  # fmt: skip


def _normal_events(rng: random.Random, player: uuid.UUID, start: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    device = identifier_hash("device", f"dev-{player}")
    household = rng.randrange(700)  # ~1,000 players over 700 IPs: some share one by two
    ip = identifier_hash("ip", f"10.1.{household // 250}.{household % 250}")
    out.append(_event("player.login_succeeded", player, start,
                      {"deviceHash": device, "ipHash": ip}))  # fmt: skip
    at = start + timedelta(seconds=5)
    level = rng.choice([50, 100, 200, 500, 1000])  # minor units
    deposit = level * rng.randint(3, 8)
    out.append(_event("wallet.deposited", player, at, {
        "walletKind": "REAL", "amount": _amount(deposit), "currency": "EUR",
        "reference": f"tok-{player.hex[:12]}",
    }))  # fmt: skip
    has_bonus = rng.random() < 1 / 3
    bonus = deposit if has_bonus else 0
    if has_bonus:
        out.append(_event("bonus.awarded", player, at + timedelta(milliseconds=1), {
            "amount": _amount(bonus), "currency": "EUR", "kind": "DEPOSIT_MATCH",
        }))  # fmt: skip
    rate = rng.uniform(1.0, 4.0)  # bets per active minute
    wagered, minutes = 0, rng.randint(2, 5)
    # A bonus player plays until the deposit + bonus has been wagered through.
    while minutes > 0 or (has_bonus and wagered < deposit + bonus):
        minute_start = at + timedelta(minutes=1)
        at = minute_start
        for _ in range(_poisson(rng, rate) if minutes > 0 else 4):
            stake = max(10, int(level * rng.uniform(0.5, 1.5)))
            win = stake * 2 if rng.random() < 0.48 else 0
            at = min(
                at + timedelta(seconds=rng.uniform(1, 10)), minute_start + timedelta(seconds=59)
            )
            out.append(_event("bet.settled", player, at, {
                "gameRoundId": uuid.uuid4().hex[:16], "stake": _amount(stake),
                "win": _amount(win), "currency": "EUR", "gameId": "book-of-ra",
                "gameProvider": "novomatic", "gameCategory": "slots",
            }))  # fmt: skip
            wagered += stake
        minutes -= 1
    if has_bonus or rng.random() < 0.3:
        out.append(_event("wallet.withdrawal_requested", player, at + timedelta(seconds=30), {
            "amount": _amount(max(100, deposit // 2)), "currency": "EUR",
            "withdrawalId": "1", "paymentReference": None,
        }))  # fmt: skip
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth: fine for the small rates here.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


async def generate_normal_players(db: Database, n: int = 1000, seed: int = 13) -> Crowd:
    """Insert ``n`` players and their history (ending about an hour ago) as outbox
    events, in commit order per player, interleaved across players by time."""
    rng = random.Random(seed)
    crowd = Crowd()
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    rows = []
    for i in range(n):
        pid = uuid.UUID(int=rng.getrandbits(128))
        crowd.players.append(pid)
        rows.append({"id": pid, "email": f"sim{i}-{pid.hex[:6]}@example.com",
                     "login": f"sim{i}{pid.hex[:6]}"})  # fmt: skip
        start = now - timedelta(hours=3) + timedelta(seconds=rng.uniform(0, 3600))
        events += _normal_events(rng, pid, start)
    events.sort(key=lambda e: e["at"])
    async with db.transaction() as session:
        await session.execute(text(
            "INSERT INTO players (id, email, login, password_hash, country, currency, birth_date)"
            " VALUES (:id, :email, :login, 'x', 'DE', 'EUR', DATE '1990-01-01')"
        ), rows)  # fmt: skip
        await session.execute(text(
            "INSERT INTO outbox_events (event_id, type, source, subject, time, data, published_at)"
            " VALUES (:e, :t, :s, :sub, :at, CAST(:d AS JSONB), now())"
        ), events)  # fmt: skip
    crowd.events = len(events)
    return crowd
