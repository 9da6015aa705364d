"""The input files of the Spark job, found on the driver the way the command line finds them.

An argument naming a directory stands for every .json/.ndjson/.jsonl (optionally .gz) file
below it, golden ``*.expected.json`` files excluded, in path order; a file is taken as
named; a pattern (Hadoop glob syntax: ``*``, ``?``, ``[ab]``, ``{a,b}``) for what it
matches. Listing goes through Spark's Hadoop FileSystem, so hdfs://, s3a:// and abfss://
paths work wherever the cluster is configured for them.

Each file keeps the name the command line would show in rejects: the argument itself, or
the directory argument joined with the path below it; files matched by a pattern are shown
by their full path (relative to the working directory for relative local patterns).

Hadoop's input formats do not read files whose names start with '_' or '.' (its marker and
hidden files): such files named explicitly are an error, and under a directory they are
skipped and reported (the command line would read them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..harness import EXPECTED_SUFFIX, INPUT_SUFFIXES

_GLOB_CHARS = set("*?[]{}\\")


@dataclass(frozen=True)
class InputFile:
    uri: str  # fully qualified, as Hadoop reports it (and as sc.binaryFiles keys the file)
    source: str  # the name shown in rejects
    size: int


class InputError(Exception):
    """An input argument that cannot be read; the message names it."""


@dataclass
class Listing:
    files: list[InputFile]
    hidden: list[str]  # files below a directory that Hadoop would not read (names start with '_' or '.')


def list_inputs(sc, paths: list[str]) -> Listing:
    """Expand the input arguments on the driver. Raises InputError."""
    jvm = sc._jvm
    conf = sc._jsc.hadoopConfiguration()
    listing = Listing([], [])
    for arg in paths:
        if arg == "-":
            raise InputError("the Spark job cannot read standard input: name files or directories")
        try:
            path = jvm.org.apache.hadoop.fs.Path(arg)
            fs = path.getFileSystem(conf)
            statuses = fs.globStatus(path)
            if not statuses:
                raise InputError(f"cannot read input {arg}: no such file or directory")
            pattern = _is_pattern(arg)
            for status in sorted(statuses, key=lambda s: s.getPath().toString()):
                uri = status.getPath().toString()
                shown = _shown_match(arg, uri) if pattern else arg
                if status.isDirectory():
                    _add_directory(fs, status.getPath(), shown, listing)
                else:
                    if _hidden(uri):
                        raise InputError(f"cannot read input {shown}: Hadoop does not read files whose names "
                                         "start with '_' or '.'; rename or copy it")
                    listing.files.append(InputFile(uri, shown, status.getLen()))
        except InputError:
            raise
        except Exception as exc:  # a Py4JJavaError: permissions, unknown file system scheme, ...
            raise InputError(f"cannot read input {arg}: {_java_message(exc)}") from None
    return listing


def escape(uri: str) -> str:
    """``uri`` with Hadoop's glob characters escaped: a file name read as a name, not a pattern."""
    return "".join("\\" + c if c in _GLOB_CHARS else c for c in uri)


def _add_directory(fs, directory, shown: str, listing: Listing) -> None:
    root = directory.toString().rstrip("/")
    found = []
    entries = fs.listFiles(directory, True)
    while entries.hasNext():
        status = entries.next()
        uri = status.getPath().toString()
        name = uri.rsplit("/", 1)[-1]
        if not name.endswith(INPUT_SUFFIXES) or name.endswith(EXPECTED_SUFFIX):
            continue
        rel = uri[len(root):].lstrip("/")
        found.append((tuple(rel.split("/")), uri, _join(shown, rel), status.getLen()))
    for _, uri, source, size in sorted(found):  # path order, as the command line (Path sorting)
        if _hidden(uri):
            listing.hidden.append(source)
        else:
            listing.files.append(InputFile(uri, source, size))


def _join(directory: str, rel: str) -> str:
    """As the command line shows a file below a directory argument (``Path(dir) / rel``)."""
    if "://" in directory or directory.startswith("file:"):
        return f"{directory.rstrip('/')}/{rel}"
    return str(PurePosixPath(directory) / rel)


def _shown_match(pattern: str, uri: str) -> str:
    """A file a pattern matched: its path as the shell would expand a local pattern, else its URI."""
    if "://" in pattern or pattern.startswith("file:") or not uri.startswith("file:"):
        return uri
    local = uri[len("file:"):]
    return local if os.path.isabs(pattern) else os.path.relpath(local)


def _is_pattern(arg: str) -> bool:
    return any(c in _GLOB_CHARS for c in arg)


def _hidden(uri: str) -> bool:
    return uri.rsplit("/", 1)[-1].startswith(("_", "."))


def _java_message(exc: Exception) -> str:
    java = getattr(exc, "java_exception", None)
    return java.toString() if java is not None else str(exc)


def path_exists(sc, path: str) -> bool:
    """Whether ``path`` exists, on whatever file system Spark reads it from."""
    try:
        hadoop_path = sc._jvm.org.apache.hadoop.fs.Path(path)
        return bool(hadoop_path.getFileSystem(sc._jsc.hadoopConfiguration()).exists(hadoop_path))
    except Exception as exc:
        raise InputError(f"cannot check {path}: {_java_message(exc)}") from None


def read_head(sc, uri: str, size: int) -> bytes:
    """The first ``size`` bytes of a file (fewer if it is shorter), read on the driver."""
    try:
        path = sc._jvm.org.apache.hadoop.fs.Path(uri)
        stream = path.getFileSystem(sc._jsc.hadoopConfiguration()).open(path)
        try:
            return bytes(stream.readNBytes(size))
        finally:
            stream.close()
    except Exception as exc:
        raise InputError(f"cannot read input {uri}: {_java_message(exc)}") from None
