"""The ``aml`` command line (the Workbench CLI verbs)."""
