"""Kill the fetcher at many points and restart it: no record lost, none written twice to a file.

The fetcher runs as a real process (``python -m normalizer fetch --config ... --once``) against
the fake service on real time.  Kill points are made two ways: the fake holds a chosen request
(a token request, a listing page, a blob, a Graph page) so the test knows where the process is
when it sends SIGKILL; and a wrapper (``fake_m365/crashing_fetch.py``) SIGKILLs the process
just before its N-th progress save, or in the middle of a write (a torn last line).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

import normalizer
from fake_m365 import SECRET, audit_record, graph_row, write_config
from fake_m365.fixtures import all_files_text, live_fake, no_proxy_env, tls  # noqa: F401

REPO = Path(normalizer.__file__).resolve().parent.parent
CRASHER = REPO / "tests" / "fake_m365" / "crashing_fetch.py"
CTS = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General")
WORKLOAD = {"Audit.AzureActiveDirectory": "AzureActiveDirectory", "Audit.Exchange": "Exchange",
            "Audit.SharePoint": "SharePoint", "Audit.General": "General"}


def fill(fake):
    """Audit blobs in every content type (one day with 7 blobs, so listings page), and 33 Graph rows."""
    now = time.time()
    n = 0
    ids, blobs = [], {}
    for ct in CTS:
        ages = [3 * 86400, 5 * 3600, 1200, 300]
        if ct == "Audit.Exchange":
            ages += [2 * 86400 + i for i in range(7)]
        for age in ages:
            recs = [audit_record(n + i, WORKLOAD[ct], created=now - age) for i in range(3)]
            n += 3
            ids += [r["Id"] for r in recs]
            blobs.setdefault(ct, []).append(fake.add_blob(ct, now - age, recs))
    rows = [graph_row(i, now - 100 * i - 120) for i in range(30)]
    rows += [graph_row(i, now - 100 * i - 120, recipient=f"cc{i}@contoso.com") for i in (3, 11, 17)]
    fake.graph_rows += rows
    return ids, [(r["id"], r["recipientAddress"]) for r in rows], blobs


def env(crash: str | None = None) -> dict:
    e = {k: v for k, v in os.environ.items() if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")}
    e.update(PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), NO_PROXY="127.0.0.1,localhost",
             no_proxy="127.0.0.1,localhost")
    if crash:
        e["O365NORM_TEST_CRASH"] = crash
    return e


def command(cfg: Path, crash: str | None = None, once: bool = True) -> list[str]:
    head = [sys.executable, str(CRASHER)] if crash else [sys.executable, "-m", "normalizer"]
    return head + ["fetch", "--config", str(cfg)] + (["--once"] if once else [])


def run(cfg: Path, crash: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(cfg, crash), env=env(crash), capture_output=True, timeout=60, cwd=cwd)


def keys_in(records: list[dict]) -> tuple[Counter, Counter]:
    audit = Counter(r.get("o365.audit.Id", r.get("Id")) for r in records if "o365.audit.Id" in r or "Id" in r)
    msgs = Counter((r.get("o365.message.trace_id", r.get("id")), r.get("o365.message.recipient", r.get("recipientAddress")))
                   for r in records if "o365.message.trace_id" in r or "recipientAddress" in r)
    return audit, msgs


def read_ndjson(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]  # every line is a whole record


def assert_exactly_once(records, ids, msgs):
    audit, trace = keys_in(records)
    assert set(audit) == set(ids), f"missing: {set(ids) - set(audit)}"
    assert set(trace) == set(msgs), f"missing: {set(msgs) - set(trace)}"
    assert [k for k, c in audit.items() if c > 1] == [] and [k for k, c in trace.items() if c > 1] == []


def test_sigkill_while_waiting_on_the_network_loses_and_duplicates_nothing(tmp_path, live_fake, tls):
    fake = live_fake
    ids, msgs, blobs = fill(fake)
    out = tmp_path / "out.ndjson"
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", out=out)
    third = sorted(blobs["Audit.Exchange"], key=lambda b: b.created)[2].content_id
    points = [
        ("the first token request", lambda r: r.path.endswith("/oauth2/v2.0/token")),
        ("the second listing page", lambda r: r.path.endswith("/subscriptions/content") and r.q("nextPage") == "3"),
        ("a content blob", lambda r: third in r.path),
        ("the second Graph page", lambda r: "/messageTraces" in r.path and r.q("$skiptoken") == "7"),
    ]
    for name, match in points:
        hold = fake.hold(match)
        proc = subprocess.Popen(command(cfg), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            reached = hold.reached.wait(30)
            if not reached:
                proc.kill()
            assert reached, f"never reached {name}: {proc.communicate()[1].decode()}"
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
        finally:
            hold.released.set()
            fake.holds.remove(hold)
    done = run(cfg)
    assert done.returncode == 0, done.stderr.decode()
    assert_exactly_once(read_ndjson(out), ids, msgs)


def test_sigkill_between_writing_and_saving_progress_and_mid_write(tmp_path, live_fake, tls):
    """Killed right before progress saves (some of them just after a batch was flushed) and in
    the middle of writing a batch: the file ends up with every record exactly once, and whole lines."""
    fake = live_fake
    ids, msgs, _ = fill(fake)
    out = tmp_path / "out.ndjson"
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", out=out, normalize=False)
    for crash in ("save:9", "save:10", "write:2", "save:3", "save:13", "write:3", "save:25", "write:1"):
        done = run(cfg, crash)
        assert done.returncode == -signal.SIGKILL, (crash, done.returncode, done.stderr.decode()[-2000:])
    done = run(cfg)
    assert done.returncode == 0, done.stderr.decode()
    assert "removed an incomplete last line" in done.stderr.decode() or out.read_bytes().endswith(b"\n")
    assert_exactly_once(read_ndjson(out), ids, msgs)
    assert SECRET not in out.read_text() + all_files_text(tmp_path / "state")


def test_on_stdout_only_the_batch_in_flight_can_repeat(tmp_path, live_fake, tls):
    fake = live_fake
    ids, msgs, blobs = fill(fake)
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", normalize=False)
    chunks = []
    for crash in ("save:12", "save:20", "save:8"):
        done = run(cfg, crash)
        assert done.returncode == -signal.SIGKILL, done.stderr.decode()
        chunks.append(done.stdout)
    done = run(cfg)
    assert done.returncode == 0, done.stderr.decode()
    chunks.append(done.stdout)
    records = [orjson.loads(line) for chunk in chunks for line in chunk.splitlines()]
    audit, trace = keys_in(records)
    assert set(audit) == set(ids) and set(trace) == set(msgs)  # nothing lost
    # a record repeats only if the process died after writing it and before saving progress:
    # then it belongs to the one batch (blob or page) that was being committed at each kill
    blob_of = {rid: b.content_id for bl in blobs.values() for b in bl for rid in [r["Id"] for r in orjson.loads(b.body)]}
    repeated = [k for k, c in audit.items() if c > 1]
    assert repeated, "this scenario kills right after a blob was written: its records come again"
    assert len({blob_of[k] for k in repeated}) <= 3
    assert all(c <= 2 for c in audit.values()) and all(c <= 2 for c in trace.values())


def test_sigterm_and_sigint_stop_cleanly_with_progress_saved(tmp_path, live_fake, tls):
    fake = live_fake
    ids, msgs, blobs = fill(fake)
    out = tmp_path / "out.ndjson"
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", out=out)
    # 1. SIGTERM while a request is outstanding, in the continuous mode
    target = sorted(blobs["Audit.SharePoint"], key=lambda b: b.created)[1].content_id
    hold = fake.hold(lambda r: target in r.path)
    proc = subprocess.Popen(command(cfg, once=False), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert hold.reached.wait(30), proc.kill() or proc.communicate()[1].decode()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        hold.released.set()
        fake.holds.remove(hold)
    assert proc.returncode == 0, err.decode()
    assert "stopping (SIGTERM)" in err.decode() and "records out" in err.decode()
    assert list((tmp_path / "state" / "MyMSOffice365Source").glob("Audit.*.json"))
    # 2. run on until everything is out, then SIGINT while it waits for the next refresh
    proc = subprocess.Popen(command(cfg, once=False), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        if out.exists() and sum(1 for _ in out.open("rb")) >= len(ids) + len(msgs):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert "stopping (SIGINT)" in err.decode()
    assert_exactly_once(read_ndjson(out), ids, msgs)
    assert SECRET not in err.decode()


def test_the_secret_is_not_in_any_output_of_a_real_process(tmp_path, live_fake, tls):
    fake = live_fake
    fill(fake)
    out = tmp_path / "out.ndjson"
    cfg = write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", out=out)
    done = run(cfg)
    assert done.returncode == 0, done.stderr.decode()
    fake.secrets = {"not-the-configured-one"}
    fake.revoke_tokens()
    failed = run(cfg)
    assert failed.returncode == 1 and b"AADSTS7000215" in failed.stderr
    everything = (done.stdout + done.stderr + failed.stdout + failed.stderr).decode() + out.read_text() + \
        all_files_text(tmp_path / "state")
    assert SECRET not in everything
