"""Expected failures of the bonus engine, each with a stable ``code``."""

from __future__ import annotations

from app.core.errors import DomainError


class CampaignNotActive(DomainError):
    code = "CAMPAIGN_NOT_ACTIVE"


class NotEligible(DomainError):
    code = "BONUS_NOT_ELIGIBLE"


class AlreadyAwarded(DomainError):
    code = "BONUS_ALREADY_AWARDED"


class BonusNotActive(DomainError):
    code = "BONUS_NOT_ACTIVE"


class MaxBetExceeded(DomainError):
    code = "MAX_BET_EXCEEDED"
