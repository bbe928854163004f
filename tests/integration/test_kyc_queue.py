"""The staff KYC queue (issue 14, the dashboard's KYC page): cases awaiting a decision,
oldest first, filtered, paged by cursor, each with its age; checked against the rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from tests.kyc_helpers import open_case_with

QUEUE = """query($filter: KycQueueFilter, $first: Int!, $after: String) {
  kycQueue(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { ageSeconds case { id status provider riskLevel createdAt } } } } }"""

AWAITING = """SELECT id::text, status, provider, risk_level, created_at FROM kyc_cases
WHERE status IN ('PENDING', 'MANUAL_REVIEW') ORDER BY created_at, id"""


async def seed_queue(db, settings):
    """Five cases: two PENDING (two providers), two MANUAL_REVIEW (LOW and HIGH risk), one
    VERIFIED, which is decided and so not in the queue."""
    return {
        "pending": await open_case_with(db, settings),
        "review_low": await open_case_with(db, settings, outcome="review", score=20),
        "verified": await open_case_with(db, settings, outcome="verified", score=10),
        "review_high": await open_case_with(
            db, settings, outcome="verified", score=10, sanctions=True
        ),
        "other_provider": await open_case_with(db, settings, provider="other"),
    }


async def awaiting_rows(db):
    async with db.read_session() as session:
        return [tuple(r) for r in (await session.execute(text(AWAITING))).all()]


def nodes(body):
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["kycQueue"]["edges"]]


async def test_queue_lists_the_awaiting_cases_oldest_first_with_their_age(db, settings, gql, auth):
    cases = await seed_queue(db, settings)
    headers = await auth.staff_headers("COMPLIANCE")
    rows = await awaiting_rows(db)
    assert len(rows) == 4 and str(cases["verified"].id) not in [r[0] for r in rows]

    body = await gql(QUEUE, {"first": 20}, **headers)
    listed = nodes(body)
    now = datetime.now(UTC)
    assert [(n["case"]["id"], n["case"]["status"], n["case"]["provider"], n["case"]["riskLevel"])
            for n in listed] == [r[:4] for r in rows]  # fmt: skip
    assert body["data"]["kycQueue"]["totalCount"] == 4
    for node, row in zip(listed, rows, strict=True):
        expected_age = (now - row[4]).total_seconds()
        assert 0 <= node["ageSeconds"] <= expected_age + 1
        assert node["ageSeconds"] >= expected_age - 5
    ages = [n["ageSeconds"] for n in listed]
    assert ages == sorted(ages, reverse=True)  # oldest first


async def test_cursor_pages_cover_the_queue_once(db, settings, gql, auth):
    await seed_queue(db, settings)
    headers = await auth.staff_headers("COMPLIANCE")
    seen, after, pages = [], None, 0
    while True:
        body = await gql(QUEUE, {"first": 3, "after": after}, **headers)
        queue = body["data"]["kycQueue"]
        seen += [n["case"]["id"] for n in nodes(body)]
        assert queue["totalCount"] == 4 and queue["pageInfo"]["hasPreviousPage"] == (pages > 0)
        pages += 1
        if not queue["pageInfo"]["hasNextPage"]:
            break
        after = queue["pageInfo"]["endCursor"]
    assert pages == 2
    assert seen == [r[0] for r in await awaiting_rows(db)]


async def test_filters_by_status_provider_and_risk(db, settings, gql, auth):
    cases = await seed_queue(db, settings)
    headers = await auth.staff_headers("COMPLIANCE")

    async def ids(flt):
        body = await gql(QUEUE, {"first": 20, "filter": flt}, **headers)
        assert body["data"]["kycQueue"]["totalCount"] == len(nodes(body))
        return [n["case"]["id"] for n in nodes(body)]

    assert await ids({"status": "MANUAL_REVIEW"}) == [
        str(cases["review_low"].id), str(cases["review_high"].id)]  # fmt: skip
    assert await ids({"status": "PENDING", "provider": "sandbox"}) == [str(cases["pending"].id)]
    assert await ids({"provider": "other"}) == [str(cases["other_provider"].id)]
    assert await ids({"riskLevel": "HIGH"}) == [str(cases["review_high"].id)]
    assert await ids({"provider": "nobody"}) == []


async def test_a_decided_status_or_a_foreign_cursor_is_refused(db, settings, gql, auth):
    await seed_queue(db, settings)
    headers = await auth.staff_headers("COMPLIANCE")

    decided = await gql(QUEUE, {"first": 5, "filter": {"status": "VERIFIED"}}, **headers)
    assert decided["data"] is None
    assert "only PENDING or MANUAL_REVIEW" in decided["errors"][0]["message"]

    foreign = await gql(QUEUE, {"first": 5, "after": "WzFd"}, **headers)  # base64 of [1]
    assert foreign["data"] is None and "invalid cursor" in foreign["errors"][0]["message"]


async def test_the_queue_needs_kyc_read(db, settings, gql, auth):
    await seed_queue(db, settings)
    body = await gql(QUEUE, {"first": 5}, **await auth.staff_headers("MARKETER"))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
