"""Runs the configured inputs: each on its own ``refresh`` period, or once each with ``--once``.

One thread does everything, in turn: a pass of one input never interleaves with another's
writes, which keeps the batch commit (see ``source``) simple and exact.  SIGINT and SIGTERM
stop the run at the next safe point (at once while waiting on the network or sleeping, after
the current commit otherwise); progress is already saved after every batch, so stopping only
has to flush the outputs and print the counts.  A second signal while a commit is under way is
ignored until the commit ends.

Exit status: 0 when every input completed its passes (a malformed blob skipped does not count,
since nothing more can be fetched); 1 when an input failed in a ``--once`` run (network,
authentication, permission, API errors after retries), with what was fetched kept.
"""

from __future__ import annotations

import signal
import threading
from typing import BinaryIO, Callable

from ..cli import exit_codes
from .audit import AuditSource
from .auth import AuthError, TokenProvider
from .checkpoint import CheckpointError, CheckpointStore
from .clock import Clock, Shutdown, ShutdownRequested
from .config import FetchConfig
from .http import ApiClient, ApiError, make_session
from .messagetrace import MessageTraceSource
from .outputs import Output, OutputError
from .report import Reporter
from .source import Source


class Runner:
    def __init__(self, cfg: FetchConfig, *, once: bool = False, clock: Clock | None = None,
                 reporter: Reporter | None = None, stdout: BinaryIO | None = None,
                 load_rules: Callable | None = None, install_signals: bool = True, quiet: bool = False):
        self.cfg = cfg
        self.once = once
        self.clock = clock or Clock()
        self.reporter = reporter or Reporter(quiet=quiet)
        self.stdout = stdout
        self.install_signals = install_signals
        self.shutdown = Shutdown()
        self._load_rules = load_rules
        self.outputs: dict[str, Output] = {}
        self.sources: list[Source] = []
        self.stores: list[CheckpointStore] = []

    # -- setup

    def _rulesets(self) -> dict[tuple[str, ...], object]:
        """One compiled rule set per distinct ``rules`` list. Raises RuleLoadError."""
        if self._load_rules is None:
            from ..ruleset import load_ruleset
            self._load_rules = load_ruleset
        cache: dict[tuple[str, ...], object] = {}
        for inp in self.cfg.inputs:
            out = inp.output
            if out.normalize and out.rules not in cache:
                cache[out.rules] = self._load_rules(list(out.rules))
        return cache

    def build(self) -> None:
        rulesets = self._rulesets()
        r = self.reporter
        for note in self.cfg.notes:
            r.info(note)
        sessions: dict[str, tuple] = {}
        for inp in self.cfg.inputs:
            oc = inp.output
            if oc.id not in self.outputs:
                self.outputs[oc.id] = Output(oc, rulesets.get(oc.rules), r, self.stdout)
        for out in self.outputs.values():
            out.open()  # repairs a torn last line before any progress is read
        for inp in self.cfg.inputs:
            conn = inp.connection
            if conn.id not in sessions:
                session = make_session(conn.ca_file or True, conn.timeout, self.clock, r)
                sessions[conn.id] = (session, TokenProvider(conn, session, self.clock, r))
            session, tokens = sessions[conn.id]
            store = CheckpointStore(inp.last_value_storage, inp.id)
            store.open()
            self.stores.append(store)
            label = f"input {inp.id}"
            api = ApiClient(session, tokens, inp.resource, inp.api_url, self.clock, r, label)
            cls = AuditSource if inp.kind == "audit" else MessageTraceSource
            src = cls(inp, api, store, self.outputs[inp.output.id], self.clock, r, self.shutdown)
            self.sources.append(src)
        for src in self.sources:  # settle interrupted batches before anything new is written
            src.load_all()
        for src in self.sources:
            inp = src.cfg
            what = (f"content types {' '.join(inp.content_types)}" if inp.kind == "audit"
                    else f"message trace via {'Microsoft Graph' if inp.api == 'graph' else 'the Reporting Web Service'}")
            r.info(f"input {inp.id}: {what} from {inp.api_url} -> {src.output.describe()}; "
                   f"progress in {src.store.dir}")

    # -- running

    def stop(self) -> None:
        """Ask the run to end at the next safe point (usable from another thread or a test clock)."""
        self.shutdown.request_soon("stop requested")

    def run(self) -> int:
        status = exit_codes.OK
        old_handlers = self._install_signals()
        failed = False
        try:
            self.build()
            failed = self._loop()
        except ShutdownRequested:
            self.reporter.info(f"stopping ({self.shutdown.reason}); progress is saved")
        except (OutputError, CheckpointError) as exc:
            self.reporter.error(str(exc))
            self.reporter.error("stopped: records cannot be delivered or progress cannot be saved")
            status = exit_codes.REJECTS
        finally:
            self._restore_signals(old_handlers)
            for out in self.outputs.values():
                out.close()
            for store in self.stores:
                store.close()
        for src in self.sources:
            self.reporter.info(self.reporter.input_summary(src.id))
        self.reporter.always(self.reporter.summary())
        if failed and status == exit_codes.OK:
            status = exit_codes.REJECTS
        return status

    def _loop(self) -> bool:
        """Run passes until stopped (or once each). True if an input failed in a --once run."""
        due = {id(s): 0.0 for s in self.sources}
        failed = False
        while True:
            for src in self.sources:
                if self.clock.now() < due[id(src)]:
                    continue
                started = self.clock.now()
                ok = self._run_pass(src)
                failed = failed or not ok
                due[id(src)] = started + src.refresh
                self.shutdown.check()
            if self.once:
                return failed
            wait = min(due.values()) - self.clock.now()
            if wait > 0:
                self.clock.sleep(wait)
            self.shutdown.check()

    def _run_pass(self, src: Source) -> bool:
        errors_before = self.reporter.per_input.get(src.id, {}).get("errors", 0)
        try:
            src.run_pass()
        except ApiError as exc:
            self.reporter.error(f"input {src.id}: {exc}")
            self.reporter.count("errors", 1, src.id)
        except AuthError as exc:
            self.reporter.error(f"input {src.id}: {exc}")
            self.reporter.count("errors", 1, src.id)
        return self.reporter.per_input.get(src.id, {}).get("errors", 0) == errors_before

    # -- signals

    def _install_signals(self):
        if not self.install_signals or threading.current_thread() is not threading.main_thread():
            return None
        old = {}

        def handler(signum, frame):
            self.shutdown.request(signal.Signals(signum).name)

        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
        return old

    def _restore_signals(self, old) -> None:
        if old:
            for sig, h in old.items():
                signal.signal(sig, h)
