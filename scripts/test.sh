#!/usr/bin/env bash
# Set everything up (Debian packages, virtualenv) and run the whole test suite, lint included.
# Extra arguments go to pytest (e.g. -k bus, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
