"""The fetcher's YAML configuration: the documented LogMan.io sections, validated up front.

Why strict: a collector that starts with a typo in a key runs for hours collecting nothing
useful, so every unknown key, missing value or wrong type is an error that names the section
and the key (``ConfigError``), and all of them are checked before anything is fetched.

The client secret is held by ``Secret``, whose ``repr`` and ``str`` never show it, and no
error message here ever quotes the value of a secret key.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import clouds

AUDIT_CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General", "DLP.All")
DEFAULT_CONTENT_TYPES = ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General")
DEFAULT_LAST_VALUE_STORAGE = "./var/last_value_storage"
DEFAULT_RESOURCES = ("https://manage.office.com", "https://outlook.office365.com")

AUDIT_RETENTION = 7 * 86400  # the Management Activity API offers content for 7 days
GRAPH_RETENTION = 90 * 86400  # Graph messageTraces: start at most 90 days back
REPORTING_RETENTION = 30 * 86400  # legacy Reporting Web Service keeps 30 days (its own doc)

AUDIT_LOOKBACK = AUDIT_RETENTION  # first run: all the content the API still offers
MESSAGE_LOOKBACK = 86400  # first run: the last 24 hours
AUDIT_REFRESH = 300
MESSAGE_REFRESH = 600
AUDIT_OVERLAP = 3600  # content listings are re-read this far back; blobs seen are skipped by contentId
MESSAGE_OVERLAP = 900  # message-trace windows overlap by this much; rows seen are skipped by key

SECRET_KEYS = ("client_secret", "client_secret_env", "client_secret_file")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class ConfigError(Exception):
    """A problem in the configuration; ``section`` and ``key`` say where."""

    def __init__(self, problem: str, section: str | None = None, key: str | None = None, path: str | None = None):
        self.problem = problem
        self.section = section
        self.key = key
        self.path = path
        super().__init__(self.message())

    def message(self) -> str:
        where = []
        if self.section is not None:
            where.append(f"section '{self.section}'")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        prefix = f"config {self.path}: " if self.path else "config: "
        return prefix + (", ".join(where) + ": " if where else "") + self.problem


class Secret:
    """A client secret and where it comes from; it never shows itself.

    ``value()`` reads it at the moment a token is requested, so a secret kept in a file can
    be rotated by rewriting the file (see ``auth``), and nothing else keeps a copy."""

    __slots__ = ("source", "ref", "_value")

    def __init__(self, source: str, ref: str | None = None, value: str | None = None):
        self.source = source  # "config", "env" or "file"
        self.ref = ref  # the variable name or the file path (not secret)
        self._value = value

    def value(self) -> str:
        if self.source == "config":
            return self._value or ""
        if self.source == "env":
            v = os.environ.get(self.ref or "", "")
            if not v:
                raise ConfigError(f"environment variable {self.ref} is not set or empty", key="client_secret_env")
            return v
        try:
            v = Path(self.ref or "").read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {self.ref}: {exc.strerror or type(exc).__name__}", key="client_secret_file") from None
        if not v:
            raise ConfigError(f"{self.ref} is empty", key="client_secret_file")
        return v

    def describe(self) -> str:
        return {"config": "client_secret in the configuration", "env": f"environment variable {self.ref}",
                "file": f"file {self.ref}"}[self.source]

    def __repr__(self) -> str:
        return f"Secret(<hidden>, from {self.describe()})"

    __str__ = __repr__


@dataclass(frozen=True)
class Connection:
    id: str
    client_id: str
    tenant_id: str
    secret: Secret = field(repr=False)
    authority: str
    cloud: clouds.Cloud
    resources: tuple[str, ...]
    ca_file: str | None
    timeout: float = 60.0

    def __repr__(self) -> str:
        return (f"Connection(id={self.id!r}, client_id={self.client_id!r}, tenant_id={self.tenant_id!r}, "
                f"secret=<hidden, from {self.secret.describe()}>, authority={self.authority!r}, cloud={self.cloud.name!r}, "
                f"ca_file={self.ca_file!r})")


@dataclass(frozen=True)
class KafkaTarget:
    """Where an ``output:Kafka:<id>`` section sends records; ``properties`` are librdkafka's
    (security settings included), with secrets read from the environment or files at start."""

    bootstrap_servers: str
    topic: str
    properties: dict[str, str] = field(repr=False)

    def __repr__(self) -> str:
        from ..kafka.properties import describe
        return f"KafkaTarget({self.bootstrap_servers!r}, {self.topic!r}, {describe(self.properties)})"


@dataclass(frozen=True)
class Output:
    id: str
    kind: str  # "Stdout", "File" or "Kafka"
    path: str | None
    normalize: bool
    rules: tuple[str, ...]
    section: str
    kafka: KafkaTarget | None = None


@dataclass(frozen=True)
class AuditInput:
    id: str
    section: str
    connection: Connection
    content_types: tuple[str, ...]
    resource: str
    api_url: str
    publisher_identifier: str
    output: Output
    encoding: str
    last_value_storage: str
    initial_lookback: int
    refresh: float
    overlap: int
    kind: str = "audit"


@dataclass(frozen=True)
class MessageTraceInput:
    id: str
    section: str
    connection: Connection
    api: str  # "graph" or "reporting"
    resource: str
    api_url: str
    output: Output
    encoding: str
    last_value_storage: str
    initial_lookback: int
    refresh: float
    overlap: int
    kind: str = "messagetrace"


@dataclass
class FetchConfig:
    path: str
    connections: dict[str, Connection]
    outputs: dict[str, Output]
    inputs: list[AuditInput | MessageTraceInput]
    notes: list[str] = field(default_factory=list)  # things worth saying on stderr at start


# --------------------------------------------------------------------------- loading

class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (the second would silently win)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: key given twice", key=str(key))
        seen[key] = True
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path: str | os.PathLike) -> FetchConfig:
    """Read and validate a configuration file. Raises ConfigError (with ``path`` set)."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=path) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=path) from None
    try:
        return parse_config(text, path)
    except ConfigError as exc:
        exc.path = path
        exc.args = (exc.message(),)
        raise


