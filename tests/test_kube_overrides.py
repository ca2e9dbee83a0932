"""The connection flags over a kubeconfig cluster and user, as client-go's DirectClientConfig.getCluster and
getAuthInfo merge ConfigOverrides (docs/rules.md#r-kubectl-flags): a table, one row per rule."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kubectl_ds.kube.config import KubeFlags, overridden_cluster, overridden_user

CLUSTER = {"server": "https://old:6443", "certificate-authority-data": "Q0E=", "tls-server-name": "old"}
USER = {"token": "t", "exec": {"command": "login"}, "client-certificate-data": "Yw==", "client-key-data": "aw=="}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(KubeFlags(), CLUSTER, id="no-flags-no-change"),
        pytest.param(
            KubeFlags(server="https://new:6443"),
            {"server": "https://new:6443", "certificate-authority-data": "Q0E="},
            id="server-drops-the-old-tls-server-name",
        ),
        pytest.param(
            KubeFlags(server="https://new:6443", tls_server_name="api"),
            {"server": "https://new:6443", "certificate-authority-data": "Q0E=", "tls-server-name": "api"},
            id="server-with-tls-server-name",
        ),
        pytest.param(
            KubeFlags(insecure_skip_tls_verify=True),
            {"server": "https://old:6443", "tls-server-name": "old", "insecure-skip-tls-verify": True},
            id="insecure-drops-the-ca-data",
        ),
        pytest.param(
            KubeFlags(certificate_authority="/etc/ca.crt"),
            {"server": "https://old:6443", "tls-server-name": "old", "certificate-authority": "/etc/ca.crt"},
            id="ca-file-replaces-the-ca-data",
        ),
    ],
)
def test_cluster_overrides(flags: KubeFlags, expected: dict[str, Any]) -> None:
    assert overridden_cluster(CLUSTER, flags) == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(KubeFlags(), USER, id="no-flags-no-change"),
        pytest.param(
            KubeFlags(token="new"),
            {"token": "new", "client-certificate-data": "Yw==", "client-key-data": "aw=="},
            id="token-replaces-token-and-plugins",
        ),
        pytest.param(
            KubeFlags(client_certificate="/c.crt", client_key="/c.key"),
            {"token": "t", "exec": {"command": "login"}, "client-certificate": "/c.crt", "client-key": "/c.key"},
            id="certificate-files-replace-the-data",
        ),
    ],
)
def test_user_overrides(flags: KubeFlags, expected: dict[str, Any]) -> None:
    assert overridden_user(USER, flags) == expected


def test_relative_flag_paths_are_taken_from_the_working_directory() -> None:
    assert overridden_user({}, KubeFlags(client_key="k.pem"))["client-key"] == os.path.abspath("k.pem")


@pytest.mark.parametrize(
    ("flags", "headers"),
    [
        pytest.param(KubeFlags(), (("Accept-Encoding", "gzip"),), id="gzip-by-default"),
        pytest.param(KubeFlags(disable_compression=True), (), id="disable-compression"),
        pytest.param(
            KubeFlags(disable_compression=True, impersonate="a", impersonate_groups=("g1", "g2"), impersonate_uid="u"),
            (
                ("Impersonate-User", "a"),
                ("Impersonate-Group", "g1"),
                ("Impersonate-Group", "g2"),
                ("Impersonate-Uid", "u"),
            ),
            id="one-header-per-group",
        ),
    ],
)
def test_request_headers(flags: KubeFlags, headers: tuple[tuple[str, str], ...]) -> None:
    assert flags.request_headers() == headers
