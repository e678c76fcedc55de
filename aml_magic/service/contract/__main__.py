"""``python -m aml_magic.service.contract [--check]``: (re)write the API's JSON Schema."""
from __future__ import annotations

import sys

from aml_magic.service.contract.schema_file import main

sys.exit(main())
