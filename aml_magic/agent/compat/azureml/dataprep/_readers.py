"""The SDK-style readers: ``read_csv``, ``auto_read`` (``auto_read_file``), ``read_excel``,
``read_parquet_file``, ``read_json``, ``read_lines``. Each returns a pandas DataFrame with pandas'
own type inference (the SDK returned a lazy Dataflow; here the data is read at once), relative
paths taken from the working directory, globs and lists of paths appended.
"""
from typing import Any  # noqa: F401  (type comments)
import csv
import glob
import os

from ._engine import pandas
from .datasource import load_datasource
from .package import run as run_package
from ._errors import DataPrepError


class PromoteHeadersMode(object):
    """``header=`` values of ``read_csv`` (the SDK's enum)."""
    NONE = 0
    FIRSTFILE = 1
    ALLFILES = 2
    GROUPED = 2
    SAMEALLFILES = 3
    CONSTANTGROUPED = 3


def _paths(path):
    names = path if isinstance(path, (list, tuple)) else [path]
    found = []
    for name in names:
        name = str(name)
        matches = sorted(p for p in glob.glob(name) if os.path.isfile(p)) if any(
            c in name for c in "*?[") else ([name] if os.path.isfile(name) else [])
        if not matches and os.path.isdir(name):
            matches = sorted(os.path.join(name, f) for f in os.listdir(name)
                             if os.path.isfile(os.path.join(name, f)))
        if not matches:
            raise DataPrepError("azureml.dataprep: no file at %s (from %s)" % (name, os.getcwd()))
        found.extend(matches)
    return found


def _concat(pd, frames):
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)


def read_csv(path, separator=",", header=PromoteHeadersMode.CONSTANTGROUPED, encoding="utf-8",
             skip_rows=0, comment=None, include_path=False, **_ignored):
    """Delimited files as one DataFrame; ``header`` 0/False for none (Column1..N)."""
    pd = pandas()
    frames = []  # type: list[Any]
    for number, name in enumerate(_paths(path)):
        with_header = bool(header) and (header != PromoteHeadersMode.FIRSTFILE or number == 0)
        frame = pd.read_csv(name, sep=separator, header=0 if with_header else None,
                            encoding=encoding if isinstance(encoding, str) else "utf-8",
                            skiprows=skip_rows or 0, comment=comment,
                            engine="python" if len(separator) > 1 else "c")
        if not with_header:
            frame.columns = (list(frames[0].columns) if frames and header else
                             ["Column%d" % (i + 1) for i in range(len(frame.columns))])
        if include_path:
            frame.insert(0, "Path", name)
        frames.append(frame)
    return _concat(pd, frames)


def read_excel(path, sheet_name=None, use_column_headers=False, skip_rows=0, **_ignored):
    """An Excel sheet (the first one unless named)."""
    pd = pandas()
    frames = [pd.read_excel(name, sheet_name=sheet_name or 0, skiprows=skip_rows or 0,
                            header=0 if use_column_headers else None) for name in _paths(path)]
    return _concat(pd, frames)


def read_parquet_file(path, **_ignored):
    pd = pandas()
    return _concat(pd, [pd.read_parquet(name) for name in _paths(path)])


def read_json(path, encoding="utf-8", **_ignored):
    pd = pandas()
    return _concat(pd, [pd.read_json(name, encoding=encoding) for name in _paths(path)])


def read_lines(path, encoding="utf-8", skip_rows=0, **_ignored):
    """One row per line, in column ``Line``."""
    pd = pandas()
    lines = []  # type: list[str]
    for name in _paths(path):
        with open(name, encoding=encoding) as handle:
            lines.extend(line.rstrip("\r\n") for line in list(handle)[skip_rows:])
    return pd.DataFrame({"Line": lines})


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sniff(name):
    """(separator, has header) of a delimited text file, from its first 64 KiB: the first line
    is a header unless one of its fields is a number."""
    with open(name, encoding="utf-8", errors="replace") as handle:
        sample = handle.read(65536)
    try:
        separator = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        separator = ","
    first = next(csv.reader([sample.splitlines()[0] if sample else ""], delimiter=separator), [])
    return separator, not any(_is_number(field.strip()) for field in first if field.strip())


def auto_read(path, **_ignored):
    """A file read by its kind: ``.dprep``/``.dsource`` packages, Excel, Parquet, JSON, or
    delimited text with the separator and header line detected."""
    name = str(path)
    lower = name.lower()
    if lower.endswith(".dprep"):
        return run_package(name, dataflow_idx=0)
    if lower.endswith(".dsource"):
        return load_datasource(name)
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        return read_excel(name, use_column_headers=True)
    if lower.endswith(".parquet"):
        return read_parquet_file(name)
    if lower.endswith(".json"):
        return read_json(name)
    first = _paths(name)[0]
    separator, has_header = _sniff(first)
    return read_csv(name, separator=separator,
                    header=PromoteHeadersMode.CONSTANTGROUPED if has_header else 0)


auto_read_file = auto_read
smart_read_file = auto_read
