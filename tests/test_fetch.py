"""The fetcher against the fake Microsoft 365 service, in-process on a fake clock.

The fake really listens on 127.0.0.1 over HTTPS (a CA made by the tests, trusted through
``ca_file``), issues tokens through the same MSAL code path as Entra ID, and enforces the
documented API rules; the fetcher's clock is shared with it, so hours of throttling back-off,
refresh periods and token lifetimes pass in milliseconds.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import uuid

import orjson
import requests

from fake_m365 import (CLIENT_ID, GRAPH, MANAGE, OUTLOOK, SECRET, TENANT, audit_record, graph_row, rws_row,
                       write_config)
from fake_m365.fixtures import all_files_text, clock, fake, no_proxy_env, run_fetch, tls  # noqa: F401

DAY = 86400
CTS = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General")
WORKLOAD = {"Audit.AzureActiveDirectory": "AzureActiveDirectory", "Audit.Exchange": "Exchange",
            "Audit.SharePoint": "SharePoint", "Audit.General": "General"}


def audit_id(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"o365norm-test-{n}"))


def fill(fake, now, *, blobs_per_ct=4, records_per_blob=3, ages=None, start_n=0):
    """Blobs in every content type at different ages (within 7 days); returns the expected audit Ids."""
    ids = []
    n = start_n
    ages = ages or [6.5 * DAY, 2 * DAY, 3 * 3600, 1800, 600, 300][:blobs_per_ct]
    for ct in CTS:
        for age in ages:
            recs = [audit_record(n + i, WORKLOAD[ct], created=now - age) for i in range(records_per_blob)]
            n += records_per_blob
            ids += [r["Id"] for r in recs]
            fake.add_blob(ct, now - age, recs)
    return ids


def lines(data: bytes) -> list[dict]:
    return [orjson.loads(x) for x in data.splitlines()]


def audit_ids_out(records):
    return [r["o365.audit.Id"] for r in records if "o365.audit.Id" in r]


def message_keys_out(records):
    return [(r["o365.message.trace_id"], r["o365.message.recipient"]) for r in records if "o365.message.trace_id" in r]


def config(tmp_path, fake, tls, **kw):
    return write_config(tmp_path / "fetch.yaml", fake, tls, tmp_path / "state", **kw)


# ---------------------------------------------------------------------------------------------- full pass

def test_full_pass_gives_normalized_audit_and_message_records(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now)
    # a day with more blobs than a listing page (3), to make the API page with NextPageUri
    for i in range(7):
        recs = [audit_record(1000 + i, "Exchange", created=now - 5 * DAY)]
        ids.append(recs[0]["Id"])
        fake.add_blob("Audit.Exchange", now - 5 * DAY + i, recs)
    rows = [graph_row(i, now - 3000 * i - 61) for i in range(20)]
    rows.append(graph_row(3, now - 9000, recipient="second@contoso.com"))  # same message, another recipient
    fake.graph_rows += rows

    status, out, err, _ = run_fetch(config(tmp_path, fake, tls), clock)

    assert status == 0, err
    records = lines(out)
    assert sorted(audit_ids_out(records)) == sorted(ids)
    audit = [r for r in records if "o365.audit.Id" in r]
    assert all(r["o365.audit.RecordTypeName"] and r["@timestamp"].endswith("Z") for r in audit)
    messages = [r for r in records if "o365.message.trace_id" in r]
    assert sorted(message_keys_out(records)) == sorted((r["id"], r["recipientAddress"]) for r in rows)
    assert all(m["o365.message.dialect"] == "graph" and m["o365.message.status"] == "Delivered" for m in messages)
    assert len(records) == len(ids) + len(rows)  # rows on a window boundary come twice from Graph; suppressed
    assert "0 errors" in err

    # protocol: PublisherIdentifier on every Management API call, windows within the rules, paging followed
    feed = fake.requests_to("/activity/feed/")
    assert feed and all(r.q("PublisherIdentifier") == TENANT for r in feed)
    listings = fake.requests_to("/subscriptions/content")
    assert any(r.q("nextPage") for r in listings)
    assert all(r.aud == MANAGE for r in feed)
    assert all(r.aud == GRAPH for r in fake.requests_to("/messageTraces"))
    assert [s for _, s in fake.responses if s >= 400] == []
    scopes = sorted(t["scope"] for t in fake.token_requests)
    assert scopes == [f"{GRAPH}/.default", f"{MANAGE}/.default"]


def test_a_second_pass_emits_only_what_is_new(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now, blobs_per_ct=2)
    fake.graph_rows += [graph_row(i, now - 60 * i - 61) for i in range(5)]
    cfg = config(tmp_path, fake, tls)
    status, out1, err1, _ = run_fetch(cfg, clock)
    assert status == 0, err1

    clock.advance(700)
    later = clock.now()
    new = [audit_record(500, "Exchange", created=later - 30)]
    fake.add_blob("Audit.Exchange", later - 30, new)
    fake.graph_rows += [graph_row(50, later - 90), graph_row(51, later - 800)]  # the second one inside the overlap
    status, out2, err2, _ = run_fetch(cfg, clock)
    assert status == 0, err2
    second = lines(out2)
    assert audit_ids_out(second) == [new[0]["Id"]]
    assert sorted(k[0] for k in message_keys_out(second)) == sorted([graph_row(50, 0)["id"], graph_row(51, 0)["id"]])
    assert sorted(audit_ids_out(lines(out1)) + audit_ids_out(second)) == sorted(ids + [new[0]["Id"]])
    # the overlap re-listed content already emitted, and re-read rows already emitted: all suppressed
    assert "duplicates suppressed" in err2
    assert sum(1 for r in fake.requests_to("/activity/feed/audit/")) == len(fake.blobs)


def test_raw_output_is_the_api_text_one_record_per_line(tmp_path, fake, tls, clock):
    now = clock.now()
    body = ('[ {"Id": "6b0d2c84-0000-4000-8000-000000000001", "Num": 1.50, "Name": "caf\\u00e9",\n'
            '   "Nested": {"b": 2, "a": [1, 2 ]}} ,\n{"Id":"6b0d2c84-0000-4000-8000-000000000002","RecordType":"15"}]')
    fake.add_blob("Audit.General", now - 100, body=body.encode())
    row = graph_row(1, now - 70)
    fake.graph_rows.append(row)
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, normalize=False), clock)
    assert status == 0, err
    got = out.decode().splitlines()
    assert got[:2] == [
        '{"Id": "6b0d2c84-0000-4000-8000-000000000001", "Num": 1.50, "Name": "caf\\u00e9",   "Nested": {"b": 2, "a": [1, 2 ]}}',
        '{"Id":"6b0d2c84-0000-4000-8000-000000000002","RecordType":"15"}',
    ]
    assert json.loads(got[2]) == row and got[2] == json.dumps(row)


def test_subscriptions_are_started_once_and_already_enabled_is_success(tmp_path, fake, tls, clock):
    fake.subscriptions["Audit.Exchange"] = "enabled"
    fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(1)])
    fake.add_blob("Audit.General", clock.now() - 60, [audit_record(2, "General")])
    cfg = config(tmp_path, fake, tls, trace=False)
    # the list is unavailable, so every content type is started; the enabled one answers AF20024: success
    fake.fail("/subscriptions/list", times=10, status=500, code="AF50000")
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert sorted(r.q("contentType") for r in fake.requests_to("/subscriptions/start")) == sorted(CTS)
    assert ("/api/v1.0/%s/activity/feed/subscriptions/start" % TENANT, 400) in fake.responses  # AF20024
    assert sorted(audit_ids_out(lines(out))) == sorted([audit_id(1), audit_id(2)])
    assert "cannot list subscriptions" in err
    # a later run lists them, finds them enabled, and starts nothing
    clock.advance(3600)
    before = len(fake.requests_to("/subscriptions/start"))
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert len(fake.requests_to("/subscriptions/start")) == before


# ---------------------------------------------------------------------------------------------- throttling and errors

def test_throttling_429_and_403_af429_honour_retry_after(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now, blobs_per_ct=1)
    fake.graph_rows += [graph_row(i, now - 100 * i - 61) for i in range(3)]
    fake.fail("/subscriptions/content", times=2, status=429, headers={"Retry-After": "7"}, message="Too many requests")
    fake.fail("/activity/feed/audit/", times=1, status=403, headers={"Retry-After": "3"}, code="AF429",
              message="Too many requests. Method=GetBlob, PublisherId=00000000-0000-0000-0000-000000000000")
    fake.fail("/activity/feed/audit/", times=1, status=403, code="AF429", message="Too many requests.")  # no Retry-After
    fake.fail("/messageTraces", times=1, status=429, headers={"Retry-After": "30"})
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls), clock)
    assert status == 0, err
    assert sorted(audit_ids_out(lines(out))) == sorted(ids)
    assert len(message_keys_out(lines(out))) == 3
    assert clock.sleeps.count(7) == 2 and 3 in clock.sleeps and 30 in clock.sleeps
    assert 2.0 in clock.sleeps  # exponential back-off (second wait of that call) when no Retry-After is given
    assert "5 throttled waits" in err


def test_graph_rate_limit_is_waited_out(tmp_path, fake, tls, clock):
    """The fake enforces Graph's request budget; the fetcher waits as told and gets everything."""
    fake.graph_rate_limit = (3, 300)
    now = clock.now()
    rows = [graph_row(i, now - 3 * 3600 * i - 65) for i in range(30)]  # 90 hours: 15 six-hour windows
    fake.graph_rows += rows
    cfg = config(tmp_path, fake, tls, audit=False, extra_trace="  initial_lookback: 4d")
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert sorted(k[0] for k in message_keys_out(lines(out))) == sorted(r["id"] for r in rows)
    throttled = [s for p, s in fake.responses if s == 429]
    assert throttled and len(fake.requests_to("/messageTraces")) == 16 + len(throttled)
    assert all(0 < s <= 301 for s in clock.sleeps)


