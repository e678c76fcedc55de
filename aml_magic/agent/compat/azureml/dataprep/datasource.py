"""Workbench's ``azureml.dataprep.datasource``: ``load_datasource(file)`` reads a ``.dsource``."""
from ._engine import run_dataflow
from ._spark import result


def load_datasource(datasource_path, spark=False, **_ignored):
    """The DataFrame the ``.dsource`` file's (first) data source makes."""
    return result(run_dataflow(str(datasource_path), index=0), spark)
