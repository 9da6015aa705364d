"""Shared pytest options: --update-golden rewrites expected outputs for review."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (samples/*.expected.json, tests/diagnostics/*/expected.txt) from the current output",
    )
