import sys

from aml_magic.frontends.cli.main import main

sys.exit(main())
