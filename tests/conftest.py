"""Shared pytest options: --update-golden rewrites expected outputs for review."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (samples/*.expected.json, tests/diagnostics/*/expected.txt) from the current output",
    )


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A Kafka-protocol broker (Tansu) on loopback, shared by the Kafka tests."""
    from kafka_support import Broker

    b = Broker(tmp_path_factory.mktemp("tansu"))
    yield b
    b.stop()
