"""Getting pyspark and a SparkSession, with an error that says what to install."""

from __future__ import annotations

import os
import sys

MISSING_PYSPARK = "the Spark adapter needs pyspark: pip install 'o365norm[spark]'"


def require_pyspark() -> None:
    """Raise ImportError naming the extra to install when pyspark is missing."""
    import importlib

    try:
        importlib.import_module("pyspark")
    except ImportError:
        raise ImportError(MISSING_PYSPARK) from None


def get_session(master: str | None, app_name: str = "o365norm"):
    """(session, whether we started it). An active session (spark-submit, a notebook, tests) is reused.

    With a ``local`` master and no PYSPARK_PYTHON, the Python workers run this interpreter,
    which has o365norm, rather than whatever ``python3`` is first on the PATH."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")  # keeps stderr to the summary
    if master:
        builder = builder.master(master)
        if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            os.environ["PYSPARK_PYTHON"] = sys.executable  # read when the context starts
    return builder.getOrCreate(), True
