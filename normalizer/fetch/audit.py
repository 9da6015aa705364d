"""The Office 365 Management Activity API source (audit logs).

Per pass and content type: make sure the subscription is enabled (list first, start only what
is missing, "already enabled" counts as success, and never more than one start per content
type in 15 minutes, the API's own limit); list the content created in windows of at most 24
hours, from the stored cursor less an overlap, never further back than the 7 days the API
keeps; follow ``NextPageUri``; download each blob not yet emitted and commit its records.
``PublisherIdentifier`` goes on every call.  The cursor moves to a window's end only once every
blob listed in it has been committed, so a kill anywhere re-reads at most one window, and
blobs already done are skipped by contentId.
"""

from __future__ import annotations

import calendar
import time
from urllib.parse import parse_qs, urlsplit

from . import jsonspans
from .config import AUDIT_RETENTION, AuditInput
from .http import ApiError
from .source import Source

WINDOW = 86400  # the API's maximum window
SAFETY = 600  # stay this far inside the 7-day limit, against clock skew
START_INTERVAL = 900  # the API refuses a second subscription start within about 15 minutes
MALFORMED_ATTEMPTS = 3
MAX_PAGES = 10000


class MalformedContent(Exception):
    pass


def fmt_time(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t)))


def parse_time(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("Zz")
    if "." in text:
        text = text.split(".", 1)[0]
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text, fmt))
        except ValueError:
            continue
    return None


