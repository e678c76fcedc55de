"""Blocks that change rows, or the whole frame: filters, distinct rows, summaries, joins,
appends and Workbench's inline pandas code.

Enum meanings come from the corpus where it shows them (``KEYS.md`` beside the corpus): a filter
keeps (``filterResult`` 0) or removes (1) the rows its clauses match; string operator 0 is
"equals" (``"(null)"`` meaning missing) and 2 "is missing". Operators whose meaning no file shows
are refused in one line rather than guessed.
"""
from ._errors import DataPrepError, UnsupportedBlockError
from ._columns import selected

KEEP, REMOVE = 0, 1
_AND, _OR = 1, 0
#: ``summaryFunction`` codes -> pandas aggregation.
SUMMARIES = {0: "min", 1: "max", 2: "mean", 3: "median", 4: "var", 5: "std", 8: "count", 11: "sum"}
#: ``TwoWayJoin.joinType`` -> pandas ``how``.
JOINS = {2: "inner", 6: "left", 10: "right", 14: "outer"}


def _is_missing(series):
    return series.isna() | (series.astype(object) == "")


def _clause_mask(pd, frame, column, clause, numeric):
    operator, value = clause.get("operator"), clause.get("value")
    series = frame[column]
    if operator == 0 and (value is None or value == "(null)"):
        return _is_missing(series)
    if operator == 0:
        if numeric:
            return pd.to_numeric(series, errors="coerce") == float(value)
        return series.astype(object) == value
    if operator == 2 and not numeric and value is None:
        return _is_missing(series)
    raise UnsupportedBlockError("%s operator %r (its meaning is not known to this reader)"
                                % ("number" if numeric else "string", operator))


def _filter(pd, frame, arguments, numeric):
    column = arguments.get("columnId")
    if column not in frame.columns:
        raise DataPrepError("filter: no column %r" % column)
    clauses = arguments.get("clauses") or []
    if not clauses:
        return frame
    masks = [_clause_mask(pd, frame, column, clause, numeric) for clause in clauses]
    mask = masks[0]
    for other in masks[1:]:
        mask = (mask & other) if arguments.get("clauseRelationship", _AND) == _AND else (mask | other)
    result = arguments.get("filterResult", KEEP)
    if result not in (KEEP, REMOVE):
        raise UnsupportedBlockError("filterResult %r" % result)
    kept = frame[mask] if result == KEEP else frame[~mask]
    return kept.reset_index(drop=True)


def filter_string(context, frame, arguments):
    """``FilterStringColumnBlock``."""
    return _filter(context.pd, frame, arguments, numeric=False)


def filter_number(context, frame, arguments):
    """``FilterNumberColumnBlock``."""
    return _filter(context.pd, frame, arguments, numeric=True)


def distinct_rows(context, frame, arguments):
    """``SelectRowsOnDistinctValuesInColumnBlock``: the first row of each distinct combination."""
    names = [name for name in arguments.get("columnIds") or [] if name in frame.columns]
    return frame.drop_duplicates(subset=names or None).reset_index(drop=True)


def sample(context, frame, arguments):
    """``SampleBlock``: Workbench's samples only sized the editor's preview; a package run reads
    the full data, so this returns the frame unchanged."""
    return frame


def drop_nulls(context, frame, arguments):
    """``DropNullsBlock`` (SDK): ``columnRelationship`` 0 drops rows where all the columns are
    missing, 1 where any is."""
    names = [name for name in selected(frame, arguments.get("columns")) if name in frame.columns]
    how = "all" if arguments.get("columnRelationship", 0) == 0 else "any"
    return frame.dropna(subset=names, how=how).reset_index(drop=True) if names else frame


