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
echo "== carehubctl calendar --manager S002   (Tom's reviews to arrange, as an iCalendar file)"
build/carehubctl calendar --manager S002 --output "$state/S002.ics"
grep -E '^(BEGIN:V(EVENT|TODO)|SUMMARY|DTSTART|DUE)' "$state/S002.ics" | head -12
echo

# carehub-notify, emailing every notification at once (the digest off, so
# that the demo need not wait for digest time) to a test mail server on this
# machine that prints what it receives.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 tests/e2e/smtp_server.py --port "$port" --print > "$state/mail.log" 2>&1 &
mailer=$!
sed -e "s|ipc:///run/carehub/|ipc://$state/|" \
    -e "s|^state_file = .*|state_file = \"$state/carehub-notify.db\";|" \
    -e "s|url = \"smtp://mail.example.org:587\";|url = \"smtp://127.0.0.1:$port\";|" \
    -e 's|tls = "starttls";|tls = "none";|' \
    -e 's|enabled = true;|enabled = false;|' \
    -e 's|^organisation = .*|organisation = "Rosewood Care Home";|' \
    conf/carehub-notify.conf > "$state/carehub-notify.conf"
rm -f "$state/carehub-notify.db"*
build/carehub-notify -n -c "$state/carehub-notify.conf"
build/carehub-notify -c "$state/carehub-notify.conf" 2> "$state/carehub-notify.log" &
notifier=$!
trap 'kill -TERM $notifier $mailer $daemon 2>/dev/null; wait $notifier $mailer $daemon 2>/dev/null || true' EXIT
last=$(build/carehubctl notifications --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["last_seq"])')
for _ in $(seq 100); do
    done_seq=$(sqlite3 "$state/carehub-notify.db" "SELECT cursor FROM progress" 2>/dev/null || echo 0)
    [ "${done_seq:-0}" -ge "$last" ] && break
    kill -0 $notifier 2>/dev/null || { cat "$state/carehub-notify.log"; exit 1; }
    sleep 0.1
done
echo "== carehub-notify emailed the $last notifications; the test mail server received:"
grep '^Subject:' "$state/mail.log" | sort | uniq -c
echo
echo "== the first of them, as the manager reads it"
awk '/^To:/ { n++ } n == 1' "$state/mail.log" | sed '/^-----/q'
echo

if [ "${DEMO_EXIT:-0}" = 1 ]; then
    exit 0
fi
echo "carehubd is running (log: $state/carehubd.log), and carehub-notify (log:"
echo "$state/carehub-notify.log; the mail it sends: $state/mail.log). Try, in another terminal:"
echo "  export CAREHUB_ENDPOINT=$CAREHUB_ENDPOINT"
echo "  export CAREHUB_NOTIFY_ENDPOINT=$CAREHUB_NOTIFY_ENDPOINT"
echo "  build/carehubctl due S003 --days 90"
echo "  build/carehubctl person S004"
echo "  build/carehubctl notifications"
echo "  build/carehubctl watch"
echo "  build/carehubctl kpi --metric sickness_absence_rate --period quarter --periods 4"
echo "  build/carehubctl kpi --prometheus"
echo "docs/reviews.md explains the reminders and escalations; docs/notify.md the emails."
echo "Press Ctrl-C to stop it."
wait $daemon
