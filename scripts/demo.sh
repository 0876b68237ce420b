#!/bin/bash
# Installs what is missing, builds carehub, starts carehubd with the example
# configuration (conf/carehubd.conf) in a local state directory, and runs a
# short demo: a small care home published with carehub-pub (staff, their
# supervisions, appraisals, training, a booking, an absence and two agreed
# actions), then what carehubctl shows about it: the directory, what a
# manager has due in the next 30 days, what is overdue, and one new
# starter's plan.  carehubd then keeps running with the demo data until you
# press Ctrl-C (set DEMO_EXIT=1 to stop at once).
#
# The demo starts from an empty database each time.  Its dates are relative
# to today, so that something is due and something is overdue whenever it
# runs: scripts/demo-organisation.jsonl writes them as @T-50@ (50 days ago),
# @T+5@ (in 5 days) and @NOW@ (this moment), filled in here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null

state="$root/demo-state"
mkdir -p "$state"
export CAREHUB_ENDPOINT="ipc://$state/api.sock"
export CAREHUB_NOTIFY_ENDPOINT="ipc://$state/notify.sock"
if build/carehubctl --timeout 1 status >/dev/null 2>&1; then
    echo "demo.sh: a carehubd is already serving $CAREHUB_ENDPOINT; stop it first" >&2
    exit 1
fi
rm -rf "$state/db"

# The example configuration, with its paths moved into the local directory.
sed -e "s|^state_dir = .*|state_dir = \"$state/db\";|" \
    -e "s|ipc:///run/carehub/|ipc://$state/|" \
    conf/carehubd.conf > "$state/carehubd.conf"
build/carehubd -n -c "$state/carehubd.conf"

# The demo care home, its dates counted from today in the configuration's
# time zone (today there is the day carehubd counts from).
timezone=$(sed -n 's/^timezone = "\(.*\)";.*/\1/p' "$state/carehubd.conf")
timezone=${timezone:-UTC}
date_edits=(-e "s/@NOW@/$(date -u +%Y-%m-%dT%H:%M:%SZ)/g")
for token in $(grep -o '@T[-+][0-9]*@' scripts/demo-organisation.jsonl | sort -u); do
    offset=${token:2:${#token}-3}
    date_edits+=(-e "s/$token/$(TZ=$timezone date -d "$offset days" +%Y-%m-%d)/g")
done
sed "${date_edits[@]}" scripts/demo-organisation.jsonl > "$state/demo-organisation.jsonl"

build/carehubd -c "$state/carehubd.conf" 2> "$state/carehubd.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT

# Wait (at most 10 s) until the daemon answers.
for _ in $(seq 100); do
    build/carehubctl --timeout 1 status >/dev/null 2>&1 && break
    kill -0 $daemon 2>/dev/null || { cat "$state/carehubd.log"; exit 1; }
    sleep 0.1
done

echo "== publishing a small care home with carehub-pub (today is $(TZ=$timezone date +%F))"
build/carehub-pub "$state/demo-organisation.jsonl"
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
echo "== carehubctl due S002 --days 30   (what Tom's people have due in the next 30 days)"
build/carehubctl due S002 --days 30
echo
echo "== carehubctl overdue   (the whole care home)"
build/carehubctl overdue
echo
echo "== carehubctl person S007   (Sam, who started 20 days ago)"
build/carehubctl person S007
echo

echo "== carehubctl kpi --team T-HOME --metric sickness_absence_rate   (month by month)"
build/carehubctl kpi --team T-HOME --metric sickness_absence_rate
echo

echo "== carehubctl kpi --team T-HOME --metric supervision_compliance   (worked out from the reviews)"
build/carehubctl kpi --team T-HOME --metric supervision_compliance
echo
if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "carehubd is running (log: $state/carehubd.log). Try, in another terminal:"
echo "  export CAREHUB_ENDPOINT=$CAREHUB_ENDPOINT"
echo "  export CAREHUB_NOTIFY_ENDPOINT=$CAREHUB_NOTIFY_ENDPOINT"
echo "  build/carehubctl due S003 --days 90"
echo "  build/carehubctl person S004"
echo "  build/carehubctl notifications"
echo "  build/carehubctl watch"
echo "  build/carehubctl kpi --metric sickness_absence_rate --period quarter --periods 4"
echo "  build/carehubctl kpi --prometheus"
echo "docs/reviews.md explains the reminders and escalations."
echo "Press Ctrl-C to stop it."
wait $daemon