def summarize(context, frame, arguments):
    """``SummarizeBlock``: group by ``groupByColumns``, one named aggregate per entry."""
    groups = list(arguments.get("groupByColumns") or [])
    named = {}
    for entry in arguments.get("summaryColumns") or []:
        function = SUMMARIES.get(entry.get("summaryFunction"))
        if function is None:
            raise UnsupportedBlockError("summaryFunction %r" % entry.get("summaryFunction"))
        column = entry.get("columnId")
        if column not in frame.columns:
            raise DataPrepError("SummarizeBlock: no column %r" % column)
        named[entry.get("summaryColumnName") or "%s_%s" % (column, function)] = (column, function)
    if not groups:
        return context.pd.DataFrame({name: [getattr(frame[column], function)()]
                                     for name, (column, function) in named.items()})
    return frame.groupby(groups, sort=True).agg(**named).reset_index()


def custom_block(context, frame, arguments):
    """``CustomBlock``: Workbench's inline pandas code over ``df`` (run as Workbench ran it)."""
    if arguments.get("codeBlockType", 0) != 0:
        raise UnsupportedBlockError("codeBlockType %r" % arguments.get("codeBlockType"))
    code = (arguments.get("customBlock") or "").replace("\r\n", "\n")
    namespace = {"df": frame.copy(), "pd": context.pd}
    try:
        import numpy
        namespace["np"] = numpy
    except ImportError:
        pass
    exec(compile(code, "<CustomBlock>", "exec"), namespace)
    result = namespace.get("df")
    if not isinstance(result, context.pd.DataFrame):
        raise DataPrepError("CustomBlock: its code must leave a DataFrame in `df`")
    return result


def two_way_join(context, frame, arguments):
    """``TwoWayJoin``: two dataflows of the package joined on a key; every right column gets
    ``rightColumnPrefix``."""
    how = JOINS.get(arguments.get("joinType"))
    if how is None:
        raise UnsupportedBlockError("joinType %r" % arguments.get("joinType"))
    left = context.run_reference(arguments.get("leftActivityReference") or {})
    right = context.run_reference(arguments.get("rightActivityReference") or {})
    prefix = arguments.get("rightColumnPrefix") or ""
    right = right.rename(columns=lambda name: prefix + str(name))
    return left.merge(right, how=how, left_on=arguments.get("leftKeyColumn"),
                      right_on=prefix + str(arguments.get("rightKeyColumn")))


def append_rows(context, frame, arguments):
    """``AppendRowsBlock`` (SDK): the rows of other dataflows appended to this one."""
    frames = [frame] if frame is not None else []
    for reference in arguments.get("dataflows") or []:
        frames.append(context.run_reference(reference))
    return context.pd.concat(frames, ignore_index=True, sort=False)


_COMPARE = {"Value_LT": "__lt__", "Value_LE": "__le__", "Value_GT": "__gt__",
            "Value_GE": "__ge__", "Value_EQ": "__eq__", "Value_NE": "__ne__"}


def _evaluate(frame, node):
    """A mask from the SDK's expression tree (``{"r": [kind, args]}``): And/Or/Not over
    comparisons of a ``row`` field with a constant."""
    if not isinstance(node, dict):
        return node
    kind, args = node.get("r", [None, None])
    if kind == "And":
        return _evaluate(frame, args[0]) & _evaluate(frame, args[1])
    if kind == "Or":
        return _evaluate(frame, args[0]) | _evaluate(frame, args[1])
    if kind == "Not":
        return ~_evaluate(frame, args[0] if isinstance(args, list) else args)
    if kind == "RecordField":
        name = args[1]
        if name not in frame.columns:
            raise DataPrepError("ExpressionFilterBlock: no column %r" % name)
        return frame[name]
    if kind == "Invoke":
        function = (args[0].get("r") or [None, None])[1]
        operands = [_evaluate(frame, operand) for operand in args[1]]
        if function in _COMPARE:
            return getattr(operands[0], _COMPARE[function])(operands[1]).fillna(False)
        raise UnsupportedBlockError("expression function %r" % function)
    raise UnsupportedBlockError("expression %r" % kind)


def expression_filter(context, frame, arguments):
    """``ExpressionFilterBlock`` (SDK): keep the rows where the expression holds."""
    mask = _evaluate(frame, (arguments.get("expression") or {}))
    return frame[mask.astype(bool)].reset_index(drop=True)
