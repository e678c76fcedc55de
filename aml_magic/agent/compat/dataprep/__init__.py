"""``dataprep``: the pre-release name of Workbench's ``azureml.dataprep`` (``import dataprep``,
``from dataprep.package import run``, ``from dataprep.Package import Package``), an alias of
aml_magic's stand-in. A real ``dataprep`` installed in the run's environment wins, as a real
``azureml`` does over the ``azureml`` stand-in.

Kept free of annotations and f-strings, like the rest of the compat folder.
"""
import os as _os
import sys as _sys

#: Old submodule names -> the stand-in's modules (``dataprep.Package`` is the module that
#: holds the class ``Package``).
_SUBMODULES = {"package": "package", "Package": "package", "datasource": "datasource",
               "DataSource": "datasource"}


def _real_package():
    """An installed ``dataprep`` other than this one, or None."""
    own_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))

    def is_own(entry):
        try:
            return _os.path.samefile(entry or _os.curdir, own_root)
        except (OSError, TypeError, ValueError):
            return False

    me = _sys.modules[__name__]
    saved = list(_sys.path)
    _sys.path[:] = [entry for entry in saved if not is_own(entry)]
    _sys.modules.pop(__name__, None)
    try:
        import importlib
        real = importlib.import_module(__name__)
    except Exception:
        real = None
    finally:
        _sys.path[:] = saved
    if real is None or real is me:
        for name in [n for n in _sys.modules if n.startswith(__name__ + ".")]:
            del _sys.modules[name]
        _sys.modules[__name__] = me
        return None
    return real


def _alias():
    real = _real_package()
    if real is not None:
        _sys.modules[__name__] = real
        return
    import importlib
    target = importlib.import_module("azureml.dataprep")
    for old, new in _SUBMODULES.items():
        try:
            _sys.modules[__name__ + "." + old] = importlib.import_module("azureml.dataprep." + new)
        except ImportError:  # a real azureml-dataprep SDK without Workbench's modules
            pass
    _sys.modules[__name__] = target


_alias()
