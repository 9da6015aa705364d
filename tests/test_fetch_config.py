"""The fetcher's configuration: the documented sections parse unchanged; mistakes name section and key."""

from __future__ import annotations

import textwrap

import pytest

from normalizer.cli import exit_codes
from normalizer.cli.main import main
from normalizer.fetch.config import ConfigError, load_config, parse_config

TENANT = "3f2a9c1e-7b4d-4e8a-9c0f-1d2e3f4a5b6c"
CLIENT = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
SECRET = "Zq8~config-canary-5e1d"

# The configuration exactly as the issue / product documentation shows it, with the three values
# an administrator copies from the Entra portal filled in (comments and optional keys kept).
DOCUMENTED = textwrap.dedent(f"""\
    connection:MSOffice365:MSOffice365Connection:
      client_id: {CLIENT}
      tenant_id: {TENANT}
      client_secret: {SECRET}
      resources: https://manage.office.com,https://outlook.office365.com   # optional
    input:MSOffice365Source:MyMSOffice365Source:
      connection: MSOffice365Connection
      content_type: Audit.AzureActiveDirectory Audit.Exchange Audit.SharePoint Audit.General   # optional
      resource: https://manage.office.com      # optional
      output: WebSocketOutput
      encoding: utf-8                          # optional
      last_value_storage: ./var/last_value_storage   # optional
    input:MSOffice365MessageTraceSource:MSOffice365MessageTraceSource:
      connection: MSOffice365Connection
      output: WebSocketOutput
      resource: https://outlook.office365.com  # optional
      refresh: 600                             # optional, seconds
    """)


def test_the_documented_configuration_parses_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = parse_config(DOCUMENTED)
    conn = cfg.connections["MSOffice365Connection"]
    assert (conn.client_id, conn.tenant_id, conn.secret.value()) == (CLIENT, TENANT, SECRET)
    assert conn.resources == ("https://manage.office.com", "https://outlook.office365.com")
    assert conn.authority == "https://login.microsoftonline.com" and conn.ca_file is None
    audit, trace = cfg.inputs
    assert audit.kind == "audit" and audit.id == "MyMSOffice365Source"
    assert audit.content_types == ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.SharePoint", "Audit.General")
    assert audit.resource == audit.api_url == "https://manage.office.com"
    assert audit.publisher_identifier == TENANT and audit.encoding == "utf-8"
    assert audit.last_value_storage == str(tmp_path / "var" / "last_value_storage")
    assert audit.initial_lookback == 7 * 86400
    assert trace.kind == "messagetrace" and trace.refresh == 600 and trace.api == "graph"
    assert trace.resource == "https://graph.microsoft.com" and trace.api_url == "https://graph.microsoft.com/v1.0"
    assert trace.initial_lookback == 86400
    # no output sections: records go to stdout, normalized, and the fetcher says so
    assert audit.output.kind == "Stdout" and audit.output.normalize
    assert any("WebSocketOutput" in n for n in cfg.notes)
    assert any("legacy Reporting Web Service" in n for n in cfg.notes)


def test_the_minimal_documented_form_and_the_legacy_api():
    cfg = parse_config(textwrap.dedent(f"""\
        connection:MSOffice365:MSOffice365Connection:
          client_id: {CLIENT}
          tenant_id: {TENANT}
          client_secret: {SECRET}
        input:MSOffice365Source:MyMSOffice365Source:
          connection: MSOffice365Connection
        input:MSOffice365MessageTraceSource:MSOffice365MessageTraceSource:
          connection: MSOffice365Connection
          api: reporting
        """))
    audit, trace = cfg.inputs
    assert audit.api_url == "https://manage.office.com" and audit.refresh == 300
    assert trace.api == "reporting" and trace.resource == "https://outlook.office365.com"
    assert trace.api_url == "https://reports.office365.com/ecp/reportingwebservice/reporting.svc"


