"""The launchers of `deploy/`, read as their schedulers would: the environment each pod or task
gets. Shared by tests/test_deploy.py and the 2-worker launch test."""

from __future__ import annotations

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")


def load_yaml(name: str) -> list[dict]:
    with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
        return [document for document in yaml.safe_load_all(f) if document]


def of_kind(documents: list[dict], kind: str) -> dict:
    (found,) = [document for document in documents if document["kind"] == kind]
    return found


def container_env(container: dict, labels: dict[str, str]) -> dict[str, str]:
    """The container's `env`, with downward-API label references filled from `labels`."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        path = item["valueFrom"]["fieldRef"]["fieldPath"]
        match = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
        assert match, f"unsupported fieldRef {path!r}"
        env[item["name"]] = labels[match.group(1)]
    return env


def indexed_job_pod_env(index: int) -> dict[str, str]:
    """What pod `index` of deploy/kubernetes/indexed-job.yaml gets from Kubernetes."""
    job = of_kind(load_yaml("kubernetes/indexed-job.yaml"), "Job")
    name = job["metadata"]["name"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    labels = {"job-name": name, "batch.kubernetes.io/job-name": name}
    return {**container_env(container, labels), "JOB_COMPLETION_INDEX": str(index),
            "HOSTNAME": f"{name}-{index}"}
