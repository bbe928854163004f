"""THE registry of domain errors: every ``DomainError`` subclass of app/ maps to exactly
one GraphQL error type here (tests/unit/test_error_registry.py walks app/ and fails on
an unmapped one). Mutations declare which domain errors they can return; their result
unions are derived from this map (resolvers/runner.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.alerts import errors as alerts
from app.audit import errors as audit
from app.bonuses import errors as bonus
from app.core import errors as core
from app.exports import errors as exports
from app.fraud import errors as fraud
from app.gdpr import errors as gdpr
from app.identity import errors as identity
from app.identity.step_up import StepUpRequired as StepUpRequiredError
from app.identity.tokens import InvalidToken, TokenExpired
from app.imports import errors as imports
from app.kyc import errors as kyc
from app.ledger import errors as ledger
from app.responsible import errors as rg
from app.retention import errors as retention
from app.segments.rules import InvalidRule
from schema import errors as gql
from schema.types import alerts as alert_types
from schema.types import audit as audit_types
from schema.types import bonus as bonus_types
from schema.types import export as export_types
from schema.types import fraud as fraud_types
from schema.types import gdpr as gdpr_types
from schema.types import kyc as kyc_types
from schema.types import ledger as ledger_types
from schema.types import responsible as rg_types
from schema.types import retention as retention_types
from schema.types.identity import MfaFailed, StepUpRequired
from schema.types.segment import InvalidSegmentRule


def _batch_not_applied(exc: ledger.BatchNotApplied) -> Any:
    return ledger_types.BatchNotApplied(
        code=exc.code, message=exc.message, failed_index=exc.failed_index
    )


@dataclass(frozen=True)
class Mapping:
    graphql_type: type
    build: Callable[[Any], Any]


def _plain(graphql_type: type) -> Mapping:
    """An error type with only ``code`` and ``message``."""
    return Mapping(graphql_type, lambda exc: graphql_type(code=exc.code, message=exc.message))


def _validation(exc: core.ValidationFailed) -> gql.ValidationError:
    return gql.ValidationError.from_domain(exc)


def _callback(exc: kyc.CallbackRejected) -> gql.ValidationError:
    return gql.ValidationError(
        code=exc.code, message=exc.message, field="signature", field_errors=[]
    )


def _step_up(exc: StepUpRequiredError) -> StepUpRequired:
    return StepUpRequired(code=exc.code, message=exc.message, max_age_seconds=exc.max_age_seconds)


def _too_many(exc: identity.TooManyAttempts) -> gql.TooManyAttempts:
    return gql.TooManyAttempts(
        code=exc.code, message=exc.message, retry_after_seconds=exc.retry_after
    )


def _insufficient(exc: ledger.InsufficientFunds) -> ledger_types.InsufficientFunds:
    # Usually answered from the stored result document (with the wallets); raised bare
    # only by a bonus rule, which has no wallet figures to show.
    return ledger_types.InsufficientFunds(code=exc.code, message=exc.message, wallets=[])


REGISTRY: dict[type[core.DomainError], Mapping] = {
    # core
    core.ValidationFailed: Mapping(gql.ValidationError, _validation),
    core.AlreadyExists: Mapping(gql.AlreadyExists, gql.AlreadyExists.from_domain),
    core.NotFound: Mapping(gql.NotFound, gql.NotFound.from_domain),
    # ledger
    ledger.InsufficientFunds: Mapping(ledger_types.InsufficientFunds, _insufficient),
    ledger.IdempotencyKeyReused: _plain(ledger_types.IdempotencyKeyReused),
    ledger.RequestInProgress: _plain(ledger_types.RequestInProgress),
    ledger.ReservationNotFound: _plain(ledger_types.ReservationNotFound),
    ledger.HoldNotPending: _plain(ledger_types.HoldNotPending),
    ledger.RoundNotFound: _plain(ledger_types.RoundNotFound),
    ledger.AccountBlocked: _plain(ledger_types.AccountBlocked),
    ledger.CurrencyMismatch: _plain(ledger_types.CurrencyMismatch),
    ledger.DuplicateTransaction: _plain(ledger_types.DuplicateTransaction),
    ledger.BatchNotApplied: Mapping(
        ledger_types.BatchNotApplied,
        lambda exc: ledger_types.BatchNotApplied(
            code=exc.code, message=exc.message, failed_index=exc.failed_index
        ),
    ),
    ledger.AmountTooLarge: _plain(ledger_types.AmountTooLarge),
    # audit trail
    audit.EntryNotInTree: _plain(audit_types.AuditEntryNotInTree),
    audit.TreeSizeOutOfRange: _plain(audit_types.AuditTreeSizeOutOfRange),
    audit.UnknownSigningKey: _plain(audit_types.AuditUnknownSigningKey),
    audit.InvalidCheckpoint: _plain(audit_types.AuditInvalidCheckpoint),
    # retention purge
    retention.RetentionTooShort: _plain(retention_types.RetentionTooShort),
    retention.MonthTooRecent: _plain(retention_types.RetentionMonthTooRecent),
    retention.PurgeInProgress: _plain(retention_types.RetentionPurgeInProgress),
    retention.ArchiveFailed: _plain(retention_types.RetentionArchiveFailed),
    # bonuses
    bonus.CampaignNotActive: _plain(bonus_types.CampaignNotActive),
    bonus.NotEligible: _plain(bonus_types.NotEligible),
    bonus.AlreadyAwarded: _plain(bonus_types.AlreadyAwarded),
    bonus.BonusNotActive: _plain(bonus_types.BonusNotActive),
    bonus.MaxBetExceeded: _plain(ledger_types.MaxBetExceeded),
    # kyc
    kyc.VerificationRequired: _plain(ledger_types.VerificationRequired),
    kyc.KycCaseOpen: _plain(kyc_types.KycCaseOpen),
    kyc.AlreadyVerified: _plain(kyc_types.AlreadyVerified),
    kyc.CaseNotReviewable: _plain(kyc_types.KycCaseNotReviewable),
    kyc.ProviderUnavailable: _plain(kyc_types.KycProviderUnavailable),
    kyc.UnknownProvider: _plain(kyc_types.KycProviderUnavailable),
    kyc.CallbackRejected: Mapping(gql.ValidationError, _callback),
    # exports
    exports.InvalidExportCursor: _plain(export_types.InvalidExportCursor),
    exports.ExportCursorKindMismatch: _plain(export_types.ExportCursorKindMismatch),
    exports.ExportBusy: _plain(export_types.ExportBusy),
    exports.InvalidExportRange: _plain(export_types.InvalidExportRange),
    imports.ImportFileInvalid: _plain(export_types.ImportFileInvalid),
    imports.ImportHasErrors: _plain(export_types.ImportHasErrors),
    imports.ImportIdReused: _plain(export_types.ImportIdReused),
    # responsible gambling
    rg.LimitExceeded: Mapping(rg_types.LimitExceeded, rg_types.LimitExceeded.from_domain),
    rg.SessionLimitReached: Mapping(
        rg_types.SessionLimitReached, rg_types.SessionLimitReached.from_domain
    ),
    rg.CoolDownActive: Mapping(rg_types.CoolDownActive, rg_types.CoolDownActive.from_domain),
    rg.LimitChangeNotFound: _plain(rg_types.LimitChangeNotFound),
    rg.StaffMayOnlyLower: _plain(rg_types.StaffMayOnlyLower),
    rg.ExclusionActive: _plain(rg_types.ExclusionActive),
    rg.NoActiveExclusion: _plain(rg_types.NoActiveExclusion),
    rg.GamblingRestricted: Mapping(
        rg_types.GamblingRestricted, rg_types.GamblingRestricted.from_domain
    ),
    # segments
    InvalidRule: Mapping(InvalidSegmentRule, InvalidSegmentRule.from_domain),
    # alerts
    alerts.InvalidAlertRule: Mapping(
        alert_types.InvalidAlertRuleError, alert_types.InvalidAlertRuleError.from_domain
    ),
    alerts.AlertNotOpen: _plain(alert_types.AlertNotOpen),
    # fraud
    fraud.InvalidFraudRule: Mapping(
        fraud_types.InvalidFraudRuleError, fraud_types.InvalidFraudRuleError.from_domain
    ),
    fraud.CaseNotOpen: _plain(fraud_types.FraudCaseNotOpen),
    fraud.WithdrawalsOnHold: _plain(fraud_types.WithdrawalsHeld),
    # gdpr
    gdpr.ErasureBlocked: _plain(gdpr_types.ErasureBlocked),
    # identity: one answer for every sign-in failure, so no caller learns which part failed
    identity.InvalidCredentials: _plain(gql.InvalidCredentials),
    identity.InvalidRefreshToken: _plain(gql.InvalidCredentials),
    identity.TooManyAttempts: Mapping(gql.TooManyAttempts, _too_many),
    identity.MfaError: _plain(MfaFailed),
    StepUpRequiredError: Mapping(StepUpRequired, _step_up),
    InvalidToken: _plain(gql.InvalidCredentials),
    TokenExpired: _plain(gql.InvalidCredentials),
}


def mapping_of(error: type[core.DomainError]) -> Mapping:
    """The mapping of ``error`` (exact class; a subclass without its own entry falls back
    to its nearest mapped base, but the registry test requires an entry for each)."""
    for cls in error.__mro__:
        found = REGISTRY.get(cls)
        if found is not None:
            return found
    raise KeyError(f"{error.__name__} has no GraphQL error type in schema/error_registry.py")


def graphql_type_of(error: type[core.DomainError]) -> type:
    return mapping_of(error).graphql_type


def to_graphql(exc: core.DomainError) -> Any:
    """The GraphQL error object answering ``exc``."""
    return mapping_of(type(exc)).build(exc)