def test_persistent_throttling_is_bounded_and_loses_nothing(tmp_path, fake, tls, clock):
    now = clock.now()
    blob = fake.add_blob("Audit.Exchange", now - 100, [audit_record(1)])
    fake.add_blob("Audit.Exchange", now - 50, [audit_record(2)])
    fault = fake.fail(lambda r: blob.content_id in r.path, times=1000, status=429, headers={"Retry-After": "3600"})
    cfg = config(tmp_path, fake, tls, trace=False, content_types="Audit.Exchange")
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 1  # an input failed in a --once run
    assert "still throttled" in err
    assert max(clock.sleeps) <= 300 and sum(clock.sleeps) <= 8 * 300
    assert audit_ids_out(lines(out)) == []  # the window was not completed: nothing after the stuck blob yet
    fault.times = 0
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert sorted(audit_ids_out(lines(out))) == sorted([audit_id(1), audit_id(2)])


def test_transient_5xx_are_retried(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now, blobs_per_ct=1)
    fake.fail("/subscriptions/content", times=2, status=500, code="AF50000", message="An internal error occurred.")
    fake.fail("/activity/feed/audit/", times=1, status=503, headers={"Retry-After": "2"})
    fake.fail("/oauth2/v2.0/token", times=1, status=502, body=b"Bad Gateway")
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False), clock)
    assert status == 0, err
    assert sorted(audit_ids_out(lines(out))) == sorted(ids)
    assert "4 retried requests" in err and 2 in clock.sleeps


