"""The verification flow: submit -> PENDING -> provider result -> VERIFIED / REJECTED /
MANUAL_REVIEW -> (review by compliance). Services take a session and never commit, except
``submit_kyc``, which must commit the case before calling the vendor (the vendor may call
back at once) and therefore owns its two short transactions.

Every status change updates the player's confirmStatus and riskLevel, appends a
``kyc_case_events`` row, writes a ``kyc.status_changed`` outbox event and re-evaluates the
player's attributes as changed (``player_attributes_changed``: segments listen), all in
the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core import counters, metrics
from app.core.db import Database, unique_violation_constraint
from app.core.errors import NotFound, ValidationFailed
from app.core.logging import client_ip_var, request_id_var
from app.core.settings import Settings
from app.events import outbox
from app.kyc import repository
from app.kyc.errors import (
    AlreadyVerified,
    CaseNotReviewable,
    KycCaseOpen,
    ProviderUnavailable,
    VerificationRequired,
)
from app.kyc.models import AWAITING_DECISION, KycCase, KycCaseEvent, KycCaseStatus
from app.kyc.provider import DocumentSubmission, KycProvider, ProviderResult
from app.kyc.validation import document_metadata, document_problems
from app.players.hooks import player_attributes_changed
from app.players.models import ConfirmStatus, Player, RiskLevel

SANCTIONS_HIT = "SANCTIONS_HIT"
REVIEW_DECISIONS = ("APPROVE", "REJECT")
_RISK_ORDER = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH]


def assess_risk(
    score: int | None, country: str, pep: bool, sanctions: bool, settings: Settings
) -> RiskLevel:
    """Provider score band (<30 LOW, <70 MEDIUM, else HIGH), raised to HIGH by a
    high-risk country, a PEP match or a sanctions hit."""
    if score is None or score < 30:
        level = RiskLevel.LOW
    elif score < 70:
        level = RiskLevel.MEDIUM
    else:
        level = RiskLevel.HIGH
    if pep or sanctions or country in settings.kyc_high_risk_countries:
        level = RiskLevel.HIGH
    return level


async def _set_status(
    session: AsyncSession,
    case: KycCase,
    player: Player,
    status: KycCaseStatus,
    *,
    actor: str,
    action: str,
    settings: Settings,
    confirm_status: ConfirmStatus | None = None,
    note: str | None = None,
) -> None:
    previous = None if action == "submitted" else case.status
    case.status = status
    metrics.inc_after_commit(session, metrics.KYC_STATUS_CHANGES.labels(action, status.value))
    if status.is_final:
        case.decided_at = datetime.now(UTC)
        counters.bump_after_commit(session, "kyc.decided")  # the alert rules' KYC rate
        if status is KycCaseStatus.REJECTED:
            counters.bump_after_commit(session, "kyc.rejected")
    player.confirm_status = confirm_status or ConfirmStatus(status.value)
    if case.risk_level is not None:
        player.risk_level = case.risk_level
    session.add(
        KycCaseEvent(
            case_id=case.id,
            player_id=player.id,
            actor=actor,
            action=action,
            from_status=previous,
            to_status=status.value,
            risk_level=case.risk_level,
            reasons=list(case.reasons),
            note=note,
        )
    )
    # The compliance audit trail too, in the same transaction as the change.
    await audit.record(
        session, audit.Actor(actor, client_ip_var.get(), request_id_var.get()),
        f"kyc.{action}", str(player.id), audit.SUCCESS,
        {"caseId": str(case.id), "from": previous, "to": status.value,
         "riskLevel": case.risk_level},
    )  # fmt: skip
    await outbox.record(
        session,
        "kyc.status_changed",
        str(player.id),
        {
            "playerId": str(player.id),
            "caseId": str(case.id),
            "confirmStatus": player.confirm_status,
            "riskLevel": player.risk_level,
            "reasons": list(case.reasons),
        },
    )
    await player_attributes_changed(session, player.id, ("confirmStatus", "riskLevel"), settings)


async def _locked_player(session: AsyncSession, player_id: uuid.UUID) -> Player:
    player = await repository.lock_player(session, player_id)
    if player is None:
        raise NotFound("no such player")
    return player


async def open_case(
    session: AsyncSession,
    player_id: uuid.UUID,
    documents: list[DocumentSubmission],
    *,
    provider: str,
    actor: str,
    settings: Settings,
    today: date | None = None,
) -> KycCase:
    """Validate the documents and open a PENDING case (no vendor call yet)."""
    problems = document_problems(documents, today or datetime.now(UTC).date())
    if problems:
        raise ValidationFailed(problems)
    player = await _locked_player(session, player_id)
    if player.confirm_status == ConfirmStatus.VERIFIED:
        raise AlreadyVerified("the player is already verified")
    if player.confirm_status in (ConfirmStatus.PENDING, ConfirmStatus.MANUAL_REVIEW):
        raise KycCaseOpen("a verification is already in progress")
    case = KycCase(
        id=uuid.uuid4(),
        player_id=player.id,
        provider=provider,
        status=KycCaseStatus.PENDING,
        documents=[document_metadata(d, settings.kyc_document_hash_key, None) for d in documents],
    )
    session.add(case)
    try:
        await session.flush()
    except IntegrityError as exc:
        if unique_violation_constraint(exc) == "uq_kyc_cases_open_per_player":
            raise KycCaseOpen("a verification is already in progress") from None
        raise
    await _set_status(
        session, case, player, KycCaseStatus.PENDING,
        actor=actor, action="submitted", settings=settings,
    )  # fmt: skip
    return case


async def submit_kyc(
    db: Database,
    provider: KycProvider,
    player_id: uuid.UUID,
    documents: list[DocumentSubmission],
    *,
    actor: str,
    settings: Settings,
) -> KycCase:
    """Open the case, commit, start the vendor check, store its reference.

    If the vendor cannot be reached the case becomes FAILED and the player's status goes
    back to what it was; ProviderUnavailable is raised.
    """
    async with db.transaction() as session:
        case = await open_case(
            session, player_id, documents, provider=provider.name, actor=actor, settings=settings
        )
    try:
        started = await provider.start_check(str(case.id), documents)
    except ProviderUnavailable as exc:
        async with db.transaction() as session:
            await _fail_case(session, case.id, str(exc), settings)
        raise
    async with db.transaction() as session:
        locked = await repository.lock_case(session, case.id)
        assert locked is not None
        if locked.provider_ref is None:
            locked.provider_ref = started.provider_ref
        locked.documents = [
            {**doc, "providerDocumentRef": ref}
            for doc, ref in zip(locked.documents, started.document_refs, strict=False)
        ]
        await session.flush()
        return locked


async def _fail_case(
    session: AsyncSession, case_id: uuid.UUID, reason: str, settings: Settings
) -> None:
    case = await repository.lock_case(session, case_id)
    assert case is not None
    player = await _locked_player(session, case.player_id)
    if case.status != KycCaseStatus.PENDING:
        return
    earlier = await repository.last_decided_status(session, player.id, case.id)
    case.reasons = ["PROVIDER_UNAVAILABLE"]
    await _set_status(
        session, case, player, KycCaseStatus.FAILED,
        actor="system:kyc", action="provider_failed", settings=settings,
        confirm_status=ConfirmStatus(earlier) if earlier else ConfirmStatus.UNVERIFIED,
        note=reason[:500],
    )  # fmt: skip


async def apply_provider_result(
    session: AsyncSession, provider_name: str, result: ProviderResult, settings: Settings
) -> tuple[KycCase, bool]:
    """Apply a verified vendor callback. Idempotent: once the case has left PENDING a
    repeated or late callback changes nothing (returns ``changed=False``).

    Raises NotFound for a case that does not exist or belongs to another provider/check.
    """
    try:
        case_id = uuid.UUID(result.reference)
    except ValueError:
        raise NotFound("unknown KYC case") from None
    case = await repository.lock_case(session, case_id)
    if (
        case is None
        or case.provider != provider_name
        or (case.provider_ref is not None and case.provider_ref != result.provider_ref)
    ):
        raise NotFound("unknown KYC case")
    if case.status != KycCaseStatus.PENDING:
        return case, False
    player = await _locked_player(session, case.player_id)
    if case.provider_ref is None:  # the callback overtook submit_kyc's last step
        case.provider_ref = result.provider_ref
    reasons = list(result.reasons)
    status = {
        "verified": KycCaseStatus.VERIFIED,
        "rejected": KycCaseStatus.REJECTED,
        "review": KycCaseStatus.MANUAL_REVIEW,
    }[result.outcome]
    if result.sanctions and status == KycCaseStatus.VERIFIED:
        status = KycCaseStatus.MANUAL_REVIEW
    if result.sanctions and SANCTIONS_HIT not in reasons:
        reasons.append(SANCTIONS_HIT)
    if result.pep and "PEP_MATCH" not in reasons:
        reasons.append("PEP_MATCH")
    case.score, case.pep, case.sanctions, case.reasons = (
        result.score, result.pep, result.sanctions, reasons,
    )  # fmt: skip
    case.risk_level = assess_risk(
        result.score, player.country, result.pep, result.sanctions, settings
    ).value
    await _set_status(
        session, case, player, status,
        actor=f"provider:{provider_name}", action="provider_result", settings=settings,
    )  # fmt: skip
    return case, True


async def review_case(
    session: AsyncSession,
    case_id: uuid.UUID,
    decision: str,
    note: str,
    *,
    actor: str,
    settings: Settings,
) -> KycCase:
    """A compliance officer's decision on a case in MANUAL_REVIEW."""
    if decision not in REVIEW_DECISIONS:
        raise ValidationFailed.single("decision", "must be APPROVE or REJECT")
    note = note.strip()
    if not 1 <= len(note) <= 2000:
        raise ValidationFailed.single("note", "1-2000 characters explaining the decision")
    case = await repository.lock_case(session, case_id)
    if case is None:
        raise NotFound("unknown KYC case")
    if case.status != KycCaseStatus.MANUAL_REVIEW:
        raise CaseNotReviewable(f"the case is {case.status}, not in manual review")
    player = await _locked_player(session, case.player_id)
    case.reviewed_by = actor
    case.review_note = note
    if decision == "REJECT":
        case.reasons = [*case.reasons, "REJECTED_BY_REVIEW"]
    status = KycCaseStatus.VERIFIED if decision == "APPROVE" else KycCaseStatus.REJECTED
    await _set_status(
        session, case, player, status,
        actor=actor, action="reviewed", settings=settings, note=note,
    )  # fmt: skip
    return case


async def require_verified(session: AsyncSession, player_id: uuid.UUID) -> None:
    """Raise VerificationRequired unless the player is VERIFIED (ledger: withdrawals)."""
    status = await repository.confirm_status(session, player_id)
    if status is None:
        raise NotFound("no such player")
    if status != ConfirmStatus.VERIFIED:
        raise VerificationRequired(status)


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> KycCase | None:
    return await repository.get_case(session, case_id)


async def cases_of_player(session: AsyncSession, player_id: uuid.UUID) -> list[KycCase]:
    return await repository.cases_of_player(session, player_id)


async def case_history(session: AsyncSession, case_id: uuid.UUID) -> list[KycCaseEvent]:
    return await repository.case_history(session, case_id)


async def queue(
    session: AsyncSession, flt: repository.QueueFilter, limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> tuple[list[KycCase], bool, int]:  # fmt: skip
    """The staff queue: cases awaiting a decision, oldest first. A status filter outside
    AWAITING_DECISION is refused (decided cases are not in the queue)."""
    if not set(flt.statuses) <= set(AWAITING_DECISION):
        raise ValidationFailed.single("status", "only PENDING or MANUAL_REVIEW cases wait")
    return await repository.queue_page(session, flt, limit, after)
