import sys

from aml_magic.frontends.cli.program import run

sys.exit(run())
