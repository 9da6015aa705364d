"""Per-cloud defaults, so that a sovereign-cloud tenant needs one ``cloud:`` key, not five URLs.

Values come from the Management Activity API reference and the Graph docs; the ones marked
unverified there (GCC High / DoD login host, the GCC High reporting host) are kept because
they are what other collectors use, and every one can be overridden in the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    authority: str
    audit_api: str  # Management Activity API host; also the token resource
    graph_api: str  # Microsoft Graph base URL (messageTraces lives below it)
    graph_resource: str
    reporting_api: str | None  # legacy Reporting Web Service (reporting.svc)
    reporting_resource: str | None


CLOUDS: dict[str, Cloud] = {
    "commercial": Cloud(
        "commercial", "https://login.microsoftonline.com", "https://manage.office.com",
        "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com",
        "https://reports.office365.com/ecp/reportingwebservice/reporting.svc", "https://outlook.office365.com",
    ),
    "gcc": Cloud(
        "gcc", "https://login.microsoftonline.com", "https://manage-gcc.office.com",
        "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com",
        "https://reports.office365.com/ecp/reportingwebservice/reporting.svc", "https://outlook.office365.com",
    ),
    "gcchigh": Cloud(
        "gcchigh", "https://login.microsoftonline.us", "https://manage.office365.us",
        "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us",
        "https://reports.office365.us/ecp/reportingwebservice/reporting.svc", "https://outlook.office365.us",
    ),
    "dod": Cloud(
        "dod", "https://login.microsoftonline.us", "https://manage.protection.apps.mil",
        "https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us",
        None, None,
    ),
}

ALIASES = {"gcc-high": "gcchigh", "gcc_high": "gcchigh", "usgov": "gcchigh", "global": "commercial", "enterprise": "commercial"}


def lookup(name: str) -> Cloud | None:
    key = name.strip().lower()
    return CLOUDS.get(ALIASES.get(key, key))
