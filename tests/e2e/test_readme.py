"""Every GraphQL example in README.md works as written (issue 17 item 12): the blocks run
in README order against the app and one database, as the caller the README names for them;
``"…"`` stands for the id of the player registered by the first example. SDL blocks (the
federation example) must parse."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import graphql
import httpx
import pytest

from app.core.settings import KycProviderSettings
from pms.asgi import create_app
from tests.auth import service_principal, staff_principal, token_for
from tests.e2e.test_kyc_sandbox import start
from tests.e2e.test_serve_lifecycle import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)

# Root field -> (caller, the __typename a working example answers). The README says who
# calls each: registration and login are open, money is the game engine's, the rest staff.
EXPECTED = {
    "registerPlayer": (None, "RegisterPlayerSuccess"),
    "players": (staff_principal("ADMIN"), "PlayerConnection"),
    "login": (None, "AuthTokens"),
    "deposit": (service_principal("wallet:operate"), "WalletOperation"),
    "walletBatch": (service_principal("wallet:operate"), "WalletBatchResults"),
    "submitKyc": (staff_principal("ADMIN"), "SubmitKycSuccess"),
    "createSegment": (staff_principal("MARKETER"), "SegmentSuccess"),
    "startErpExport": (staff_principal("FINANCE"), "ExportQueued"),
    "previewSegment": (staff_principal("MARKETER"), "SegmentPreview"),
    "setMarketingConsent": (staff_principal("SUPPORT"), "PlayerConsents"),
    "exportRegulatorBundle": (staff_principal("COMPLIANCE"), "RegulatorExport"),
    "analyticsSeries": (staff_principal("MARKETER"), "AnalyticsSeries"),
    "analyticsCohorts": (staff_principal("MARKETER"), "AnalyticsCohortTable"),
    "analyticsFunnel": (staff_principal("MARKETER"), "AnalyticsFunnel"),
    "saveAlertRule": (staff_principal("COMPLIANCE"), "AlertRule"),
    "alerts": (staff_principal("COMPLIANCE"), "Alert"),
}


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def operations() -> list[str]:
    return [b for b in blocks("graphql") if b.lstrip().startswith(("query", "mutation", "{"))]


def shell_line(prefix: str) -> str:
    (line,) = [ln for b in blocks("sh") for ln in b.splitlines() if ln.startswith(prefix)]
    return line


def readme_kyc_providers(port: int) -> dict[str, KycProviderSettings]:
    """PMS_KYC_PROVIDERS from the README's export line, the vendor on ``port``."""
    value = shlex.split(shell_line("export PMS_KYC_PROVIDERS="))[1].partition("=")[2]
    raw = json.loads(value.replace("127.0.0.1:9100", f"127.0.0.1:{port}"))
    return {name: KycProviderSettings(**conf) for name, conf in raw.items()}


@pytest.fixture
def sandbox():
    """The sandbox vendor, started with the README's command line (another port)."""
    port = free_port()
    args = shlex.split(shell_line(".venv/bin/pms kyc-sandbox").rstrip("&"))[1:]
    args[args.index("--port") + 1] = str(port)
    proc = start([sys.executable, "-m", "pms", *args], {}, port)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_readme_has_the_examples_the_issue_asks_for():
    roots = [graphql.parse(op).definitions[0].selection_set.selections[0].name.value
             for op in operations()]  # fmt: skip
    assert roots == list(EXPECTED)  # every example, in README order
    for sdl in set(blocks("graphql")) - set(operations()):
        graphql.parse(sdl)  # the partner-subgraph SDL is valid SDL


def test_readme_headings_are_unique():
    """One section per subject (two "Security" sections drifted apart once)."""
    headings = [ln for ln in README.read_text().splitlines() if ln.startswith("## ")]
    assert len(headings) == len(set(headings)), sorted(h for h in headings
                                                       if headings.count(h) > 1)  # fmt: skip


async def test_every_graphql_example_runs_as_written(settings, db, sandbox):
    app = create_app(settings.model_copy(update={"kyc_providers": readme_kyc_providers(sandbox)}),
                     database=db)  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    player_id = None
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        for document in operations():
            root = graphql.parse(document).definitions[0].selection_set.selections[0].name.value
            principal, typename = EXPECTED[root]
            headers = {}
            if principal is not None:
                headers["authorization"] = f"Bearer {await token_for(app, principal)}"
            query = document.replace('"…"', json.dumps(player_id or ""))
            body = (await http.post("/graphql", json={"query": query}, headers=headers)).json()

            assert "errors" not in body, (root, body)
            for field, answer in body["data"].items():
                for item in answer if isinstance(answer, list) else [answer]:  # lists: alerts
                    got = item.get("__typename", "PlayerConnection")
                    assert got in (typename, "WalletOperation"), (field, item)
            if root == "registerPlayer":
                player_id = body["data"]["registerPlayer"]["player"]["id"]
            if root == "players":
                assert [e["node"]["id"] for e in body["data"]["players"]["edges"]] == [player_id]
