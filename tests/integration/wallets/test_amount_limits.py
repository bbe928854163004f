"""Issue 10 item 18: a maximum per operation and no balance beyond BIGINT, both typed
(AmountTooLarge) with nothing written; the wallet keeps working afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.integration.wallets.conftest import table_counts, wallets_of

BIGINT_MAX = 2**63 - 1


async def _deposit(wallet_gql, player, amount):
    return await wallet_gql.op(
        "deposit", playerId=player, amount=amount, currency="EUR", paymentReference="tok_abc"
    )


@pytest.mark.parametrize(
    "amount", ["92233720368547758.07", "999999999999999999.99", "100000000.01"]
)
async def test_deposit_above_the_maximum_is_typed_and_writes_nothing(
    wallet_gql, db, player_factory, amount
):
    player = await player_factory()
    before = await table_counts(db)

    refused = await _deposit(wallet_gql, player, amount)

    assert refused["__typename"] == "AmountTooLarge"
    assert refused["code"] == "AMOUNT_TOO_LARGE"
    assert "100000000.00 EUR" in refused["message"]
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"]["balance"] == 0
    # the wallet still takes credit (today it is stuck at BIGINT's top afterwards)
    assert (await _deposit(wallet_gql, player, "100.00"))["__typename"] == "WalletOperation"
    assert (await wallets_of(db, player))["REAL"]["balance"] == 10000


async def test_the_maximum_itself_is_allowed(wallet_gql, db, player_factory):
    player = await player_factory()
    accepted = await _deposit(wallet_gql, player, "100000000.00")
    assert accepted["__typename"] == "WalletOperation"
    assert (await wallets_of(db, player))["REAL"]["balance"] == 10_000_000_000


async def test_a_legal_amount_on_a_balance_near_the_top_is_typed(wallet_gql, db, player_factory):
    player = await player_factory()
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE wallets SET balance = :b WHERE player_id = :p AND kind = 'REAL'"),
            {"b": BIGINT_MAX - 50, "p": player},
        )
    before = await table_counts(db)

    refused = await _deposit(wallet_gql, player, "1.00")

    assert refused["__typename"] == "AmountTooLarge"
    assert "REAL wallet" in refused["message"]
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"]["balance"] == BIGINT_MAX - 50


async def test_a_counter_overflowing_in_the_statement_is_typed(wallet_gql, db, player_factory):
    """Turnover is added inside APPLY (no Python copy of it): the statement's
    numeric_value_out_of_range becomes AmountTooLarge and the transaction rolls back."""
    player = await player_factory()
    await _deposit(wallet_gql, player, "100.00")
    reserved = await wallet_gql.op(
        "reserveBet", playerId=player, amount="10.00", currency="EUR",
        gameRoundId="round-overflow", transactionId="bet-overflow",
    )  # fmt: skip
    assert reserved["__typename"] == "WalletOperation"
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE wallets SET turnover = :t WHERE player_id = :p AND kind = 'REAL'"),
            {"t": BIGINT_MAX - 5, "p": player},
        )
    before = await table_counts(db)

    refused = await wallet_gql.op(
        "settleBet", playerId=player, reservationId=reserved["reservationId"],
        winAmount="0", currency="EUR", transactionId="win-overflow",
    )  # fmt: skip

    assert refused["__typename"] == "AmountTooLarge"
    assert await table_counts(db) == before
    wallet = (await wallets_of(db, player))["REAL"]
    assert (wallet["balance"], wallet["held"], wallet["turnover"]) == (10000, 1000, BIGINT_MAX - 5)


async def test_free_spins_above_the_maximum_are_typed(wallet_gql, db, player_factory):
    player = await player_factory()
    before = await table_counts(db)
    refused = await wallet_gql.op(
        "adjustBalance", playerId=player, walletKind="FREESPINS",
        amount="100000001", currency="XFS", reason="correction",
    )  # fmt: skip
    assert refused["__typename"] == "AmountTooLarge", refused
    assert await table_counts(db) == before


def test_the_maximum_is_a_setting_with_per_currency_overrides(settings):
    from decimal import Decimal

    from app.ledger.errors import AmountTooLarge
    from app.ledger.inputs import within_maximum

    custom = settings.model_copy(
        update={"max_operation_amount": Decimal("50"),
                "max_operation_amount_by_currency": {"JPY": Decimal("1000")}}
    )  # fmt: skip
    assert within_maximum(5000, "EUR", custom, field="amount") == 5000
    assert within_maximum(1000, "JPY", custom, field="amount") == 1000
    with pytest.raises(AmountTooLarge, match=r"50\.00 EUR"):
        within_maximum(5001, "EUR", custom, field="amount")
    with pytest.raises(AmountTooLarge, match="1000 JPY"):
        within_maximum(1001, "JPY", custom, field="amount")
