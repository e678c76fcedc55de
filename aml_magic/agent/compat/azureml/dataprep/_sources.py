"""Blocks that bring data in: where the files are (``DataSourceBlock``, ``GetFilesBlock``) and how
they are parsed (``ParseDelimitedBlock``, ``ReadExcelBlock``).

A source block yields :class:`Files` (the local paths); the parse block that follows turns them
into one DataFrame. Every field is read as text, as Workbench did: ``SetColumnTypesBlock`` then
converts; an empty field is missing (NaN), nothing else is ("NA" stays the text "NA").
"""
from typing import Any  # noqa: F401  (type comments)
from ._document import resolve
from ._errors import DataPrepError, UnsupportedBlockError

#: ``fileEncoding`` codes (the later SDK's FileEncoding; Workbench files only use 0).
ENCODINGS = {0: "utf-8", 1: "iso-8859-1", 2: "latin-1", 3: "ascii", 4: "utf-16", 5: "utf-32",
             6: "utf-8-sig", 7: "cp1252"}
#: ``columnHeadersMode``: 0 none (columns Column1..N), 1 first file's first line, 2 and 3 the
#: first line of every file.
NO_HEADERS, FIRST_FILE, ALL_FILES, SAME_ALL_FILES = 0, 1, 2, 3


class Files(object):
    """The files a source block named, not yet parsed."""

    def __init__(self, paths):
        self.paths = paths


def _paths(context, arguments):
    path = arguments.get("path") or {}
    details = path.get("resourceDetails") or []
    if path.get("target", 0) != 0:
        remote = details[0].get("path") if details else "?"
        raise UnsupportedBlockError("remote source %s (Azure blob/URL); download it into the "
                                    "project and point the source at the local file" % remote)
    found = []
    for detail in details:
        found.extend(resolve(detail.get("path") or "", context.file))
    if not found:
        raise DataPrepError("the source names no file")
    return found


def data_source(context, value, arguments):
    """``DataSourceBlock`` / ``GetFilesBlock``: local files, relative to the package."""
    return Files(_paths(context, arguments))


def data_connection(context, value, arguments):
    """``DataConnectionBlock``: the oldest files' pointer to a ``.dconn`` (not readable here)."""
    target = (arguments.get("connectionPath") or {}).get("path") or "?"
    raise UnsupportedBlockError("a data connection (%s); replace it with a DataSourceBlock on a "
                                "local file, or read the data with pandas" % target)


def _files(value, block):
    if not isinstance(value, Files):
        raise DataPrepError("%s must follow a data source block" % block)
    return value.paths


def _column_names(count):
    return ["Column%d" % (index + 1) for index in range(count)]


def parse_delimited(context, value, arguments):
    """``ParseDelimitedBlock``: separator, header mode, encoding, rows skipped."""
    pd = context.pd
    mode = arguments.get("columnHeadersMode", FIRST_FILE)
    encoding = ENCODINGS.get(arguments.get("fileEncoding", 0))
    if encoding is None:
        raise UnsupportedBlockError("fileEncoding %r" % arguments.get("fileEncoding"))
    skip = int(arguments.get("skipRows") or 0) if arguments.get("skipRowsMode", 0) else 0
    frames = []  # type: list[Any]
    for number, path in enumerate(_files(value, "ParseDelimitedBlock")):
        header = 0 if mode in (ALL_FILES, SAME_ALL_FILES) or (mode == FIRST_FILE and number == 0) \
            else None
        skip_here = skip if (arguments.get("skipRowsMode") == 2 or number == 0) else 0
        frame = pd.read_csv(path, sep=arguments.get("separator", ","), header=header,
                            dtype=str, keep_default_na=False, na_values=[""],
                            encoding=encoding, skiprows=skip_here, skip_blank_lines=True,
                            engine="python" if len(arguments.get("separator", ",")) > 1 else "c")
        if header is None:
            if mode == FIRST_FILE and frames:
                frame.columns = list(frames[0].columns)[:len(frame.columns)]
            else:
                frame.columns = _column_names(len(frame.columns))
        frames.append(frame)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)


def read_excel(context, value, arguments):
    """``ReadExcelBlock``: a local workbook's first sheet (needs openpyxl for .xlsx)."""
    pd = context.pd
    paths = _paths(context, arguments)
    skip = int(arguments.get("skipRows") or 0)
    header = 0 if arguments.get("useColumnHeaders", True) else None
    frames = []  # type: list[Any]
    for path in paths:
        try:
            frame = pd.read_excel(path, sheet_name=arguments.get("sheetName") or 0, header=header,
                                  skiprows=skip, dtype=str)
        except ImportError as error:
            raise DataPrepError("reading %s needs an Excel engine in the run's environment (%s)"
                                % (path, str(error).splitlines()[0]))
        if header is None:
            frame.columns = _column_names(len(frame.columns))
        frames.append(frame)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
