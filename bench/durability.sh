#!/bin/bash
# Kills carehubd with SIGKILL at random moments while events are published,
# restarts it, and checks that every acknowledged event is stored exactly
# once: the end-to-end durability test, for as many rounds as asked.
#
#   bench/durability.sh [ROUNDS] [BUILD_DIR]      (default 200 rounds, ./build)
#
# Prints the seed so that a failing run can be replayed with
# CAREHUB_DURABILITY_SEED=<seed>.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-200}"
build="$(cd "${2:-$here/build}" && pwd)"
CAREHUB_BIN_DIR="$build" exec /usr/bin/python3 "$here/tests/e2e/test_durability.py" --rounds "$rounds"
