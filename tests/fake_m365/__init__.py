"""A fake Microsoft 365 service for the fetcher's tests, and helpers to fill it and configure against it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from .certs import TlsFiles, make_tls
from .server import GRAPH, MANAGE, OUTLOOK, Blob, FakeM365, Hold, Request, iso_z

TENANT = "3f2a9c1e-7b4d-4e8a-9c0f-1d2e3f4a5b6c"
CLIENT_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
SECRET = "Zq8~SECRET-canary-7f3e9a1b5c-do-not-print"

__all__ = ["TlsFiles", "make_tls", "FakeM365", "Blob", "Hold", "Request", "MANAGE", "GRAPH", "OUTLOOK",
           "TENANT", "CLIENT_ID", "SECRET", "FakeClock", "audit_record", "graph_row", "rws_row", "write_config", "iso_z"]


class FakeClock:
    """Time that moves only when someone sleeps: hours of back-off and token expiry in no time."""

    def __init__(self, start: float | None = None):
        self.t = float(int(start if start is not None else time.time()))
        self.sleeps: list[float] = []
        self.on_sleep = None  # optional callback(clock) after each sleep

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.t += seconds
        if self.on_sleep is not None:
            self.on_sleep(self)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def audit_record(n: int, workload: str = "Exchange", created: float | None = None, **extra) -> dict:
    """A plausible audit record with a unique Id (``uuid5`` of n, so tests can recompute it)."""
    rt = {"AzureActiveDirectory": 15, "Exchange": 2, "SharePoint": 6, "General": 25}.get(workload, 2)
    rec = {
        "CreationTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(created if created is not None else time.time()))),
        "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"o365norm-test-{n}")),
        "Operation": {"AzureActiveDirectory": "UserLoggedIn", "Exchange": "MailItemsAccessed",
                      "SharePoint": "FileAccessed", "General": "MemberAdded"}.get(workload, "Op"),
        "OrganizationId": TENANT,
        "RecordType": rt,
        "UserKey": f"user{n}@contoso.com",
        "UserType": 0,
        "Version": 1,
        "Workload": workload,
        "ClientIP": "203.0.113.7",
        "UserId": f"user{n}@contoso.com",
        "Seq": n,
    }
    rec.update(extra)
    return rec


def graph_row(n: int, received: float, recipient: str | None = None, **extra) -> dict:
    row = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"o365norm-trace-{n}")),
        "messageId": f"<msg{n}@contoso.com>",
        "receivedDateTime": iso_z(received),
        "senderAddress": f"sender{n}@fabrikam.com",
        "recipientAddress": recipient or f"rcpt{n}@contoso.com",
        "subject": f"Message {n}",
        "size": 1000 + n,
        "fromIP": "198.51.100.4",
        "toIP": "",
        "status": "delivered",
    }
    row.update(extra)
    return row


def rws_row(n: int, received: float, recipient: str | None = None) -> dict:
    return {
        "Organization": "contoso.onmicrosoft.com",
        "MessageId": f"<msg{n}@contoso.com>",
        "Received": f"/Date({int(received) * 1000})/",
        "SenderAddress": f"sender{n}@fabrikam.com",
        "RecipientAddress": recipient or f"rcpt{n}@contoso.com",
        "Subject": f"Message {n}",
        "Status": "Delivered",
        "ToIP": None,
        "FromIP": "198.51.100.4",
        "Size": 1000 + n,
        "MessageTraceId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"o365norm-rws-{n}")),
    }


def write_config(path: Path, fake: FakeM365, tls: TlsFiles, state: Path, *, out: Path | None = None,
                 normalize: bool = True, audit: bool = True, trace: bool = True, api: str = "graph",
                 content_types: str = "Audit.AzureActiveDirectory Audit.Exchange Audit.SharePoint Audit.General",
                 secret_line: str | None = None, extra_audit: str = "", extra_trace: str = "", extra_conn: str = "") -> Path:
    lines = [
        "connection:MSOffice365:MSOffice365Connection:",
        f"  client_id: {CLIENT_ID}",
        f"  tenant_id: {TENANT}",
        secret_line if secret_line is not None else f"  client_secret: {SECRET}",
        f"  authority: {fake.url}",
        f"  ca_file: {tls.ca_file}",
    ]
    lines += [ln for ln in extra_conn.splitlines() if ln.strip()]
    if audit:
        lines += [
            "input:MSOffice365Source:MyMSOffice365Source:",
            "  connection: MSOffice365Connection",
            f"  content_type: {content_types}",
            f"  api_url: {fake.url}",
            f"  output: {'out' if out else 'console'}",
            f"  last_value_storage: {state}",
        ] + [ln for ln in extra_audit.splitlines() if ln.strip()]
    if trace:
        api_url = f"{fake.url}/v1.0" if api == "graph" else f"{fake.url}/ecp/reportingwebservice/reporting.svc"
        lines += [
            "input:MSOffice365MessageTraceSource:MSOffice365MessageTraceSource:",
            "  connection: MSOffice365Connection",
            f"  output: {'out' if out else 'console'}",
            f"  api: {api}",
            f"  api_url: {api_url}",
            f"  last_value_storage: {state}",
        ] + [ln for ln in extra_trace.splitlines() if ln.strip()]
    if out is not None:
        lines += ["output:File:out:", f"  path: {out}", f"  normalize: {'true' if normalize else 'false'}"]
    else:
        lines += ["output:Stdout:console:", f"  normalize: {'true' if normalize else 'false'}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