def test_a_malformed_blob_is_reported_and_skipped(tmp_path, fake, tls, clock):
    now = clock.now()
    good1 = fake.add_blob("Audit.SharePoint", now - 300, [audit_record(1, "SharePoint")])
    bad = fake.add_blob("Audit.SharePoint", now - 200, body=b'[{"Id": "x", "Operation": "FileAccessed"')
    good2 = fake.add_blob("Audit.SharePoint", now - 100, [audit_record(2, "SharePoint")])
    flaky = fake.add_blob("Audit.SharePoint", now - 50, [audit_record(3, "SharePoint")])
    fake.fail(lambda r: flaky.content_id in r.path, times=1, status=200, truncate=True)  # malformed once, then fine
    cfg = config(tmp_path, fake, tls, trace=False, content_types="Audit.SharePoint")
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert sorted(audit_ids_out(lines(out))) == sorted([audit_id(1), audit_id(2), audit_id(3)])
    assert f"content {bad.content_id} is malformed" in err
    assert "1 malformed blobs skipped" in err
    assert len(fake.requests_to(bad.content_id)) == 3  # bounded retries
    assert good1 and good2
    # the skipped blob is not tried again on the next pass
    clock.advance(600)
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0 and len(fake.requests_to(bad.content_id)) == 3 and lines(out) == []


