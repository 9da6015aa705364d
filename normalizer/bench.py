"""Benchmark: the full built-in rule set against bare JSON parsing, on one core.

    python -m normalizer.bench                 # 100,000 records, 5 repetitions
    python -m normalizer.bench --records 20000 --repeat 3 --no-command

It generates a deterministic, realistic mixed corpus (every audit workload in rough
real-world proportions, with DeviceProperties, ExtendedProperties, ModifiedProperties and
Parameters, plus message-trace rows of both dialects), then measures in this process:
(a) the floor, ``orjson.loads`` + ``orjson.dumps`` per line, and (b) o365norm with the
built-in rules (parse, normalize, flatten, dump). It prints records/s, MB/s, the ratio
(b)/(a), and, unless ``--no-command``, the whole ``o365norm normalize FILE -o /dev/null``
command against a whole-process orjson round trip, with its peak memory, and the command
with ``--jobs 2`` against one process.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Callable

import orjson

# -- corpus -------------------------------------------------------------------------------
_USERS = [f"{n}@contoso.onmicrosoft.com" for n in ("adele.vance", "alex.wilber", "diego.siciliani", "grady.archie",
                                                   "isaiah.langer", "johanna.lorenz", "lee.gu", "megan.bowen")]
_AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
           "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"]


class _Gen:
    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.t = 1_767_225_600  # 2026-01-01T00:00:00Z

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    def when(self) -> str:
        self.t += self.rnd.randint(0, 3)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.t))

    def ip(self) -> str:
        shape = self.rnd.random()
        base = f"203.0.113.{self.rnd.randint(1, 254)}"
        if shape < 0.1:
            return f"{base}:{self.rnd.randint(1024, 65535)}"
        if shape < 0.15:
            return f"2001:db8::{self.rnd.randint(1, 9999):x}"
        return base

    def common(self, record_type: int, workload: str, operation: str) -> dict:
        user = self.rnd.choice(_USERS)
        return {"CreationTime": self.when(), "Id": self.guid(), "Operation": operation, "OrganizationId": "d0fa9cc4-4840-46a1-8358-c2d6d005628e",
                "RecordType": record_type, "ResultStatus": "Succeeded", "UserKey": self.guid(), "UserType": 0, "Version": 1,
                "Workload": workload, "ClientIP": self.ip(), "UserId": user, "ObjectId": self.guid()}

    def sts_logon(self) -> dict:
        r = self.common(15, "AzureActiveDirectory", self.rnd.choice(["UserLoggedIn", "UserLoggedIn", "UserLoginFailed"]))
        r.update({
            "AzureActiveDirectoryEventType": 1, "ActorContextId": r["OrganizationId"], "ApplicationId": self.guid(),
            "InterSystemsId": self.guid(), "IntraSystemId": self.guid(), "TargetContextId": r["OrganizationId"],
            "ErrorNumber": "0" if r["Operation"] == "UserLoggedIn" else "50126",
            "Actor": [{"ID": self.guid(), "Type": 0}, {"ID": r["UserId"], "Type": 5}],
            "Target": [{"ID": self.guid(), "Type": 0}],
            "DeviceProperties": [{"Name": "OS", "Value": "Windows 10"}, {"Name": "BrowserType", "Value": "Edge"},
                                 {"Name": "IsCompliantAndManaged", "Value": "False"}, {"Name": "SessionId", "Value": self.guid()}],
            "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success"}, {"Name": "UserAgent", "Value": self.rnd.choice(_AGENTS)},
                                   {"Name": "RequestType", "Value": "OAuth2:Authorize"}, {"Name": "KeepMeSignedIn", "Value": "true"}],
            "ModifiedProperties": [],
        })
        if r["Operation"] == "UserLoginFailed":
            r["LogonError"] = "InvalidUserNameOrPassword"
        return r

    def directory_change(self) -> dict:
        r = self.common(8, "AzureActiveDirectory", "Update user.")
        r.update({
            "AzureActiveDirectoryEventType": 1, "Actor": [{"ID": "ServicePrincipal_" + self.guid(), "Type": 2}],
            "Target": [{"ID": "User_" + self.guid(), "Type": 2}, {"ID": r["UserId"], "Type": 5}],
            "ModifiedProperties": [{"Name": "StrongAuthenticationMethod", "NewValue": '[{"MethodType":7,"Default":true}]', "OldValue": "[]"},
                                   {"Name": "Included Updated Properties", "NewValue": "StrongAuthenticationMethod", "OldValue": ""}],
            "ExtendedProperties": [{"Name": "additionalDetails", "Value": '{"UserType":"Member"}'}, {"Name": "extendedAuditEventCategory", "Value": "User"}],
        })
        return r

    def mailbox(self) -> dict:
        r = self.common(50, "Exchange", "MailItemsAccessed")
        r.update({
            "ClientIPAddress": self.ip(), "ClientInfoString": "Client=OWA;Action=ViaProxy", "ExternalAccess": False,
            "InternalLogonType": 0, "LogonType": 0, "LogonUserSid": "S-1-5-21-" + str(self.rnd.getrandbits(32)),
            "MailboxGuid": self.guid(), "MailboxOwnerSid": "S-1-5-21-" + str(self.rnd.getrandbits(32)), "MailboxOwnerUPN": r["UserId"],
            "OperationCount": str(self.rnd.randint(1, 40)), "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
            "OrganizationName": "contoso.onmicrosoft.com", "OriginatingServer": "DB9PR04MB8462 (15.20.8005.017)",
            "SessionId": self.guid(), "Folders": [{"Id": "LgAAAAB" + self.guid(), "Path": "\\Inbox", "FolderItems": [{"InternetMessageId": f"<{self.guid()}@contoso.com>"}]}],
        })
        return r

    def mailbox_item(self) -> dict:
        r = self.common(2, "Exchange", self.rnd.choice(["Send", "SoftDelete", "Update"]))
        r.update({"ClientIPAddress": self.ip(), "LogonType": 0, "InternalLogonType": 0, "ExternalAccess": False, "MailboxOwnerUPN": r["UserId"],
                  "Item": {"Id": "RgAAAAB" + self.guid(), "InternetMessageId": f"<{self.guid()}@contoso.com>", "Subject": "Quarterly numbers",
                           "SizeInBytes": self.rnd.randint(2000, 90000), "ParentFolder": {"Id": "LgAAAAB" + self.guid(), "Path": "\\Sent Items"}},
                  "ModifiedProperties": ["Body", "Subject"]})
        return r

    def exchange_admin(self) -> dict:
        r = self.common(1, "Exchange", "Set-Mailbox")
        r.update({"ResultStatus": "True", "ExternalAccess": False, "OriginatingServer": "DB9PR04MB8462 (15.20.8005.017)",
                  "Parameters": [{"Name": "Identity", "Value": r["UserId"]}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:x@fabrikam.com"},
                                 {"Name": "DeliverToMailboxAndForward", "Value": "True"}]})
        return r

    def sharepoint(self) -> dict:
        op = self.rnd.choice(["FileAccessed", "FileAccessed", "FileModified", "FileDownloaded", "FileUploaded"])
        r = self.common(6, self.rnd.choice(["SharePoint", "SharePoint", "OneDrive"]), op)
        name = f"Report {self.rnd.randint(1, 999)}.xlsx"
        r.update({"UserKey": f"i:0h.f|membership|{self.rnd.getrandbits(60):x}@live.com", "EventSource": "SharePoint", "ItemType": "File",
                  "ListId": self.guid(), "ListItemUniqueId": self.guid(), "Site": self.guid(), "WebId": self.guid(), "UserAgent": self.rnd.choice(_AGENTS),
                  "SiteUrl": "https://contoso.sharepoint.com/sites/Finance/", "SourceRelativeUrl": "Shared Documents/Reports",
                  "SourceFileName": name, "SourceFileExtension": "xlsx", "FileSizeBytes": self.rnd.randint(1000, 10**7),
                  "ObjectId": f"https://contoso.sharepoint.com/sites/Finance/Shared Documents/Reports/{name}",
                  "AppAccessContext": {"AADSessionId": self.guid(), "CorrelationId": self.guid(), "UniqueTokenId": "x" + self.guid()[:20]}})
        return r

    def teams(self) -> dict:
        r = self.common(25, "MicrosoftTeams", self.rnd.choice(["MessageSent", "MemberAdded", "ChannelAdded"]))
        r.update({"TeamName": "Finance", "TeamGuid": "19:" + self.guid().replace("-", "") + "@thread.skype", "CommunicationType": "Team",
                  "Members": [{"UPN": self.rnd.choice(_USERS), "Role": 1, "DisplayName": "Member"}],
                  "ExtraProperties": [{"Key": "TimeZone", "Value": "Europe/Prague"}, {"Key": "OsName", "Value": "Windows"}]})
        return r

    def dlp(self) -> dict:
        r = self.common(13, "Exchange", "DlpRuleMatch")
        r.update({"UserKey": "DlpAgent", "IncidentId": self.guid(), "SensitiveInfoDetectionIsIncluded": True,
                  "ExchangeMetaData": {"MessageID": f"<{self.guid()}@contoso.com>", "From": r["UserId"], "To": ["x@fabrikam.com"], "CC": [], "BCC": [],
                                       "Subject": "Card numbers", "Sent": self.when(), "RecipientCount": 1},
                  "PolicyDetails": [{"PolicyId": self.guid(), "PolicyName": "PCI", "Rules": [{"RuleId": self.guid(), "RuleName": "Cards", "Severity": "High", "Actions": ["NotifyUser"]}]}]})
        return r

    def alert(self) -> dict:
        r = self.common(40, "SecurityComplianceCenter", "AlertTriggered")
        r.update({"UserId": "SecurityComplianceAlerts", "UserKey": "SecurityComplianceAlerts", "AlertId": self.guid(), "AlertType": "System",
                  "Name": "Suspicious email sending patterns detected", "Severity": "Medium", "Status": "Active", "Category": "ThreatManagement",
                  "Data": '{"etype":"User","eid":"' + r["UserId"] + '","sev":"Medium","wl":"Exchange","ts":"' + r["CreationTime"] + '"}'})
        return r

    def graph_trace(self) -> dict:
        return {"id": self.guid(), "messageId": f"<{self.guid()}@contoso.com>", "receivedDateTime": self.when() + "Z",
                "senderAddress": "billing@fabrikam.com", "recipientAddress": self.rnd.choice(_USERS), "subject": "Invoice",
                "size": self.rnd.randint(2000, 200000), "fromIP": "198.51.100.7", "toIP": "", "status": self.rnd.choice(["delivered", "delivered", "filteredAsSpam"])}

    def rws_trace(self) -> dict:
        ms = self.t * 1000
        self.t += 2
        return {"__metadata": {"id": "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/MessageTrace(0)", "uri": "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/MessageTrace(0)", "type": "TenantReporting.MessageTrace"},
                "Organization": "contoso.onmicrosoft.com", "MessageId": f"<{self.guid()}@contoso.com>", "Received": f"/Date({ms})/",
                "SenderAddress": "billing@fabrikam.com", "RecipientAddress": self.rnd.choice(_USERS), "Subject": "Invoice", "Status": "Delivered",
                "ToIP": None, "FromIP": "198.51.100.7", "Size": self.rnd.randint(2000, 200000), "MessageTraceId": self.guid(),
                "StartDate": f"/Date({ms - 3600000})/", "EndDate": f"/Date({ms})/", "Index": self.rnd.randint(0, 999)}


MIX: list[tuple[str, float]] = [  # rough share of a real tenant's audit volume
    ("mailbox", 0.27), ("sharepoint", 0.27), ("sts_logon", 0.16), ("mailbox_item", 0.08), ("teams", 0.06),
    ("directory_change", 0.03), ("exchange_admin", 0.02), ("dlp", 0.02), ("alert", 0.01),
    ("graph_trace", 0.05), ("rws_trace", 0.03),
]


def iter_corpus(n: int, seed: int = 365):
    """``n`` NDJSON lines (bytes), the same for the same ``n`` and ``seed``."""
    gen = _Gen(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    rnd = random.Random(seed + 1)
    for _ in range(n):
        yield orjson.dumps(getattr(gen, rnd.choices(kinds, weights)[0])())


def corpus(n: int, seed: int = 365) -> list[bytes]:
    return list(iter_corpus(n, seed))


# -- measurement -------------------------------------------------------------------------
def _floor(lines: list[bytes]) -> None:
    loads, dumps = orjson.loads, orjson.dumps
    for line in lines:
        dumps(loads(line))


def _engine_fn(ruleset) -> Callable[[list[bytes]], None]:
    def run(lines: list[bytes]) -> None:
        loads, dumps, normalize = orjson.loads, orjson.dumps, ruleset.normalize_flat
        option = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
        for line in lines:
            dumps(normalize(loads(line)), option=option)

    return run


def _clear_caches(ruleset=None) -> None:
    """Each repetition starts cold: value caches warmed by an earlier pass would flatter it,
    and so would the functions the rule set specialised per record shape (compiled again)."""
    from .functions import network, time as time_functions

    network._clean_text.cache_clear()
    time_functions._from_string.cache_clear()
    if ruleset is not None and ruleset.compiled.shapes is not None:
        ruleset.compiled.shapes.clear()


def _median_seconds(fn: Callable[[list[bytes]], None], lines: list[bytes], repeat: int, ruleset=None) -> float:
    times = []
    for _ in range(repeat):
        _clear_caches(ruleset)
        start = time.perf_counter()
        fn(lines)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_ROUND_TRIP = "import sys, orjson\nw = sys.stdout.buffer.write\nfor line in sys.stdin.buffer:\n    w(orjson.dumps(orjson.loads(line)) + b'\\n')\n"


def _run_command(argv: list[str], stdin_path: str | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as devnull:
        subprocess.run(argv, stdin=stdin, stdout=devnull, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normalizer.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-command", action="store_true", help="skip the whole-command measurements")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="also time the command with --jobs N against one process (default 2; 1 skips it)")
    args = parser.parse_args(argv)

    from .ruleset import load_ruleset

    if not args.no_command:  # first, while this process is small: a child's peak RSS counts its fork
        _measure_command(args.records, args.jobs, args.repeat)
    lines = corpus(args.records)
    megabytes = sum(len(line) + 1 for line in lines) / 1e6
    print(f"corpus: {len(lines)} records, {megabytes:.1f} MB, {megabytes * 1e6 / len(lines):.0f} bytes/record (deterministic)")
    ruleset = load_ruleset()
    floor = _median_seconds(_floor, lines, args.repeat)
    engine = _median_seconds(_engine_fn(ruleset), lines, args.repeat, ruleset)
    for label, seconds in (("floor  orjson loads+dumps", floor), ("o365norm full rule set ", engine)):
        print(f"{label}: {len(lines) / seconds:>10,.0f} records/s  {megabytes / seconds:7.1f} MB/s")
    print(f"ratio (o365norm / floor): {floor / engine:.3f}")
    return 0


def _measure_command(records: int, jobs: int, repeat: int) -> None:
    """Whole processes, start-up included. The machine's speed drifts between runs (other
    virtual machines on the host), so the runs compared are interleaved and each ratio is
    the median of the ratios of runs made one after the other."""
    with tempfile.NamedTemporaryFile(suffix=".ndjson", delete=False) as fh:
        for line in iter_corpus(records):
            fh.write(line + b"\n")
        path = fh.name
    command = [sys.executable, "-m", "normalizer", "normalize", path, "-o", os.devnull, "-q"]
    try:
        _, peak = _run_command(command)  # alone first: the peak RSS of one process
        base, one, many = [], [], []
        for _ in range(max(repeat, 1)):
            base.append(_run_command([sys.executable, "-c", _ROUND_TRIP], stdin_path=path)[0])
            one.append(_run_command(command)[0])
            if jobs > 1:
                many.append(_run_command(command + ["--jobs", str(jobs)])[0])
        median = statistics.median
        print(f"command: o365norm normalize FILE -o /dev/null: {records / median(one):>10,.0f} records/s, "
              f"peak RSS {peak / 1024:.0f} MiB (includes start-up)")
        print(f"command: orjson round trip in one process:     {records / median(base):>10,.0f} records/s")
        print(f"command ratio: {median(b / o for b, o in zip(base, one)):.3f}")
        if many:
            print(f"command: o365norm normalize FILE --jobs {jobs}:      {records / median(many):>10,.0f} records/s")
            print(f"jobs speed-up (--jobs {jobs} / one process): {median(o / m for o, m in zip(one, many)):.2f}")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    raise SystemExit(main())
