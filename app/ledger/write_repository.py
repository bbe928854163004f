"""SQL of the ledger's APPLY statement: every write of one money operation in one
data-modifying CTE, with the parts ledger extensions add (``compose_apply``), one text
per family of operations (``ApplyStatements``: only the parts the operation writes). The
read side (LOAD, replay, system-operation locks) is app/ledger/repository.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from app.core.logging import user_agent_var
from app.ledger.repository import IdempotencyClaim

# Every write of one operation, as named parts in statement order. An operation's APPLY
# holds only the parts it writes (``ApplyStatements.family``): a left-out part would have
# got empty arrays / NULLs and written nothing, so each family writes exactly what the
# whole statement did, while PostgreSQL starts (and locks the relations of) a third of the
# plan nodes. Parameters $1..$50 are the core's; extension parameters (``$e0``, ``$e1``,
# ... in their fragments) are numbered after them; each family's text renumbers the ones
# it uses (``$9``, the player id, is cast to uuid first wherever it appears: a family's
# first use of it types it). ``{round_id}`` / ``{round_ok}`` / ``{round_or}``: the ``rnd``
# part's round when the family has it, else nothing (no round_ref: no round to get or create).
APPLY_PARTS: tuple[tuple[str, str], ...] = (
    (
        "wal",
        """
WITH wal AS (
    UPDATE wallets w
    SET balance = v.balance, held = v.held, turnover = w.turnover + v.turnover,
        updated_at = now()
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
         AS v(id, balance, held, turnover)
    WHERE w.id = v.id AND w.id = ANY($1::bigint[])
    RETURNING w.id
)""",
    ),
    (
        "house",
        """
, house AS (
    -- The house accounts exist after their first use: a read probe of the key is cheaper
    -- than an insert attempt per operation (ON CONFLICT still settles a first-use race).
    INSERT INTO house_accounts (currency, kind)
    SELECT DISTINCT t.currency, t.house FROM unnest($6::text[], $7::text[]) AS t(house, currency)
    WHERE NOT EXISTS (SELECT 1 FROM house_accounts a
                      WHERE a.currency = t.currency AND a.kind = t.house)
    ON CONFLICT DO NOTHING
)""",
    ),
    (
        "tr",
        """
, tr AS (
    INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account, currency,
                                  amount, kind, balance_after, reference, idempotency_key, actor)
    SELECT $8::uuid, $9::uuid, t.wallet_id, t.house, t.currency, t.amount, t.kind, t.balance_after,
           $10::text, $11::text, $12::text
    FROM unnest($5::bigint[], $6::text[], $7::text[], $13::bigint[], $14::text[],
                $15::bigint[]) AS t(wallet_id, house, currency, amount, kind, balance_after)
)""",
    ),
    (
        "rnd",
        """
, rnd AS (
    INSERT INTO game_rounds (client, round_ref, player_id, currency)
    SELECT $16::text, $17::text, $9::uuid, $18::text WHERE $17::text IS NOT NULL
    ON CONFLICT (client, round_ref) DO UPDATE SET updated_at = now()
    WHERE game_rounds.status = 'OPEN' AND game_rounds.player_id = excluded.player_id
      AND game_rounds.currency = excluded.currency
    RETURNING id
)""",
    ),
    (
        "hin",
        """
, hin AS (
    INSERT INTO ledger_holds (id, player_id, purpose, client, game_round_id, transaction_id,
                              reference, currency, real_wallet_id, bonus_wallet_id,
                              real_amount, bonus_amount, expires_at)
    SELECT $19::bigint, $9::uuid, $20::text, $16::text, {round_id}, $21::text, $10::text,
           $18::text, $22::bigint, $23::bigint, $24::bigint, $25::bigint,
           now() + make_interval(secs => $26::float8)
    WHERE $19::bigint IS NOT NULL{round_ok}
    RETURNING id
)""",
    ),
    (
        "hup",
        """
