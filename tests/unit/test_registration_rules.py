"""Registration rules as pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from app.core.settings import Settings
from app.players.validation import age_on, normalise_email, registration_problems
from tests.factories import registration_data

SETTINGS = Settings(_env_file=None)
TODAY = date(2026, 11, 23)


def fields(**overrides) -> set[str]:
    return {p.field for p in registration_problems(registration_data(**overrides), SETTINGS, TODAY)}


def test_valid_data_has_no_problems():
    assert fields() == set()


@pytest.mark.parametrize(
    ("birth", "age"), [(date(2008, 11, 23), 18), (date(2008, 11, 24), 17), (date(2000, 2, 29), 26)]
)
def test_age_counts_whole_years(birth, age):
    assert age_on(birth, TODAY) == age


def test_eighteenth_birthday_today_is_old_enough():
    assert fields(birth_date=date(2008, 11, 23)) == set()
    assert fields(birth_date=date(2008, 11, 24)) == {"birthDate"}


def test_country_specific_minimum_age_is_configurable():
    strict = Settings(_env_file=None, min_age_by_country={"DE": 25})
    data = registration_data(birth_date=date(2003, 1, 1))

    assert registration_problems(data, strict, TODAY)[0].field == "birthDate"


def test_email_normalises_to_lower_case():
    assert normalise_email("  John.Smith@Example.COM ") == "john.smith@example.com"
    assert normalise_email("a" * 250 + "@x.io") is None


def test_overlong_password_is_refused_before_hashing():
    assert fields(password="p" * 129) == {"password"}


def test_production_password_hashing_is_argon2id_with_real_cost():
    from app.core.passwords import hasher_for

    hasher = hasher_for(Settings(_env_file=None))
    assert hasher.type.name == "ID"
    assert hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2
