"""Blocks that change columns: names, types, which columns are kept, values replaced.

Workbench blocks name columns by ``columnId`` / ``columnIds``; the later SDK's by a selector
``columns: {type, details}`` (0: a list, 1: a pattern, 2: one column), read by :func:`selected`.
"""
import math
import re

from ._errors import DataPrepError, UnsupportedBlockError

#: ``typeProperty`` codes (FieldType): string, boolean, integer, decimal, date.
STRING, BOOLEAN, INTEGER, DECIMAL, DATE, NULL = 0, 1, 2, 3, 4, 7
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
#: The SDK's default NA list (``ReplaceNaBlock.useDefaultNaList``).
DEFAULT_NA = ["NA", "N/A", "NULL", "null", "NaN", "nan", "#N/A", "n/a", "-NaN", "-nan"]


def _need(frame, names, block):
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataPrepError("%s: no column %s (columns: %s)"
                            % (block, ", ".join(repr(m) for m in missing),
                               ", ".join(str(c) for c in frame.columns)))
    return names


def selected(frame, selector):
    """The column names a Workbench list or an SDK selector picks, in the frame's order for
    patterns and as written for lists."""
    if isinstance(selector, list):
        return list(selector)
    selector = selector or {}
    details = selector.get("details") or {}
    kind = selector.get("type", 0)
    if kind == 2:
        return [details.get("selectedColumn")]
    if kind == 0:
        return list(details.get("selectedColumns") or [])
    term = details.get("term") or ""
    if not details.get("useRegex"):
        term = re.escape(term)
    if details.get("matchWholeWord"):
        term = "^(?:%s)$" % term
    pattern = re.compile(term, re.IGNORECASE if details.get("ignoreCase") else 0)
    invert = bool(details.get("invert"))
    return [c for c in frame.columns if bool(pattern.search(str(c))) != invert]


def _column_of(entry):
    """``columnId``, or the SDK form ``column: {details: {selectedColumn}}``."""
    if entry.get("columnId") is not None:
        return entry["columnId"]
    return ((entry.get("column") or {}).get("details") or {}).get("selectedColumn")


def column_rename(context, frame, arguments):
    """``ColumnRenameBlock``: one column, ``columnId`` -> ``newColumnId``."""
    _need(frame, [arguments.get("columnId")], "ColumnRenameBlock")
    return frame.rename(columns={arguments["columnId"]: arguments.get("newColumnId")})


def rename_columns(context, frame, arguments):
    """``RenameColumnsBlock`` (SDK): pairs; a pair whose column is absent is skipped, since one
    dataflow renames the spellings of several files' headers."""
    mapping = {}
    for pair in arguments.get("columnPairs") or []:
        old = _column_of(pair)
        if old in frame.columns:
            mapping[old] = pair.get("newColumnId")
    return frame.rename(columns=mapping)


def _to_boolean(pd, series):
    def convert(value):
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return series.map(convert, na_action="ignore").astype("boolean")


def _to_date(pd, series, formats):
    result = pd.to_datetime(series, errors="coerce", format=formats[0]) if formats else \
        pd.to_datetime(series, errors="coerce")
    for extra in formats[1:]:
        result = result.fillna(pd.to_datetime(series, errors="coerce", format=extra))
    return result


def convert(pd, series, kind, type_arguments=None, decimal_point=0):
    """One column converted to a FieldType; values that do not convert become missing."""
    if kind == STRING:
        return series.map(str, na_action="ignore")
    if kind == BOOLEAN:
        return _to_boolean(pd, series)
    if kind in (INTEGER, DECIMAL):
        text = series
        if decimal_point == 1 and series.dtype == object:
            text = series.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(text, errors="coerce")
        if kind == INTEGER:
            return numbers.round().astype("Int64")
        return numbers.astype("float64")
    if kind == DATE:
        type_arguments = type_arguments or {}
        formats = list(type_arguments.get("dateTimeFormats") or [])
        if type_arguments.get("dateTimeFormat"):
            formats.insert(0, type_arguments["dateTimeFormat"])
        return _to_date(pd, series, formats)
    raise UnsupportedBlockError("typeProperty %r" % kind)


def set_column_types(context, frame, arguments):
    """``SetColumnTypesBlock``: each ``columnConversion`` entry's column to its FieldType."""
    frame = frame.copy()
    for entry in arguments.get("columnConversion") or []:
        name = _column_of(entry)
        _need(frame, [name], "SetColumnTypesBlock")
        frame[name] = convert(context.pd, frame[name], entry.get("typeProperty"),
                              entry.get("typeArguments"))
    return frame


def to_number(context, frame, arguments):
    """``ConvertColumnFieldTypeBlock`` (Workbench) / ``ToNumberBlock`` (SDK): to decimal."""
    names = arguments.get("columnIds") or selected(frame, arguments.get("columns"))
    frame = frame.copy()
    for name in _need(frame, names, "to-number block"):
        frame[name] = convert(context.pd, frame[name], DECIMAL,
                              decimal_point=arguments.get("decimalPoint", 0))
    return frame


