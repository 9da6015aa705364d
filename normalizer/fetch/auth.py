"""OAuth2 client credentials through MSAL: one token per resource, renewed before it expires.

Why MSAL: it is Microsoft's own client for Entra ID, it knows the v2 endpoint, authority and
tenant discovery, sovereign-cloud login hosts and the error shapes, and it is maintained with
the service.  What it does not give us is a clock we control, so the renewal decision is made
here with the fetcher's clock (renew 5 minutes before expiry, or halfway through a short-lived
token), and MSAL is only asked when a new token is really wanted: its cached copy of that
token is dropped first, so a renewal is always a fresh token request.

The secret is read from its source (config, environment, file) at each token request and
handed straight to MSAL; it is never stored elsewhere, printed or logged.  A secret kept in a
file is re-read on every request, so rotating it needs no restart.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import msal
import requests

from .clock import Clock
from .config import ConfigError, Connection
from .report import Reporter

RENEW_MARGIN = 300.0

# MSAL logs nothing secret, but its log lines are not ours to print: keep it quiet.
logging.getLogger("msal").setLevel(logging.ERROR)


class AuthError(Exception):
    """No token could be had. The message is safe to print."""


@dataclass
class _Token:
    value: str
    expires_at: float
    renew_at: float


class TokenProvider:
    def __init__(self, conn: Connection, session: requests.Session, clock: Clock, reporter: Reporter):
        self.conn = conn
        self.session = session
        self.clock = clock
        self.reporter = reporter
        self._tokens: dict[str, _Token] = {}
        self._acquired: set[str] = set()
        self._app: msal.ConfidentialClientApplication | None = None
        self._app_key: bytes | None = None  # a digest of the secret the app was built with, to notice rotation

    def get(self, resource: str) -> str:
        tok = self._tokens.get(resource)
        if tok is not None and self.clock.now() < tok.renew_at:
            return tok.value
        return self._acquire(resource)

    def invalidate(self, resource: str) -> None:
        """The API said 401: the next ``get`` asks for a new token."""
        self._tokens.pop(resource, None)

    def _acquire(self, resource: str) -> str:
        scope = f"{resource}/.default"
        app = self._application()
        cache = app.token_cache
        for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            if scope.lower() in str(item.get("target", "")).lower().split():
                cache.remove_at(item)
        try:
            result = app.acquire_token_for_client([scope])
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"connection {self.conn.id}: token request for {resource} failed: {_short(exc)}") from None
        if not result or "access_token" not in result:
            result = result or {}
            desc = str(result.get("error_description") or "").strip().splitlines()
            hint = _hint(str(result.get("error") or ""), desc[0] if desc else "")
            raise AuthError(f"connection {self.conn.id}: no token for {resource}: {result.get('error', 'unknown error')}"
                            + (f": {desc[0][:300]}" if desc else "") + hint)
        now = self.clock.now()
        lifetime = float(result.get("expires_in") or 3599)
        margin = min(RENEW_MARGIN, lifetime / 2)
        self._tokens[resource] = _Token(result["access_token"], now + lifetime, now + lifetime - margin)
        if resource in self._acquired:
            self.reporter.count("token_renewals")
            self.reporter.info(f"connection {self.conn.id}: renewed the token for {resource}")
        self._acquired.add(resource)
        return result["access_token"]

    def _application(self) -> msal.ConfidentialClientApplication:
        try:
            secret = self.conn.secret.value()
        except ConfigError as exc:
            raise AuthError(f"connection {self.conn.id}: client secret: {exc.problem}") from None
        key = hashlib.sha256(b"o365norm" + secret.encode("utf-8")).digest()
        if self._app is not None and key == self._app_key:
            return self._app
        if self._app is not None:
            self.reporter.info(f"connection {self.conn.id}: the client secret changed ({self.conn.secret.describe()}); using the new one")
            self._tokens.clear()
        host = (urlsplit(self.conn.authority).hostname or "").lower()
        known = host in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
        try:
            app = msal.ConfidentialClientApplication(
                self.conn.client_id,
                client_credential=secret,
                authority=f"{self.conn.authority}/{self.conn.tenant_id}",
                http_client=self.session,
                token_cache=msal.TokenCache(),
                # Instance discovery asks login.microsoftonline.com about the host; for a host it
                # does not know (a private authority, the test service) only tenant discovery is done.
                instance_discovery=None if known else False,
                validate_authority=known,
                app_name="o365norm",
            )
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"connection {self.conn.id}: authority {self.conn.authority}/{self.conn.tenant_id}: {_short(exc)}") from None
        self._app, self._app_key = app, key
        return app


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _hint(error: str, desc: str) -> str:
    if "AADSTS7000215" in desc or "AADSTS7000222" in desc:
        return " (the client secret is wrong or expired: create a new one and update the configuration)"
    if "AADSTS700016" in desc:
        return " (no application with this client_id in the tenant)"
    if "AADSTS90002" in desc:
        return " (no such tenant: check tenant_id)"
    if error == "invalid_scope" or "AADSTS500011" in desc:
        return " (the resource is not known in this tenant: check resource / the API permissions)"
    return ""
