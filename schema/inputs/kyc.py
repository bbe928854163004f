"""Inputs of KYC, profile and segment mutations."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.kyc.provider import DocumentSubmission
from app.profiles.validation import UNSET, ProfileUpdate
from schema.enums import KycCaseStatusEnum, RiskLevelEnum, SegmentKindEnum
from schema.input_guard import free_text


@strawberry.input(description="One identity document. The number goes to the provider only.")
class KycDocumentInput:
    type: str = strawberry.field(
        description="PASSPORT, ID_CARD, DRIVING_LICENCE or RESIDENCE_PERMIT"
    )
    country: str = strawberry.field(description="Issuing country, ISO 3166-1 alpha-2")
    number: str
    expiry: str = strawberry.field(description="YYYY-MM-DD")

    def to_data(self) -> DocumentSubmission:
        return DocumentSubmission(
            type=self.type, country=self.country, number=self.number, expiry=self.expiry
        )


@strawberry.input(description="Omitted fields stay; null clears a field (not birthDate).")
class UpdateProfileInput:
    first_name: str | None = free_text(default=strawberry.UNSET)
    last_name: str | None = free_text(default=strawberry.UNSET)
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="E.164")
    address_line1: str | None = free_text(default=strawberry.UNSET)
    address_line2: str | None = free_text(default=strawberry.UNSET)
    city: str | None = free_text(default=strawberry.UNSET)
    postal_code: str | None = free_text(default=strawberry.UNSET)
    address_country: str | None = strawberry.UNSET
    birth_date: date | None = strawberry.UNSET

    def to_data(self) -> ProfileUpdate:
        def v(value: Any) -> Any:
            return UNSET if value is strawberry.UNSET else value

        return ProfileUpdate(
            firstName=v(self.first_name),
            lastName=v(self.last_name),
            phone=v(self.phone),
            addressLine1=v(self.address_line1),
            addressLine2=v(self.address_line2),
            city=v(self.city),
            postalCode=v(self.postal_code),
            addressCountry=v(self.address_country),
            birthDate=v(self.birth_date),
        )


@strawberry.input
class ChannelsInput:
    email: bool | None = None
    sms: bool | None = None
    push: bool | None = None
    phone: bool | None = None

    def to_patch(self) -> dict[str, bool]:
        return {
            k: v
            for k, v in (
                ("email", self.email),
                ("sms", self.sms),
                ("push", self.push),
                ("phone", self.phone),
            )
            if v is not None
        }


@strawberry.input(description="Omitted fields stay as they are.")
class UpdatePreferencesInput:
    language: str | None = None
    theme: str | None = strawberry.field(default=None, description="light, dark or system")
    notifications: ChannelsInput | None = None
    marketing_consents: ChannelsInput | None = None

    def to_patch(self) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if self.language is not None:
            patch["language"] = self.language
        if self.theme is not None:
            patch["theme"] = self.theme
        if self.notifications is not None:
            patch["notifications"] = self.notifications.to_patch()
        if self.marketing_consents is not None:
            patch["marketingConsents"] = self.marketing_consents.to_patch()
        return patch


@strawberry.input
class SegmentInput:
    name: str = free_text()
    rule: JSON | None = free_text(
        default=None,
        description="See the rule language in app/segments/rules.py; none for STATIC",
    )
    description: str | None = free_text(default=None)
    kind: SegmentKindEnum = SegmentKindEnum.RULE


@strawberry.input(description="Omitted fields stay as they are.")
class UpdateSegmentInput:
    name: str | None = free_text(default=None)
    rule: JSON | None = free_text(default=None)
    description: str | None = free_text(default=None)


@strawberry.input(description="Narrows the KYC queue; every given field must match.")
class KycQueueFilter:
    status: KycCaseStatusEnum | None = strawberry.field(
        default=None, description="PENDING or MANUAL_REVIEW (default: both)"
    )
    provider: str | None = None
    risk_level: RiskLevelEnum | None = None
