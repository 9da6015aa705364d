"""Run ``o365norm fetch`` and SIGKILL itself at a chosen point, for the restart tests.

``O365NORM_TEST_CRASH`` says where:

* ``save:N``  just before the N-th progress save (so also right after records were written
  and flushed but before the progress covering them was saved);
* ``write:N`` in the middle of the N-th batch write: half the bytes reach the output, then the
  process dies (a torn last line).

Test code only: the fetcher itself has no such hook.
"""

from __future__ import annotations

import os
import signal
import sys


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    from normalizer.fetch import checkpoint, outputs

    where, _, n = os.environ.get("O365NORM_TEST_CRASH", "").partition(":")
    target = int(n or 0)
    calls = {"n": 0}
    if where == "save":
        original_save = checkpoint.CheckpointStore.save

        def save(self, state):
            calls["n"] += 1
            if calls["n"] == target:
                _die()
            return original_save(self, state)

        checkpoint.CheckpointStore.save = save
    elif where == "write":
        original_write = outputs.Output.write

        def write(self, lines, keys=None):
            if lines:
                calls["n"] += 1
                if calls["n"] == target:
                    data = b"".join(lines)
                    self._f.write(data[: len(data) // 2 + 1])
                    self._f.flush()
                    _die()
            return original_write(self, lines, keys)

        outputs.Output.write = write
    from normalizer.cli.main import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
