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

# A second CA, for client certificates (the API server's --client-ca-file), and one client certificate it
# signed: CN=alice, O=devs, which the server authenticates as user "alice" in group "devs", as kube-apiserver's
# x509 authenticator does. Made for these tests with openssl; the key protects nothing but tests.
CLIENT_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBijCCATGgAwIBAgICEAAwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYZmFrZS1h
cGlzZXJ2ZXItY2xpZW50LWNhMCAXDTI2MTIwMTE4MTMyNFoYDzIxMjYxMTA3MTgx
MzI0WjAjMSEwHwYDVQQDDBhmYWtlLWFwaXNlcnZlci1jbGllbnQtY2EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQJaNrXs970vb0H+2eMz8RB8k+lxz/mYEBHRxPQ
SVGwRat9CSgFJXTQb7rcaOAWbWo+5x7OLSOB85/y+aMpXmtHo1MwUTAdBgNVHQ4E
FgQU3mRJZJTHOhYxAJOumBulDf/s5cMwHwYDVR0jBBgwFoAU3mRJZJTHOhYxAJOu
mBulDf/s5cMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiArdfFc
JY8BW5JiZjjN2Zaa/w4Z4yy7gfeZz0jy8r2SZQIgbNvR+qNwQ1LZYuKidXwI0cKP
JkErjOSPcjLfgc138KE=
-----END CERTIFICATE-----
"""
CLIENT_CERT_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgICEAEwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYZmFrZS1h
cGlzZXJ2ZXItY2xpZW50LWNhMCAXDTI2MTIwMTE4MTMyNFoYDzIxMjYxMTA3MTgx
MzI0WjAfMQ0wCwYDVQQKDARkZXZzMQ4wDAYDVQQDDAVhbGljZTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABJbHd98JnvH1Bs9MBlKxdYj4vKMXpjSIdO5PsaHtfg7W
DptnXxcJVdbxdKy0U4Av0k7DiFSjSB2aVZphUBwturWjZzBlMBMGA1UdJQQMMAoG
CCsGAQUFBwMCMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUWmeE3uz064jfOBt1
KNHRbUQoBj8wHwYDVR0jBBgwFoAU3mRJZJTHOhYxAJOumBulDf/s5cMwCgYIKoZI
zj0EAwIDSQAwRgIhAKPSRvgSPP9MskYbHOe3om/SUgmeI+5smGst8g0HVmKfAiEA
9APDTKeTn28NDqaC0zcmEWeeDLSvr8B66LRJ8gAjCLM=
-----END CERTIFICATE-----
"""
CLIENT_KEY_PEM = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZppiJfG0jqnqYto0
25nWsyjOPCsUZ8iEiUe8HOPFnUKhRANCAASWx3ffCZ7x9QbPTAZSsXWI+LyjF6Y0
iHTuT7Gh7X4O1g6bZ18XCVXW8XSstFOAL9JOw4hUo0gdmlWaYVAcLbq1
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
    # Ask for a client certificate but do not require one (tokens work too), as kube-apiserver does.
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=CLIENT_CA_PEM)
    return context


def certificate_user(peer: dict[str, object] | None) -> tuple[str, tuple[str, ...]] | None:
    """The user (CN) and groups (O) of a verified client certificate, or None without one."""
    if not peer:
        return None
    fields = [pair for rdn in peer.get("subject") or () for pair in rdn]  # type: ignore[attr-defined]
    names = [str(value) for key, value in fields if key == "commonName"]
    groups = tuple(str(value) for key, value in fields if key == "organizationName")
    return (names[0], groups) if names else None
