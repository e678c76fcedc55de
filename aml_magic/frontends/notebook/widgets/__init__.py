"""Notebook widgets that observe runs. Importing this package is cheap: the ipywidgets-based
classes live in submodules imported on first display (``run_widget``, ``targets_picker``,
``attach_form``); ``runs_table`` and the text/HTML renderers need no ipywidgets."""
from __future__ import annotations


def widgets_available() -> bool:
    """Whether ipywidgets can be imported (else the magics show static summaries)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
