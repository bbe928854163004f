"""The verification flow at the service level and the signed callback endpoint."""

from __future__ import annotations

import time
import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select, text

from app.core.errors import NotFound, ValidationFailed
from app.events.models import OutboxEvent
from app.kyc import service
from app.kyc.errors import AlreadyVerified, CaseNotReviewable, KycCaseOpen, VerificationRequired
from app.kyc.models import KycCase, KycCaseEvent
from app.kyc.provider import DocumentSubmission, ProviderResult
from app.players.models import Player
from pms.asgi import create_app
from tests.factories import create_player
from tests.kyc_helpers import signed, with_provider

PASSPORT = DocumentSubmission("PASSPORT", "DE", "C01X00T471", "2035-01-01")


async def open_case(session, settings, player, docs=None):
    return await service.open_case(
        session, player.id, docs or [PASSPORT], provider="sandbox", actor="player:x",
        settings=settings,
    )  # fmt: skip


def result(case, outcome="verified", **kw):
    return ProviderResult(reference=str(case.id), provider_ref="chk_1", outcome=outcome, **kw)


async def events(session, type_):
    rows = await session.execute(select(OutboxEvent).where(OutboxEvent.type == type_))
    return list(rows.scalars())


async def test_submit_sets_pending_and_keeps_only_document_metadata(session, settings):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)

    assert player.confirm_status == "PENDING"
    doc = case.documents[0]
    assert doc["numberLast4"] == "T471"
    assert "C01X00T471" not in str(case.documents)
    assert len(doc["numberHash"]) == 64
    history = (await session.execute(select(KycCaseEvent))).scalars().all()
    assert [(h.action, h.to_status) for h in history] == [("submitted", "PENDING")]
    (event,) = await events(session, "kyc.status_changed")
    assert event.data["confirmStatus"] == "PENDING"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (DocumentSubmission("SELFIE", "DE", "AB12345", "2035-01-01"), "documents[0].type"),
        (DocumentSubmission("PASSPORT", "XX", "AB12345", "2035-01-01"), "documents[0].country"),
        (DocumentSubmission("PASSPORT", "DE", "ab-12", "2035-01-01"), "documents[0].number"),
        (DocumentSubmission("PASSPORT", "DE", "AB12345", "2001-01-01"), "documents[0].expiry"),
        (DocumentSubmission("PASSPORT", "DE", "AB12345", "tomorrow"), "documents[0].expiry"),
    ],
)
async def test_invalid_documents_are_rejected_and_nothing_changes(session, settings, doc, field):
    player = await create_player(session, settings)

    with pytest.raises(ValidationFailed) as exc:
        await open_case(session, settings, player, [doc])

    assert exc.value.problems[0].field == field
    assert (await session.execute(select(func.count()).select_from(KycCase))).scalar_one() == 0
    await session.refresh(player)
    assert player.confirm_status == "UNVERIFIED"


async def test_second_submit_while_pending_is_refused(session, settings):
    player = await create_player(session, settings)
    await open_case(session, settings, player)

    with pytest.raises(KycCaseOpen):
        await open_case(session, settings, player)


@pytest.mark.parametrize(
    ("outcome", "kw", "status", "risk"),
    [
        ("verified", {"score": 10}, "VERIFIED", "LOW"),
        ("verified", {"score": 45}, "VERIFIED", "MEDIUM"),
        ("verified", {"score": 10, "pep": True}, "VERIFIED", "HIGH"),
        ("verified", {"score": 10, "sanctions": True}, "MANUAL_REVIEW", "HIGH"),
        ("rejected", {"score": 80, "reasons": ["DOCUMENT_INVALID"]}, "REJECTED", "HIGH"),
        ("review", {"score": 20}, "MANUAL_REVIEW", "LOW"),
    ],
)
async def test_provider_result_sets_status_and_risk(session, settings, outcome, kw, status, risk):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)

    updated, changed = await service.apply_provider_result(
        session, "sandbox", result(case, outcome, **kw), settings
    )

    assert changed
    assert (updated.status, player.confirm_status, player.risk_level) == (status, status, risk)
    event = (await events(session, "kyc.status_changed"))[-1]
    assert event.data == {
        "playerId": str(player.id), "caseId": str(case.id), "confirmStatus": status,
        "riskLevel": risk, "reasons": updated.reasons,
    }  # fmt: skip
    audited = (await session.execute(text(
        "SELECT actor, target, details FROM audit_log WHERE action = 'kyc.provider_result'"
    ))).one()  # fmt: skip
    assert audited.target == str(player.id)
    assert (audited.details["from"], audited.details["to"]) == ("PENDING", status)


async def test_high_risk_country_raises_risk(session, settings):
    player = await create_player(session, settings, country="YE")
    case = await open_case(session, settings, player)

    await service.apply_provider_result(session, "sandbox", result(case, score=5), settings)

    assert player.risk_level == "HIGH"


async def test_repeated_and_late_callbacks_do_not_regress_a_final_status(session, settings):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)
    await service.apply_provider_result(session, "sandbox", result(case, "verified"), settings)

    _, again = await service.apply_provider_result(session, "sandbox", result(case), settings)
    _, late = await service.apply_provider_result(
        session, "sandbox", result(case, "rejected"), settings
    )

    assert (again, late) == (False, False)
    assert player.confirm_status == "VERIFIED"
    assert len(await events(session, "kyc.status_changed")) == 2  # PENDING, VERIFIED