def parse_config(text: str, path: str = "<config>") -> FetchConfig:
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        # Only the problem and the position: PyYAML's own message quotes the offending line,
        # which may be the one holding the client secret.
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {type(exc).__name__}") from None
    if doc is None:
        raise ConfigError("the file is empty; it needs at least one input section")
    if not isinstance(doc, dict):
        raise ConfigError("the top level must be a mapping of sections (connection:..., input:..., output:...)")
    return _Parser(doc, path).parse()


_SECTION_HELP = ("connection:MSOffice365:<id>, input:MSOffice365Source:<id>, "
                 "input:MSOffice365MessageTraceSource:<id>, output:Stdout:<id>, output:File:<id> or output:Kafka:<id>")

_CONNECTION_KEYS = ("client_id", "tenant_id", "client_secret", "client_secret_env", "client_secret_file", "resources",
                    "authority", "ca_file", "cloud", "timeout")
_AUDIT_KEYS = ("connection", "content_type", "resource", "api_url", "output", "encoding", "last_value_storage",
               "initial_lookback", "refresh", "overlap", "publisher_identifier")
_TRACE_KEYS = ("connection", "output", "resource", "api_url", "api", "encoding", "last_value_storage", "refresh",
               "initial_lookback", "overlap")
_OUTPUT_KEYS = {"Stdout": ("normalize", "rules"), "File": ("path", "normalize", "rules"),
                "Kafka": ("bootstrap_servers", "topic", "normalize", "rules", "properties")}
# Kafka security settings pass through under librdkafka's names with '_' for '.':
# security_protocol, sasl_mechanism, sasl_username, ssl_ca_location, ...; a secret one may
# instead be read from a variable or a file: sasl_password_env, ssl_key_password_file.
_KAFKA_PASSTHROUGH = re.compile(r"^(security|sasl|ssl)_[a-z0-9_]+$")


