"""Profiles: personal data, preferences, VIP, history with masking, events."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.core.errors import ValidationFailed
from app.events.models import OutboxEvent
from app.profiles import service
from app.profiles.models import PlayerProfile, SettingsChange
from app.profiles.validation import ProfileUpdate, mask
from tests.factories import create_player


async def changes(session, player_id):
    rows = await session.execute(
        select(SettingsChange).where(SettingsChange.player_id == player_id)
        .order_by(SettingsChange.id)
    )  # fmt: skip
    return [(c.field, c.old_value, c.new_value, c.actor) for c in rows.scalars()]


async def outbox(session, type_):
    rows = await session.execute(select(OutboxEvent.data).where(OutboxEvent.type == type_))
    return list(rows.scalars())


async def test_profile_edit_is_recorded_field_by_field(session, settings):
    player = await create_player(session, settings)
    update = ProfileUpdate(firstName="Jana", phone="+4915112345678", city="Berlin")

    _, profile, changed = await service.update_profile(
        session, player.id, update, actor="player:p1", settings=settings
    )
    await service.update_profile(
        session, player.id, ProfileUpdate(city="Hamburg", phone=None), actor="staff:s1",
        settings=settings,
    )  # fmt: skip

    assert changed == ["firstName", "phone", "city"]
    assert (profile.city, profile.phone) == ("Hamburg", None)
    assert await changes(session, player.id) == [
        ("firstName", None, "Jana", "player:p1"),
        ("phone", None, "+4915112345678", "player:p1"),
        ("city", None, "Berlin", "player:p1"),
        ("phone", "+4915112345678", None, "staff:s1"),
        ("city", "Berlin", "Hamburg", "staff:s1"),
    ]
    events = await outbox(session, "player.profile_updated")
    assert events[0]["fields"] == ["firstName", "phone", "city"]
    assert "Jana" not in str(events)  # values never travel in events


@pytest.mark.parametrize(
    ("update", "field"),
    [
        (ProfileUpdate(phone="015112345678"), "phone"),
        (ProfileUpdate(phone="+0123"), "phone"),
        (ProfileUpdate(phone="+10000000"), "phone"),  # E.164-shaped, no such number
        (ProfileUpdate(phone="+4900000000000"), "phone"),
        (ProfileUpdate(addressCountry="XX"), "addressCountry"),
        (ProfileUpdate(birthDate=date(2999, 1, 1)), "birthDate"),
        (ProfileUpdate(birthDate=date.today()), "birthDate"),
        (ProfileUpdate(birthDate=None), "birthDate"),
        (ProfileUpdate(firstName="<script>"), "firstName"),
        (ProfileUpdate(lastName="x" * 101), "lastName"),
    ],
)
async def test_invalid_profile_edit_changes_nothing(session, settings, update, field):
    player = await create_player(session, settings)
    birth = player.birth_date

    with pytest.raises(ValidationFailed) as exc:
        await service.update_profile(session, player.id, update, actor="p", settings=settings)

    assert exc.value.problems[0].field == field
    assert (await session.execute(select(func.count()).select_from(PlayerProfile))).scalar() == 0
    assert await changes(session, player.id) == []
    assert player.birth_date == birth


async def test_preferences_are_validated_and_merged(session, settings):
    player = await create_player(session, settings)

    _, changed = await service.update_preferences(
        session, player.id, {"theme": "dark", "marketingConsents": {"sms": True}},
        actor="player:p", settings=settings,
    )  # fmt: skip
    assert player.preferences["theme"] == "dark"
    assert player.preferences["marketingConsents"] == {
        "email": False, "sms": True, "push": False, "phone": False,
    }  # fmt: skip
    assert set(changed) >= {"preferences.theme", "preferences.marketingConsents.sms"}

    for bad in ({"theme": "neon"}, {"language": "english"}, {"marketingConsents": {"fax": True}},
                {"notifications": {"sms": "yes"}}, {"colour": "red"}):  # fmt: skip
        with pytest.raises(ValidationFailed):
            await service.update_preferences(session, player.id, bad, actor="p",
                                             settings=settings)  # fmt: skip
    assert player.preferences["theme"] == "dark"


async def test_vip_activation_events(session, settings):
    player = await create_player(session, settings)

    await service.set_vip_level(session, player.id, 1, actor="staff:s", settings=settings)
    since = player.vip_since
    await service.set_vip_level(session, player.id, 3, actor="staff:s", settings=settings)
    await service.set_vip_level(session, player.id, 2, actor="staff:s", settings=settings)
    with pytest.raises(ValidationFailed):
        await service.set_vip_level(session, player.id, 11, actor="staff:s", settings=settings)

    assert since is not None and player.vip_since == since and player.vip_level == 2
    activated = await outbox(session, "vip.activated")
    assert [(e["previousLevel"], e["level"]) for e in activated] == [(0, 1), (1, 3)]


def test_mask_hides_personal_values():
    assert mask("+4915112345678") == "+49*********78"
    assert mask("Jana") == "J***"
    assert mask(None) is None


HISTORY = """
query($id: ID!) { player(id: $id) {
  profile { firstName phone masked }
  vip { level since }
  settingsHistory(first: 10) { totalCount edges { node { field oldValue newValue actor } } }
} }
"""
UPDATE = """
mutation($id: ID!, $i: UpdateProfileInput!) { updatePlayerProfile(playerId: $id, input: $i) {
  __typename ... on UpdatePlayerSuccess { changedFields } ... on ValidationError { field }
} }
"""


async def test_api_masks_pii_for_callers_without_permission(gql, db, settings, auth):
    player = await create_player(db, settings)
    mine = await auth.player_headers(player)
    marketer = await auth.staff_headers("MARKETER")
    edit = {"firstName": "Jana", "phone": "+4915112345678"}
    ok = await gql(UPDATE, {"id": str(player.id), "i": edit}, **mine)
    bad = await gql(UPDATE, {"id": str(player.id), "i": {"phone": "12345"}}, **mine)
    own = await gql(HISTORY, {"id": str(player.id)}, **mine)
    body = await gql(HISTORY, {"id": str(player.id)}, **marketer)

    assert ok["data"]["updatePlayerProfile"]["changedFields"] == ["firstName", "phone"]
    assert bad["data"]["updatePlayerProfile"] == {"__typename": "ValidationError",
                                                  "field": "phone"}  # fmt: skip
    assert own["data"]["player"]["profile"]["phone"] == "+4915112345678"
    data = body["data"]["player"]
    # A marketer may not see personal data: no profile, history values masked.
    assert data["profile"] is None
    assert "Jana" not in str(body) and "+4915112345678" not in str(body)
    assert data["settingsHistory"]["totalCount"] == 2
