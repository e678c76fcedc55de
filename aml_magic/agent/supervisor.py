"""Entry point of the on-target agent: ``PYTHON -S -E supervisor.py launch RUN_DIR``.

Stdlib only, Python 3.9+. A script is compiled on every start while imported modules keep their
bytecode in ``__pycache__``, so the work lives in ``_supervisor.py`` and this file stays tiny.
"""
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # so even under -I
    from _supervisor import main

    sys.exit(main(sys.argv))