class AuditSource(Source):
    kind = "audit"
    max_seen = 10000
    cfg: AuditInput

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        c = self.cfg
        self.root = f"{c.api_url}/api/v1.0/{c.connection.tenant_id}/activity/feed"
        self.enabled: set[str] = set()
        self.start_tried: dict[str, float] = {}

    def streams(self) -> list[str]:
        return list(self.cfg.content_types)

    def _params(self, url: str, **extra: str) -> dict:
        params = dict(extra)
        if "publisheridentifier" not in {k.lower() for k in parse_qs(urlsplit(url).query)}:
            params["PublisherIdentifier"] = self.cfg.publisher_identifier
        return params

    # -- subscriptions

    def ensure_subscriptions(self) -> None:
        missing = [ct for ct in self.cfg.content_types if ct not in self.enabled]
        if not missing:
            return
        current: dict[str, str] = {}
        url = f"{self.root}/subscriptions/list"
        try:
            body = self.api.get(url, params=self._params(url)).json()
            for sub in body if isinstance(body, list) else []:
                if isinstance(sub, dict):
                    current[str(sub.get("contentType"))] = str(sub.get("status") or "").lower()
        except (ApiError, ValueError) as exc:
            self.reporter.warn(f"input {self.id}: cannot list subscriptions ({exc}); trying to start them")
        now = self.clock.now()
        for ct in missing:
            if current.get(ct) == "enabled":
                self.enabled.add(ct)
                continue
            if now - self.start_tried.get(ct, -1e18) < START_INTERVAL:
                continue
            self.start_tried[ct] = now
            url = f"{self.root}/subscriptions/start"
            try:
                self.api.request("POST", url, params=self._params(url, contentType=ct), throttle_waits=0)
                self.enabled.add(ct)
                self.reporter.info(f"input {self.id}: started the subscription to {ct}")
            except ApiError as exc:
                if exc.code == "AF20024":  # "The subscription is already enabled": fine
                    self.enabled.add(ct)
                else:
                    self.reporter.error(f"input {self.id}: cannot start the subscription to {ct}: {exc}")
                    self.reporter.count("errors", 1, self.id)

    # -- one pass

    def run_pass(self) -> None:
        self.ensure_subscriptions()
        for ct in self.cfg.content_types:
            self.shutdown.check()
            try:
                self.collect(ct)
            except ApiError as exc:
                self.reporter.error(f"input {self.id} {ct}: {exc}")
                self.reporter.count("errors", 1, self.id)
                if exc.code == "AF20022":  # no subscription: try to start it again next time
                    self.enabled.discard(ct)

    def collect(self, ct: str) -> None:
        st = self.state(ct)
        now = int(self.clock.now())
        earliest = now - AUDIT_RETENTION + SAFETY
        lost = ""
        if st.cursor is not None and st.cursor < earliest:
            lost = (f"input {self.id} {ct}: the last progress ({fmt_time(st.cursor)}Z) is older than the 7 days "
                    f"the API keeps; content created before {fmt_time(earliest)}Z can no longer be fetched")
        start = self.window_start(st, now, earliest, lost)
        while start < now:
            self.shutdown.check()
            end = min(start + WINDOW, now)
            items = self.list_content(ct, start, end)
            todo = [i for i in items if str(i.get("contentId")) not in st.done]
            n_records = 0
            for item in todo:
                self.shutdown.check()
                n_records += self.process_blob(st, ct, item, now)
            if todo:
                self.reporter.info(f"input {self.id} {ct}: {fmt_time(start)}Z..{fmt_time(end)}Z: "
                                   f"{len(todo)} new blobs, {n_records} records")
            st.cursor = end
            keep_from = end - self.cfg.overlap - 60
            st.done = {cid: created for cid, created in st.done.items() if created >= keep_from}
            self.save(st)
            start = end

    def list_content(self, ct: str, start: int, end: int) -> list[dict]:
        url = f"{self.root}/subscriptions/content"
        params = self._params(url, contentType=ct, startTime=fmt_time(start), endTime=fmt_time(end))
        items: list[dict] = []
        followed: set[str] = set()
        for _ in range(MAX_PAGES):
            resp = self.api.get(url, params=params)
            try:
                body = resp.json()
            except ValueError:
                raise ApiError("the content listing is not JSON") from None
            if not isinstance(body, list):
                raise ApiError("the content listing is not a JSON array")
            items.extend(i for i in body if isinstance(i, dict) and i.get("contentUri") and i.get("contentId"))
            nxt = resp.headers.get("NextPageUri")  # case-insensitive, so 'Nextpageuri' too
            if not nxt:
                return items
            if nxt in followed:
                raise ApiError("NextPageUri repeats itself; stopping this listing")
            followed.add(nxt)
            url, params = nxt, self._params(nxt)
            self.shutdown.check()
        raise ApiError(f"more than {MAX_PAGES} listing pages; stopping this listing")

    def process_blob(self, st, ct: str, item: dict, now: int) -> int:
        cid = str(item["contentId"])
        created = parse_time(item.get("contentCreated")) or now
        expires = parse_time(item.get("contentExpiration"))

        def mark() -> None:
            st.done[cid] = created

        if expires is not None and expires <= now:
            self.reporter.warn(f"input {self.id} {ct}: content {cid} expired at {item.get('contentExpiration')}; skipped")
            self._mark_only(st, mark)
            return 0
        try:
            elements = self.download(item)
        except MalformedContent as exc:
            self.reporter.error(f"input {self.id} {ct}: content {cid} is malformed after {MALFORMED_ATTEMPTS} attempts ({exc}); "
                                "skipped, the rest goes on")
            self.reporter.count("malformed_blobs", 1, self.id)
            self._mark_only(st, mark)
            return 0
        except ApiError as exc:
            if exc.code in ("AF20050", "AF20051", "AF20052") or exc.status == 404:
                self.reporter.warn(f"input {self.id} {ct}: content {cid} cannot be fetched ({exc}); skipped")
                self._mark_only(st, mark)
                return 0
            raise
        records = self.records_of(elements, "audit", f" {ct}: content {cid}", "record")
        self.reporter.count("blobs", 1, self.id)
        fresh = self.fresh(st, records)
        return self.commit(st, fresh, created, f"{self.id}/{ct}/{cid}", mark)

    def _mark_only(self, st, mark) -> None:
        with self.shutdown.critical():
            mark()
            self.store.save(st)

    def download(self, item: dict) -> jsonspans.Elements:
        url = str(item["contentUri"])
        problem = ""
        for attempt in range(MALFORMED_ATTEMPTS):
            resp = self.api.get(url, params=self._params(url))
            try:
                text = resp.content.decode(self.cfg.encoding)
                doc = jsonspans.parse(text)
                if not isinstance(doc, jsonspans.Elements):
                    raise jsonspans.MalformedJSON("not a JSON array")
                return doc
            except (UnicodeDecodeError, jsonspans.MalformedJSON) as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                if attempt + 1 < MALFORMED_ATTEMPTS:
                    self.clock.sleep(2.0 ** attempt)
        raise MalformedContent(problem)