def test_added_keys_outputs_and_clouds(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SECRET", SECRET)
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    (tmp_path / "rules").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = parse_config(textwrap.dedent(f"""\
        connection:MSOffice365:gov:
          client_id: {CLIENT}
          tenant_id: {TENANT}
          client_secret_env: MY_SECRET
          cloud: gcc-high
          ca_file: {ca}
        input:MSOffice365Source:a:
          content_type: [Audit.Exchange, dlp.all]
          output: file
          initial_lookback: 2d
          publisher_identifier: 11111111-2222-3333-4444-555555555555
        input:MSOffice365MessageTraceSource:m:
          output: raw
          refresh: 60
          initial_lookback: 36h
        output:File:file:
          path: out/audit.ndjson
          rules: rules
        output:Stdout:raw:
          normalize: false
        """))
    conn = cfg.connections["gov"]
    assert conn.authority == "https://login.microsoftonline.us" and conn.ca_file == str(ca)
    a, m = cfg.inputs
    assert a.api_url == "https://manage.office365.us" and a.content_types == ("Audit.Exchange", "DLP.All")
    assert a.initial_lookback == 2 * 86400 and a.publisher_identifier.startswith("1111")
    assert a.output.kind == "File" and a.output.path == str(tmp_path / "out" / "audit.ndjson") and a.output.rules == ("rules",)
    assert m.output.kind == "Stdout" and not m.output.normalize
    assert m.api_url == "https://graph.microsoft.us/v1.0" and m.initial_lookback == 36 * 3600 and m.refresh == 60


def test_the_secret_is_masked_in_reprs():
    cfg = parse_config(DOCUMENTED)
    for text in (repr(cfg), str(cfg.connections), repr(cfg.inputs), repr(cfg.connections["MSOffice365Connection"].secret)):
        assert SECRET not in text
    assert "<hidden" in repr(cfg.connections["MSOffice365Connection"])


def _conn(extra: str = "", secret: str = f"  client_secret: {SECRET}\n") -> str:
    return (f"connection:MSOffice365:c:\n  client_id: {CLIENT}\n  tenant_id: {TENANT}\n{secret}{extra}"
            "input:MSOffice365Source:i:\n  connection: c\n")


@pytest.mark.parametrize("text, section, key, words", [
    ("connection:MSOffice365:c:\n  tenant_id: x\n  client_secret: s\ninput:MSOffice365Source:i:\n",
     "connection:MSOffice365:c", "client_id", "is required"),
    (_conn("  clientid: x\n"), "connection:MSOffice365:c", "clientid", "did you mean 'client_id'"),
    (_conn(secret=""), "connection:MSOffice365:c", "client_secret", "is required"),
    (_conn("  client_secret_env: X\n"), "connection:MSOffice365:c", "client_secret_env", "only one of"),
    (_conn(secret="  client_secret_env: O365NORM_SURELY_UNSET\n"), "connection:MSOffice365:c", "client_secret_env", "not set"),
    (_conn(secret="  client_secret_file: /nonexistent/secret\n"), "connection:MSOffice365:c", "client_secret_file", "cannot read"),
    (_conn("  authority: http://login.example\n"), "connection:MSOffice365:c", "authority", "https://"),
    (_conn("  ca_file: /nonexistent/ca.pem\n"), "connection:MSOffice365:c", "ca_file", "no such file"),
    (_conn("  cloud: mars\n"), "connection:MSOffice365:c", "cloud", "unknown cloud"),
    (_conn() + "  content_type: Audit.Exchnage\n", "input:MSOffice365Source:i", "content_type", "did you mean 'Audit.Exchange'"),
    (_conn() + "  refresh: soon\n", "input:MSOffice365Source:i", "refresh", "number of seconds"),
    (_conn() + "  initial_lookback: 8d\n", "input:MSOffice365Source:i", "initial_lookback", "at most 7d"),
    (_conn() + "  encoding: klingon\n", "input:MSOffice365Source:i", "encoding", "unknown encoding"),
    (_conn() + "  output: nowhere\noutput:Stdout:o:\n", "input:MSOffice365Source:i", "output", "no output section"),
    (_conn().replace("connection: c", "connection: d"), "input:MSOffice365Source:i", "connection", "no section"),
    (_conn() + "input:MSOffice365MessageTraceSource:m:\n  api: smtp\n", "input:MSOffice365MessageTraceSource:m", "api", "graph"),
    (_conn() + "output:File:f:\n  normalize: true\n", "output:File:f", "path", "is required"),
    (_conn() + "output:File:f:\n  path: x\n  normalize: maybe\n", "output:File:f", "normalize", "true or false"),
    (_conn(secret="  client_secret: 12345\n"), "connection:MSOffice365:c", "client_secret", "quotes"),
])
def test_mistakes_name_the_section_and_key(text, section, key, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    err = info.value
    assert (err.section, err.key) == (section, key), err.message()
    assert words in err.message()
    assert f"section '{section}', key '{key}': " in err.message()


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("- a\n- b\n", "mapping of sections"),
    (_conn().split("input:")[0], "no input section"),
    (_conn() + "input:Syslog:s:\n  port: 514\n", "unknown section type"),
    (_conn() + "input:MSOffice365Source:i:\n  connection: c\n", "key given twice"),
])
def test_file_level_mistakes(text, words):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert words in info.value.message()


def test_a_yaml_error_on_the_secret_line_does_not_show_the_secret(tmp_path):
    path = tmp_path / "fetch.yaml"
    path.write_text(_conn(secret=f"  client_secret: {SECRET}: oops\n"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = info.value.message()
    assert message.startswith(f"config {path}: line 4, column") and "YAML syntax error" in message
    assert SECRET not in message and SECRET[:8] not in message


def test_the_cli_reports_config_errors_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "fetch.yaml"
    path.write_text(_conn() + "  content_type: Audit.Nothing\n")
    assert main(["fetch", "--config", str(path), "--once"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"config {path}: section 'input:MSOffice365Source:i', key 'content_type': unknown content type")
    assert main(["fetch", "--config", str(tmp_path / "missing.yaml")]) == exit_codes.USAGE
    assert "cannot read" in capsys.readouterr().err
    assert main(["fetch"]) == exit_codes.USAGE  # --config is required


def test_a_rule_error_exits_3_before_fetching(tmp_path, capsys, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("version: 1\nstream: audit\nrules:\n  - id: x\n    set:\n      o365.audit.X: lowr(.A)\n")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "fetch.yaml"
    path.write_text(_conn() + "  output: o\noutput:Stdout:o:\n  rules: rules\n")
    assert main(["fetch", "--config", str(path), "--once"]) == exit_codes.RULE_ERROR
    assert "unknown function 'lowr'" in capsys.readouterr().err
