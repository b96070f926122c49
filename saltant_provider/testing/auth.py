"""Authentication as the real server does it: DRF token auth plus simplejwt-style JWTs.

Failures are 403 (not 401) because the real server lists session authentication first,
which has no ``WWW-Authenticate`` header; only the token endpoints answer 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from .store import Store

ACCESS_LIFETIME = 5 * 60  # simplejwt defaults
REFRESH_LIFETIME = 24 * 60 * 60

NO_CREDENTIALS = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."


class AuthError(Exception):
    """An authentication failure; ``body`` is the JSON the server answers (403)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("detail", ""))
        self.body = body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """Resolves an ``Authorization`` header to a user row; issues and checks JWTs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Kept in the database so tokens stay valid across restarts with --db.
        self.secret = store.meta("jwt_secret", secrets.token_hex(32)).encode()

    # -- JWT ---------------------------------------------------------------------------------
    def _sign(self, payload: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        sig = hmac.new(self.secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(sig)}"

    def _decode(self, token: str, token_type: str) -> dict[str, Any] | None:
        try:
            header, body, sig = token.split(".")
            want = hmac.new(self.secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(want, _unb64(sig)):
                return None
            payload: dict[str, Any] = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if payload.get("token_type") != token_type or payload.get("exp", 0) < time.time():
            return None
        return payload

    def issue(self, username: str) -> dict[str, str]:
        now = int(time.time())
        base = {"user_id": username, "iat": now}
        refresh = {**base, "token_type": "refresh", "exp": now + REFRESH_LIFETIME,
                   "jti": secrets.token_hex(16)}
        return {"refresh": self._sign(refresh), "access": self.access_for(username)}

    def access_for(self, username: str) -> str:
        now = int(time.time())
        return self._sign({"user_id": username, "iat": now, "token_type": "access",
                           "exp": now + ACCESS_LIFETIME, "jti": secrets.token_hex(16)})

    def refresh(self, token: str) -> str | None:
        payload = self._decode(token, "refresh")
        if payload is None or self.store.get("users", "username", payload["user_id"]) is None:
            return None
        return self.access_for(payload["user_id"])

    # -- request authentication --------------------------------------------------------------
    def authenticate(self, header: str | None) -> dict[str, Any]:
        """The user for an ``Authorization`` header, or :class:`AuthError`."""
        parts = (header or "").split()
        if not parts:
            raise AuthError({"detail": NO_CREDENTIALS})
        keyword = parts[0].lower()
        if keyword == "token":
            if len(parts) == 1:
                raise AuthError({"detail": "Invalid token header. No credentials provided."})
            if len(parts) > 2:
                raise AuthError(
                    {"detail": "Invalid token header. Token string should not contain spaces."}
                )
            user = self.store.user_by_token(parts[1])
            if user is None:
                raise AuthError({"detail": INVALID_TOKEN})
            return user
        if keyword == "bearer" and len(parts) == 2:
            payload = self._decode(parts[1], "access")
            user = self.store.get("users", "username", payload["user_id"]) if payload else None
            if user is None:
                raise AuthError({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{"token_class": "AccessToken", "token_type": "access",
                                  "message": "Token is invalid or expired"}],
                })
            return user
        raise AuthError({"detail": NO_CREDENTIALS})
