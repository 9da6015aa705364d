"""o365norm: normalize Microsoft 365 audit logs and message trace with declarative YAML rules.

    from normalizer import load_ruleset
    rules = load_ruleset()                 # built-in rules (+ overlay directories)
    flat = rules.normalize_flat(record)    # one raw JSON object -> flat o365.* attributes
"""

from .context import Options
from .diagnostics import Diagnostic, NormalizerError, RuleLoadError
from .missing import MISSING
from .ruleset import Ruleset, load_ruleset

__all__ = ["Diagnostic", "MISSING", "NormalizerError", "Options", "RuleLoadError", "Ruleset", "load_ruleset"]
__version__ = "0.1.0"