, hup AS (
    UPDATE ledger_holds h SET status = v.status, finalized_at = now()
    FROM unnest($27::bigint[], $28::text[]) AS v(id, status)
    -- ``= ANY``: the generic plan probes the primary key (a join on v alone may hash
    -- a scan of every hold while the table's statistics still say it is small).
    WHERE h.id = v.id AND h.id = ANY($27::bigint[])
    RETURNING h.id
)""",
    ),
    (
        "rup",
        """
, rup AS (
    UPDATE game_rounds g
    SET status = $30::text, stake_real = $31::bigint, stake_bonus = $32::bigint,
        win_real = $33::bigint, win_bonus = $34::bigint,
        derived = coalesce($48::jsonb, g.derived), updated_at = now()
    WHERE g.id = $29::bigint
    RETURNING g.id
)""",
    ),
    (
        "gtx",
        """
, gtx AS (
    INSERT INTO game_transactions (client, transaction_id, kind, game_round_id, hold_id)
    SELECT $16::text, $35::text, $36::text, {round_or}, $19::bigint
    WHERE $35::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
)""",
    ),
    (
        "ev",
        """
, ev AS (
    INSERT INTO outbox_events (event_id, type, source, subject, data)
    SELECT gen_random_uuid(), e.type, 'urn:pms', $9::uuid::text, e.data::jsonb
    FROM unnest($37::text[], $38::text[]) AS e(type, data)
)""",
    ),
    (
        "idem",
        """
, idem AS (
    UPDATE idempotency_keys SET response = $39::text
    WHERE scope = $40::text AND operation = $41::text AND key = $42::text
)""",
    ),
    (
        "aud",
        """
, aud AS (
    INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, request_id,
                           user_agent, details)
    SELECT $12::text, split_part($12::text, ':', 1), $43::text, $9::uuid::text, $44::text,
           $45::text, $46::text, $49::text, $47::jsonb
    WHERE $43::text IS NOT NULL
)""",
    ),
)
APPLY_CORE_PARAMETERS = 50
_ROUND = {
    True: {
        "round_id": "(SELECT id FROM rnd)",
        "round_ok": " AND ($17::text IS NULL OR EXISTS (SELECT 1 FROM rnd))",
        "round_or": "coalesce($29::bigint, (SELECT id FROM rnd))",
    },
    False: {"round_id": "NULL::bigint", "round_ok": "", "round_or": "$29::bigint"},
}


def core_ctes(names: Sequence[str]) -> str:
    """The core parts ``names`` (statement order kept) as one ``WITH`` list."""
    chosen = set(names)
    text = "".join(sql for name, sql in APPLY_PARTS if name in chosen).format_map(
        _ROUND["rnd" in chosen]
    )
    return "WITH" + text.removeprefix("\nWITH").removeprefix("\n,")


# The whole statement (every part): what the set-based batch and the tools compose from.
APPLY_CTES = "\n" + core_ctes([name for name, _ in APPLY_PARTS])

# Result columns by the part they count (0 when the family leaves the part out).
_COUNTED = (("wallets", "wal"), ("rounds", "rnd"), ("holds_inserted", "hin"),
            ("holds_updated", "hup"), ("game_transactions", "gtx"))  # fmt: skip


def core_columns(names: Sequence[str]) -> str:
    chosen = set(names)
    counts = ",\n       ".join(  # constant names only
        f"(SELECT count(*) FROM {part}) AS {column}"  # noqa: S608
        if part in chosen
        else f"0 AS {column}"
        for column, part in _COUNTED
    )
    return f"""
