"""Workbench's ``azureml.logging``: ``get_azureml_logger().log(name, value)`` records a metric.

Each call appends one JSON line ``{"name", "value", "step", "time"}`` to the file named by
``AML_MAGIC_METRICS_FILE`` (set by aml_magic's agent), with a single ``O_APPEND`` write so lines
from several processes never interleave and none is lost if the run dies. Without that variable
(the script run by hand, a notebook with ``%azureml history off``) logging is a no-op that
warns once; ``%azureml history on`` sets it in the kernel to the notebook run's file.

Kept free of annotations and f-strings: the run's Python may be as old as Workbench's (3.5).
"""
import json as _json
import os as _os
import threading as _threading
import time as _time
import warnings as _warnings

METRICS_FILE_VARIABLE = "AML_MAGIC_METRICS_FILE"


def _plain(value):
    """JSON-ready copy of a metric value: numpy arrays/scalars become lists/Python numbers."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    elif hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class AzureMLLogger(object):
    """The object ``get_azureml_logger()`` returns; ``log`` returns None like Workbench's."""

    def __init__(self):
        self._steps = {}
        self._lock = _threading.Lock()
        self._warned = False

    def log(self, name, value, *args, **kwargs):
        path = _os.environ.get(METRICS_FILE_VARIABLE)
        if not path:
            if not self._warned:
                self._warned = True
                _warnings.warn("azureml.logging: %s is not set, so metrics are not recorded "
                               "(submit the script with aml_magic, or run `%%azureml "
                               "history on` in a notebook, to track them)"
                               % METRICS_FILE_VARIABLE, RuntimeWarning, stacklevel=2)
            return None
        name = str(name)
        with self._lock:
            step = self._steps.get(name, 0)
            self._steps[name] = step + 1
        line = _json.dumps({"name": name, "value": _plain(value), "step": step,
                            "time": _time.time()}) + "\n"
        fd = _os.open(path, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o600)
        try:
            _os.write(fd, line.encode("utf-8"))
        finally:
            _os.close(fd)
        return None


_LOGGER = AzureMLLogger()


def get_azureml_logger():
    """The process's metric logger (one per process, so steps count per metric name)."""
    return _LOGGER
