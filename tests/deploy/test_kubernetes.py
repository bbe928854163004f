"""deploy/base (kustomize): schema-valid for a pinned Kubernetes version, the probes,
resources and autoscaling an operator needs, and only settings that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import ROOT, load_yaml, pms_names, setting_names

KUBERNETES_VERSION = "1.33.0"  # the oldest version the manifests must work on
BASE = ROOT / "deploy" / "base"
# runAsNonRoot needs a numeric USER in the image; the pods run as that uid.
IMAGE_UID = int(re.search(r"^USER (\d+):", (ROOT / "Dockerfile").read_text(), re.M)[1])
# Settings a production pod cannot run without: every pod must get each of them.
REQUIRED = {
    "PMS_ENV", "PMS_DATABASE_URL", "PMS_REDIS_URL", "PMS_AMQP_URL", "PMS_SECRET_KEY",
    "PMS_KYC_DOCUMENT_HASH_KEY",
}  # fmt: skip


def rendered() -> list[dict[str, Any]]:
    """`kubectl kustomize` output when kubectl is here; else the listed resources."""
    if shutil.which("kubectl"):
        out = subprocess.run(
            ["kubectl", "kustomize", str(BASE)], check=True, capture_output=True, text=True
        ).stdout
        return [d for d in yaml.safe_load_all(out) if d]
    (kustomization,) = load_yaml(BASE / "kustomization.yaml")
    return [d for name in kustomization["resources"] for d in load_yaml(BASE / name)]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in rendered() if d["kind"] == kind]


def pod_specs() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in rendered()
        if d["kind"] in ("Deployment", "Job")
    }


def test_every_manifest_is_valid_for_the_pinned_kubernetes() -> None:
    docs = rendered() + load_yaml(BASE / "secret.example.yaml")
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Job", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ConfigMap", "Secret"} <= kinds  # fmt: skip
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_manifest() -> None:
    (deployment,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "pms"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {
        "not": "a port"
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_pms_name_is_a_setting() -> None:
    names = pms_names(rendered()) | pms_names(load_yaml(BASE / "secret.example.yaml"))
    assert names >= REQUIRED
    assert names - setting_names() == set()


def test_every_pod_gets_every_required_setting() -> None:
    (config,) = by_kind("ConfigMap")
    (secret,) = load_yaml(BASE / "secret.example.yaml")
    for name, spec in pod_specs().items():
        for container in spec.get("initContainers", []) + spec["containers"]:
            provided = set()
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == config["metadata"]["name"]
                provided |= set(config["data"])
            for var in container.get("env", []):
                provided.add(var["name"])
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:  # the template documents every key the pods read
                    assert ref["name"] == secret["metadata"]["name"]
                    assert ref["key"] in secret["stringData"], ref
            assert provided >= REQUIRED, (name, container["name"], REQUIRED - provided)
            assert container["image"].startswith("registry.example.com/pms:")
            assert container["resources"]["requests"] and container["resources"]["limits"]
            # Read-only root, non-root: the one writable place is an emptyDir at /tmp.
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == IMAGE_UID


def test_api_worker_and_migrate_run_the_pms_command() -> None:
    specs = pod_specs()
    assert specs["pms"]["containers"][0]["args"] == ["serve"]
    assert specs["pms-worker"]["containers"][0]["args"] == ["worker"]
    assert specs["pms-migrate"]["initContainers"][0]["args"] == ["migrate"]
    assert specs["pms-migrate"]["containers"][0]["args"] == ["bus", "declare"]
    api = specs["pms"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["PMS_RUN_BACKGROUND_TASKS"] == "false"  # the worker runs them


def test_autoscaling_and_disruption_budget_target_the_api() -> None:
    (hpa,) = by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "pms"
    assert hpa["spec"]["minReplicas"] >= 2
    budgets = {p["metadata"]["name"]: p for p in by_kind("PodDisruptionBudget")}
    api_labels = next(
        d["spec"]["template"]["metadata"]["labels"]
        for d in by_kind("Deployment")
        if d["metadata"]["name"] == "pms"
    )
    selector = budgets["pms"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= api_labels.items()
    (service,) = by_kind("Service")
    assert service["spec"]["selector"].items() <= api_labels.items()