def test_a_bad_record_inside_a_blob_is_rejected_not_the_blob(tmp_path, fake, tls, clock):
    now = clock.now()
    body = json.dumps([audit_record(1), 42, audit_record(2)]).encode()
    fake.add_blob("Audit.General", now - 60, body=body)
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False, content_types="Audit.General"), clock)
    assert status == 0
    assert sorted(audit_ids_out(lines(out))) == sorted([audit_id(1), audit_id(2)])
    assert "1 records rejected" in err


def test_a_next_page_link_to_another_host_gets_no_token(tmp_path, fake, tls, clock):
    fake.add_blob("Audit.General", clock.now() - 60, [audit_record(1, "General")])
    fake.fail("/subscriptions/content", times=1, status=200, body=b"[]",
              headers={"NextPageUri": "https://attacker.invalid/api/v1.0/x/activity/feed/subscriptions/content?nextPage=1"})
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False, content_types="Audit.General"), clock)
    assert status == 1
    assert "refusing to follow" in err and "attacker.invalid" in err


# ---------------------------------------------------------------------------------------------- tokens

def test_tokens_are_renewed_before_they_expire(tmp_path, fake, tls, clock):
    """Four hours of 10-minute message-trace passes on one-hour tokens: renewed in time, never a 401."""
    start = clock.now()
    fake.graph_rows.append(graph_row(0, start - 90))
    added = []

    def on_sleep(c, runner):
        n = len(added) + 1
        added.append(graph_row(n, c.now() - 90))
        fake.graph_rows.append(added[-1])
        if c.now() - start > 4 * 3600:
            runner.stop()

    cfg = config(tmp_path, fake, tls, audit=False)
    status, out, err, _ = run_fetch(cfg, clock, once=False, on_sleep=on_sleep)
    assert status == 0, err
    got = message_keys_out(lines(out))
    assert len(got) == len(set(got))
    assert {r["id"] for r in added[:-1]} | {graph_row(0, 0)["id"]} <= {k[0] for k in got}
    graph_tokens = [t for t in fake.token_requests if t["scope"] == f"{GRAPH}/.default"]
    assert 4 <= len(graph_tokens) <= 6
    assert not [p for p, s in fake.responses if s == 401]
    assert "token renewals" in err and "stopping" in err


def test_a_401_renews_the_token_once_and_retries(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now, blobs_per_ct=3)
    revoked = []

    def revoke_after_two_blobs(req):
        if "/activity/feed/audit/" in req.path and len(fake.requests_to("/activity/feed/audit/")) == 2 and not revoked:
            revoked.append(True)
            fake.revoke_tokens()
        return False

    fake.fail(revoke_after_two_blobs, times=1)
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False), clock)
    assert status == 0, err
    assert sorted(audit_ids_out(lines(out))) == sorted(ids)
    assert [s for p, s in fake.responses if s == 401] == [401]
    assert len([t for t in fake.token_requests if t["scope"] == f"{MANAGE}/.default"]) == 2
    assert "renewing the token" in err


def test_a_wrong_secret_fails_clearly(tmp_path, fake, tls, clock):
    fake.secrets = {"another-secret"}
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls), clock)
    assert status == 1 and out == b""
    assert "AADSTS7000215" in err and "wrong or expired" in err


def test_secret_rotation_through_a_file_keeps_progress(tmp_path, fake, tls, clock):
    now = clock.now()
    ids = fill(fake, now, blobs_per_ct=1)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    cfg = config(tmp_path, fake, tls, trace=False, secret_line=f"  client_secret_file: {secret_file}")
    status, out1, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    # rotate: Entra now knows only the new secret; the file is rewritten; progress stays
    fake.secrets = {"rotated-secret-value"}
    secret_file.write_text("rotated-secret-value\n")
    fake.revoke_tokens()
    clock.advance(600)
    fake.add_blob("Audit.Exchange", clock.now() - 10, [audit_record(900)])
    status, out2, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert audit_ids_out(lines(out2)) == [audit_id(900)]
    assert sorted(audit_ids_out(lines(out1))) == sorted(ids)


