"""The Exchange message-trace source: Microsoft Graph ``messageTraces`` or the legacy service.

Graph (the default, ``api: graph``): ``GET {api_url}/admin/exchange/tracing/messageTraces`` with
``$filter=receivedDateTime ge S and receivedDateTime le E`` (both inclusive; a window of at
most 10 days, starting at most 90 days back, never ending in the future: windows end a minute before now), ``$top``, and
``@odata.nextLink`` followed as given.  Its throttle (100 requests per 5 minutes, answered
with 429 and ``Retry-After``) is handled by ``http.ApiClient``.

Legacy (``api: reporting``): ``GET {api_url}/MessageTrace?$format=json&$filter=StartDate eq
datetime'S' and EndDate eq datetime'E'``, OData v2 paging through ``d.__next``.

Windows are six hours at most (a 90-day catch-up is 360 requests, under 20 minutes of Graph's
throttle; an interrupted window is short to redo); each pass starts
``overlap`` before the last window's end, and rows already emitted are suppressed by their key
(trace id plus recipient), kept while they can still fall in a window.  Each page is a batch.
"""

from __future__ import annotations

import calendar
import re
import time
from urllib.parse import quote, urlencode

from . import jsonspans
from .config import GRAPH_RETENTION, REPORTING_RETENTION, MessageTraceInput
from .http import ApiError
from .source import Source

END_LAG = 60  # windows end a minute ago: Graph refuses an end in the future, and clocks differ a little
WINDOW = 6 * 3600  # large enough to catch up on 90 days within Graph's throttle, small enough to redo
SAFETY = 600
PAGE_SIZE = 1000  # Graph's default page; it allows up to 5000
MALFORMED_ATTEMPTS = 3
MAX_PAGES = 10000
STREAM = "messagetrace"
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def row_time(row: dict) -> int | None:
    value = row.get("receivedDateTime", row.get("Received"))
    if not isinstance(value, str):
        return None
    m = _MS_DATE.search(value)
    if m:
        return int(m.group(1)) // 1000
    text = value.strip()
    text = re.sub(r"(\.\d+)?(Z|[+-]00:?00)?$", "", text)
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


class MessageTraceSource(Source):
    kind = "messagetrace"
    max_seen = 200000
    cfg: MessageTraceInput

    def streams(self) -> list[str]:
        return [STREAM]

    @property
    def retention(self) -> int:
        return GRAPH_RETENTION if self.cfg.api == "graph" else REPORTING_RETENTION

    def run_pass(self) -> None:
        st = self.state(STREAM)
        wall = int(self.clock.now())
        now = wall - END_LAG
        earliest = wall - self.retention + SAFETY
        lost = ""
        if st.cursor is not None and st.cursor < earliest:
            lost = (f"input {self.id}: the last progress ({iso(st.cursor)}) is older than the service keeps "
                    f"message trace; rows received before {iso(earliest)} can no longer be fetched")
        start = self.window_start(st, now, earliest, lost)
        rows_total = 0
        first = start
        while start < now:
            self.shutdown.check()
            end = min(start + WINDOW, now)
            rows_total += self.collect_window(st, start, end)
            st.cursor = end
            st.seen.prune_before(end - self.cfg.overlap - 60)
            self.save(st)
            start = end
        if rows_total:
            self.reporter.info(f"input {self.id}: {iso(first)}..{iso(now)}: {rows_total} new rows")

    def first_url(self, start: int, end: int) -> str:
        if self.cfg.api == "graph":
            query = {"$filter": f"receivedDateTime ge {iso(start)} and receivedDateTime le {iso(end)}", "$top": str(PAGE_SIZE)}
            return f"{self.cfg.api_url}/admin/exchange/tracing/messageTraces?" + urlencode(query, safe="$:'", quote_via=quote)
        query = {"$format": "json",
                 "$filter": f"StartDate eq datetime'{iso(start)}' and EndDate eq datetime'{iso(end)}'"}
        return f"{self.cfg.api_url}/MessageTrace?" + urlencode(query, safe="$:'", quote_via=quote)

    def collect_window(self, st, start: int, end: int) -> int:
        url: str | None = self.first_url(start, end)
        followed: set[str] = set()
        emitted = 0
        for _ in range(MAX_PAGES):
            doc, rows = self.fetch_page(url)
            records = self.records_of(rows, "message", ": a message-trace page", "row")
            self.reporter.count("rows", len(records), self.id)
            fresh = self.fresh(st, records)
            if fresh:  # each row is remembered at its own received time (the window start if it has none)
                emitted += self.commit(st, fresh, start, f"{self.id}/{self.cfg.api}",
                                       record_time=lambda rec: row_time(rec[1]) or start)
            url = self.next_link(doc)
            if not url:
                return emitted
            if url in followed:
                raise ApiError("the next-page link repeats itself; stopping this window")
            followed.add(url)
            self.shutdown.check()
        raise ApiError(f"more than {MAX_PAGES} pages in one window")

    def fetch_page(self, url: str):
        path = ("value",) if self.cfg.api == "graph" else ("d", "results")
        headers = {"Prefer": "include-unknown-enum-members"} if self.cfg.api == "graph" else None
        problem = ""
        for attempt in range(MALFORMED_ATTEMPTS):
            try:
                resp = self.api.get(url, headers=headers)
            except ApiError as exc:
                raise ApiError(str(exc) + self._hint(exc), status=exc.status, code=exc.code) from None
            try:
                doc = jsonspans.parse(resp.content.decode(self.cfg.encoding), path)
                rows = jsonspans.find(doc, path)
                if rows is None:
                    raise jsonspans.MalformedJSON(f"no {'.'.join(path)} array")
                return doc, rows
            except (UnicodeDecodeError, jsonspans.MalformedJSON) as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                if attempt + 1 < MALFORMED_ATTEMPTS:
                    self.clock.sleep(2.0 ** attempt)
        raise ApiError(f"a message-trace page is malformed after {MALFORMED_ATTEMPTS} attempts ({problem}); "
                       "this window is retried next pass")

    def next_link(self, doc) -> str | None:
        if not isinstance(doc, dict):
            return None
        if self.cfg.api == "graph":
            link = doc.get("@odata.nextLink")
        else:
            d = doc.get("d")
            link = d.get("__next") if isinstance(d, dict) else None
        return link if isinstance(link, str) and link else None

    def _hint(self, exc: ApiError) -> str:
        if self.cfg.api == "graph" and exc.status in (401, 403):
            return (" (the app needs the Microsoft Graph application permission ExchangeMessageTrace.Read.All with admin "
                    "consent, and the tenant needs the service principal of app 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373; "
                    "or set api: reporting for the legacy Reporting Web Service)")
        if self.cfg.api == "reporting" and exc.status in (401, 403):
            return (" (the app needs the Office 365 Exchange Online application permission ReportingWebService.Read.All "
                    "with admin consent and an Entra role such as Global Reader; new tenants may lack the legacy service: "
                    "use api: graph)")
        return ""
