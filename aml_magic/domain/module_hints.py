"""A run that fails with ``ModuleNotFoundError`` on a package: one line saying which package
its Python lacks and how to get it there (``conda_dependencies.yml`` and prepare).

A user-managed run (``local``, or ``remote`` as attached) uses an interpreter as it is, so the
usual cause is that the interpreter is not the one the packages were installed into, or that
the project's packages were never installed. Found, like ``hints.py``'s Workbench hints, once
when the run ends Failed, in the tail of its log, and stored as ``provenance["hint"]``: the CLI,
``aml run show`` and the widget show it. ``azureml.*`` and ``dataprep`` are left to ``hints.py``.
"""
from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# "ModuleNotFoundError: No module named 'sklearn'" / "... 'sklearn.ensemble'" (compiled by
# ``re`` on first use: only a failed run's log is searched)
_MISSING = r"ModuleNotFoundError: No module named '([A-Za-z_][A-Za-z0-9_]*)[A-Za-z0-9_.]*'"
_LEFT_TO_WORKBENCH_HINTS = frozenset({"azureml", "dataprep"})

#: import name -> the package that provides it, where they differ (the common ones)
PACKAGE_OF_MODULE: dict[str, str] = {
    "sklearn": "scikit-learn", "skimage": "scikit-image", "cv2": "opencv-python",
    "PIL": "pillow", "yaml": "pyyaml", "bs4": "beautifulsoup4", "dateutil": "python-dateutil",
    "Crypto": "pycryptodome", "OpenSSL": "pyopenssl",
    "attr": "attrs", "dotenv": "python-dotenv", "jwt": "pyjwt", "magic": "python-magic",
    "serial": "pyserial", "usb": "pyusb", "win32api": "pywin32", "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
}


def missing_module(text: str) -> str | None:
    """The top-level module of the last ``ModuleNotFoundError`` in ``text`` (a run's log tail),
    unless it is a Workbench module (``hints.py`` names those); None when there is none."""
    found = [m.group(1) for m in re.finditer(_MISSING, text)]
    if not found or found[-1] in _LEFT_TO_WORKBENCH_HINTS:
        return None
    return found[-1]


def module_hint(text: str, config_snapshot: Mapping[str, Any]) -> str | None:
    """One line for a run whose log ends in a ``ModuleNotFoundError`` on a package: the package,
    the run configuration's conda file and the prepare that builds an environment from it."""
    module = missing_module(text)
    if module is None:
        return None
    package = PACKAGE_OF_MODULE.get(module, module)
    runconfig = config_snapshot.get("runconfig") or {}
    compute = config_snapshot.get("compute") or {}
    conda = runconfig.get("CondaDependenciesFile") or "aml_config/conda_dependencies.yml"
    name = runconfig.get("name") or "NAME"
    user_managed = compute.get("type") in ("local", "remote") and \
        compute.get("userManagedEnvironment") is not False
    if user_managed:
        return (f"the run's Python has no module '{module}': add {package} to {conda} and run "
                f"`aml experiment prepare -c {name} --managed` to run in an environment built "
                f"from it (or install {package} into that Python)")
    return (f"the run's environment has no module '{module}': add {package} to {conda}; "
            f"`aml experiment prepare -c {name}` builds the environment from it")


__all__ = ["PACKAGE_OF_MODULE", "missing_module", "module_hint"]
