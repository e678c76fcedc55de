"""aml_magic's stand-in for Workbench's ``azureml.dataprep``: data-preparation packages
(``.dprep``/``.dsource``) read with pandas.

    from azureml.dataprep.package import run
    df = run('iris.dprep', dataflow_idx=0)           # pandas; spark=True for a Spark DataFrame
    from azureml.dataprep import datasource
    df = datasource.load_datasource('iris.dsource')
    import azureml.dataprep as dprep
    df = dprep.read_csv('data.csv'); df = dprep.auto_read('data.txt')

Block types and their functions: ``_blocks.BLOCKS``; a block it cannot run raises
:class:`UnsupportedBlockError` with one line naming the block, the file and the dataflow.
Importing this costs no pandas: pandas (and PySpark for ``spark=True``) are imported when a
package is read. Shipped with the agent's compat folder, so it works in every run and, with
``%load_ext aml_magic``, in the notebook kernel. Kept free of annotations and f-strings.
"""
from . import datasource, package
from ._errors import DataPrepError, PandasMissingError, UnsupportedBlockError
from ._readers import (PromoteHeadersMode, auto_read, auto_read_file, read_csv, read_excel,
                       read_json, read_lines, read_parquet_file, smart_read_file)
from .package import Dataflow, Package

__all__ = ["DataPrepError", "Dataflow", "Package", "PandasMissingError", "PromoteHeadersMode",
           "UnsupportedBlockError", "auto_read", "auto_read_file", "datasource", "package",
           "read_csv", "read_excel", "read_json", "read_lines", "read_parquet_file",
           "smart_read_file"]
