"""The errors of the ``azureml.dataprep`` stand-in: each message is one line that says which
package, dataflow and block it is about, and what to do instead.

Kept free of annotations and f-strings, like the rest of the compat folder.
"""


class DataPrepError(Exception):
    """A package that cannot be read as written (missing file, remote source, bad index)."""

    #: True once the message names its block, file and dataflow.
    located = False


class UnsupportedBlockError(DataPrepError):
    """A block this pandas reader does not run (a learned "by example" program, a remote or
    ``.dconn`` source, an operator whose meaning is not known)."""


class PandasMissingError(DataPrepError, ImportError):
    """pandas is not installed in the environment that runs the package."""


PANDAS_MISSING = ("azureml.dataprep needs pandas in the run's environment: add pandas to "
                  "aml_config/conda_dependencies.yml (or `pip install pandas` there)")


def where(file, dataflow_idx, name):
    """``iris.dprep, dataflow 0 ('iris')``: the place an error is about."""
    label = "%s, dataflow %s" % (file, dataflow_idx)
    return label + (" (%r)" % name if name else "")
