"""KYC end to end over real HTTP: PMS served by uvicorn (`pms serve`) and the sandbox vendor
(`pms kyc-sandbox`) as two real processes; the vendor calls PMS back with signed results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import select, text

from app.kyc.models import KycCase
from tests.auth import player_principal, token_for
from tests.e2e.test_serve_lifecycle import free_port
from tests.factories import create_player
from tests.kyc_helpers import API_KEY, SECRET, with_provider

SUBMIT = """
mutation($p: ID!, $d: [KycDocumentInput!]!) {
  submitKyc(playerId: $p, documents: $d) {
    __typename
    ... on SubmitKycSuccess {
      case { id status providerRef documents { numberLast4 providerDocumentRef } }
    }
    ... on UserError { code message }
  }
}
"""
STATUS = """query($p: ID!) {
  player(id: $p) { confirmStatus riskLevel kycCases { id status reasons pep score } }
}"""
REVIEW = """
mutation($c: ID!) { reviewKyc(caseId: $c, decision: APPROVE, note: "checked by hand") {
  __typename ... on ReviewKycSuccess { case { status reviewedBy } } } }
"""


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90  # a loaded CI machine imports slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{cmd} did not start")


@pytest.fixture
def servers(settings, db):
    pms_port, vendor_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    providers = {"sandbox": {"base_url": f"http://127.0.0.1:{vendor_port}", "api_key": API_KEY,
                             "callback_secret": SECRET}}  # fmt: skip
    pms_env = {**env, "PMS_DATABASE_URL": settings.database_url, "PMS_ENV": "test",
               "PMS_RUN_BACKGROUND_TASKS": "false",
               "PMS_KYC_PROVIDERS": json.dumps(providers)}  # fmt: skip
    cli = [sys.executable, "-m", "pms"]
    procs = [
        start([*cli, "serve", "--port", str(pms_port)], pms_env, pms_port),
        start([*cli, "kyc-sandbox", "--port", str(vendor_port), "--secret", SECRET,
               "--api-key", API_KEY, "--delay", "0.2",
               "--callback-url", f"http://127.0.0.1:{pms_port}/kyc/callbacks/sandbox"],
              env, vendor_port),
    ]  # fmt: skip
    try:
        yield f"http://127.0.0.1:{pms_port}", f"http://127.0.0.1:{vendor_port}"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


async def wait_decided(http: httpx.AsyncClient, player_id: str, headers: dict) -> dict:
    for _ in range(100):
        body = (
            await http.post(
                "/graphql", json={"query": STATUS, "variables": {"p": player_id}}, headers=headers
            )
        ).json()
        if body["data"]["player"]["confirmStatus"] != "PENDING":
            return body["data"]["player"]
        await _sleep(0.1)
    raise AssertionError("no provider result arrived")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.mark.timeout_sensitive
async def test_sandbox_vendor_decides_by_test_data_over_real_http(servers, db, settings, auth):
    pms_url, vendor_url = servers
    compliance = await auth.staff_headers("COMPLIANCE")
    numbers = {"verified": "AB1234121", "rejected": "AB1234120", "review": "AB1234129",
               "pep": "PEP1234751"}  # fmt: skip
    players = {k: str((await create_player(db, settings)).id) for k in numbers}
    async with httpx.AsyncClient(base_url=pms_url, timeout=10) as http:
        for key, number in numbers.items():
            doc = {"type": "PASSPORT", "country": "DE", "number": number, "expiry": "2034-05-01"}
            body = (await http.post("/graphql", json={"query": SUBMIT,
                    "variables": {"p": players[key], "d": [doc]}},
                    headers=await auth.player_headers(players[key]))).json()  # fmt: skip
            submitted = body["data"]["submitKyc"]
            assert submitted["__typename"] == "SubmitKycSuccess", body
            assert submitted["case"]["status"] == "PENDING"
            assert submitted["case"]["providerRef"].startswith("chk_")
            assert submitted["case"]["documents"][0]["providerDocumentRef"].startswith("doc_")

        decided = {k: await wait_decided(http, pid, compliance) for k, pid in players.items()}

        assert decided["verified"]["confirmStatus"] == "VERIFIED"
        assert decided["verified"]["riskLevel"] == "LOW"
        assert decided["rejected"]["confirmStatus"] == "REJECTED"
        assert decided["rejected"]["kycCases"][0]["reasons"] == ["DOCUMENT_INVALID"]
        assert decided["review"]["confirmStatus"] == "MANUAL_REVIEW"
        assert (decided["pep"]["confirmStatus"], decided["pep"]["riskLevel"]) == (
            "VERIFIED",
            "HIGH",
        )
        assert decided["pep"]["kycCases"][0]["score"] == 75

        case_id = decided["review"]["kycCases"][0]["id"]
        reviewed = (
            await http.post(
                "/graphql", json={"query": REVIEW, "variables": {"c": case_id}}, headers=compliance
            )
        ).json()
        assert reviewed["data"]["reviewKyc"]["case"]["status"] == "VERIFIED"
        reviewed_player = await wait_decided(http, players["review"], compliance)
        assert reviewed_player["confirmStatus"] == "VERIFIED"

    # The vendor saw the full number; PMS kept only metadata.
    async with db.read_session() as s:
        stored = (await s.execute(text("SELECT documents::text FROM kyc_cases"))).scalars().all()
        cases = (await s.execute(select(KycCase))).scalars().all()
    assert not any(n in doc for n in numbers.values() for doc in stored)
    async with httpx.AsyncClient() as http:
        check = (await http.get(f"{vendor_url}/checks/{cases[0].provider_ref}")).json()
    assert check["callbackStatus"] == 200


async def test_unreachable_provider_is_a_typed_error_and_status_is_restored(settings, db):
    from pms.asgi import create_app

    app = create_app(with_provider(settings, base_url=f"http://127.0.0.1:{free_port()}"),
                     database=db)  # fmt: skip
    player = await create_player(db, settings)
    mine = {"authorization": f"Bearer {await token_for(app, player_principal(player))}"}
    doc = {"type": "PASSPORT", "country": "DE", "number": "AB1234121", "expiry": "2034-05-01"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=mine
    ) as h:
        body = (await h.post("/graphql", json={"query": SUBMIT,
                "variables": {"p": str(player.id), "d": [doc]}})).json()  # fmt: skip
        status = (await h.post("/graphql", json={"query": STATUS,
                  "variables": {"p": str(player.id)}})).json()  # fmt: skip

    assert body["data"]["submitKyc"]["code"] == "KYC_PROVIDER_UNAVAILABLE"
    player_now = status["data"]["player"]
    assert player_now["confirmStatus"] == "UNVERIFIED"
    assert player_now["kycCases"][0]["status"] == "FAILED"