def test_secret_rotation_through_the_environment(tmp_path, fake, tls, clock, monkeypatch):
    fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(1)])
    monkeypatch.setenv("O365_TEST_SECRET", SECRET)
    cfg = config(tmp_path, fake, tls, trace=False, secret_line="  client_secret_env: O365_TEST_SECRET")
    assert run_fetch(cfg, clock)[0] == 0
    fake.secrets = {"second-secret"}
    monkeypatch.setenv("O365_TEST_SECRET", "second-secret")
    clock.advance(600)
    fake.add_blob("Audit.Exchange", clock.now() - 10, [audit_record(2)])
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    assert audit_ids_out(lines(out)) == [audit_id(2)]


def test_the_fake_token_endpoint_also_speaks_v1(fake, tls):
    """The v1 form (resource=) as in Microsoft's own samples; its token works against the API."""
    resp = requests.post(f"{fake.url}/{TENANT}/oauth2/token", verify=str(tls.ca_file), data={
        "grant_type": "client_credentials", "resource": MANAGE, "client_id": CLIENT_ID, "client_secret": SECRET})
    body = resp.json()
    assert resp.status_code == 200 and body["resource"] == MANAGE and body["expires_in"] == "3599"
    listed = requests.get(f"{fake.url}/api/v1.0/{TENANT}/activity/feed/subscriptions/list", verify=str(tls.ca_file),
                          headers={"Authorization": f"Bearer {body['access_token']}"})
    assert listed.status_code == 200
    wrong = requests.get(f"{fake.url}/v1.0/admin/exchange/tracing/messageTraces", verify=str(tls.ca_file),
                         headers={"Authorization": f"Bearer {body['access_token']}"})
    assert wrong.status_code == 401  # a Management API token is not a Graph token


# ---------------------------------------------------------------------------------------------- message trace

def test_legacy_reporting_web_service_with_paging(tmp_path, fake, tls, clock):
    now = clock.now()
    rows = [rws_row(i, now - 400 * i - 61) for i in range(10)] + [rws_row(2, now - 800, recipient="cc@contoso.com")]
    fake.rws_rows += rows
    cfg = config(tmp_path, fake, tls, audit=False, api="reporting")
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0, err
    records = lines(out)
    assert sorted(message_keys_out(records)) == sorted((r["MessageTraceId"], r["RecipientAddress"]) for r in rows)
    assert all(r["o365.message.dialect"] == "reporting" for r in records)
    assert any(r.q("$skiptoken") for r in fake.requests_to("MessageTrace"))
    assert all(r.aud == OUTLOOK for r in fake.requests_to("MessageTrace"))


def test_message_trace_first_run_looks_back_24_hours_or_initial_lookback(tmp_path, fake, tls, clock):
    now = clock.now()
    fake.graph_rows += [graph_row(1, now - 23 * 3600), graph_row(2, now - 25 * 3600), graph_row(3, now - 47 * 3600)]
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, audit=False), clock)
    assert [k[0] for k in message_keys_out(lines(out))] == [graph_row(1, 0)["id"]]
    (tmp_path / "state").rename(tmp_path / "state-old")
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, audit=False, extra_trace="  initial_lookback: 48h"), clock)
    assert sorted(k[0] for k in message_keys_out(lines(out))) == sorted(graph_row(i, 0)["id"] for i in (1, 2, 3))
    # Graph windows: at most 10 days, ascending, within 90 days; here one hour each
    for r in fake.requests_to("/messageTraces"):
        assert r.q("$top") == "1000" and r.q("$filter").startswith("receivedDateTime ge ")


def test_audit_first_run_takes_all_7_days_or_initial_lookback(tmp_path, fake, tls, clock):
    now = clock.now()
    fake.add_blob("Audit.Exchange", now - 6.9 * DAY, [audit_record(1)])
    fake.add_blob("Audit.Exchange", now - 1.5 * DAY, [audit_record(2)])
    fake.add_blob("Audit.Exchange", now - 3600, [audit_record(3)])
    cfg = config(tmp_path, fake, tls, trace=False, content_types="Audit.Exchange", extra_audit="  initial_lookback: 1d")
    status, out, err, _ = run_fetch(cfg, clock)
    assert audit_ids_out(lines(out)) == [audit_id(3)]
    (tmp_path / "state").rename(tmp_path / "state-old")
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False, content_types="Audit.Exchange"), clock)
    assert sorted(audit_ids_out(lines(out))) == sorted([audit_id(1), audit_id(2), audit_id(3)])
    for r in fake.requests_to("/subscriptions/content"):
        assert r.q("startTime") and r.q("endTime")  # the fake enforces <= 24 h apart and <= 7 days back


