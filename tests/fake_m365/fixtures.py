"""pytest fixtures for the fetcher tests: TLS files, the fake service, a fake clock, run helpers."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from . import CLIENT_ID, SECRET, TENANT, FakeClock, FakeM365, make_tls

_RULESET = None


def cached_rules(overlays):
    """The built-in rules compiled once per test session (compiling takes a few tenths of a second)."""
    global _RULESET
    from normalizer.ruleset import load_ruleset

    if overlays:
        return load_ruleset(overlays)
    if _RULESET is None:
        _RULESET = load_ruleset([])
    return _RULESET


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def no_proxy_env(monkeypatch):
    """The machine's proxy settings must not send loopback traffic anywhere else."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(tls, clock, no_proxy_env):
    """The fake service on the fake clock (in-process tests)."""
    server = FakeM365(tls, tenant=TENANT, client_id=CLIENT_ID, secret=SECRET, now=clock.now).start()
    yield server
    server.stop()


@pytest.fixture
def live_fake(tls, no_proxy_env):
    """The fake service on real time (for fetcher subprocesses)."""
    server = FakeM365(tls, tenant=TENANT, client_id=CLIENT_ID, secret=SECRET, graph_page_size=7).start()
    yield server
    server.stop()


def run_fetch(config: Path, clock, *, once: bool = True, stdout: io.BytesIO | None = None, on_sleep=None):
    """Run the fetcher in-process: (exit status, stdout bytes, stderr text, runner)."""
    from normalizer.fetch.config import load_config
    from normalizer.fetch.report import Reporter
    from normalizer.fetch.runner import Runner

    out = stdout if stdout is not None else io.BytesIO()
    err = io.StringIO()
    runner = Runner(load_config(config), once=once, clock=clock, reporter=Reporter(err), stdout=out,
                    load_rules=cached_rules, install_signals=False)
    if on_sleep is not None:
        clock.on_sleep = lambda c: on_sleep(c, runner)
    try:
        status = runner.run()
    finally:
        clock.on_sleep = None
    return status, out.getvalue(), err.getvalue(), runner


def all_files_text(*dirs: Path) -> str:
    """Everything under the given directories, as text (for looking for the secret)."""
    chunks = []
    for d in dirs:
        for root, _, files in os.walk(d):
            for name in files:
                chunks.append(Path(root, name).read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)
