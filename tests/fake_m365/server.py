"""A fake Microsoft 365 that really listens on 127.0.0.1 over HTTPS, for the fetcher's tests.

It behaves as the services are documented to (see the protocol notes the fetcher was built
from): Entra ID token endpoints (v2 ``/oauth2/v2.0/token`` with ``scope``, v1
``/oauth2/token`` with ``resource``) issuing tokens that expire; OpenID configuration for
MSAL's tenant discovery; the Management Activity API (subscriptions start/list, content
listing with its 24-hour / 7-day window rules and ``NextPageUri`` paging, content blobs,
``AF...`` error codes); Microsoft Graph ``messageTraces`` (``receivedDateTime`` filter with
its 10-day / 90-day rules, ``$top``, ``@odata.nextLink``, newest first, one row per
recipient); and the legacy Reporting Web Service ``MessageTrace`` (OData v2 verbose JSON,
``/Date(ms)/``, ``d.__next``).  Each API checks that the token was issued for its resource.

Tests script misbehaviour with ``fail()`` (the next N matching requests get a given answer:
429 with Retry-After, 403 AF429, 500, a truncated body, 401) and ``hold()`` (a matching
request blocks until released, so a test knows where a fetcher process is when it kills it).
Time comes from ``now`` (a callable), shared with the fetcher's clock in in-process tests.
"""

from __future__ import annotations

import calendar
import json
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .certs import TlsFiles

MANAGE = "https://manage.office.com"
GRAPH = "https://graph.microsoft.com"
OUTLOOK = "https://outlook.office365.com"
CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All")


def iso_z(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def parse_api_time(value: str) -> int | None:
    """The Management API's accepted forms: YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS."""
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(value, fmt))
        except ValueError:
            continue
    return None


def parse_iso(value: str) -> int | None:
    value = re.sub(r"(\.\d+)?Z$", "", value)
    try:
        return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


@dataclass
class Blob:
    content_type: str
    content_id: str
    created: int
    body: bytes  # what a GET of the contentUri returns


@dataclass
class Fault:
    match: Callable[["Request"], bool]
    times: int
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: a JSON error body from code/message
    code: str = ""
    message: str = ""
    truncate: bool = False  # answer 200 with the real body cut in half


@dataclass
class Hold:
    match: Callable[["Request"], bool]
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    hits: int = 0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; Authorization replaced by "<token>" / absent
    aud: str | None  # resource of the bearer token presented, if it was valid
    form: dict[str, str] = field(default_factory=dict)  # token requests, without the secret

    def q(self, name: str) -> str | None:
        for k, v in self.query.items():
            if k.lower() == name.lower():
                return v[0]
        return None


