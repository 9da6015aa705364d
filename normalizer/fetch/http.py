"""HTTP for the fetcher: one ``requests`` session per connection, and API calls on top of it.

What the library does well is left to it: ``requests`` honours ``HTTPS_PROXY`` / ``NO_PROXY``
and verifies TLS against ``ca_file`` when one is configured; urllib3's ``Retry`` retries
connection errors and transient 5xx with exponential backoff (and ``Retry-After`` on 503).
What needs the response body or the token stays here, in ``ApiClient``: Microsoft's throttling
answer arrives either as 429 or as 403 with error code ``AF429``, and a 401 means the token
must be renewed once before the call is retried.  Every wait goes through the injectable
clock, and every retry budget is bounded.
"""

from __future__ import annotations

import email.utils
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .clock import Clock
from .report import Reporter

TRANSIENT = frozenset({500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # longest single wait we honour; the Graph throttle window is 5 minutes
MAX_THROTTLE_WAITS = 8  # throttling answers in a row before the call is given up (next pass retries)
MAX_BACKOFF = 60.0


class ApiError(Exception):
    """A call that failed for good (after retries). The message is safe to print."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class _Session(requests.Session):
    """A session whose every request verifies against the configured CA and has a timeout.

    Set per request, not per session, because ``requests`` lets ``REQUESTS_CA_BUNDLE`` override
    a session-level ``verify``; MSAL uses this session too, so tokens travel the same way."""

    def __init__(self, verify: str | bool, timeout: float):
        super().__init__()
        self._verify = verify
        self._timeout = timeout
        self.headers["User-Agent"] = "o365norm-fetch"

    def request(self, method, url, **kw):  # type: ignore[override]
        if kw.get("verify") is None:
            kw["verify"] = self._verify
        if kw.get("timeout") is None:
            kw["timeout"] = self._timeout
        return super().request(method, url, **kw)


class _Retry(Retry):
    """urllib3 Retry whose sleeps use the fetcher's clock and which reports each retry."""

    sleep_fn: Callable[[float], None] = staticmethod(lambda s: None)
    on_retry: Callable[[str, str, str], None] = staticmethod(lambda m, u, why: None)

    def sleep_for_retry(self, response) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            type(self).sleep_fn(min(retry_after, MAX_RETRY_AFTER))
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            type(self).sleep_fn(backoff)

    def is_retry(self, method, status_code, has_retry_after=False) -> bool:
        if status_code == 429:  # throttling is ApiClient's (it also knows 403 AF429): one budget, not two
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        why = f"HTTP {response.status}" if response is not None and response.status else type(error).__name__ if error else "?"
        type(self).on_retry(method or "?", _path(url or ""), why)
        return new


def make_session(verify: str | bool, timeout: float, clock: Clock, reporter: Reporter) -> requests.Session:
    def on_retry(method: str, path: str, why: str) -> None:
        reporter.count("retries")
        reporter.info(f"retrying {method} {path} after {why}")

    retry_cls = type("BoundRetry", (_Retry,), {"sleep_fn": staticmethod(clock.sleep), "on_retry": staticmethod(on_retry)})
    retry = retry_cls(
        total=6, connect=5, read=3, status=5, other=0,
        status_forcelist=TRANSIENT, allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=1.0, backoff_max=MAX_BACKOFF, raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = _Session(verify, timeout)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or url


def origin(url: str) -> tuple[str, str, int]:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme == "https" else 80)
    return (p.scheme.lower(), (p.hostname or "").lower(), port)


def error_detail(resp: requests.Response) -> tuple[str | None, str]:
    """(code, message) from an error body: Management API / Graph, the legacy service, or text."""
    try:
        body = resp.json()
    except ValueError:
        text = " ".join(resp.text.split())[:200]
        return None, text
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return (str(err.get("code")) if err.get("code") is not None else None,
                    " ".join(str(err.get("message") or "").split())[:300])
        if isinstance(err, str):  # OAuth-style
            return err, " ".join(str(body.get("error_description") or "").split())[:300]
        if "Message" in body or "ErrorCode" in body:  # legacy Reporting Web Service
            return (str(body.get("ErrorCode") or "") or None, " ".join(str(body.get("Message") or "").split())[:300])
        odata = body.get("odata.error")
        if isinstance(odata, dict):
            msg = odata.get("message")
            msg = msg.get("value") if isinstance(msg, dict) else msg
            return odata.get("code"), " ".join(str(msg or "").split())[:300]
    return None, " ".join(resp.text.split())[:200]


def retry_after_seconds(resp: requests.Response, clock: Clock) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock.now())


class ApiClient:
    """Calls to one API with one token resource: bearer token, throttling, one renewal on 401."""

    def __init__(self, session: requests.Session, tokens, resource: str, base_url: str, clock: Clock,
                 reporter: Reporter, label: str):
        self.session = session
        self.tokens = tokens
        self.resource = resource
        self.base_origin = origin(base_url)
        self.clock = clock
        self.reporter = reporter
        self.label = label

    def get(self, url: str, params: dict | None = None, headers: dict | None = None) -> requests.Response:
        return self.request("GET", url, params=params, headers=headers)

    def post(self, url: str, params: dict | None = None, json_body: Any = None) -> requests.Response:
        return self.request("POST", url, params=params, json_body=json_body)

    def request(self, method: str, url: str, *, params: dict | None = None, json_body: Any = None,
                headers: dict | None = None, throttle_waits: int = MAX_THROTTLE_WAITS) -> requests.Response:
        if origin(url) != self.base_origin:
            # A link in a response pointing elsewhere must not receive our bearer token.
            raise ApiError(f"refusing to follow {_path(url)} on another host than api_url ({urlsplit(url).netloc})")
        renewed = False
        throttled = 0
        while True:
            token = self.tokens.get(self.resource)
            hdrs = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if headers:
                hdrs.update(headers)
            try:
                resp = self.session.request(method, url, params=params, json=json_body, headers=hdrs)
            except requests.RequestException as exc:
                raise ApiError(f"{method} {_path(url)}: {_describe(exc)}") from None
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            code, message = error_detail(resp)
            if status == 401 and not renewed:
                renewed = True
                self.reporter.info(f"{self.label}: HTTP 401 on {_path(url)}; renewing the token and retrying once")
                self.tokens.invalidate(self.resource)
                continue
            if status == 429 or (status == 403 and code == "AF429"):
                if throttled >= throttle_waits:
                    raise ApiError(f"still throttled after {throttled} waits on {_path(url)}; "
                                   "giving up until the next pass", status=status, code=code)
                wait = retry_after_seconds(resp, self.clock)
                wait = min(MAX_BACKOFF, 2.0 ** throttled) if wait is None else min(wait, MAX_RETRY_AFTER)
                throttled += 1
                self.reporter.count("throttled")
                self.reporter.info(f"{self.label}: throttled (HTTP {status}{' ' + code if code else ''}) on {_path(url)}; "
                                   f"waiting {wait:g}s")
                self.clock.sleep(wait)
                continue
            detail = f"{code}: {message}" if code and message else code or message or resp.reason or ""
            raise ApiError(f"{method} {_path(url)}: HTTP {status}{' ' + detail if detail else ''}",
                           status=status, code=code)


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport error."""
    inner = exc
    while True:
        reason = getattr(inner, "reason", None) or (inner.args[0] if getattr(inner, "args", None) else None)
        if isinstance(reason, BaseException) and reason is not inner:
            inner = reason
            continue
        break
    text = " ".join(str(inner).split())
    return f"{type(exc).__name__}: {text[:300]}"
