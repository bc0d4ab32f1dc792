#!/usr/bin/env bash
# Set everything up (Debian packages, virtualenv) and run the whole test suite, lint included.
# Extra arguments go to pytest (e.g. -k bus, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
# Two workers (LIVEBOT_TEST_WORKERS to change, 0 for one process): most tests wait on sockets, browsers
# and timers, so two processes finish the suite in about 60% of the time on two cores.
exec .venv/bin/python -m pytest -q -n "${LIVEBOT_TEST_WORKERS:-2}" "$@"
