"""Client settings checked at construction: request timeout and the async TLS context."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from saltant_provider.client import AsyncClient, Client, InvalidRequestError


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "30", None])
def test_request_timeout_must_be_finite_positive_seconds(bad: object) -> None:
    for cls in (Client, AsyncClient):
        with pytest.raises(InvalidRequestError, match="default_timeout must be a finite"):
            cls("http://127.0.0.1:9/api/", "abc", default_timeout=bad)  # type: ignore[arg-type]


def test_async_tls_context_is_built_once_per_setting(tmp_path: Path) -> None:
    """A triggerer starting many async clients must not rebuild (and block on) a TLS context."""
    from saltant_provider.client.aio import _ssl_verify
    from saltant_provider.testing.tls import generate_self_signed_cert

    assert _ssl_verify(True) is _ssl_verify(True)
    assert _ssl_verify(False) is _ssl_verify(False)
    assert _ssl_verify(False).verify_mode == ssl.CERT_NONE
    assert _ssl_verify(True).verify_mode == ssl.CERT_REQUIRED
    cert, _key = generate_self_signed_cert(tmp_path)
    first = _ssl_verify(str(cert))
    assert first is _ssl_verify(str(cert)) and first is not _ssl_verify(True)
    stat = os.stat(cert)
    os.utime(cert, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert _ssl_verify(str(cert)) is not first  # a renewed CA file is read again
