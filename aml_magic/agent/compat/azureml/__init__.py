"""Stand-in for the ``azureml`` package of Azure ML Workbench, shipped by aml_magic's agent.

The agent puts this folder first on the run's PYTHONPATH, which would shadow a real ``azureml``
installed in the run's environment. So on import it looks for a real one (through the whole
import system, with its own folder taken off ``sys.path``) and, when found, replaces itself with
it in ``sys.modules``; its own folder is appended to the real package's ``__path__`` so
``azureml.logging`` still resolves here when the real package has none.

Kept free of annotations and f-strings: the run's Python may be as old as Workbench's (3.5).
"""
import os as _os
import sys as _sys


def _defer_to_real_package():
    own_dir = _os.path.dirname(_os.path.abspath(__file__))
    own_root = _os.path.dirname(own_dir)

    def is_own(entry):
        try:
            return _os.path.samefile(entry or _os.curdir, own_root)
        except (OSError, TypeError, ValueError):
            return False

    me = _sys.modules[__name__]  # this very module, being imported
    saved = list(_sys.path)
    _sys.path[:] = [entry for entry in saved if not is_own(entry)]
    _sys.modules.pop(__name__, None)
    real = None
    try:
        import importlib
        real = importlib.import_module(__name__)
    except Exception:  # none installed, or a broken one: keep the stand-in
        real = None
    finally:
        _sys.path[:] = saved
    if real is None or real is me:
        for name in [n for n in _sys.modules if n.startswith(__name__ + ".")]:
            del _sys.modules[name]  # half-imported pieces of a broken real package
        _sys.modules[__name__] = me
        return
    try:
        real.__path__.append(own_dir)
    except AttributeError:
        pass
    _sys.modules[__name__] = real


_defer_to_real_package()
del _defer_to_real_package
