"""The TLS side of the test API server: a CA and a serving certificate made for these tests."""

from __future__ import annotations

import os
import ssl
import tempfile

# A CA and a serving certificate for IP 127.0.0.1 and localhost, valid 2000-2100, made for this fixture
# (as Go's httptest embeds one). kubectl only sends credentials over TLS, so kubeconfigs written with
# tls=True point at https:// on the same port and trust this CA. The key protects nothing but tests.
TEST_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgICEAAwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRZmFrZS1h
cGlzZXJ2ZXItY2EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBwx
GjAYBgNVBAMMEWZha2UtYXBpc2VydmVyLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEXJVs2cLIZPtzRrOTzmnpiwKzcXNtfLKHA0P13I7thF/Zv3W1+OndVFcz
d1j7iXRDxhl0qwx2L6KFL2JVoAl5jKNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFJ7ZqPz6JetXXKENj9qW7f5Dj6aDMAoGCCqG
SM49BAMCA0gAMEUCIQCmdgzEdB2p6vtlcOyMyfFBFhyRLtlHNRxaWD3nM/llcQIg
EXQzJ8bdEWtbL7my4NH+Ct1yosYnDER/ysWo5eGvrgU=
-----END CERTIFICATE-----
"""
_TLS_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBuTCCAWCgAwIBAgICEAEwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRZmFrZS1h
cGlzZXJ2ZXItY2EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBkx
FzAVBgNVBAMMDmZha2UtYXBpc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEcdzs2bmE55hYNFcLedwWroJYpjRdLtwridhh0z6M72kF0WIkVSye/L04r6XD
6yCMBf4vubauYgYmfwV5yJlBd6OBkjCBjzAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB
/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzARhwR/AAABggls
b2NhbGhvc3QwHQYDVR0OBBYEFCvhtlZcaryjA5pwQ/jthh0IslDuMB8GA1UdIwQY
MBaAFJ7ZqPz6JetXXKENj9qW7f5Dj6aDMAoGCCqGSM49BAMCA0cAMEQCIAKVefT6
4xYtV9HNk3wXI5HEjfT0xHTOsdkUwvwRMjDOAiAZnIhpn3pcNaTpC4z0hc4BjpJI
yCv2+pT5rG60IE9LKw==
-----END CERTIFICATE-----
"""
_TLS_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3zj5zCRYvNHddkJl
6Muc7bh2y3zAyLUROZW9qEx5k+ehRANCAARx3OzZuYTnmFg0Vwt53BauglimNF0u
3CuJ2GHTPozvaQXRYiRVLJ78vTivpcPrIIwF/i+5tq5iBiZ/BXnImUF3
-----END PRIVATE KEY-----
"""


def tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_alpn_protocols(["http/1.1"])  # Go clients offer h2 first; this server speaks HTTP/1.1
    # load_cert_chain only reads files; they are needed for the duration of the call only.
    with tempfile.TemporaryDirectory(prefix="fake-apiserver-") as directory:
        cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
        for path, text in ((cert, _TLS_CERT_PEM), (key, _TLS_KEY_PEM)):
            with open(path, "w", encoding="ascii") as handle:
                handle.write(text)
        context.load_cert_chain(cert, key)
    return context
