"""librdkafka client properties: parsed from ``-X key=value`` and properties files, and kept
out of every message a person reads.

Users pass security settings (``security.protocol``, ``sasl.*``, ``ssl.*``) straight through,
with librdkafka's own names, so everything a production cluster needs works without o365norm
knowing about it.  Values of secret properties (passwords, keys, client secrets) are never
printed: ``describe`` masks them and ``scrub`` removes them from error text that librdkafka
might echo.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECRET_NAME = re.compile(r"(password|secret|\.key\.pem$|^ssl\.key\.|sasl\.oauthbearer\.config|sasl\.jaas)", re.I)
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


class PropertyError(ValueError):
    """A property could not be parsed; the message says where."""


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def parse_assignment(text: str, where: str) -> tuple[str, str]:
    """``key=value`` (the value may contain '='); ``where`` names the option or file:line."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise PropertyError(f"{where}: expected key=value, got {_shown(key, text)!r}")
    if not _KEY.match(key):
        raise PropertyError(f"{where}: {key!r} is not a property name")
    return key, value.strip()


def _shown(key: str, text: str) -> str:
    return key if is_secret(key) else text


def read_properties_file(path: str) -> dict[str, str]:
    """A Java-style properties file, as Kafka's own tools use: ``key=value`` lines, ``#`` or
    ``!`` comments, blank lines ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PropertyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PropertyError(f"{path}: not UTF-8 text") from None
    props: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        key, value = parse_assignment(stripped, f"{path}:{number}")
        props[key] = value
    return props


def describe(props: dict[str, object]) -> str:
    """``key=value, ...`` with secret values masked, for start-up lines and errors."""
    return ", ".join(f"{k}={'***' if is_secret(k) else v}" for k, v in sorted(props.items()))


def scrub(text: str, props: dict[str, object]) -> str:
    """``text`` with the value of every secret property replaced by ``***``."""
    for key, value in props.items():
        if is_secret(key) and isinstance(value, str) and len(value) >= 3:
            text = text.replace(value, "***")
    return text
