"""An app-password session, kept in the account's state so it outlives polls and restarts.

``com.atproto.server.createSession`` is limited to 30 calls per 5 minutes and 300 a day per
account, so a session is created once and then kept alive with
``com.atproto.server.refreshSession`` (which rotates the refresh token). A new session is only
created when there is none, when the app password or login changed, or when the refresh token
itself is no longer accepted. A refused login is not tried again with the same password for an
hour.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from kpiwatch.errors import AuthError
from kpiwatch.platform import CollectContext
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch_platforms.bluesky import xrpc
from kpiwatch_platforms.bluesky.settings import BlueskySettings

SESSION_KEY = "session"
REFUSED_KEY = "login_refused"
#: A login the PDS refused is not tried again with the same password before this (seconds).
LOGIN_RETRY_SECONDS = 3600.0
#: An access token this close to its expiry (seconds) is refreshed before use.
EXPIRY_MARGIN = 60.0


def fingerprint(*parts: str) -> str:
    """A short, non-reversible name for the login (the password is never stored in clear)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (unverified: only to refresh in time), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def pds_endpoint(did_doc: Any) -> str | None:
    """The account's own PDS from the DID document of a session, if it names one."""
    services = did_doc.get("service") if isinstance(did_doc, dict) else None
    for service in services if isinstance(services, list) else []:
        if not isinstance(service, dict) or not str(service.get("id", "")).endswith("#atproto_pds"):
            continue
        endpoint = service.get("serviceEndpoint")
        if isinstance(endpoint, str) and re.match(r"^https?://[^\s?#]+$", endpoint):
            return endpoint.rstrip("/")
    return None


class AppPasswordSession:
    """Authenticated XRPC calls for one account, with its session cached in ``ctx.state``."""

    def __init__(self, ctx: CollectContext, settings: BlueskySettings) -> None:
        assert settings.login is not None and settings.app_password is not None
        assert ctx.api is not None
        self.api: ApiClient = ctx.api
        self.state = ctx.state
        self.login = settings.login
        self.password = settings.app_password.get_secret_value()
        self.entry = settings.pds_url
        self.key = fingerprint(settings.pds_url, self.login, self.password)

    @property
    def did(self) -> str | None:
        """The DID the session belongs to (after the first call)."""
        saved = self._saved()
        return saved.get("did") if saved else None

    async def get(self, nsid: str, params: dict[str, Any]) -> ApiResponse:
        """GET ``nsid`` on the account's PDS with the session's access token.

        An expired token is refreshed and the call tried once more; a token the PDS refuses
        ends the session (the next poll logs in again) and fails the poll as ``auth``.
        """
        session = await self._ready()
        try:
            return await self._call("GET", session["pds"], nsid, session["access"], params)
        except xrpc.SessionExpired:
            session = await self._refresh(session)
        except AuthError:
            self._drop()
            raise
        try:
            return await self._call("GET", session["pds"], nsid, session["access"], params)
        except AuthError:
            self._drop()
            raise

    async def _ready(self) -> dict[str, Any]:
        saved = self._saved()
        if saved is None:
            return await self._create()
        expires = jwt_expiry(saved["access"])
        if expires is not None and expires - EXPIRY_MARGIN <= self.api.clock():
            return await self._refresh(saved)
        return saved

    def _saved(self) -> dict[str, Any] | None:
        saved = self.state.get(SESSION_KEY)
        if not isinstance(saved, dict) or saved.get("key") != self.key:
            return None
        if not all(isinstance(saved.get(k), str) for k in ("access", "refresh", "pds", "did")):
            return None
        return saved

    def _drop(self) -> None:
        self.state.pop(SESSION_KEY, None)

    async def _create(self) -> dict[str, Any]:
        now = self.api.clock()
        refused = self.state.get(REFUSED_KEY)
        if isinstance(refused, dict) and refused.get("key") == self.key:
            since = float(refused.get("at", 0))
            if now - since < LOGIN_RETRY_SECONDS:
                when = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC")
                raise AuthError(
                    f"bluesky: the login of {self.login} at {self.entry} was refused at {when}; "
                    "it is not tried again with the same app password for an hour "
                    "(createSession allows 30 calls per 5 minutes and 300 a day): put a valid "
                    "app password in the account's settings"
                )
        try:
            response = await self.api.request(
                "POST",
                xrpc.url(self.entry, "com.atproto.server.createSession"),
                json={"identifier": self.login, "password": self.password},
                credential=self.login,
            )
        except AuthError as exc:
            self.state[REFUSED_KEY] = {"key": self.key, "at": now}
            raise AuthError(
                f"{exc}; check identifier and app_password (an app password from Settings > "
                "Privacy and security > App passwords, not the account password)"
            ) from None
        self.state.pop(REFUSED_KEY, None)
        return self._save(response, pds=None)

    async def _refresh(self, session: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._call(
                "POST", session["pds"], "com.atproto.server.refreshSession", session["refresh"]
            )
        except AuthError:  # the refresh token expired or was revoked: log in again
            self._drop()
            return await self._create()
        return self._save(response, pds=session["pds"])

    async def _call(
        self, method: str, base: str, nsid: str, token: str, params: dict[str, Any] | None = None
    ) -> ApiResponse:
        return await self.api.request(
            method,
            xrpc.url(base, nsid),
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            credential=self.login,
        )

    def _save(self, response: ApiResponse, pds: str | None) -> dict[str, Any]:
        data = xrpc.object_body(response)
        fields = {k: data.get(k) for k in ("accessJwt", "refreshJwt", "did")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
        if missing:
            raise xrpc.bad_shape(response, f"a session without {', '.join(missing)}")
        session = {
            "key": self.key,
            "access": fields["accessJwt"],
            "refresh": fields["refreshJwt"],
            "did": fields["did"],
            "pds": pds_endpoint(data.get("didDoc")) or pds or self.entry,
        }
        self.state[SESSION_KEY] = session
        return session