async def test_callback_for_unknown_case_or_other_check_is_not_found(session, settings):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)
    case.provider_ref = "chk_real"

    for bad in (
        ProviderResult(str(uuid.uuid4()), "chk_real", "verified"),
        ProviderResult("not-a-uuid", "chk_real", "verified"),
        ProviderResult(str(case.id), "chk_forged", "verified"),
    ):
        with pytest.raises(NotFound):
            await service.apply_provider_result(session, "sandbox", bad, settings)
    assert player.confirm_status == "PENDING"


async def test_review_decides_a_manual_review_case(session, settings):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)
    await service.apply_provider_result(session, "sandbox", result(case, "review"), settings)

    await service.review_case(
        session, case.id, "APPROVE", "documents fine", actor="staff:c1", settings=settings
    )

    assert (case.status, player.confirm_status, case.reviewed_by) == (
        "VERIFIED", "VERIFIED", "staff:c1",
    )  # fmt: skip
    history = (await session.execute(select(KycCaseEvent).order_by(KycCaseEvent.id))).scalars()
    assert [(h.action, h.from_status, h.to_status) for h in history] == [
        ("submitted", None, "PENDING"),
        ("provider_result", "PENDING", "MANUAL_REVIEW"),
        ("reviewed", "MANUAL_REVIEW", "VERIFIED"),
    ]
    with pytest.raises(CaseNotReviewable):
        await service.review_case(session, case.id, "REJECT", "x", actor="s", settings=settings)
    with pytest.raises(AlreadyVerified):
        await open_case(session, settings, player)


async def test_review_needs_a_note_and_a_known_decision(session, settings):
    player = await create_player(session, settings)
    case = await open_case(session, settings, player)
    await service.apply_provider_result(session, "sandbox", result(case, "review"), settings)

    for decision, note in (("APPROVE", "  "), ("MAYBE", "hm")):
        with pytest.raises(ValidationFailed):
            await service.review_case(session, case.id, decision, note, actor="s",
                                      settings=settings)  # fmt: skip
    assert case.status == "MANUAL_REVIEW"


async def test_require_verified(session, settings):
    player = await create_player(session, settings)
    with pytest.raises(VerificationRequired) as exc:
        await service.require_verified(session, player.id)
    assert exc.value.code == "VERIFICATION_REQUIRED"
    with pytest.raises(NotFound):
        await service.require_verified(session, uuid.uuid4())

    case = await open_case(session, settings, player)
    await service.apply_provider_result(session, "sandbox", result(case), settings)
    await service.require_verified(session, player.id)


# --- the HTTP callback endpoint --------------------------------------------------------


@pytest.fixture
async def kyc_client(settings, db):
    app = create_app(with_provider(settings), database=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pms.test"
    ) as http:
        yield http


async def pending_case(db, settings):
    player = await create_player(db, settings)
    async with db.transaction() as session:
        case = await open_case(session, settings, player)
        case.provider_ref = "chk_1"
    return player, case


async def status_of(db, player_id):
    async with db.read_session() as s:
        return (await s.execute(select(Player.confirm_status).where(Player.id == player_id))).one()


def payload(case, outcome="verified"):
    return {"reference": str(case.id), "checkId": "chk_1", "outcome": outcome, "score": 12}


async def test_signed_callback_is_applied_once(kyc_client, db, settings):
    player, case = await pending_case(db, settings)
    body, headers = signed(payload(case))

    first = await kyc_client.post("/kyc/callbacks/sandbox", content=body, headers=headers)
    replay = await kyc_client.post("/kyc/callbacks/sandbox", content=body, headers=headers)

    assert (first.status_code, first.json()["applied"]) == (200, True)
    assert (replay.status_code, replay.json()["applied"]) == (200, False)
    assert (await status_of(db, player.id))[0] == "VERIFIED"


@pytest.mark.parametrize("forgery", ["wrong_secret", "tampered_body", "stale", "no_headers"])
async def test_forged_or_stale_callback_is_401_and_changes_nothing(
    kyc_client, db, settings, forgery
):
    player, case = await pending_case(db, settings)
    body, headers = signed(payload(case))
    if forgery == "wrong_secret":
        body, headers = signed(payload(case), secret="guess")
    elif forgery == "tampered_body":
        body = body.replace(b"verified", b"rejected")
    elif forgery == "stale":
        body, headers = signed(payload(case), at=time.time() - 3600)
    else:
        headers = {"content-type": "application/json"}

    response = await kyc_client.post("/kyc/callbacks/sandbox", content=body, headers=headers)

    assert response.status_code == 401
    assert (await status_of(db, player.id))[0] == "PENDING"


async def test_callback_for_unknown_provider_or_case_is_404(kyc_client, db, settings):
    _, case = await pending_case(db, settings)
    body, headers = signed(payload(case))
    unknown_provider = await kyc_client.post("/kyc/callbacks/acme", content=body, headers=headers)
    body, headers = signed({**payload(case), "reference": str(uuid.uuid4())})
    unknown_case = await kyc_client.post("/kyc/callbacks/sandbox", content=body, headers=headers)
    body, headers = signed({"reference": str(case.id)})
    malformed = await kyc_client.post("/kyc/callbacks/sandbox", content=body, headers=headers)

    assert (unknown_provider.status_code, unknown_case.status_code) == (404, 404)
    assert malformed.status_code == 400


def test_document_expiry_today_is_expired():
    from app.kyc.validation import document_problems

    doc = DocumentSubmission("PASSPORT", "DE", "AB12345", "2030-01-01")
    assert document_problems([doc], date(2030, 1, 1))[0].field == "documents[0].expiry"