SELECT {counts},
       -- Restores what LOAD changed (repository.LOAD_COLUMNS); NULL: nothing to restore.
       CASE WHEN $50::text IS NOT NULL THEN set_config('plan_cache_mode', $50::text, true) END
           AS plan_cache_mode"""


APPLY_COLUMNS = core_columns([name for name, _ in APPLY_PARTS])


@dataclass(frozen=True)
class ApplyParts:
    """What an extension adds to APPLY: ``ctes`` and ``columns`` as for LOAD, written with
    ``$e0``, ``$e1``, ... for its own ``parameters`` (numbered after the core's).

    The part joins an operation's APPLY when the operation has writes for its extension
    (``Writes.extensions[name]`` set), or always when ``always`` (SQL that writes from the
    core's parameters alone); left out, ``idle_columns`` stand in for its ``columns``."""

    ctes: str = ""
    columns: str = ""
    parameters: int = 0
    idle_columns: str = ""
    always: bool = False


_EXT_PARAM = re.compile(r"\$e(\d+)\b")
_PARAM = re.compile(r"\$(\d+)\b")


def compose_apply(
    parts: Sequence[ApplyParts], *, core_ctes: str = APPLY_CTES,
    core_columns: str = APPLY_COLUMNS, core_parameters: int = APPLY_CORE_PARAMETERS,
) -> str:  # fmt: skip
    """The core's statement (the single operation's APPLY unless told) with the parts."""
    ctes, columns = [core_ctes], [core_columns]
    offset = core_parameters
    for p in parts:

        def number(m: re.Match[str], base: int = offset, count: int = p.parameters) -> str:
            index = int(m.group(1))
            if index >= count:
                raise ValueError(f"extension parameter $e{index} beyond its {count}")
            return f"${base + index + 1}"

        ctes.append(_EXT_PARAM.sub(number, p.ctes))
        columns.append(_EXT_PARAM.sub(number, p.columns))
        offset += p.parameters
    with_list = "".join(ctes).lstrip()
    if with_list.startswith(","):  # a family with no core part: an extension's comes first
        with_list = "WITH" + with_list[1:]
    return "\n" + with_list + "".join(columns) + "\n"


@dataclass(frozen=True)
class Family:
    """One family's APPLY: its text and which of the whole statement's arguments (the
    core's 50, then the joined extensions') it takes, by index."""

    sql: str
    picks: tuple[int, ...]


_PART_BIT = {name: 1 << i for i, (name, _) in enumerate(APPLY_PARTS)}
_WAL, _RND, _HIN, _HUP = _PART_BIT["wal"], _PART_BIT["rnd"], _PART_BIT["hin"], _PART_BIT["hup"]
_RUP, _GTX, _EV = _PART_BIT["rup"], _PART_BIT["gtx"], _PART_BIT["ev"]
_IDEM, _AUD = _PART_BIT["idem"], _PART_BIT["aud"]
_TRANSFERS = _PART_BIT["house"] | _PART_BIT["tr"]
_EXT_SHIFT = len(APPLY_PARTS)
CORE_PARTS = (1 << _EXT_SHIFT) - 1  # every core part: the whole statement's family


def renumbered(text: str) -> Family:
    """``text`` with the parameters it uses renumbered $1.. in order, and their indexes in
    the whole statement's arguments."""
    used = sorted({int(n) for n in _PARAM.findall(text)})
    new = {old: f"${i + 1}" for i, old in enumerate(used)}
    return Family(_PARAM.sub(lambda m: new[int(m.group(1))], text), tuple(n - 1 for n in used))


class ApplyFamilies:
    """A statement by family: the parts an operation (or a batch) writes, a bit each (the
    core's, then one per extension), composed on first use and kept (asyncpg prepares
    each text once per connection; a service sees a dozen families: reserve, settle,
    cancel, deposit, ...). Subclasses name the core (``core_parts``, ``core_parameters``,
    ``ctes``, ``columns``) and say which family a write is (``key``)."""

    core_parts: ClassVar[tuple[tuple[str, str], ...]] = APPLY_PARTS
    core_parameters: ClassVar[int] = APPLY_CORE_PARAMETERS

    def __init__(self, parts: Sequence[ApplyParts]) -> None:
        self.parts = tuple(parts)
        self.bit = {name: 1 << i for i, (name, _) in enumerate(self.core_parts)}
        self.shift = len(self.core_parts)  # the extensions' bits come after the core's
        self.whole_key = (1 << (self.shift + len(self.parts))) - 1  # every part's family
        self.whole = self._text(self.whole_key)  # every part (tools, tests)
        self._families: dict[int, Family] = {}

    def ctes(self, names: Sequence[str]) -> str:
        return core_ctes(names)

    def columns(self, names: Sequence[str]) -> str:
        return core_columns(names)

    def family(self, key: int) -> Family:
        found = self._families.get(key)
        if found is None:
            found = self._families[key] = renumbered(self._text(key))
        return found

    def joins(self, key: int, extension: int) -> bool:
        return bool(key >> (self.shift + extension) & 1)

    def _text(self, key: int) -> str:
        names = [name for name, _ in self.core_parts if key & self.bit[name]]
        joined = [p for j, p in enumerate(self.parts) if self.joins(key, j)]
        idle = "".join(p.idle_columns for j, p in enumerate(self.parts)
                       if not self.joins(key, j))  # fmt: skip
        return compose_apply(
            joined, core_ctes=self.ctes(names) if names else "",
            core_columns=self.columns(names) + idle, core_parameters=self.core_parameters,
        )  # fmt: skip


class ApplyStatements(ApplyFamilies):
    """APPLY of single operations by family."""

    def key(self, w: Writes, claim: IdempotencyClaim | None,
            extension_args: Sequence[Sequence[Any] | None]) -> int:  # fmt: skip
        """The family of ``w``: a part whose inputs would be empty is left out."""
        key = (_WAL if w.wallets else 0) | (_TRANSFERS if w.transfers else 0)
        if w.round_ref is not None:
            key |= _RND
        if w.new_hold is not None:
            key |= _HIN
        if w.hold_updates:
            key |= _HUP
        if w.round_update is not None:
            key |= _RUP
        if w.game_transaction is not None:
            key |= _GTX
        if w.events:
            key |= _EV
        if claim is not None:
            key |= _IDEM
        if w.audit is not None:
            key |= _AUD
        for j, args in enumerate(extension_args):
            if args is not None:
                key |= 1 << (_EXT_SHIFT + j)
        return key


# --- APPLY ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferLine:
    wallet_id: int
    house: str
    currency: str
    amount: int
    kind: str
    balance_after: int


@dataclass(frozen=True)
class NewHold:
    id: int
    purpose: str
    transaction_id: str | None
    currency: str
    real_wallet_id: int
    bonus_wallet_id: int | None
    real_amount: int
    bonus_amount: int
    expires_in_seconds: float | None


@dataclass(frozen=True)
class RoundUpdate:
    id: int
    status: str
    stake_real: int
    stake_bonus: int
    win_real: int
    win_bonus: int
    derived: str | None = None  # JSON text; None keeps what the round has


AuditRow = tuple[str, str, str | None, str | None, str]


@dataclass
class Writes:
    """Everything one operation writes; ``apply`` sends it as one statement."""

    operation_id: uuid.UUID
    player_id: uuid.UUID
    actor: str
    reference: str | None = None
    idempotency_key: str | None = None
    wallets: dict[int, tuple[int, int, int]] = field(
        default_factory=dict
    )  # balance, held, turnover+
    transfers: list[TransferLine] = field(default_factory=list)
    client: str | None = None
    round_ref: str | None = None  # get-or-create this round (bets)
    round_currency: str | None = None
    new_hold: NewHold | None = None
    hold_updates: list[tuple[int, str]] = field(default_factory=list)
    round_update: RoundUpdate | None = None
    game_transaction: tuple[str, str] | None = None  # (transaction id, kind)
    events: list[tuple[str, str]] = field(default_factory=list)  # (type, JSON data)
    # (action, outcome, ip, request id, JSON details): the operation's audit_log row
    audit: AuditRow | None = None
    # Each extension's writes, by extension name (its ``apply_args`` turns them into its
    # APPLY parameters). A stored business error drops them with the rest.
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    wallets: int
    rounds: int
    holds_inserted: int
    holds_updated: int
    game_transactions: int
    row: Mapping[str, Any]  # with the extensions' columns


async def apply(
    conn: asyncpg.Connection,
    statements: ApplyStatements,
    w: Writes,
    response: str | None,
    claim: IdempotencyClaim | None,
    extension_args: Sequence[Sequence[Any] | None] = (),
    plan_cache_mode: str | None = None,
) -> Applied:
    """Run ``w``'s family of APPLY; ``extension_args`` has one entry per registered
    extension (``None``: it does not join this operation's APPLY)."""
    family = statements.family(statements.key(w, claim, extension_args))
    args = _core_args(w, response, claim, plan_cache_mode)
    for ext_args in extension_args:
        if ext_args is not None:
            args.extend(ext_args)
    row = await conn.fetchrow(family.sql, *[args[i] for i in family.picks])
    assert row is not None
    return Applied(
        row["wallets"],
        row["rounds"],
        row["holds_inserted"],
        row["holds_updated"],
        row["game_transactions"],
        row,
    )


def _core_args(
    w: Writes, response: str | None, claim: IdempotencyClaim | None,
    plan_cache_mode: str | None,
) -> list[Any]:  # fmt: skip
    """The whole statement's $1..$50 (a family takes the ones its parts use)."""
    ids = sorted(w.wallets)
    hold = w.new_hold
    rnd = w.round_update
    gtx = w.game_transaction
    return [
        ids,
        [w.wallets[i][0] for i in ids],
        [w.wallets[i][1] for i in ids],
        [w.wallets[i][2] for i in ids],
        [t.wallet_id for t in w.transfers],
        [t.house for t in w.transfers],
        [t.currency for t in w.transfers],
        w.operation_id,
        w.player_id,
        w.reference,
        w.idempotency_key,
        w.actor,
        [t.amount for t in w.transfers],
        [t.kind for t in w.transfers],
        [t.balance_after for t in w.transfers],
        w.client,
        w.round_ref,
        w.round_currency or (hold.currency if hold else None),
        hold.id if hold else None,
        hold.purpose if hold else None,
        hold.transaction_id if hold else None,
        hold.real_wallet_id if hold else None,
        hold.bonus_wallet_id if hold else None,
        hold.real_amount if hold else None,
        hold.bonus_amount if hold else None,
        hold.expires_in_seconds if hold else None,
        [h[0] for h in w.hold_updates],
        [h[1] for h in w.hold_updates],
        rnd.id if rnd else None,
        rnd.status if rnd else None,
        rnd.stake_real if rnd else None,
        rnd.stake_bonus if rnd else None,
        rnd.win_real if rnd else None,
        rnd.win_bonus if rnd else None,
        gtx[0] if gtx else None,
        gtx[1] if gtx else None,
        [e[0] for e in w.events],
        [e[1] for e in w.events],
        response,
        claim.scope if claim else None,
        claim.operation if claim else None,
        claim.key if claim else None,
        *(w.audit or (None, None, None, None, None)),
        rnd.derived if rnd else None,
        user_agent_var.get(),  # the audit row's user agent (PCI DSS 10.2)
        plan_cache_mode,
    ]