class _Section:
    """One section's mapping, with typed getters whose errors name the section and key."""

    def __init__(self, name: str, body: Any, allowed: tuple[str, ...]):
        self.name = name
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError("must be a mapping of keys", section=name)
        self.body = body
        for key in body:
            if not isinstance(key, str) or key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                more = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(allowed)}"
                raise ConfigError(f"unknown key{more}", section=name, key=str(key))

    def error(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(problem, section=self.name, key=key)

    def has(self, key: str) -> bool:
        return self.body.get(key) is not None

    def string(self, key: str, default: str | None = None, *, required: bool = False, secret: bool = False) -> str | None:
        value = self.body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            shown = "" if secret else f" (got {type(value).__name__})"
            raise self.error(key, f"must be a string{shown}")
        if secret and not isinstance(value, str):
            raise self.error(key, "must be a string: put it in quotes (value not shown)")
        return str(value).strip()

    def url(self, key: str, default: str | None = None) -> str | None:
        value = self.string(key)
        if value is None:
            return default
        return _check_url(self, key, value)

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number of seconds (got {value!r})")
        if value < minimum or value != value:
            raise self.error(key, f"must be at least {minimum:g}")
        return float(value)

    def duration(self, key: str, default: int, *, maximum: int | None = None, what: str = "") -> int:
        value = self.body.get(key)
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None:
            raise self.error(key, f"must be a duration: seconds, or a number with d/h/m/s such as 24h or 7d (got {value!r})")
        if seconds <= 0:
            raise self.error(key, "must be more than zero")
        if maximum is not None and seconds > maximum:
            raise self.error(key, f"must be at most {format_duration(maximum)}{what}")
        return seconds

    def boolean(self, key: str, default: bool) -> bool:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        raise self.error(key, f"must be true or false (got {value!r})")

    def string_list(self, key: str, default: tuple[str, ...], *, separators: str = r"[\s,]+") -> tuple[str, ...]:
        value = self.body.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            items = [v for v in re.split(separators, value.strip()) if v]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [v.strip() for v in value if v.strip()]
        else:
            raise self.error(key, "must be a string (items separated by spaces or commas) or a list of strings")
        if not items:
            raise self.error(key, "is empty")
        return tuple(items)


def _property_value(sec: _Section, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise sec.error(key, "must be a string, number or boolean")


def _check_url(section: _Section, key: str, value: str) -> str:
    if not re.match(r"^https://[^/\s?#]+(/[^\s?#]*)?$", value):
        raise section.error(key, f"must be an https:// URL without query (got {value!r})")
    return value.rstrip("/")


def parse_duration(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    if text.isdigit():
        return int(text)
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def format_duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


class _Parser:
    def __init__(self, doc: dict, path: str):
        self.doc = doc
        self.path = path
        self.base = Path(path).resolve().parent if path and not path.startswith("<") else Path.cwd()
        self.notes: list[str] = []

    def parse(self) -> FetchConfig:
        connections: dict[str, Connection] = {}
        outputs: dict[str, Output] = {}
        inputs_raw: list[tuple[str, str, str, Any]] = []
        for name, body in self.doc.items():
            if not isinstance(name, str):
                raise ConfigError(f"section name {name!r} is not a string; sections are {_SECTION_HELP}")
            parts = name.split(":", 2)
            if len(parts) != 3 or not parts[2].strip():
                raise ConfigError(f"not a section name; sections are {_SECTION_HELP}", section=name)
            kind, typ, ident = parts[0], parts[1], parts[2].strip()
            if kind == "connection" and typ == "MSOffice365":
                connections[ident] = self.connection(_Section(name, body, _CONNECTION_KEYS), ident)
            elif kind == "output" and typ in _OUTPUT_KEYS:
                if ident in outputs:
                    raise ConfigError(f"a second output with id '{ident}' (ids must be unique)", section=name)
                passthrough = {}
                if typ == "Kafka" and isinstance(body, dict):
                    passthrough = {k: v for k, v in body.items() if isinstance(k, str) and _KAFKA_PASSTHROUGH.match(k)}
                    body = {k: v for k, v in body.items() if k not in passthrough}
                outputs[ident] = self.output(_Section(name, body, _OUTPUT_KEYS[typ]), typ, ident, passthrough)
            elif kind == "input" and typ in ("MSOffice365Source", "MSOffice365MessageTraceSource"):
                inputs_raw.append((name, typ, ident, body))
            else:
                raise ConfigError(f"unknown section type '{kind}:{typ}'; sections are {_SECTION_HELP}", section=name)
        if not inputs_raw:
            raise ConfigError("no input section: add input:MSOffice365Source:<id> and/or input:MSOffice365MessageTraceSource:<id>")
        paths: dict[str, str] = {}
        for out in outputs.values():
            if out.path is not None:
                key = os.path.realpath(out.path)
                if key in paths:
                    raise ConfigError(f"output '{paths[key]}' already writes {out.path}", section=out.section, key="path")
                paths[key] = out.id
        default_output = Output("<stdout>", "Stdout", None, True, (), "<none>")
        ids: set[str] = set()
        inputs: list[AuditInput | MessageTraceInput] = []
        for name, typ, ident, body in inputs_raw:
            if ident in ids:
                raise ConfigError(f"a second input with id '{ident}' (ids must be unique: progress is stored by id)", section=name)
            ids.add(ident)
            allowed = _AUDIT_KEYS if typ == "MSOffice365Source" else _TRACE_KEYS
            sec = _Section(name, body, allowed)
            conn = self.pick_connection(sec, connections)
            out = self.pick_output(sec, outputs, default_output)
            if typ == "MSOffice365Source":
                inputs.append(self.audit_input(sec, ident, conn, out))
            else:
                inputs.append(self.trace_input(sec, ident, conn, out))
        return FetchConfig(self.path, connections, outputs, inputs, self.notes)

    # -- sections

    def connection(self, sec: _Section, ident: str) -> Connection:
        client_id = sec.string("client_id", required=True)
        tenant_id = sec.string("tenant_id", required=True)
        if re.search(r"[\s/?#]", tenant_id):
            raise sec.error("tenant_id", "must be the Directory (tenant) ID, a GUID")
        given = [k for k in SECRET_KEYS if sec.has(k)]
        if not given:
            raise sec.error("client_secret", "is required (or give client_secret_env or client_secret_file)")
        if len(given) > 1:
            raise sec.error(given[1], f"give only one of {', '.join(SECRET_KEYS)} (found {', '.join(given)})")
        if given[0] == "client_secret":
            secret = Secret("config", value=sec.string("client_secret", secret=True))
        elif given[0] == "client_secret_env":
            var = sec.string("client_secret_env")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", var):
                raise sec.error("client_secret_env", "must be the name of an environment variable")
            secret = Secret("env", ref=var)
        else:
            secret = Secret("file", ref=str(self.resolve(sec.string("client_secret_file"))))
        if secret.source != "config":
            try:  # fail now rather than at the first token request; the value itself is not kept
                secret.value()
            except ConfigError as exc:
                raise sec.error(given[0], exc.problem) from None
        cloud_name = sec.string("cloud", "commercial")
        cloud = clouds.lookup(cloud_name)
        if cloud is None:
            raise sec.error("cloud", f"unknown cloud {cloud_name!r}; one of {', '.join(clouds.CLOUDS)}")
        authority = sec.url("authority", cloud.authority)
        if re.search(r"https://[^/]+/.", authority):
            raise sec.error("authority", "give the host only (https://login.microsoftonline.com); the tenant is added from tenant_id")
        resources = sec.string_list("resources", DEFAULT_RESOURCES, separators=r"[\s,]+")
        for r in resources:
            _check_url(sec, "resources", r)
        ca_file = sec.string("ca_file")
        if ca_file is not None:
            ca_path = self.resolve(ca_file)
            if not ca_path.is_file():
                raise sec.error("ca_file", f"{ca_file}: no such file")
            ca_file = str(ca_path)
        timeout = sec.number("timeout", 60.0, minimum=1.0)
        return Connection(ident, client_id, tenant_id, secret, authority, cloud, resources, ca_file, timeout)

    def output(self, sec: _Section, typ: str, ident: str, passthrough: dict) -> Output:
        path = None
        if typ == "File":
            path = str(self.resolve_cwd(sec.string("path", required=True)))
        rules = sec.string_list("rules", (), separators=r"\s*,\s*")
        for r in rules:
            if not Path(r).is_dir():
                raise sec.error("rules", f"{r}: not a directory")
        kafka = self.kafka_target(sec, passthrough) if typ == "Kafka" else None
        return Output(ident, typ, path, sec.boolean("normalize", True), rules, sec.name, kafka)

    def kafka_target(self, sec: _Section, passthrough: dict) -> KafkaTarget:
        servers = ",".join(sec.string_list("bootstrap_servers", (), separators=r"[\s,]+")) or None
        if servers is None:
            raise sec.error("bootstrap_servers", "is required (host:port, comma separated)")
        topic = sec.string("topic", required=True)
        props: dict[str, str] = {}
        extra = sec.body.get("properties")
        if extra is not None:
            if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
                raise sec.error("properties", "must be a mapping of librdkafka property names to values")
            for k, v in extra.items():
                props[k] = _property_value(sec, f"properties.{k}", v)
        for key, value in passthrough.items():
            name, via = key, None
            for suffix in ("_env", "_file"):
                if key.endswith(suffix):
                    name, via = key[: -len(suffix)], suffix[1:]
            prop = name.replace("_", ".")
            if via is None:
                props[prop] = _property_value(sec, key, value)
                continue
            ref = _property_value(sec, key, value)
            secret = Secret(via, ref=str(self.resolve(ref)) if via == "file" else ref)
            try:
                props[prop] = secret.value()
            except ConfigError as exc:
                raise sec.error(key, exc.problem) from None
        if "bootstrap.servers" in props:
            raise sec.error("properties", "give bootstrap_servers as its own key")
        return KafkaTarget(servers, topic, props)

    def pick_connection(self, sec: _Section, connections: dict[str, Connection]) -> Connection:
        name = sec.string("connection")
        if name is None:
            if len(connections) == 1:
                return next(iter(connections.values()))
            raise sec.error("connection", "is required: the id of a connection:MSOffice365:<id> section"
                            if connections else "is required, and there is no connection:MSOffice365:<id> section")
        if name not in connections:
            known = ", ".join(connections) or "none"
            raise sec.error("connection", f"no section connection:MSOffice365:{name} (connections defined: {known})")
        return connections[name]

    def pick_output(self, sec: _Section, outputs: dict[str, Output], default: Output) -> Output:
        name = sec.string("output")
        if not outputs:
            if name is not None:
                self.notes.append(f"input section '{sec.name}': output '{name}' is not defined here "
                                  "(no output: sections), so its records go to stdout, normalized")
            return default
        if name is None:
            if len(outputs) == 1:
                return next(iter(outputs.values()))
            raise sec.error("output", f"is required: one of {', '.join(outputs)}")
        if name not in outputs:
            raise sec.error("output", f"no output section with id '{name}' (outputs defined: {', '.join(outputs)})")
        return outputs[name]

    def common(self, sec: _Section) -> dict:
        encoding = sec.string("encoding", "utf-8")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise sec.error("encoding", f"unknown encoding {encoding!r}") from None
        return {
            "encoding": encoding,
            "last_value_storage": str(self.resolve_cwd(sec.string("last_value_storage", DEFAULT_LAST_VALUE_STORAGE))),
        }

    def audit_input(self, sec: _Section, ident: str, conn: Connection, out: Output) -> AuditInput:
        cts = sec.string_list("content_type", DEFAULT_CONTENT_TYPES)
        canon = {c.lower(): c for c in AUDIT_CONTENT_TYPES}
        fixed = []
        for ct in cts:
            if ct.lower() not in canon:
                hint = difflib.get_close_matches(ct, AUDIT_CONTENT_TYPES, n=1)
                raise sec.error("content_type", f"unknown content type {ct!r}" + (f"; did you mean '{hint[0]}'?" if hint else
                                f"; known: {' '.join(AUDIT_CONTENT_TYPES)}"))
            if canon[ct.lower()] not in fixed:
                fixed.append(canon[ct.lower()])
        if not _GUID.match(conn.tenant_id):
            raise ConfigError("the Management Activity API needs the Directory (tenant) ID as a GUID, "
                              f"used by input section '{sec.name}'", section=f"connection:MSOffice365:{conn.id}", key="tenant_id")
        resource = sec.url("resource")
        api_url = sec.url("api_url")
        if resource is None:
            resource = conn.cloud.audit_api
        if api_url is None:
            api_url = resource if sec.has("resource") else conn.cloud.audit_api
        publisher = sec.string("publisher_identifier", conn.tenant_id)
        return AuditInput(
            id=ident, section=sec.name, connection=conn, content_types=tuple(fixed), resource=resource, api_url=api_url,
            publisher_identifier=publisher, output=out, **self.common(sec),
            initial_lookback=sec.duration("initial_lookback", AUDIT_LOOKBACK, maximum=AUDIT_RETENTION,
                                          what=" (the API offers 7 days of content)"),
            refresh=sec.number("refresh", AUDIT_REFRESH, minimum=1.0),
            overlap=sec.duration("overlap", AUDIT_OVERLAP, maximum=86400),
        )

    def trace_input(self, sec: _Section, ident: str, conn: Connection, out: Output) -> MessageTraceInput:
        api = (sec.string("api", "graph") or "graph").lower()
        if api not in ("graph", "reporting"):
            raise sec.error("api", f"must be graph (Microsoft Graph messageTraces) or reporting (legacy Reporting Web Service), got {api!r}")
        cloud = conn.cloud
        resource = sec.url("resource")
        api_url = sec.url("api_url")
        if api == "graph":
            legacy = {"https://outlook.office365.com", "https://outlook.office365.us"}
            if cloud.reporting_resource:
                legacy.add(cloud.reporting_resource)
            if resource in legacy:
                self.notes.append(f"input section '{sec.name}': resource {resource} is the legacy Reporting Web Service's; "
                                  f"with api: graph the token is for {cloud.graph_resource} (set api: reporting to use the legacy service)")
                resource = None
            resource = resource or cloud.graph_resource
            api_url = api_url or cloud.graph_api
            retention = GRAPH_RETENTION
        else:
            resource = resource or cloud.reporting_resource
            api_url = api_url or cloud.reporting_api
            if resource is None or api_url is None:
                raise sec.error("api_url", f"there is no known Reporting Web Service for cloud {cloud.name}; set api_url and resource")
            retention = REPORTING_RETENTION
        return MessageTraceInput(
            id=ident, section=sec.name, connection=conn, api=api, resource=resource, api_url=api_url, output=out,
            **self.common(sec),
            initial_lookback=sec.duration("initial_lookback", MESSAGE_LOOKBACK, maximum=retention,
                                          what=f" (how far back {'Graph' if api == 'graph' else 'the Reporting Web Service'} keeps message trace)"),
            refresh=sec.number("refresh", MESSAGE_REFRESH, minimum=1.0),
            overlap=sec.duration("overlap", MESSAGE_OVERLAP, maximum=86400),
        )

    # -- paths

    def resolve(self, value: str) -> Path:
        """Files the configuration refers to (CA bundle, secret file): relative to the config file."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self.base / p

    def resolve_cwd(self, value: str) -> Path:
        """Where data goes (progress, output files): relative to the working directory, as documented."""
        return Path(os.path.expanduser(value)).absolute()
