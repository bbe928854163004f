"""The one id parser and the completeness of the domain-error registry."""

from __future__ import annotations

import importlib
import pkgutil
import uuid

import pytest

import app
from app.core.errors import DomainError, ValidationFailed
from schema.error_registry import REGISTRY, graphql_type_of, to_graphql
from schema.ids import BIGINT_MAX, parse_int_id, parse_uuid, try_int_id

FULLWIDTH_12 = "\uff11\uff12"  # full-width "12", as escapes (ruff flags the glyphs)


@pytest.mark.parametrize(
    "raw", ["²", "①", FULLWIDTH_12, "٣", "-1", "", "1e3", " 1", "1_000", "+1", str(BIGINT_MAX + 1)]
)
def test_int_id_refuses_anything_but_ascii_digits(raw):
    with pytest.raises(ValidationFailed) as caught:
        parse_int_id(raw, "reservationId")
    assert [p.field for p in caught.value.problems] == ["reservationId"]
    assert try_int_id(raw) is None


@pytest.mark.parametrize("raw, value", [("0", 0), ("12", 12), (str(BIGINT_MAX), BIGINT_MAX)])
def test_int_id_reads_ascii_digits(raw, value):
    assert parse_int_id(raw, "id") == value


def test_uuid_is_canonical_only():
    value = uuid.uuid4()
    assert parse_uuid(str(value), "playerId") == value
    assert parse_uuid(str(value).upper(), "playerId") == value
    for raw in [
        "",
        "not-a-uuid",
        value.hex,
        "{" + str(value) + "}",
        FULLWIDTH_12,
        f"urn:uuid:{value}",
    ]:
        with pytest.raises(ValidationFailed) as caught:
            parse_uuid(raw, "playerId")
        assert caught.value.problems[0].field == "playerId"


def _all_domain_errors() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        importlib.import_module(module.name)
    found: set[type[DomainError]] = set()
    pending = [DomainError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__.startswith("app.") and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_every_domain_error_has_its_own_graphql_type():
    """Adding a DomainError without an entry in schema/error_registry.py fails here."""
    errors = _all_domain_errors()
    assert len(errors) >= 30
    missing = sorted(e.__qualname__ for e in errors if e not in REGISTRY)
    assert missing == []
    for error in errors:
        assert hasattr(graphql_type_of(error), "__strawberry_definition__"), error


def test_registry_builds_the_typed_error():
    answer = to_graphql(ValidationFailed.single("withdrawalId", "is not a valid id"))
    assert (answer.code, answer.field) == ("VALIDATION_ERROR", "withdrawalId")


def test_a_spec_answers_only_the_errors_it_declares():
    """The union lists what the declaration lists; an undeclared domain error is a bug
    and is re-raised (then masked), never answered with a type outside the union."""
    from app.ledger.errors import RoundNotFound
    from resolvers.mutations.ledger import DEPOSIT, SETTLE_BET

    with pytest.raises(RoundNotFound):
        DEPOSIT.answer(RoundNotFound("no such round"))
    answer = SETTLE_BET.answer(RoundNotFound("no such round"))
    assert type(answer).__name__ == "RoundNotFound" and answer.code == RoundNotFound.code
