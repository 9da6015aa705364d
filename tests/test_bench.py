"""The benchmark in smoke mode: it runs, it is deterministic, and the rule set is not
catastrophically slower than bare JSON parsing (no absolute times are asserted)."""

from __future__ import annotations

import re

from normalizer import bench


def test_corpus_is_deterministic_and_mixed():
    a, b = bench.corpus(500), bench.corpus(500)
    assert a == b
    text = b"\n".join(a)
    for marker in (b'"RecordType":15', b'"RecordType":50', b'"RecordType":6', b'"receivedDateTime"', b'"__metadata"',
                   b'"DeviceProperties"', b'"ModifiedProperties"', b'"Parameters"'):
        assert marker in text


def test_smoke_run_prints_the_ratio(capsys):
    assert bench.main(["--records", "3000", "--repeat", "1", "--no-command"]) == 0
    out = capsys.readouterr().out
    ratio = float(re.search(r"ratio \(o365norm / floor\): ([0-9.]+)", out).group(1))
    assert ratio > 0.01, out  # generous: guards against an accidental order-of-magnitude regression


def test_every_corpus_record_normalizes_cleanly():
    from normalizer.output_schema import output_validator
    from normalizer.ruleset import load_ruleset

    import orjson

    ruleset = load_ruleset()
    validate = output_validator(ruleset)
    for line in bench.corpus(400):
        flat = ruleset.normalize_flat(orjson.loads(line))
        assert "normalizer.warnings" not in flat, flat.get("normalizer.warnings")
        assert not validate(flat)


def test_smoke_command_run_prints_the_ratios(capsys):
    assert bench.main(["--records", "2000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"command ratio: ([0-9.]+)", out).group(1)) > 0.005, out
    assert float(re.search(r"jobs speed-up \(--jobs 2 / one process\): ([0-9.]+)", out).group(1)) > 0.1, out
    assert re.search(r"peak RSS \d+ MiB", out), out