def delete_columns(context, frame, arguments):
    """``DeleteColumnBlock`` / ``DropColumnsBlock``."""
    names = arguments.get("columnIds") or selected(frame, arguments.get("columns"))
    return frame.drop(columns=[name for name in names if name in frame.columns])


def keep_columns(context, frame, arguments):
    """``KeepColumnBlock`` / ``KeepColumnsBlock``: only these, in the frame's order."""
    names = set(arguments.get("columnIds") or selected(frame, arguments.get("columns")))
    _need(frame, sorted(names, key=str), "keep-columns block")
    return frame[[c for c in frame.columns if c in names]]


def handle_path_column(context, frame, arguments):
    """``HandlePathColumnBlock`` 0: drop the source's ``Path`` column (never added here)."""
    if arguments.get("pathColumnOperation", 0) != 0:
        raise UnsupportedBlockError("pathColumnOperation %r" % arguments.get("pathColumnOperation"))
    return frame.drop(columns=["Path"]) if "Path" in frame.columns else frame


def _missing(series, use_null=True, use_empty=True):
    mask = series.isna() if use_null else series.isna() & False
    if use_empty:
        mask = mask | (series.astype(object) == "")
    return mask


def replace_missing_strings(context, frame, arguments):
    """``ReplaceMissingStringValuesBlock``: missing (null and/or empty) -> ``replaceWith``."""
    frame = frame.copy()
    for name in _need(frame, arguments.get("columnIds") or [], "ReplaceMissingStringValuesBlock"):
        mask = _missing(frame[name], arguments.get("useNullAsMissing", True),
                        arguments.get("useEmptyStringAsMissing", True))
        frame[name] = frame[name].astype(object).where(~mask, arguments.get("replaceWith"))
    return frame


def missing_values(context, frame, arguments):
    """``MissingValuesBlock`` action 2 (the only one seen, with ``replacementValue``): replace."""
    if arguments.get("action") != 2:
        raise UnsupportedBlockError("MissingValuesBlock action %r" % arguments.get("action"))
    return replace_missing_strings(context, frame, {
        "columnIds": arguments.get("columnIds"), "replaceWith": arguments.get("replacementValue")})


def _typed(arguments, prefix, kind):
    """The value of a Replace/FillNulls argument of FieldType ``kind`` (``stringReplaceWith`` ...)."""
    names = {STRING: "string", DECIMAL: "double", BOOLEAN: "boolean", INTEGER: "double"}
    if kind == NULL:
        return None
    if kind not in names:
        raise UnsupportedBlockError("value type %r" % kind)
    value = arguments.get(names[kind] + prefix)
    return bool(value) if kind == BOOLEAN else value


def replace(context, frame, arguments):
    """``ReplaceBlock`` (SDK): a typed value (or null) -> a typed value, in the columns."""
    find = _typed(arguments, "ValueToFind", arguments.get("valueToFindType", STRING))
    new = _typed(arguments, "ReplaceWith", arguments.get("replaceWithType", STRING))
    frame = frame.copy()
    for name in _need(frame, selected(frame, arguments.get("columns")), "ReplaceBlock"):
        column = frame[name].astype(object)
        mask = column.isna() if find is None else (column == find)
        frame[name] = column.where(~mask, new)
    return frame


def fill_nulls(context, frame, arguments):
    """``FillNullsBlock`` (SDK): null -> a typed value."""
    return replace(context, frame, dict(arguments, valueToFindType=NULL))


def replace_na(context, frame, arguments):
    """``ReplaceNaBlock`` (SDK): the NA spellings -> null."""
    spellings = list(arguments.get("customNaList") or [])
    if arguments.get("useDefaultNaList", True):
        spellings += DEFAULT_NA
    if arguments.get("useEmptyStringAsNa", True):
        spellings.append("")
    frame = frame.copy()
    for name in selected(frame, arguments.get("columns")):
        column = frame[name].astype(object)
        frame[name] = column.where(~column.isin(spellings), None)
    return frame


def add_custom_column(context, frame, arguments):
    """``AddCustomColumnBlock``: ``customExpression`` is Python over ``row`` (a record with the
    columns as attributes and keys), evaluated per row with ``math`` available."""
    if arguments.get("codeBlockType", 0) != 0:
        raise UnsupportedBlockError("codeBlockType %r" % arguments.get("codeBlockType"))
    code = compile(arguments.get("customExpression") or "None", "<AddCustomColumnBlock>", "eval")
    namespace = {"math": math, "pd": context.pd}
    values = [eval(code, namespace, {"row": row}) for _, row in frame.iterrows()]
    frame = frame.copy()
    name = arguments.get("columnId")
    prior = arguments.get("priorColumnId")
    position = list(frame.columns).index(prior) + 1 if prior in frame.columns else len(frame.columns)
    frame.insert(position, name, values)
    return frame
