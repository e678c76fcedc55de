"""Reading ``.dprep`` / ``.dsource`` files and finding the data files they name.

A Workbench package is JSON: ``activities`` (the dataflows ``dataflow_idx`` counts), each a list
of ``blocks`` run in order plus ``inspectors`` (UI views, ignored). Later SDK files are one
dataflow: top-level ``blocks``. Data paths are written relative to the package (``./iris.csv``),
sometimes as the author's absolute path (``C:\\Users\\...\\BostonWeather.csv``) or to a folder
the project has since moved: a path that does not resolve as written is looked up by file name
in the project, nearest to the package first, and the substitution is said once on stderr.

Stdlib only: imported when ``azureml.dataprep`` is, before any package runs.
"""
import glob
import json
import ntpath
import os
import sys

from ._errors import DataPrepError

#: Folders never searched for a data file by name.
_SKIP_DIRS = {"__pycache__", "node_modules", "outputs", "aml_config"}
#: At most this many folders are searched for a data file by name.
_SEARCH_LIMIT = 5000
_said = set()  # type: set[tuple[str, str]]


def load(path):
    """The package's JSON (a dict), or one line saying why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8-sig")
    except (IOError, OSError) as error:
        raise DataPrepError("azureml.dataprep: cannot read %s (%s)"
                            % (path, getattr(error, "strerror", None) or error))
    try:
        document = json.loads(text)
    except ValueError as error:
        raise DataPrepError("azureml.dataprep: %s is not a data-preparation package (%s)"
                            % (path, error))
    if not isinstance(document, dict):
        raise DataPrepError("azureml.dataprep: %s is not a data-preparation package" % path)
    return document


def activities(document):
    """The dataflows of a package: its ``activities``, or the file itself for SDK dataflows."""
    found = document.get("activities")
    if isinstance(found, list):
        return found
    if isinstance(document.get("blocks"), list):
        return [document]
    return []


def project_root(start):
    """The folder data paths are searched under: the nearest ancestor of ``start`` that holds
    ``aml_config``; else the working directory when ``start`` is inside it; else ``start``."""
    here = os.path.abspath(start)
    probe = here
    while True:
        if os.path.isdir(os.path.join(probe, "aml_config")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    cwd = os.getcwd()
    if here == cwd or here.startswith(cwd.rstrip(os.sep) + os.sep):
        return cwd
    return here


def _by_name(name, base, root):
    """Files called ``name`` under ``root``, nearest to ``base`` first."""
    found = []
    for seen, (folder, dirs, files) in enumerate(os.walk(root), 1):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        if name in files:
            found.append(os.path.join(folder, name))
        if seen >= _SEARCH_LIMIT:
            break

    def distance(path):
        common = os.path.commonpath([os.path.dirname(path), base])
        return (len(base) - len(common)) + (len(os.path.dirname(path)) - len(common))
    return sorted(found, key=lambda path: (distance(path), path))


def resolve(written, package_file):
    """The local files a data path names: as written (relative to the package, or absolute),
    a glob, or else the file of that name nearest to the package in the project."""
    base = os.path.dirname(os.path.abspath(package_file))
    posix = written.replace("\\", "/") if ntpath.isabs(written) or "\\" in written else written
    candidate = posix if os.path.isabs(posix) else os.path.normpath(os.path.join(base, posix))
    if any(char in candidate for char in "*?["):
        matches = sorted(path for path in glob.glob(candidate) if os.path.isfile(path))
        if matches:
            return matches
    elif os.path.isfile(candidate):
        return [candidate]
    name = os.path.basename(posix)
    root = project_root(base)
    matches = _by_name(name, base, root) if name and "*" not in name else []
    if not matches:
        raise DataPrepError("azureml.dataprep: data file %s (named in %s) not found, nor any "
                            "file called %s under %s" % (written, package_file, name or "?", root))
    if (written, matches[0]) not in _said:
        _said.add((written, matches[0]))
        sys.stderr.write("azureml.dataprep: %s (in %s) is not there; reading %s, the file of "
                         "that name nearest to the package\n"
                         % (written, os.path.basename(package_file),
                            os.path.relpath(matches[0], root)))
    return matches[:1]


def find_package(path):
    """``path`` when it is a file; else, for a relative path, the package of that name nearest
    to the working directory in the project (said once), as for data files; else ``path``."""
    if os.path.isfile(path) or os.path.isabs(path):
        return path
    cwd = os.getcwd()
    matches = _by_name(os.path.basename(path), cwd, project_root(cwd))
    if not matches:
        return path
    found = os.path.relpath(matches[0], cwd)
    if (path, found) not in _said:
        _said.add((path, found))
        sys.stderr.write("azureml.dataprep: %s is not in %s; reading %s, the package of that name "
                         "nearest to it\n" % (path, cwd, found))
    return found
