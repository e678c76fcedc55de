"""``from azureml.logging import get_azureml_logger`` in a kernel with ``%load_ext aml_magic``:
the agent's stand-in package, put on ``sys.path`` when the extension loads."""
from __future__ import annotations

import sys

from aml_magic.agent import AGENT_DIR


def expose_azureml_logging() -> None:
    """Make ``from azureml.logging import get_azureml_logger`` work in the kernel: the agent's
    stand-in package goes at the END of ``sys.path``, so an installed ``azureml`` wins (the
    stand-in also defers to one itself). Cheap: no import happens here."""
    compat = str(AGENT_DIR / "compat")
    if compat not in sys.path:
        sys.path.append(compat)
