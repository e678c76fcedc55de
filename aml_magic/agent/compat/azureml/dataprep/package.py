"""Workbench's ``azureml.dataprep.package``: ``run(file, dataflow_idx=0, spark=False)`` and the
pre-release ``Package.open_package(file).dataflows[i].get_dataframe()``.

Relative package paths are taken from the working directory, as Workbench did (a run's working
directory is the project root).
"""
from ._engine import dataflow_names, run_dataflow
from ._spark import result


def run(package_path, dataflow_idx=0, spark=False, **_ignored):
    """The DataFrame of dataflow ``dataflow_idx`` of the ``.dprep``/``.dsource`` file (pandas,
    or Spark when ``spark`` is true)."""
    return result(run_dataflow(str(package_path), index=dataflow_idx), spark)


class Dataflow(object):
    """One dataflow of an opened package."""

    def __init__(self, package_path, index, dataflow_id, name):
        self.package_path = package_path
        self.index = index
        self.id = dataflow_id
        self.name = name

    def get_dataframe(self, spark=False):
        """This dataflow's rows as a DataFrame (pandas, or Spark when ``spark`` is true)."""
        return run(self.package_path, dataflow_idx=self.index, spark=spark)

    def to_pandas_dataframe(self):
        return self.get_dataframe()

    def to_spark_dataframe(self):
        return self.get_dataframe(spark=True)

    def head(self, count=10):
        return self.get_dataframe().head(count)

    def __repr__(self):
        return "Dataflow(%r, %d, name=%r)" % (self.package_path, self.index, self.name)


class Package(object):
    """An opened ``.dprep`` file: ``dataflows`` in ``dataflow_idx`` order."""

    def __init__(self, package_path):
        self.path = str(package_path)
        self.dataflows = [Dataflow(self.path, index, flow_id, name)
                          for index, (flow_id, name) in enumerate(dataflow_names(self.path))]

    @classmethod
    def open_package(cls, package_path):
        """Workbench's ``Package.open_package(file)``."""
        return cls(package_path)

    @classmethod
    def open(cls, file_path):
        """The later SDK's ``Package.open(file_path=...)``."""
        return cls(file_path)

    def __enter__(self):  # ``with Package.open_package(f) as pkg:`` (the pre-release samples)
        return self

    def __exit__(self, *exc_info):
        return False

    def run(self, dataflow_idx=0, spark=False):
        return self.dataflows[dataflow_idx].get_dataframe(spark=spark)

    def __repr__(self):
        return "Package(%r, %d dataflow(s))" % (self.path, len(self.dataflows))
