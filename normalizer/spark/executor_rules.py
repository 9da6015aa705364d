"""The compiled rule set of this Python process, built once per rule configuration.

Spark runs tasks in long-lived Python worker processes (``spark.python.worker.reuse``, on
by default), so a module-level cache makes the rule set compile once per worker process,
not once per partition or record. Overlay files shipped from the driver are written to a
temporary directory just long enough to be loaded, under the names they had on the driver.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .. import __version__
from ..context import Options
from ..ruleset import Ruleset, load_layers, rule_layers
from .rule_config import RuleConfig, builtin_rules_digest

_RULESETS: dict[str, Ruleset] = {}
builds: dict[str, int] = {}  # configuration key -> rule sets compiled by this process (the tests check: one)


class InstallMismatch(RuntimeError):
    """The executor's o365norm differs from the driver's: its output would differ silently."""


def ruleset_for(config: RuleConfig) -> Ruleset:
    """The rule set of ``config``, compiled on first use in this process. Raises
    RuleLoadError (the driver should have caught it) or InstallMismatch."""
    key = config.key()
    ruleset = _RULESETS.get(key)
    if ruleset is None:
        ruleset = _RULESETS[key] = _build(config)
        builds[key] = builds.get(key, 0) + 1
    return ruleset


def _build(config: RuleConfig) -> Ruleset:
    _check_install(config)
    with tempfile.TemporaryDirectory(prefix="o365norm-rules-") as tmp:
        layers = rule_layers(builtin=config.builtin)
        for n, overlay in enumerate(config.overlays):
            directory = Path(tmp, str(n))
            if overlay.found:
                directory.mkdir()
                for rel, data in overlay.files:
                    path = directory / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            layers.append((directory, overlay.name))
        return load_layers(layers, options=Options(collection_cap=config.collection_cap))


def _check_install(config: RuleConfig) -> None:
    if config.version != __version__:
        raise InstallMismatch(
            f"o365norm {__version__} on this executor, {config.version} on the driver: install the same version on both"
        )
    if config.builtin and config.builtin_digest != builtin_rules_digest():
        raise InstallMismatch(
            "the built-in rules on this executor differ from the driver's (same version, different files): "
            "install the same o365norm build on both"
        )
