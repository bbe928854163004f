"""``walletBatch`` and ``playRound``: many money operations, or a round's bet and win, in
one request and one transaction (app/ledger/batch.py says how failures are isolated).
Each operation is the same call as its single mutation (resolvers/mutations/ledger.py),
so its rules, idempotency and answer are the single call's."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.core.errors import DomainError, ValidationFailed
from app.ledger import errors as E
from app.ledger import service
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.mutations import ledger as single
from resolvers.runner import MutationSpec, count_outcome, gate, refused
from schema.context import Info
from schema.inputs import ledger as inputs
from schema.types.ledger import InsufficientFunds, WalletOperation, from_document

# Each batchable operation: its input field, the single mutation's spec, the call builder.
OPERATIONS: dict[str, tuple[MutationSpec, Callable[[Any, Any], single.Call]]] = {
    "reserve_bet": (single.RESERVE_BET, single.RESERVE_BET_OP.call),
    "settle_bet": (single.SETTLE_BET, single.SETTLE_BET_OP.call),
    "cancel_bet": (single.CANCEL_BET, single.CANCEL_BET_OP.call),
    "rollback_bet": (single.ROLLBACK_BET, single.ROLLBACK_BET_OP.call),
    "rollback_round": (single.ROLLBACK_ROUND, single.ROLLBACK_ROUND_OP.call),
    "deposit": (single.DEPOSIT, single.DEPOSIT_OP.call),
}
PLAY_ROUND = MutationSpec(
    "PlayRoundResult", (WalletOperation, InsufficientFunds),
    single.RESERVE_BET.errors + single.SETTLE_BET.errors, failure_audit="ledger.{field}",
    gambling=True,
)  # fmt: skip
OPERATIONS["play_round"] = (PLAY_ROUND, single.PLAY_ROUND_OP.call)
# The operations walletBatch runs set-based (one LOAD and one APPLY for the batch) when
# every operation of the batch is one of them; any other batch runs one by one.
PREPARES: dict[str, Callable[[Any, Any], Any]] = {
    "reserve_bet": single.RESERVE_BET_OP.prepared,
    "settle_bet": single.SETTLE_BET_OP.prepared,
    "cancel_bet": single.CANCEL_BET_OP.prepared,
    "rollback_bet": single.ROLLBACK_BET_OP.prepared,
    "rollback_round": single.ROLLBACK_ROUND_OP.prepared,
    "play_round": single.PLAY_ROUND_OP.prepared,
}

_CAMEL = {name: to_camel_case(name) for name in OPERATIONS}  # field -> operation name
_ITEM_ERRORS = tuple(dict.fromkeys(e for spec, _ in OPERATIONS.values() for e in spec.errors))
BATCH_ITEM = MutationSpec(
    "WalletBatchItemResult", (WalletOperation, InsufficientFunds),
    (*_ITEM_ERRORS, E.BatchNotApplied), failure_audit="ledger.{field}", forbidden=False,
)  # fmt: skip


@strawberry.type(description="Every operation's answer, in the order sent.")
class WalletBatchResults:
    results: list[BATCH_ITEM.union]  # type: ignore[name-defined]
    atomic: bool
    applied: int = strawberry.field(
        description="How many answers were stored (an insufficient-funds refusal is stored "
        "too, so a retry replays it); 0 when an atomic batch was rolled back."
    )


WALLET_BATCH = MutationSpec("WalletBatchResult", (WalletBatchResults,), (ValidationFailed,))


def _chosen(index: int, operation: inputs.WalletBatchOperation) -> tuple[str, Any]:
    """The one field set on ``operation`` (the schema's @oneOf already enforces it)."""
    chosen = [(name, getattr(operation, name)) for name in OPERATIONS
              if getattr(operation, name, None) not in (None, strawberry.UNSET)]  # fmt: skip
    if len(chosen) != 1:
        raise ValidationFailed.single(f"operations[{index}]", "set exactly one operation")
    return chosen[0]


@strawberry.type
class WalletBatchMutations:
    @strawberry.mutation(
        graphql_type=WALLET_BATCH.union,
        description="Up to `walletBatchMaxOperations` (setting, default 100) money operations "
        "of one or many players in one transaction, each with its own idempotency key and "
        "its own answer, in order. Not atomic (default): a refused operation changes nothing "
        "and the others are written. `atomic: true`: all or nothing (the others answer "
        "BatchNotApplied).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def wallet_batch(
        self, info: Info, operations: list[inputs.WalletBatchOperation], atomic: bool = False
    ) -> object:
        ctx = info.context
        try:
            limit = ctx.settings.wallet_batch_max_operations
            if not 1 <= len(operations) <= limit:
                raise ValidationFailed.single("operations", f"send 1 to {limit} operations")
            chosen = [_chosen(i, op) for i, op in enumerate(operations)]
        except ValidationFailed as exc:
            return await refused(info, WALLET_BATCH, exc, info.field_name)
        calls = [_gated(info, *OPERATIONS[name], value) for name, value in chosen]
        # Read only by the one-by-one path (to lock first): not parsed when set-based.
        players = (p for _, value in chosen if (p := _player_of(value)) is not None)
        answers = await service.run_batch(ctx.db, calls, atomic=atomic, players=players,
                                          set_based=_set_based(info, chosen))  # fmt: skip
        results: list[Any] = []
        succeeded: Counter[str] = Counter()
        for (name, _), answer in zip(chosen, answers, strict=True):
            if isinstance(answer, DomainError):
                results.append(await _refused_item(info, answer, _CAMEL[name]))
            else:
                succeeded[name] += 1
                results.append(from_document(answer.body))  # the plan's document: no parse
        for name, count in succeeded.items():
            count_outcome(_CAMEL[name], None, count)
        await single.record_telemetry(info, [
            single.device_seen(_CAMEL[name], value, result)
            for (name, value), result in zip(chosen, results, strict=True)
        ])  # fmt: skip
        aborted = any(isinstance(a, E.BatchNotApplied) for a in answers)
        applied = 0 if aborted else sum(not isinstance(a, DomainError) for a in answers)
        return WalletBatchResults(results=results, atomic=atomic, applied=applied)

    @strawberry.mutation(
        graphql_type=PLAY_ROUND.union,
        description="Bet and win of one round in one call and one transaction (instant "
        "games): reserveBet then settleBet, each with its own idempotency record.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def play_round(self, info: Info, input: inputs.PlayRoundInput) -> object:
        call = single.PLAY_ROUND_OP.call(info.context, input)
        prepare = partial(single.PLAY_ROUND_OP.prepared, info.context, input)
        return await single.with_telemetry(info, "playRound", input, single._execute(
            info, PLAY_ROUND, call, lambda: single.check_ip(input), prepare
        ))  # fmt: skip


def _gated(info: Info, spec: MutationSpec, build: Callable[[Any, Any], single.Call],
           value: Any) -> single.Call:  # fmt: skip
    """The single call behind the single mutation's gate (a restricted token's stakes)."""
    call = build(info.context, value)

    async def gated(session: Any) -> Any:
        gate(info, spec)
        single.check_ip(value)  # refused like the single call: this item, nothing written
        return await call(session)

    return gated


def _set_based(info: Info, chosen: list[tuple[str, Any]]) -> service.SetBased | None:
    if any(name not in PREPARES for name, _ in chosen):
        return None
    ctx = info.context

    def prepared(name: str, value: Any) -> Callable[[], Any]:
        spec = OPERATIONS[name][0]

        def prepare() -> Any:
            gate(info, spec)  # the single mutation's gate and checks, in the same order
            single.check_ip(value)
            return PREPARES[name](ctx, value)

        return prepare

    return service.SetBased(
        ctx.settings, ctx.principal, [prepared(name, value) for name, value in chosen]
    )


def _player_of(value: Any) -> uuid.UUID | None:
    """The operation's player, to lock first; a malformed id is the call's own error."""
    try:
        return uuid.UUID(str(value.player_id))
    except ValueError:
        return None


async def _refused_item(info: Info, exc: DomainError, operation: str) -> Any:
    if isinstance(exc, E.BatchNotApplied):  # nothing was refused about this one: no audit row
        return BATCH_ITEM.answer(exc)
    return await refused(info, BATCH_ITEM, exc, operation)
