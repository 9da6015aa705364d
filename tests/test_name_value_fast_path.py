"""The Name/Value fast path gives exactly the answers of the general code: the flat rules that
build a Name/Value map once for their kv_get reads give flatten(normalize(record)) for
well-formed and malformed collections alike."""

from __future__ import annotations

import copy


import orjson
import pytest

from normalizer import bench
from normalizer.context import Options
from normalizer.ruleset import load_ruleset
from normalizer.runtime import flatten


_COLLECTIONS = [
    [], [{"Name": "IsCompliant", "Value": "True"}],
    [{"Name": "TrustType", "Value": "1"}, {"Name": "TrustType", "Value": "2"}],
    [{"Name": "TrustType", "Value": "1", "X": 1}, {"Name": "IsCompliant", "Value": "yes"}],
    [{"Name": "", "Value": "1"}, {"Name": "IsCompliant", "Value": "False"}],
    [{"Name": "_raw", "Value": "1"}, {"Name": "IsCompliant", "Value": "False"}],
    [{"Name": 5, "Value": "1"}, {"Name": "IsCompliant", "Value": "False"}],
    [{"Name": "IsCompliant"}, {"Name": "IsCompliant", "Value": "False"}],
    ["stray", {"Name": "TrustType", "Value": 3}],
    [{"Name": "a", "Value": 1}, {"Name": "b", "Value": 2}, {"Name": "c", "Value": 3}, {"Name": "TrustType", "Value": "2"}],
    '[{"Name":"TrustType","Value":"1"}]', "garbage", {"TrustType": "1", "IsCompliant": "true"}, None, 5,
    [{"Name": "IsCompliant", "Value": {"x": 1}}, {"Name": "TrustType", "Value": [1]}],
    [{"Name": "IsCompliant", "Value": "maybe"}, {"Name": "TrustType", "Value": "99"}],
    [{"Name": "additionalDetails", "Value": '{"a":1}'}, {"Name": "KeepMeSignedIn", "Value": "TRUE"}],
    [{"Name": "additionalDetails", "Value": "{bad"}, {"Name": "KeepMeSignedIn", "Value": " no "}],
]


@pytest.mark.parametrize("cap", [100, 3])
@pytest.mark.parametrize("field", ["DeviceProperties", "ExtendedProperties"])
def test_name_value_map_built_once_matches_tree(cap, field):
    ruleset = load_ruleset(options=Options(collection_cap=cap))
    base = bench._Gen(3).sts_logon()
    for value in _COLLECTIONS:
        for _ in range(10):  # past the shape threshold: generic and specialised flat functions
            record = copy.deepcopy(base)
            record[field] = copy.deepcopy(value)
            flat = ruleset.normalize_flat(copy.deepcopy(record))
            tree = flatten(ruleset.normalize(copy.deepcopy(record)))
            assert orjson.dumps(flat, option=orjson.OPT_SORT_KEYS) == orjson.dumps(tree, option=orjson.OPT_SORT_KEYS), value
