"""docker-compose.yml, the Dockerfile and .dockerignore as shipped (Docker itself is not
needed: the structure, the settings they name and the secrets are checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import ROOT, load_yaml, pms_names, setting_names

IMAGE_PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def compose() -> dict:
    (doc,) = load_yaml(ROOT / "docker-compose.yml")
    return doc


def test_every_pms_variable_in_compose_is_a_setting() -> None:
    names = pms_names(compose())
    assert {"PMS_DATABASE_URL", "PMS_SECRET_KEY", "PMS_AMQP_URL", "PMS_REDIS_URL"} <= names
    assert names - setting_names() == set()


def test_services_order_restart_and_readiness() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "rabbitmq", "migrate", "app", "worker"} <= set(services)
    assert services["app"]["deploy"]["replicas"] == 2
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["restart"] == "unless-stopped"
    assert services["migrate"]["restart"] == "no"
    assert "pms migrate" in " ".join(services["migrate"]["entrypoint"])
    assert services["worker"]["command"] == ["worker"]
    assert services["app"]["command"] == ["serve"]
    assert "/readyz" in " ".join(services["app"]["healthcheck"]["test"])
    for infra in ("postgres", "redis", "rabbitmq"):
        assert services[infra]["healthcheck"]["test"]
        assert services[infra]["restart"] == "unless-stopped"


def test_secrets_are_required_not_defaulted() -> None:
    """Each secret is ${NAME:?...}: compose refuses to start without .env."""
    text = (ROOT / "docker-compose.yml").read_text()
    generated = set(re.findall(r"^([A-Z_]+)=", _generated_env(), re.M))
    for name in generated:
        assert f"${{{name}:?" in text, name
        assert f"${{{name}:-" not in text, name
    assert "guest" not in text and "pms:pms@" not in text  # no well-known credentials


def _generated_env() -> str:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("make_env", ROOT / "deploy" / "make_env.py")
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render()


def test_make_env_writes_random_secrets_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    script = str(ROOT / "deploy" / "make_env.py")
    subprocess.run([sys.executable, script, str(target)], check=True, capture_output=True)
    first = target.read_text()
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line)
    assert set(values) == {
        "POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD", "SECRET_KEY",
        "KYC_DOCUMENT_HASH_KEY",
    }  # fmt: skip
    assert all(len(v) >= 40 for v in values.values())
    assert len(set(values.values())) == len(values)
    assert target.stat().st_mode & 0o077 == 0
    subprocess.run([sys.executable, script, str(target)], check=True, capture_output=True)
    assert target.read_text() == first  # never overwritten
    # No PMS_ names: a local `make run` reads .env too and must not take these.
    assert not any(name.startswith("PMS_") for name in values)


def test_images_are_pinned() -> None:
    images = [s["image"] for s in compose()["services"].values() if "image" in s]
    dockerfile = (ROOT / "Dockerfile").read_text()
    images += re.findall(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, re.M)
    assert len(images) >= 6
    for image in images:
        if image == "pms:local":
            continue
        assert IMAGE_PINNED.match(image) and ":latest" not in image, image


def test_dockerfile_installs_from_lock_without_embedded_or_dev() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if line.startswith("RUN uv sync")]
    assert len(installs) == 2
    for line in installs:
        assert "--frozen" in line and "--no-dev" in line
        assert "--extra" not in line and "--all-extras" not in line
    assert "pip install ." not in dockerfile
    assert "/readyz" in dockerfile
    assert 'ENTRYPOINT ["pms"]' in dockerfile
    for package in ("app", "schema", "resolvers", "permissions", "pms"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }  # fmt: skip
    for entry in (".venv/", ".pms/", ".git/", "**/__pycache__/", ".pytest_cache/",
                  ".mypy_cache/", ".ruff_cache/", ".env"):  # fmt: skip
        assert entry in ignored, entry
