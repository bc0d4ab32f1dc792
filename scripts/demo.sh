#!/usr/bin/env bash
# Set everything up and run the demo: a recorded live-commerce show replayed through the real
# pipeline, with the overlay served at the URL it prints. Extra arguments go to `livebot demo`
# (e.g. --speed 5, --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/livebot demo "$@"
