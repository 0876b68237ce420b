#!/bin/bash
# Installs what is missing, builds carehub with AddressSanitizer and
# UndefinedBehaviorSanitizer (warnings are errors), and runs the whole suite
# through CTest: unit tests, the format check and end-to-end tests of the
# real daemon and clients.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-test -DCAREHUB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j2
cd build-test
ctest --output-on-failure --timeout 900 -j2
