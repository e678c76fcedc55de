"""``spark=True``: the pandas result handed to Spark, in the session the run already has (or a
new local one). PySpark is imported only here."""
from ._errors import DataPrepError


def to_spark(frame):
    """A Spark DataFrame with the same columns and rows as ``frame``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataPrepError("azureml.dataprep: spark=True needs PySpark in the run's environment "
                            "(run on a Spark target, or pass spark=False for pandas)")
    session = SparkSession.builder.getOrCreate()
    frame = frame.copy()
    for name in frame.columns:  # pandas' nullable types become plain ones Spark can infer
        if str(frame[name].dtype) in ("Int64", "boolean"):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    frame.columns = [str(name) for name in frame.columns]
    return session.createDataFrame(frame)


def result(frame, spark):
    """``frame``, or its Spark copy when ``spark`` is true."""
    return to_spark(frame) if spark else frame
