"""Registration input rules. Pure functions: every problem is collected, none is raised
half-way, so the client learns everything wrong with its input in one answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pycountry
from email_validator import EmailNotValidError, validate_email

from app.core.errors import FieldProblem
from app.core.identifiers import normalise_identifier
from app.core.password_policy import password_problem
from app.core.settings import Settings

LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
LOCALE = re.compile(r"^[a-z]{2,3}(?:-[A-Z]{2})?$")
TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A custom tag on a player is a free-text label: one starting like a formula (= + - @) is
# kept as it is and escaped by the CSV writers (app/core/bundles.csv_cell). No control
# characters, and no ';' (the CRM export lists a player's tags joined by it).
CUSTOM_TAG = re.compile(r"^[^\x00-\x1f\x7f;]{1,64}$")
MAX_AGE_YEARS = 120


@dataclass(frozen=True)
class RegistrationData:
    email: str
    login: str
    password: str
    country: str
    currency: str
    birth_date: date
    locale: str = "en"
    traffic_source: str | None = None
    affiliate_code: str | None = None


def normalise_email(raw: str) -> str | None:
    """The canonical form we store and compare (NFKC, case-folded), or None if invalid."""
    if len(raw) > 254:
        return None
    try:
        valid = validate_email(normalise_identifier(raw), check_deliverability=False)
    except EmailNotValidError:
        return None
    return valid.normalized.casefold()


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def registration_problems(
    data: RegistrationData, settings: Settings, today: date
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(FieldProblem(field, message))

    if normalise_email(data.email) is None:
        problem("email", "is not a valid email address")
    if not LOGIN.match(data.login):
        problem("login", "3-32 letters, digits, '_', '.' or '-', starting with a letter or digit")
    if len(data.password) < settings.password_min_length:
        problem("password", f"must be at least {settings.password_min_length} characters")
    elif len(data.password) > settings.password_max_length:
        problem("password", f"must be at most {settings.password_max_length} characters")
    elif weak := password_problem(data.password, login=data.login, email=data.email):
        problem("password", weak)
    country_known = (
        len(data.country) == 2
        and data.country.isupper()
        and pycountry.countries.get(alpha_2=data.country) is not None
    )
    if not country_known:
        problem("country", "must be an ISO 3166-1 alpha-2 code such as DE")
    if data.currency not in settings.supported_currencies:
        problem("currency", f"must be one of {', '.join(settings.supported_currencies)}")
    if data.birth_date > today:
        problem("birthDate", "is in the future")
    elif age_on(data.birth_date, today) > MAX_AGE_YEARS:
        problem("birthDate", "is not plausible")
    elif country_known and age_on(data.birth_date, today) < settings.min_age_for(data.country):
        problem("birthDate", f"players in {data.country} must be at least "
                f"{settings.min_age_for(data.country)} years old")  # fmt: skip
    if not LOCALE.match(data.locale):
        problem("locale", "must be a language tag such as en or de-AT")
    for field, value in (("trafficSource", data.traffic_source),
                         ("affiliateCode", data.affiliate_code)):  # fmt: skip
        if value is not None and not TAG.match(value):
            problem(field, "1-64 letters, digits, '_', '.', ':' or '-'")
    return problems
