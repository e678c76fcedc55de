"""The extension as the kernels of ``aml kernel install`` load it at start
(``--ext=aml_magic.frontends.notebook.kernel_start``): the magics, registered once, so that a
notebook's own ``%load_ext aml_magic`` (one written for any kernel) changes nothing and prints
nothing, instead of IPython's "already loaded" note."""
from __future__ import annotations

from typing import Any

from aml_magic.frontends.notebook.magics import register


def load_ipython_extension(ipython: Any) -> None:
    register(ipython, at_start=True)