def test_graph_permission_error_says_what_to_grant(tmp_path, fake, tls, clock):
    fake.fail("/messageTraces", times=1, status=403, code="Forbidden", message="Access is denied.")
    status, out, err, _ = run_fetch(config(tmp_path, fake, tls, audit=False), clock)
    assert status == 1
    assert "ExchangeMessageTrace.Read.All" in err and "8bd644d1-64a1-4d4b-ae52-2e0cbf64e373" in err


# ---------------------------------------------------------------------------------------------- outputs, proxy, secret

def test_without_output_sections_records_go_to_stdout_normalized(tmp_path, fake, tls, clock):
    fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(1)])
    cfg = config(tmp_path, fake, tls, trace=False)
    text = cfg.read_text().replace("output:Stdout:console:\n  normalize: true\n", "")
    cfg.write_text(text)
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0 and audit_ids_out(lines(out)) == [audit_id(1)]
    assert "output 'console' is not defined here" in err


def test_file_output_appends_across_runs(tmp_path, fake, tls, clock):
    fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(1)])
    cfg = config(tmp_path, fake, tls, trace=False, out=tmp_path / "out" / "audit.ndjson")
    assert run_fetch(cfg, clock)[0] == 0
    clock.advance(600)
    fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(2)])
    status, out, err, _ = run_fetch(cfg, clock)
    assert status == 0 and out == b""
    got = lines((tmp_path / "out" / "audit.ndjson").read_bytes())
    assert audit_ids_out(got) == [audit_id(1), audit_id(2)]


class _ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records where it tunnels to."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.tunnels: list[str] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        target = head.split(b" ")[1].decode()
        host, port = target.rsplit(":", 1)
        if host != "127.0.0.1":  # loopback only
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            conn.close()
            return
        self.tunnels.append(target)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [conn, upstream]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 5)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is conn else conn).sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
            upstream.close()

    def close(self):
        self._stop = True
        self.sock.close()


def test_https_proxy_is_honoured(tmp_path, fake, tls, clock, monkeypatch):
    proxy = _ConnectProxy()
    try:
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.delenv("no_proxy")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        fake.add_blob("Audit.Exchange", clock.now() - 60, [audit_record(1)])
        status, out, err, _ = run_fetch(config(tmp_path, fake, tls, trace=False), clock)
        assert status == 0, err
        assert audit_ids_out(lines(out)) == [audit_id(1)]
        port = fake.url.rsplit(":", 1)[1]
        assert f"127.0.0.1:{port}" in proxy.tunnels  # tokens and API calls went through the proxy
    finally:
        proxy.close()


def test_the_secret_appears_nowhere(tmp_path, fake, tls, clock):
    """A full pass, a failing pass and the config objects: the secret is in no output, log or file."""
    now = clock.now()
    fill(fake, now, blobs_per_ct=2)
    fake.graph_rows += [graph_row(i, now - 100 * i - 61) for i in range(3)]
    bad = fake.add_blob("Audit.General", now - 30, body=b"[{")
    assert bad
    out_file = tmp_path / "out.ndjson"
    cfg = config(tmp_path, fake, tls, out=out_file)
    status, out, err, runner = run_fetch(cfg, clock)
    assert status == 0
    texts = [out.decode(), err, repr(runner.cfg), str(runner.cfg.connections), repr(runner.cfg.inputs)]
    fake.secrets = {"other"}
    fake.revoke_tokens()
    clock.advance(4000)
    status, out2, err2, runner = run_fetch(cfg, clock)
    assert status == 1
    texts += [out2.decode(), err2]
    texts.append(all_files_text(tmp_path / "state"))
    texts.append(out_file.read_text())
    assert out_file.stat().st_size > 0
    for text in texts:
        assert SECRET not in text
    assert "<hidden" in repr(runner.cfg.connections)