class FakeM365:
    def __init__(self, tls: TlsFiles, *, tenant: str, client_id: str, secret: str, now: Callable[[], float] = time.time,
                 token_lifetime: int = 3599, content_page_size: int = 3, graph_page_size: int | None = None,
                 rws_page_size: int = 4, graph_rate_limit: tuple[int, int] = (100, 300)):
        self.tls = tls
        self.tenant = tenant
        self.client_id = client_id
        self.secrets = {secret}
        self.now = now
        self.token_lifetime = token_lifetime
        self.content_page_size = content_page_size
        self.graph_page_size = graph_page_size  # None: honour $top
        self.rws_page_size = rws_page_size
        self.graph_rate_limit = graph_rate_limit  # (requests, seconds): Graph's message-trace throttle
        self._graph_calls: list[float] = []
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[str, float]] = {}
        self.subscriptions: dict[str, str] = {}
        self.blobs: dict[str, Blob] = {}
        self.graph_rows: list[dict] = []
        self.rws_rows: list[dict] = []
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.log: list[Request] = []
        self.token_requests: list[dict] = []
        self.responses: list[tuple[str, int]] = []  # (path, status) of every answer
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeM365":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for h in self.holds:
            h.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ data

    def add_blob(self, content_type: str, created: float, records: list[dict] | None = None, *, body: bytes | None = None,
                 content_id: str | None = None) -> Blob:
        cid = content_id or f"{int(created)}${secrets.token_hex(4)}${content_type.replace('.', '_')}${secrets.token_hex(6)}"
        data = body if body is not None else json.dumps(records or []).encode("utf-8")
        blob = Blob(content_type, cid, int(created), data)
        with self.lock:
            self.blobs[cid] = blob
        return blob

    def revoke_tokens(self) -> None:
        """Every token issued so far becomes invalid (as after a key rollover): the next call gets 401."""
        with self.lock:
            self.tokens.clear()

    def fail(self, match: Callable[[Request], bool] | str, times: int = 1, status: int = 500, *, headers: dict | None = None,
             code: str = "", message: str = "", body: bytes | None = None, truncate: bool = False) -> Fault:
        pred = match if callable(match) else (lambda r, s=match: s in r.path)
        f = Fault(pred, times, status, dict(headers or {}), body, code, message, truncate)
        with self.lock:
            self.faults.append(f)
        return f

    def hold(self, match: Callable[[Request], bool] | str) -> Hold:
        pred = match if callable(match) else (lambda r, s=match: s in r.path)
        h = Hold(pred)
        with self.lock:
            self.holds.append(h)
        return h

    def requests_to(self, fragment: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if fragment in r.path]

    # ------------------------------------------------------------------ dispatch

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        form: dict[str, str] = {}
        if method == "POST" and "oauth2" in path:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        aud = None
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            with self.lock:
                tok = self.tokens.get(auth[7:])
            if tok is not None and tok[1] > self.now():
                aud = tok[0]
        safe_headers = {k: ("<token>" if k == "authorization" else v) for k, v in headers.items()}
        req = Request(method, path, query, safe_headers, aud, {k: v for k, v in form.items() if k != "client_secret"})
        with self.lock:
            self.log.append(req)
            holds = [h for h in self.holds if h.match(req)]
            fault = next((f for f in self.faults if f.times > 0 and f.match(req)), None)
            if fault is not None:
                fault.times -= 1
        for h in holds:
            h.hits += 1
            h.reached.set()
            h.released.wait(60)
        if fault is not None and not fault.truncate:
            body_out = fault.body if fault.body is not None else json.dumps(
                {"error": {"code": fault.code or str(fault.status), "message": fault.message or "injected"}}).encode()
            return self._answer(path, fault.status, {"Content-Type": "application/json", **fault.headers}, body_out)
        status, hdrs, out = self.route(method, path, query, form, aud, req)
        if fault is not None and fault.truncate and status == 200:
            out = out[: max(1, len(out) // 2)]
        return self._answer(path, status, hdrs, out)

    def _answer(self, path: str, status: int, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        with self.lock:
            self.responses.append((path, status))
        return status, headers, body

    def route(self, method, path, query, form, aud, req) -> tuple[int, dict[str, str], bytes]:
        t = self.tenant
        if method == "GET" and path == f"/{t}/v2.0/.well-known/openid-configuration":
            return self.openid_configuration()
        if method == "GET" and path == "/common/discovery/instance":
            return _json(200, {"tenant_discovery_endpoint": f"{self.url}/{t}/v2.0/.well-known/openid-configuration",
                               "api-version": "1.1", "metadata": []})
        if method == "POST" and path == f"/{t}/oauth2/v2.0/token":
            return self.token(form, v1=False)
        if method == "POST" and path == f"/{t}/oauth2/token":
            return self.token(form, v1=True)
        if re.match(r"^/[^/]+/oauth2/", path) or re.match(r"^/[^/]+/v2\.0/", path):
            return _json(400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found.",
                               "error_codes": [90002]})
        feed = f"/api/v1.0/{t}/activity/feed/"
        if path.startswith("/api/v1.0/") or path.startswith("/api/v1/"):
            if aud != MANAGE:
                return _json(401, {"error": {"code": "AF10001", "message": "Authorization has been denied for this request."}})
            if not path.startswith(feed) and not path.startswith(feed.replace("v1.0", "v1")):
                return _json(400, {"error": {"code": "AF20010", "message": "The tenant ID in the URL does not match the token."}})
            rest = path.split("/activity/feed/", 1)[1]
            if method == "POST" and rest == "subscriptions/start":
                return self.subscription_start(req)
            if method == "GET" and rest == "subscriptions/list":
                return _json(200, [{"contentType": ct, "status": s, "webhook": None} for ct, s in sorted(self.subscriptions.items())])
            if method == "GET" and rest == "subscriptions/content":
                return self.content_listing(req)
            if method == "GET" and rest.startswith("audit/"):
                return self.blob(rest[len("audit/"):])
            return _json(404, {"error": {"code": "NotFound", "message": "no such operation"}})
        if path.startswith("/v1.0/admin/exchange/tracing/messageTraces"):
            if aud != GRAPH:
                return _json(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty or invalid."}})
            limited = self._graph_throttle()
            return limited if limited is not None else self.graph_traces(req)
        if path.lower().startswith("/ecp/reportingwebservice/reporting.svc/messagetrace"):
            if aud != OUTLOOK:
                return 401, {"Content-Type": "text/html"}, b"<html><body>401 - Unauthorized: Access is denied due to invalid credentials.</body></html>"
            return self.rws_traces(req)
        return _json(404, {"error": {"code": "NotFound", "message": f"no route for {method} {path}"}})

    # ------------------------------------------------------------------ Entra ID

    def openid_configuration(self):
        base = f"{self.url}/{self.tenant}"
        return _json(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{base}/v2.0",
            "jwks_uri": f"{self.url}/{self.tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        })

    def token(self, form: dict[str, str], v1: bool):
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"} | {"v1": v1})
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: unsupported grant type."})
        if form.get("client_id") != self.client_id:
            return _json(400, {"error": "unauthorized_client", "error_description":
                               f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the directory."})
        if form.get("client_secret") not in self.secrets:
            return _json(401, {"error": "invalid_client", "error_description":
                               "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
                               "is the client secret value, not the client secret ID."})
        if v1:
            resource = form.get("resource", "").rstrip("/")
        else:
            scope = form.get("scope", "")
            scopes = [s for s in scope.split() if s.endswith("/.default")]
            if not scopes:
                return _json(400, {"error": "invalid_scope", "error_description": "AADSTS1002012: The provided value for scope is not valid."})
            resource = scopes[0][: -len("/.default")]
        if resource not in (MANAGE, GRAPH, OUTLOOK):
            return _json(400, {"error": "invalid_resource", "error_description":
                               f"AADSTS500011: The resource principal named {resource} was not found in the tenant."})
        token = "fake." + secrets.token_urlsafe(24)
        now = self.now()
        with self.lock:
            self.tokens[token] = (resource, now + self.token_lifetime)
        if v1:
            return _json(200, {"token_type": "Bearer", "expires_in": str(self.token_lifetime),
                               "ext_expires_in": str(self.token_lifetime), "expires_on": str(int(now + self.token_lifetime)),
                               "not_before": str(int(now)), "resource": resource, "access_token": token})
        return _json(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                           "ext_expires_in": self.token_lifetime, "access_token": token})

    # ------------------------------------------------------------------ Management Activity API

    def subscription_start(self, req: Request):
        ct = req.q("contentType")
        if ct not in CONTENT_TYPES:
            return _json(400, {"error": {"code": "AF20020", "message": "The specified content type is not valid."}})
        with self.lock:
            if self.subscriptions.get(ct) == "enabled":
                return _json(400, {"error": {"code": "AF20024", "message": "The subscription is already enabled. No property change."}})
            self.subscriptions[ct] = "enabled"
        return _json(200, {"contentType": ct, "status": "enabled", "webhook": None})

    def content_listing(self, req: Request):
        ct = req.q("contentType")
        if ct not in CONTENT_TYPES:
            return _json(400, {"error": {"code": "AF20020", "message": "The specified content type is not valid."}})
        if self.subscriptions.get(ct) != "enabled":
            return _json(400, {"error": {"code": "AF20022", "message": "No subscription found for the specified content type."}})
        s, e = req.q("startTime"), req.q("endTime")
        now = int(self.now())
        if (s is None) != (e is None):
            return _json(400, {"error": {"code": "AF20030", "message": "Start time and end time must both be specified (or both omitted)."}})
        if s is None:
            start, end = now - 86400, now
        else:
            start, end = parse_api_time(s), parse_api_time(e)
            if start is None or end is None:
                return _json(400, {"error": {"code": "AF20002", "message": "Invalid parameter type: datetime."}})
            if end <= start:
                return _json(400, {"error": {"code": "AF20055", "message": "Start time must be before end time."}})
            if end - start > 86400 or start < now - 7 * 86400:
                return _json(400, {"error": {"code": "AF20030", "message": "Start time and end time must both be specified "
                                             "(or both omitted) and must be less than or equal to 24 hours apart, with the "
                                             "start time no more than 7 days in the past."}})
        with self.lock:
            items = sorted((b for b in self.blobs.values() if b.content_type == ct and start <= b.created < end),
                           key=lambda b: (b.created, b.content_id))
        page = int(req.q("nextPage") or 0)
        chunk = items[page: page + self.content_page_size]
        base = f"{self.url}/api/v1.0/{self.tenant}/activity/feed"
        body = [{
            "contentType": b.content_type,
            "contentId": b.content_id,
            "contentUri": f"{base}/audit/{quote(b.content_id, safe='$')}",
            "contentCreated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(b.created)),
            "contentExpiration": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(b.created + 7 * 86400)),
        } for b in chunk]
        headers = {}
        if page + self.content_page_size < len(items):
            q = {"contentType": ct, "startTime": s, "endTime": e, "nextPage": str(page + self.content_page_size)}
            headers["NextPageUri"] = f"{base}/subscriptions/content?" + urlencode({k: v for k, v in q.items() if v is not None})
        return _json(200, body, headers)

    def blob(self, content_id: str):
        with self.lock:
            b = self.blobs.get(content_id)
        if b is None:
            return _json(404, {"error": {"code": "AF20050", "message": "The specified content does not exist."}})
        if b.created + 7 * 86400 <= self.now():
            return _json(400, {"error": {"code": "AF20051", "message": "The content is expired."}})
        return 200, {"Content-Type": "application/json; charset=utf-8"}, b.body

    # ------------------------------------------------------------------ Graph messageTraces

    def _graph_throttle(self):
        """100 requests per 5 minutes per tenant, answered with 429 and Retry-After (standard Graph)."""
        limit, period = self.graph_rate_limit
        now = self.now()
        with self.lock:
            self._graph_calls = [t for t in self._graph_calls if t > now - period]
            if len(self._graph_calls) >= limit:
                wait = int(self._graph_calls[0] + period - now) + 1
                return _json(429, {"error": {"code": "TooManyRequests", "message": "Too many requests."}},
                             {"Retry-After": str(wait)})
            self._graph_calls.append(now)
        return None

    def graph_traces(self, req: Request):
        flt = req.q("$filter")
        now = int(self.now())
        if flt is None:
            start, end = now - 48 * 3600, now
        else:
            m = re.fullmatch(r"receivedDateTime ge (\S+) and receivedDateTime le (\S+)", flt.strip())
            if not m or parse_iso(m.group(1)) is None or parse_iso(m.group(2)) is None:
                return _json(400, {"error": {"code": "BadRequest", "message": f"Invalid filter clause: {flt}"}})
            start, end = parse_iso(m.group(1)), parse_iso(m.group(2))
            if end - start > 10 * 86400 or start < now - 90 * 86400 or end > now + 60:
                return _json(400, {"error": {"code": "BadRequest", "message":
                                             "The time range must be at most 10 days, within the last 90 days, and not in the future."}})
        top = int(req.q("$top") or 1000)
        if not 1 <= top <= 5000:
            return _json(400, {"error": {"code": "BadRequest", "message": "$top must be between 1 and 5000."}})
        size = self.graph_page_size or top
        skip = int(req.q("$skiptoken") or 0)
        with self.lock:
            rows = [r for r in self.graph_rows if start <= parse_iso(r["receivedDateTime"]) <= end]
        rows.sort(key=lambda r: (r["receivedDateTime"], r["id"], r["recipientAddress"]), reverse=True)  # newest first
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#admin/exchange/tracing/messageTraces",
            "value": rows[skip: skip + size],
        }
        if skip + size < len(rows):
            q = {"$filter": flt, "$top": str(top), "$skiptoken": str(skip + size)}
            body["@odata.nextLink"] = f"{self.url}/v1.0/admin/exchange/tracing/messageTraces?" + urlencode(
                {k: v for k, v in q.items() if v is not None}, quote_via=quote, safe="$:'")
        return _json(200, body)

    # ------------------------------------------------------------------ legacy Reporting Web Service

    def rws_traces(self, req: Request):
        if (req.q("$format") or "").lower() != "json":
            return 200, {"Content-Type": "application/atom+xml"}, b"<?xml version='1.0'?><feed/>"
        flt = req.q("$filter") or ""
        m = re.search(r"StartDate eq datetime'([^']+)' and EndDate eq datetime'([^']+)'", flt)
        if not m:
            return _json(400, {"odata.error": {"code": "", "message": {"lang": "en-US", "value": "Invalid filter."}}})
        start, end = parse_iso(m.group(1)), parse_iso(m.group(2))
        if start is None or end is None or end < start:
            return _json(400, {"odata.error": {"code": "", "message": {"lang": "en-US", "value": "Invalid dates."}}})
        skip = int(req.q("$skiptoken") or 0)
        with self.lock:
            rows = [r for r in self.rws_rows if start <= _ms_date(r["Received"]) <= end]
        rows.sort(key=lambda r: (_ms_date(r["Received"]), r["MessageTraceId"], r["RecipientAddress"]))
        page = []
        for i, r in enumerate(rows[skip: skip + self.rws_page_size]):
            row = dict(r)
            row["StartDate"] = f"/Date({start * 1000})/"
            row["EndDate"] = f"/Date({end * 1000})/"
            row["Index"] = skip + i
            row["__metadata"] = {"id": f"{self.url}/ecp/ReportingWebService/Reporting.svc/MessageTrace({skip + i})",
                                 "uri": f"{self.url}/ecp/ReportingWebService/Reporting.svc/MessageTrace({skip + i})",
                                 "type": "TenantReporting.MessageTrace"}
            page.append(row)
        d: dict[str, Any] = {"results": page}
        if skip + self.rws_page_size < len(rows):
            q = {"$format": "json", "$filter": flt, "$skiptoken": str(skip + self.rws_page_size)}
            d["__next"] = f"{self.url}/ecp/reportingwebservice/reporting.svc/MessageTrace?" + urlencode(q, quote_via=quote, safe="$:'")
        return _json(200, {"d": d})


def _ms_date(value: str) -> int:
    return int(re.search(r"-?\d+", value).group(0)) // 1000


def _json(status: int, body: Any, headers: dict[str, str] | None = None):
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(body).encode("utf-8")


def _make_handler(fake: FakeM365):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, fmt, *args):  # quiet
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, hdrs, out = fake.handle(method, self.path, headers, body)
            try:
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def handle(self):
            try:
                super().handle()
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
                pass

    return Handler
