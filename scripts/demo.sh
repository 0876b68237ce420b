#!/bin/bash
# Installs what is missing, builds carehub, starts carehubd with the example
# configuration (conf/carehubd.conf) in a local state directory, and runs a
# short demo: a small care home published with carehub-pub, then
# `carehubctl status` and a team listing.  carehubd then keeps running with
# the demo data until you press Ctrl-C (set DEMO_EXIT=1 to stop at once).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null

state="$root/demo-state"
mkdir -p "$state"
# The example configuration, with its paths moved into the local directory.
sed -e "s|^state_dir = .*|state_dir = \"$state/db\";|" \
    -e "s|ipc:///run/carehub/|ipc://$state/|" \
    conf/carehubd.conf > "$state/carehubd.conf"
build/carehubd -n -c "$state/carehubd.conf"

build/carehubd -c "$state/carehubd.conf" 2> "$state/carehubd.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
export CAREHUB_ENDPOINT="ipc://$state/api.sock"

# Wait (at most 10 s) until the daemon answers.
for _ in $(seq 100); do
    build/carehubctl --timeout 1 status >/dev/null 2>&1 && break
    kill -0 $daemon 2>/dev/null || { cat "$state/carehubd.log"; exit 1; }
    sleep 0.1
done

echo "== publishing a small care home with carehub-pub"
build/carehub-pub scripts/demo-organisation.jsonl
echo
echo "== carehubctl status"
build/carehubctl status
echo
echo "== carehubctl team T-HOME"
build/carehubctl team T-HOME
echo
echo "== carehubctl team T-DAY"
build/carehubctl team T-DAY
echo
echo "== carehubctl staff S005"
build/carehubctl staff S005
echo
echo "== carehubctl reports S002"
build/carehubctl reports S002
echo
if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "carehubd is running (log: $state/carehubd.log). Try:"
echo "  CAREHUB_ENDPOINT=$CAREHUB_ENDPOINT build/carehubctl staff S001"
echo "Press Ctrl-C to stop it."
wait $daemon
