"""What an executor needs to build the rule set: the rule configuration, not the rule set.

A compiled Ruleset holds generated code and cannot be pickled, and the driver's overlay
directories (``--rules DIR``) do not exist on a cluster's executors. So the driver reads the
overlay files and ships their bytes, with the names they are shown by on the driver; each
executor process compiles the rules once from that (see ``executor_rules``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .. import __version__
from ..context import DEFAULT_COLLECTION_CAP
from ..loader import rule_files
from ..resources import builtin_rules_dir


@dataclass(frozen=True)
class Overlay:
    """One overlay directory as read on the driver."""

    name: str  # the directory as given on the driver: rule files are shown as ``name/relative/path``
    files: tuple[tuple[str, bytes], ...]  # (relative POSIX path, content), in path order
    found: bool = True  # False: not a directory on the driver; the executor's loader reports E100 for it


@dataclass(frozen=True)
class RuleConfig:
    """A picklable description of a rule set; equal configurations give equal ``key()``s."""

    overlays: tuple[Overlay, ...] = ()
    builtin: bool = True
    collection_cap: int = DEFAULT_COLLECTION_CAP
    version: str = __version__  # o365norm on the driver: an executor with another version refuses to run
    builtin_digest: str = ""  # the driver's built-in rule files (checked on the executors when builtin)

    @classmethod
    def from_dirs(cls, dirs: Iterable[str | Path] = (), *, builtin: bool = True,
                  collection_cap: int = DEFAULT_COLLECTION_CAP) -> "RuleConfig":
        """Read the overlay directories now, on the driver. OSError names an unreadable file."""
        overlays = tuple(_read_overlay(d) for d in dirs)
        digest = builtin_rules_digest() if builtin else ""
        return cls(overlays, builtin, collection_cap, __version__, digest)

    def key(self) -> str:
        """A digest of everything that shapes the rule set: the executor's cache key."""
        h = hashlib.sha256()
        for part in (self.version, self.builtin_digest, str(self.builtin), str(self.collection_cap)):
            _feed(h, part.encode())
        for overlay in self.overlays:
            _feed(h, f"{overlay.name}\0{overlay.found}".encode())
            for rel, data in overlay.files:
                _feed(h, rel.encode())
                _feed(h, data)
        return h.hexdigest()


def builtin_rules_digest() -> str:
    """A digest of the installed built-in rule files: equal digests mean equal built-in rules."""
    directory = builtin_rules_dir()
    h = hashlib.sha256()
    for path in rule_files(directory):
        _feed(h, path.relative_to(directory).as_posix().encode())
        _feed(h, path.read_bytes())
    return h.hexdigest()


def _read_overlay(directory: str | Path) -> Overlay:
    root = Path(directory)
    if not root.is_dir():
        return Overlay(str(directory), (), found=False)
    files = tuple((p.relative_to(root).as_posix(), p.read_bytes()) for p in rule_files(root))
    return Overlay(str(directory), files)


def _feed(h, data: bytes) -> None:
    h.update(len(data).to_bytes(8, "big"))  # length-prefixed: no two sequences of parts hash alike
    h.update(data)
