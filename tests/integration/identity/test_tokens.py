"""Access tokens: signing, verification, rotation, and every forged variant refused."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from app.core.principal import Principal, PrincipalKind
from app.identity import keys
from app.identity.keys import KeyRing
from app.identity.tokens import (
    InvalidToken,
    TokenExpired,
    issue_access_token,
    verify_access_token,
)

PLAYER = Principal(PrincipalKind.PLAYER, id="8d7f3c1e-0000-4000-8000-000000000001")
STAFF = Principal(PrincipalKind.STAFF, id="s1", roles=frozenset({"SUPPORT"}))
SERVICE = Principal(PrincipalKind.SERVICE, id="game", scopes=frozenset({"wallet:operate"}))


@pytest.fixture
def keyring(db, settings):
    return KeyRing(db, settings)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("principal", [PLAYER, STAFF, SERVICE])
async def test_issued_token_verifies_to_the_same_principal(keyring, settings, principal):
    token, expires_in = await issue_access_token(principal, keyring, settings)

    claims = await verify_access_token(token, keyring, settings)

    assert claims.principal == principal
    assert expires_in == settings.access_token_ttl_seconds == 900
    assert abs(claims.expires_at.timestamp() - time.time() - 900) < 5


async def test_header_names_the_key_and_the_pinned_algorithm(keyring, settings):
    token, _ = await issue_access_token(PLAYER, keyring, settings)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))

    assert header["alg"] == "ES256"
    assert header["kid"] == (await keyring.jwks())["keys"][0]["kid"]


async def test_expired_token_is_refused(keyring, settings):
    token, _ = await issue_access_token(PLAYER, keyring, settings, now=int(time.time()) - 3600)

    with pytest.raises(TokenExpired):
        await verify_access_token(token, keyring, settings)


async def test_not_yet_valid_token_is_refused(keyring, settings):
    token, _ = await issue_access_token(PLAYER, keyring, settings, now=int(time.time()) + 600)

    with pytest.raises(InvalidToken):
        await verify_access_token(token, keyring, settings)


@pytest.mark.parametrize(
    ("claim", "value"), [("iss", "urn:evil"), ("aud", "urn:other"), ("sub", "root:x")]
)
async def test_wrong_issuer_audience_or_subject_is_refused(keyring, settings, claim, value):
    kid, alg, key = await keyring.signing_key()
    now = int(time.time())
    claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": PLAYER.key,
              "iat": now, "nbf": now, "exp": now + 60}  # fmt: skip
    claims[claim] = value
    token = jwt.encode({"alg": alg, "kid": kid}, claims, key)

    with pytest.raises(InvalidToken):
        await verify_access_token(token, keyring, settings)


async def test_alg_none_is_refused(keyring, settings):
    token, _ = await issue_access_token(PLAYER, keyring, settings)
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    payload = token.split(".")[1]

    forged = f"{_b64({'alg': 'none', 'kid': kid})}.{payload}."

    with pytest.raises(InvalidToken):
        await verify_access_token(forged, keyring, settings)


async def test_hs256_signed_with_the_public_key_is_refused(keyring, settings):
    jwks = await keyring.jwks()
    public = jwks["keys"][0]
    secret = OctKey.import_key(json.dumps(public).encode())
    now = int(time.time())
    claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": PLAYER.key,
              "iat": now, "nbf": now, "exp": now + 60}  # fmt: skip
    forged = jwt.encode({"alg": "HS256", "kid": public["kid"]}, claims, secret)

    with pytest.raises(InvalidToken):
        await verify_access_token(forged, keyring, settings)


async def test_token_signed_by_another_key_with_our_kid_is_refused(keyring, settings):
    kid, _, _ = await keyring.signing_key()
    other = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": PLAYER.key,
              "iat": now, "nbf": now, "exp": now + 60}  # fmt: skip
    forged = jwt.encode({"alg": "ES256", "kid": kid}, claims, other)

    with pytest.raises(InvalidToken):
        await verify_access_token(forged, keyring, settings)


async def test_tampered_payload_is_refused(keyring, settings):
    token, _ = await issue_access_token(PLAYER, keyring, settings)
    head, _, sig = token.split(".")
    now = int(time.time())
    evil_claims = {"iss": settings.token_issuer, "aud": settings.token_audience, "sub": "staff:x",
                   "roles": ["ADMIN"], "iat": now, "nbf": now, "exp": now + 60}  # fmt: skip
    evil = _b64(evil_claims)

    with pytest.raises(InvalidToken):
        await verify_access_token(f"{head}.{evil}.{sig}", keyring, settings)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "...", "x" * 5000])
async def test_garbage_is_refused(keyring, settings, garbage):
    with pytest.raises(InvalidToken):
        await verify_access_token(garbage, keyring, settings)


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(db, keyring, settings):
    old_token, _ = await issue_access_token(PLAYER, keyring, settings)
    old_kid = (await keyring.signing_key())[0]
    async with db.transaction() as session:
        new = await keys.rotate(session, settings)
    other_replica = KeyRing(db, settings)

    # The other replica never saw the old key as current, and still verifies its tokens.
    assert (await verify_access_token(old_token, other_replica, settings)).principal == PLAYER
    new_token, _ = await issue_access_token(PLAYER, other_replica, settings)
    # This replica learns the new kid on first sight (unknown kid -> reload).
    keyring._loaded_at = 0
    assert (await verify_access_token(new_token, keyring, settings)).principal == PLAYER
    kids = {k["kid"] for k in (await other_replica.jwks())["keys"]}
    assert kids == {old_kid, new.kid}


async def test_private_key_is_sealed_at_rest(db, keyring, settings):
    await keyring.load()
    async with db.read_session() as session:
        (row,) = await keys.usable_keys(session, settings)
    assert row.private_key.startswith("v1:")
    assert '"d"' not in row.private_key
    assert "d" not in row.public_jwk


async def test_jwks_endpoint_publishes_only_public_keys(client):
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in key


class CountingKeyRing(KeyRing):
    """The real key ring, counting how often a signature had to be checked."""

    lookups = 0

    async def verifying_key(self, kid: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return await super().verifying_key(kid)


async def test_an_expired_token_is_refused_again_without_a_signature_check(db, settings):
    from app.identity.revocation import VerifiedTokens

    ring, cache = CountingKeyRing(db, settings), VerifiedTokens()
    token, _ = await issue_access_token(PLAYER, ring, settings, now=int(time.time()) - 3600)
    for _ in range(3):
        with pytest.raises(TokenExpired):
            await cache.verify(token, ring, settings)
    assert ring.lookups == 1


async def test_a_forged_expired_token_is_never_taken_for_merely_expired(db, settings):
    from app.identity.revocation import VerifiedTokens

    ring, cache = CountingKeyRing(db, settings), VerifiedTokens()
    token, _ = await issue_access_token(PLAYER, ring, settings, now=int(time.time()) - 3600)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(InvalidToken) as refused:
            await cache.verify(forged, ring, settings)
        assert not isinstance(refused.value, TokenExpired)
    assert ring.lookups == 2  # checked in full each time


async def test_a_cached_token_expires_with_the_same_leeway_as_the_full_check(db, settings):
    from app.identity.revocation import VerifiedTokens

    strict = settings.model_copy(update={"token_leeway_seconds": 0})
    ring, cache = CountingKeyRing(db, strict), VerifiedTokens()
    token, _ = await issue_access_token(PLAYER, ring, strict, ttl_seconds=1)
    assert (await cache.verify(token, ring, strict)).principal == PLAYER
    await asyncio.sleep(1.1)
    for _ in range(2):
        with pytest.raises(TokenExpired):
            await cache.verify(token, ring, strict)
    with pytest.raises(TokenExpired):  # the full check agrees
        await verify_access_token(token, ring, strict)
    assert ring.lookups == 2  # the first verification and the full check above
