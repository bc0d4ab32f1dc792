#!/usr/bin/env bash
# Prepare a fresh machine (Debian, Python >= 3.11) for livebot: a virtualenv in .venv with livebot
# and its dependencies. With --test, also the Debian packages the test suite uses for real:
# redis-server, chromium (driven by Playwright, never a downloaded browser) and CJK fonts.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--test" ]; then
  need=()
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # not `fc-list | grep -q`: grep quits at the first match, fc-list then dies of SIGPIPE, and under
  # pipefail the pipeline fails, so the fonts looked missing (and apt-get ran) on most runs
  fonts=""
  command -v fc-list >/dev/null 2>&1 && fonts=$(fc-list 2>/dev/null || true)
  grep -qi "Noto Sans CJK" <<<"$fonts" || need+=(fonts-noto-cjk)
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing Debian packages: ${need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: livebot needs Python >= 3.11" >&2; exit 1; }
  "$python" -m venv .venv
fi
extras=""
[ "${1:-}" = "--test" ] && extras="[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
