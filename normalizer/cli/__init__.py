"""The ``o365norm`` command line: normalize, check, explain, rules test."""
