"""Pure pieces: sealing secrets, masking contact data, the matrix lookups."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.core.crypto import MissingSecretKey, SecretKeyMismatch, seal, unseal, unseal_with_index
from app.core.principal import Principal, PrincipalKind
from app.core.settings import Settings
from permissions.roles import Permission, is_allowed, permissions_of
from permissions.rules import mask_email


def test_seal_round_trips_and_is_randomised():
    settings = Settings(_env_file=None, env="test", secret_key=SecretStr("k" * 32))
    a, b = seal(b"secret", settings), seal(b"secret", settings)
    assert a != b and unseal(a, settings) == unseal(b, settings) == b"secret"


def test_other_key_cannot_unseal():
    one = Settings(_env_file=None, env="test", secret_key=SecretStr("one" * 11))
    two = Settings(_env_file=None, env="test", secret_key=SecretStr("two" * 11))
    with pytest.raises(SecretKeyMismatch, match="PMS_SECRET_KEY differs"):
        unseal(seal(b"x", one), two)


def test_old_keys_unseal_during_a_rotation():
    old = Settings(_env_file=None, env="test", secret_key=SecretStr("old" * 11))
    sealed = seal(b"x", old)
    new = Settings(_env_file=None, env="test", secret_key=SecretStr("new" * 11),
                   old_secret_keys=(SecretStr("other" * 7), SecretStr("old" * 11)))  # fmt: skip
    assert unseal_with_index(sealed, new) == (b"x", 2)
    assert unseal_with_index(seal(b"y", new), new) == (b"y", 0)


def test_prod_refuses_to_run_without_a_secret_key():
    with pytest.raises(MissingSecretKey):
        seal(b"x", Settings(_env_file=None, env="prod"))


@pytest.mark.parametrize(
    ("email", "masked"),
    [("jane.doe@example.com", "j***@example.com"), ("x@y.org", "x***@y.org"), ("bad", "***")],
)
def test_mask_email(email, masked):
    assert mask_email(email) == masked


def test_unknown_roles_and_scopes_grant_nothing():
    staff = Principal(PrincipalKind.STAFF, id="s", roles=frozenset({"GOD"}))
    service = Principal(PrincipalKind.SERVICE, id="c", scopes=frozenset({"wallet:adjust", "*"}))
    assert Permission.WALLET_ADJUST not in permissions_of(staff)
    assert Permission.WALLET_ADJUST not in permissions_of(service)


def test_owner_rule_needs_the_same_player():
    me = Principal(PrincipalKind.PLAYER, id="p1")
    assert is_allowed(me, Permission.WALLET_READ, owner_ok=True, owner="p1")
    assert not is_allowed(me, Permission.WALLET_READ, owner_ok=True, owner="p2")
    assert not is_allowed(me, Permission.WALLET_READ, owner_ok=False, owner="p1")
    assert not is_allowed(me, Permission.WALLET_OPERATE, owner_ok=True, owner="p1")
