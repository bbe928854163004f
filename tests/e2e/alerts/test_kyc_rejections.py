"""The KYC rejection rate end to end: `pms serve` with its background tasks on, the sandbox
vendor deciding by test document numbers and calling back over signed HTTP; the served
process's own alerts task fires the alert and clears it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

from tests.e2e.alerts.conftest import ALERTS, SAVE_RULE
from tests.e2e.test_kyc_sandbox import SUBMIT
from tests.e2e.test_serve_lifecycle import free_port
from tests.factories import create_player
from tests.kyc_helpers import API_KEY, SECRET

VERIFIED, REJECTED = "AB1234121", "AB1234120"  # the sandbox decides by these


def start(cmd: list[str], env: dict[str, str], port: int, log) -> subprocess.Popen:
    """Output to a file, not a pipe: a served process with its tasks on logs enough to fill
    an unread pipe and block. A shared, loaded machine may need a minute to start it."""
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(log.read().decode(errors="replace"))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{cmd} did not start")


@pytest.fixture
def servers(settings, db):
    pms_port, vendor_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    providers = {"sandbox": {"base_url": f"http://127.0.0.1:{vendor_port}", "api_key": API_KEY,
                             "callback_secret": SECRET}}  # fmt: skip
    pms_env = {**env, "PMS_DATABASE_URL": settings.database_url, "PMS_ENV": "test",
               "PMS_RUN_BACKGROUND_TASKS": "true", "PMS_ALERT_EVALUATE_INTERVAL_SECONDS": "0.3",
               "PMS_KYC_PROVIDERS": json.dumps(providers)}  # fmt: skip
    cli = [sys.executable, "-m", "pms"]
    with tempfile.TemporaryFile() as pms_log, tempfile.TemporaryFile() as vendor_log:
        procs = [start([*cli, "serve", "--port", str(pms_port)], pms_env, pms_port, pms_log)]
        try:
            procs.append(start(
                [*cli, "kyc-sandbox", "--port", str(vendor_port), "--secret", SECRET,
                 "--api-key", API_KEY, "--delay", "0.1",
                 "--callback-url", f"http://127.0.0.1:{pms_port}/kyc/callbacks/sandbox"],
                env, vendor_port, vendor_log,
            ))  # fmt: skip
            yield f"http://127.0.0.1:{pms_port}"
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=15)


@pytest.mark.timeout_sensitive
async def test_kyc_rejection_rate_fires_and_clears_in_the_served_process(servers, db, settings,
                                                                          auth):  # fmt: skip
    compliance = await auth.staff_headers("COMPLIANCE")
    async with httpx.AsyncClient(base_url=servers, timeout=10) as http:

        async def gql(query: str, variables: dict, headers: dict) -> dict:
            body = (await http.post("/graphql", json={"query": query, "variables": variables},
                                    headers=headers)).json()  # fmt: skip
            assert "errors" not in body, body
            return body["data"]

        async def submit(number: str) -> None:
            player = str((await create_player(db, settings)).id)
            doc = {"type": "PASSPORT", "country": "DE", "number": number, "expiry": "2034-05-01"}
            data = await gql(SUBMIT, {"p": player, "d": [doc]}, await auth.player_headers(player))
            assert data["submitKyc"]["__typename"] == "SubmitKycSuccess", data

        async def alert_status(wanted: str) -> dict:
            for _ in range(150):
                alerts = (await gql(ALERTS, {"filter": None}, compliance))["alerts"]
                if alerts and alerts[0]["status"] == wanted:
                    return alerts[0]
                await asyncio.sleep(0.1)
            raise AssertionError(f"no {wanted} alert: {alerts}")

        rule = {"key": "kyc-rejections", "kind": "FAILURE_RATE", "metric": "kyc_rejections",
                "threshold": 40.0, "clearThreshold": 30.0, "windowSeconds": 900,
                "minSamples": 2}  # fmt: skip
        saved = await gql(SAVE_RULE, {"input": rule}, compliance)
        assert saved["saveAlertRule"]["__typename"] == "AlertRule"
        await submit(VERIFIED)
        await submit(REJECTED)
        fired = await alert_status("FIRING")
        assert fired["value"] == 50.0

        await submit(VERIFIED)
        await submit(VERIFIED)
        cleared = await alert_status("RESOLVED")

    assert (cleared["resolvedBy"], cleared["lastValue"]) == ("system", 25.0)
    assert [h["action"] for h in cleared["history"]] == ["FIRED", "CLEARED"]
