"""Which function runs each block type: one table, and the reasons for the types it refuses.

A block's function takes ``(context, value, arguments)`` and returns the new value: the files a
source named (before parsing) or a pandas DataFrame. Types are keyed without the
``Microsoft.DPrep.`` prefix (``TwoWayJoin`` never had it).
"""
from . import _columns, _rows, _sources

BLOCKS = {
    # where the data is, and how it is parsed
    "DataSourceBlock": _sources.data_source,
    "GetFilesBlock": _sources.data_source,
    "DataConnectionBlock": _sources.data_connection,
    "ParseDelimitedBlock": _sources.parse_delimited,
    "ReadExcelBlock": _sources.read_excel,
    # columns
    "ColumnRenameBlock": _columns.column_rename,
    "RenameColumnsBlock": _columns.rename_columns,
    "SetColumnTypesBlock": _columns.set_column_types,
    "ConvertColumnFieldTypeBlock": _columns.to_number,
    "ToNumberBlock": _columns.to_number,
    "DeleteColumnBlock": _columns.delete_columns,
    "DropColumnsBlock": _columns.delete_columns,
    "KeepColumnBlock": _columns.keep_columns,
    "KeepColumnsBlock": _columns.keep_columns,
    "HandlePathColumnBlock": _columns.handle_path_column,
    "MissingValuesBlock": _columns.missing_values,
    "ReplaceMissingStringValuesBlock": _columns.replace_missing_strings,
    "ReplaceBlock": _columns.replace,
    "FillNullsBlock": _columns.fill_nulls,
    "ReplaceNaBlock": _columns.replace_na,
    "AddCustomColumnBlock": _columns.add_custom_column,
    # rows and whole frames
    "SampleBlock": _rows.sample,
    "FilterStringColumnBlock": _rows.filter_string,
    "FilterNumberColumnBlock": _rows.filter_number,
    "ExpressionFilterBlock": _rows.expression_filter,
    "SelectRowsOnDistinctValuesInColumnBlock": _rows.distinct_rows,
    "DropNullsBlock": _rows.drop_nulls,
    "SummarizeBlock": _rows.summarize,
    "CustomBlock": _rows.custom_block,
    "TwoWayJoin": _rows.two_way_join,
    "AppendRowsBlock": _rows.append_rows,
    # ReferenceActivityBlock is the engine's own: it starts a dataflow from another one.
}

#: Why a known type is refused (the rest: "not known to this reader").
UNSUPPORTED = {
    "DeriveColumnByExample": "a learned 'by example' program (PROSE), which pandas cannot replay; "
                             "derive the column in pandas after loading",
    "SplitColumnByExampleBlock": "a learned 'by example' split (PROSE), which pandas cannot "
                                 "replay; split the column in pandas after loading",
}

PREFIX = "Microsoft.DPrep."


def short_name(block_type):
    """``Microsoft.DPrep.SampleBlock`` -> ``SampleBlock``."""
    text = str(block_type or "?")
    return text[len(PREFIX):] if text.startswith(PREFIX) else text
