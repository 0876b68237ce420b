#!/usr/bin/python3
"""bench/schedule.py: review obligations at the scale of a large organisation.

Builds an organisation of --staff people (default 100,000) in a 6-level
hierarchy through the real protocol (events published with the real client
carehub-pub from the build directory), on the review kinds, courses and
schedule of the reference configuration conf/carehubd.conf, and prints:

  - load: events, wall time, events/s, then how long the scheduler still
    takes to send what the load made due at once (obligations created
    already late), obligations created (by state), notifications and missed
    actions during the load
  - start: the daemon stopped (SIGTERM) and started again on that database:
    time from spawn to its "ready" log line, to its first "status" reply,
    and until its start-up catch-up of anything due has committed
  - memory: VmRSS and VmHWM of the daemon after the load and after the restart
  - working days: the test clock advanced by a day from 08:00 on a weekday
    (the reply comes once everything due is sent and committed): wall time,
    notifications produced (reminders, escalations), actions recorded missed;
    twice (the first day after a bulk load, then the next day)
  - query latency, client side with a REQ socket: "due" (days 14) for team
    leaders and registered managers, "overdue" for managers, for teams with
    their sub-teams (also by level) and for the whole organisation (limit
    1000): p50/p99/max from sending the request to receiving the reply's
    bytes (decoding the JSON is not counted), next to the client's own round
    trip ("clock" with no fields, which only reads the time) and "status"

The targets of the issue are printed next to the figures.  A figure program,
not a test: it is not part of ctest and asserts nothing about speed.  The
table is followed by one line of JSON with every figure.

The organisation (levels and roles):
  1 chief executive                  team T-ORG (the top)
  ~N/20000 directors                 members of T-ORG, each manages T-D<i>
  ~N/4000  heads of service          members of a T-D, each manages T-H<j>
  ~N/400   registered managers       role "registered_manager", members of
                                     a T-H, each manages a service T-R<k>
  ~N/40    team leaders and nurses   members of a T-R, each manages T-L<m>
  the rest care workers              role "care_worker", members of a T-L;
                                     line managers come from the teams, and
                                     5% have an explicit manager_id (another
                                     team leader of the same service)
Start dates are spread over the two years before the test clock, which
starts on Monday 2026-03-02 08:00 Europe/London (the last start date is the
Friday before).  With --completed F (default 0: hires only, as in the issue),
each person's hire is followed by their records: with probability F each,
their latest supervision (in the last 6 weeks), appraisal (in the last 12
months), each course (within its validity) and the induction and probation
steps of the last 10 days, recorded as completed.  That models an
organisation in its steady state (most reviews in date), where 0 models one
whose HR system sends nothing but the hires (everything already late is
escalated at once).

Usage (from the repository root, after a Release build):

  cmake -S . -B /tmp/bench-build -DCMAKE_BUILD_TYPE=Release
  cmake --build /tmp/bench-build -j2
  /usr/bin/python3 bench/schedule.py --build-dir /tmp/bench-build
  /usr/bin/python3 bench/schedule.py --build-dir /tmp/bench-build --quick  # 5,000 staff

Options: --staff N, --quick, --completed F, --not-durable (storage.durable =
false), --seed N, --queries N (due/overdue-by-manager requests, default 2000),
--keep (keep the state directory), --config-replace 'OLD=>NEW' (change the
copy of the reference configuration, for what-if runs; repeatable, for
example 'cache_mb = 64;=>cache_mb = 16;'), --work-dir DIR (where the temporary state
directory goes, default /tmp), --perf DIR (record each phase with
`perf record -g` into DIR/<phase>.data), --json-only.

Needs /usr/bin/python3 with python3-zmq (Debian's python3-zmq).
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
REFERENCE_CONF = os.path.join(SOURCE_DIR, "conf", "carehubd.conf")

# The targets.
TARGET_START_S = 1.0
TARGET_RSS_MB = 150.0
TARGET_DAY_S = 2.0
TARGET_QUERY_P99_MS = 10.0

# The simulated "now": a Monday, 08:00 in London (GMT in March, before the
# change to summer time on 2026-03-29), an hour before the send time.
CLOCK_START = "2026-03-02T08:00:00Z"
TODAY = datetime.date(2026, 3, 2)
LAST_START = datetime.date(2026, 2, 27)  # the Friday before
FIRST_START = LAST_START - datetime.timedelta(days=730)

SOURCE = "carehub-bench-schedule"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 300.0
REPLY_TIMEOUT_S = 900.0


def log(text):
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# The organisation and its events


class Org:
    """Who is who, for picking query targets."""

    def __init__(self):
        self.teams = []  # (team_id, level) level 1 = T-ORG
        self.managers_by_level = {}  # level -> [staff_id]
        self.events = 0
        self.event_counts = {}


def add_months(day, months):
    y, m = divmod(day.month - 1 + months, 12)
    y += day.year
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30,
            31, 31, 30, 31, 30, 31][m - 1]
    return datetime.date(y, m, min(day.day, last))


def generate(path, staff_total, completed, seed):
    """Writes the events (one JSON object a line) to path; returns an Org."""
    rng = random.Random(seed)
    org = Org()
    out = open(path, "w")
    seq = [0]

    def emit(type_, data, when):
        seq[0] += 1
        org.event_counts[type_] = org.event_counts.get(type_, 0) + 1
        out.write(json.dumps({"specversion": "1.0", "id": "e%d" % seq[0], "source": SOURCE,
                              "type": type_, "time": when, "data": data},
                             separators=(",", ":")))
        out.write("\n")

    def team(team_id, name, parent, manager, level):
        data = {"team_id": team_id, "name": name}
        if parent:
            data["parent_id"] = parent
        if manager:
            data["manager_id"] = manager
        emit("team.changed", data, "2024-01-01T09:00:00Z")
        org.teams.append((team_id, level))

    span = (LAST_START - FIRST_START).days
    staff = []  # (staff_id, role, team_id, manager_id or None, start)
    next_id = [0]

    def person(role, team_id, manager_id=None):
        next_id[0] += 1
        sid = "S%06d" % next_id[0]
        start = FIRST_START + datetime.timedelta(days=rng.randint(0, span))
        staff.append((sid, role, team_id, manager_id, start))
        return sid

    n_dir = max(1, round(staff_total / 20000))
    n_head = max(n_dir, round(staff_total / 4000))
    n_rm = max(n_head, round(staff_total / 400))
    n_tl = max(n_rm, round(staff_total / 40))
    n_cw = staff_total - 1 - n_dir - n_head - n_rm - n_tl
    if n_cw < n_tl:
        raise SystemExit("--staff %d is too small for six levels" % staff_total)

    ceo = person("chief_executive", "T-ORG")
    team("T-ORG", "The organisation", None, ceo, 1)
    org.managers_by_level[1] = [ceo]
    level_specs = [(n_dir, "director", "T-D", "Directorate", 2),
                   (n_head, "head_of_service", "T-H", "Service area", 3),
                   (n_rm, "registered_manager", "T-R", "Registered service", 4),
                   (n_tl, None, "T-L", "Team", 5)]
    parents = ["T-ORG"]
    for count, role, prefix, label, level in level_specs:
        made = []
        org.managers_by_level[level] = []
        for i in range(count):
            parent = parents[i * len(parents) // count]
            r = role or ("nurse" if i % 3 == 2 else "team_leader")
            sid = person(r, parent)
            tid = "%s%d" % (prefix, i + 1)
            team(tid, "%s %d" % (label, i + 1), parent, sid, level)
            made.append(tid)
            org.managers_by_level[level].append(sid)
        parents = made
    leaf_teams = parents
    # The team leaders of each registered service, for explicit managers.
    # Leaf team i belongs to service i * n_rm // n_tl (as assigned above).
    leaders_by_service = {}
    team_parent = {}
    team_manager = {}
    tl_ids = org.managers_by_level[5]
    for i, tid in enumerate(leaf_teams):
        service = i * n_rm // n_tl
        team_manager[tid] = tl_ids[i]
        team_parent[tid] = service
        leaders_by_service.setdefault(service, []).append(tl_ids[i])
    for i in range(n_cw):
        tid = leaf_teams[i * len(leaf_teams) // n_cw]
        manager = None
        if rng.random() < 0.05:
            others = [m for m in leaders_by_service[team_parent[tid]] if m != team_manager[tid]]
            if others:
                manager = rng.choice(others)
        person("care_worker", tid, manager)

    courses = [("moving_and_handling", 12, True), ("safeguarding", 36, False),
               ("fire_safety", 12, False), ("infection_control", 12, False),
               ("basic_life_support", 12, False)]
    milestones = [("induction", "week1", 7), ("induction", "week4", 28),
                  ("induction", "week12", 84), ("probation", "month3", None),
                  ("probation", "month6", None)]
    supervised = ("care_worker", "senior_care_worker", "nurse")
    yesterday = TODAY - datetime.timedelta(days=1)

    def recent(start, earliest):
        lo = max(start, earliest)
        if lo > yesterday:
            return None
        return lo + datetime.timedelta(days=rng.randint(0, (yesterday - lo).days))

    def completion(kind, sid, day, step=None):
        data = {"staff_id": sid, "kind": kind, "date": day.isoformat()}
        if step:
            data["step"] = step
        emit("review.completed", data, day.isoformat() + "T15:00:00Z")

    def history(sid, role, start):
        """What an HR system that has kept records would send after the hire."""
        for kind, step, days in milestones:
            # Only steps due in the last 10 days: older ones are recorded as
            # missed when the hire arrives (schedule.missed_after_days).
            due = start + datetime.timedelta(days=days) if days else add_months(
                start, 3 if step == "month3" else 6)
            if TODAY - datetime.timedelta(days=10) <= due < TODAY and rng.random() < completed:
                completion(kind, sid, min(due + datetime.timedelta(days=rng.randint(0, 2)),
                                          yesterday), step)
        if role in supervised and rng.random() < completed:
            day = recent(start, TODAY - datetime.timedelta(weeks=6))
            if day and day >= start + datetime.timedelta(weeks=2):
                completion("supervision", sid, day)
        if start <= add_months(TODAY, -10) and rng.random() < completed:
            day = recent(start + datetime.timedelta(days=300), add_months(TODAY, -12))
            if day:
                completion("appraisal", sid, day)
        for course, months, only_supervised in courses:
            if only_supervised and role not in supervised:
                continue
            if rng.random() < completed:
                day = recent(start, add_months(TODAY, -months))
                if day:
                    emit("training.completed", {"staff_id": sid, "course": course,
                                                "date": day.isoformat()},
                         day.isoformat() + "T15:00:00Z")

    for sid, role, team_id, manager_id, start in staff:
        data = {"staff_id": sid, "name": "Person %s" % sid[1:], "role": role, "team_id": team_id,
                "start_date": start.isoformat(), "email": "%s@example.org" % sid.lower()}
        if manager_id:
            data["manager_id"] = manager_id
        emit("staff.hired", data, start.isoformat() + "T09:00:00Z")
        if completed > 0:
            history(sid, role, start)
    out.close()
    org.events = seq[0]
    org.staff = len(staff)
    org.levels = {1: 1, 2: n_dir, 3: n_head, 4: n_rm, 5: n_tl, 6: n_cw}
    return org


# --------------------------------------------------------------------------
# Configuration


def write_config(path, state_dir, api, notify, durable, replacements=()):
    """A copy of the reference configuration with the three required keys
    (and storage.durable) replaced, and any --config-replace applied."""
    text = open(REFERENCE_CONF).read()
    for old, new in replacements:
        if old not in text:
            raise SystemExit("--config-replace: %r is not in %s" % (old, REFERENCE_CONF))
        text = text.replace(old, new)
    subs = [
        (r'^state_dir\s*=\s*"[^"]*";', 'state_dir = "%s";' % state_dir),
        (r'(api\s*=\s*\{\s*endpoint\s*=\s*)"[^"]*";', r'\1"%s";' % api),
        (r'(notify\s*=\s*\{\s*endpoint\s*=\s*)"[^"]*";', r'\1"%s";' % notify),
        (r'(\n\s*durable\s*=\s*)(true|false);', r'\g<1>%s;' % ("true" if durable else "false")),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text, count=1, flags=re.M)
        if n != 1:
            raise SystemExit("cannot find %r in %s" % (pattern, REFERENCE_CONF))
    for needed in ("kinds", "courses", "schedule"):
        if not re.search(r"^%s\s*=" % needed, text, flags=re.M):
            raise SystemExit("%s has no %s section" % (REFERENCE_CONF, needed))
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------
# The daemon


class Daemon:
    def __init__(self, build, conf, perf_dir=None):
        self.binary = os.path.join(build, "carehubd")
        self.conf = conf
        self.perf_dir = perf_dir
        self.proc = None
        self.lines = []
        self.ready_at = None
        self.ready_line = None

    def _read_stderr(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            now = time.monotonic()
            self.lines.append(line)
            if self.ready_at is None and " ready: " in line:
                self.ready_at = now
                self.ready_line = line
            if " error: " in line or " crit: " in line:
                log("daemon: " + line)

    def start(self, perf_name=None):
        cmd = [self.binary, "--test-clock", CLOCK_START, "-c", self.conf]
        self.perf = None
        if perf_name and self.perf_dir:
            cmd = ["perf", "record", "-g", "-q", "-o",
                   os.path.join(self.perf_dir, perf_name + ".data"), "--"] + cmd
        self.lines = []
        self.ready_at = None
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("INVOCATION_ID", None)
        self.spawned_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env)
        self.reader = threading.Thread(target=self._read_stderr, args=(self.proc.stderr,),
                                       daemon=True)
        self.reader.start()

    def pid(self):
        """The daemon's own pid (under perf, perf's child)."""
        if self.proc.args[0] == "perf":
            try:
                kids = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read()
                return int(kids.split()[0])
            except (OSError, IndexError, ValueError):
                return self.proc.pid
        return self.proc.pid

    def memory(self):
        out = {}
        with open("/proc/%d/status" % self.pid()) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
        return {"rss_mb": round(out["VmRSS"], 1), "hwm_mb": round(out["VmHWM"], 1)}

    def cpu_s(self):
        fields = open("/proc/%d/stat" % self.pid()).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        t0 = time.monotonic()
        if self.proc.args[0] == "perf":
            os.kill(self.pid(), signal.SIGTERM)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit("carehubd did not stop within %d s of SIGTERM" % STOP_TIMEOUT_S)
        self.reader.join(5)
        if rc != 0:
            log("\n".join(self.lines[-20:]))
            raise SystemExit("carehubd exited with status %d" % rc)
        return time.monotonic() - t0


class Client:
    """A REQ socket on the API endpoint."""

    def __init__(self, ctx, endpoint, daemon=None):
        self.ctx = ctx
        self.daemon = daemon  # checked while waiting: a daemon that exits fails at once
        self.endpoint = endpoint
        self.sock = None
        self.next_id = 0
        self.open()

    def open(self):
        if self.sock is not None:
            self.sock.close(0)
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 2)
        self.sock.connect(self.endpoint)

    def call(self, op, timeout=REPLY_TIMEOUT_S, **fields):
        return self.timed_call(op, timeout, **fields)[0]

    def timed_call(self, op, timeout=REPLY_TIMEOUT_S, **fields):
        """The reply, the round trip in ms (request encoded and sent until the
        reply's bytes are in; decoding the JSON is not counted) and its size."""
        self.next_id += 1
        request = json.dumps(dict(fields, op=op, id=self.next_id)).encode()
        t0 = time.perf_counter()
        self.sock.send(request)
        deadline = t0 + timeout
        while not self.sock.poll(100):
            if self.daemon is not None and self.daemon.proc.poll() is not None:
                log("\n".join(self.daemon.lines[-10:]))
                raise SystemExit("carehubd exited (status %s) while %s waited for a reply"
                                 % (self.daemon.proc.returncode, request.decode()))
            if time.perf_counter() > deadline:
                self.open()
                raise SystemExit("no reply to %s within %.0f s" % (request.decode(), timeout))
        raw = self.sock.recv()
        elapsed = (time.perf_counter() - t0) * 1000.0
        reply = json.loads(raw)
        if not reply.get("ok"):
            raise SystemExit("%s failed: %s" % (request.decode(), json.dumps(reply)))
        return reply, elapsed, len(raw)

    def close(self):
        self.sock.close(0)


# --------------------------------------------------------------------------
# Measurements


class Perf:
    """perf record -g attached to the daemon for one phase (when --perf)."""

    def __init__(self, directory, name, pid):
        self.proc = None
        if directory:
            self.proc = subprocess.Popen(
                ["perf", "record", "-g", "-q", "-p", str(pid), "-o",
                 os.path.join(directory, name + ".data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # let perf attach

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)


def file_mb(path):
    try:
        return os.path.getsize(path) / 1e6
    except OSError:
        return 0.0


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 1)) - 1))
    return sorted_values[k]


def latency(client, requests):
    """Times each request; returns p50/p99/max in ms and the mean count returned."""
    times = []
    counts = []
    sizes = []
    for op, fields in requests:
        reply, ms, size = client.timed_call(op, timeout=60, **fields)
        times.append(ms)
        sizes.append(size)
        if "count" in reply:
            counts.append(reply["count"])
    times.sort()
    out = {"requests": len(times), "p50_ms": round(percentile(times, 0.50), 3),
           "p99_ms": round(percentile(times, 0.99), 3), "max_ms": round(times[-1], 3),
           "mean_reply_kb": round(sum(sizes) / len(sizes) / 1024, 1)}
    if counts:
        out["mean_count"] = round(sum(counts) / len(counts), 1)
        out["max_count"] = max(counts)
    return out


def db_summary(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        states = {0: "open", 1: "completed", 2: "waived", 3: "cancelled", 4: "paused", 5: "missed"}
        by_state = {}
        for state, count in con.execute("SELECT state, count(*) FROM obligations GROUP BY state"):
            by_state[states.get(state, str(state))] = count
        by_kind = dict(con.execute("SELECT kind, count(*) FROM obligations GROUP BY kind"))
        total = con.execute("SELECT count(*) FROM obligations").fetchone()[0]
        today = (TODAY - datetime.date(1970, 1, 1)).days
        overdue = con.execute("SELECT count(*) FROM obligations WHERE state = 0 AND "
                              "target_day < ?", (today,)).fetchone()[0]
        soon = con.execute("SELECT count(*) FROM obligations WHERE state = 0 AND "
                           "target_day BETWEEN ? AND ?", (today, today + 14)).fetchone()[0]
        notes = con.execute("SELECT count(*) FROM notifications").fetchone()[0]
        missed = con.execute("SELECT count(*) FROM missed").fetchone()[0]
    finally:
        con.close()
    return {"total": total, "by_state": by_state, "by_kind": by_kind,
            "open_overdue": overdue, "open_due_14_days": soon,
            "notifications": notes, "missed": missed}


def notifications_by_type(db, after):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        out = dict(con.execute("SELECT type, count(*) FROM notifications WHERE seq > ? "
                               "GROUP BY type", (after,)))
        out["recipients"] = con.execute("SELECT count(DISTINCT recipient_id) FROM notifications "
                                        "WHERE seq > ?", (after,)).fetchone()[0]
        top = con.execute("SELECT recipient_id, count(*) AS n FROM notifications WHERE seq > ? "
                          "GROUP BY recipient_id ORDER BY n DESC LIMIT 1", (after,)).fetchone()
        if top:
            out["most_to_one_recipient"] = {"recipient_id": top[0], "notifications": top[1]}
        out["obligations"] = con.execute("SELECT count(DISTINCT obligation_id) FROM "
                                         "notifications WHERE seq > ?", (after,)).fetchone()[0]
    finally:
        con.close()
    return out


def sched_counts(client):
    n = client.call("status")["notifications"]
    return n["last_seq"], n["missed"]["total"]


def working_day(daemon, client, db, perf_dir, name):
    seq0, missed0 = sched_counts(client)
    cpu0 = daemon.cpu_s()
    with Perf(perf_dir, name, daemon.pid()):
        t0 = time.perf_counter()
        reply = client.call("clock", advance_seconds=86400)
        wall = time.perf_counter() - t0
    cpu = daemon.cpu_s() - cpu0
    seq1, missed1 = sched_counts(client)
    out = {"wall_s": round(wall, 3), "daemon_cpu_s": round(cpu, 2),
           "notifications": seq1 - seq0, "missed": missed1 - missed0,
           "now": reply["now"], "next_action_at": reply.get("next_action_at")}
    out.update(notifications_by_type(db, seq0))
    return out


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build-rel"))
    ap.add_argument("--staff", type=int, default=100000)
    ap.add_argument("--quick", action="store_true", help="5,000 staff, fewer queries")
    ap.add_argument("--completed", type=float, default=0.0)
    ap.add_argument("--not-durable", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--perf", metavar="DIR")
    ap.add_argument("--json-only", action="store_true")
    ap.add_argument("--config-replace", action="append", default=[], metavar="OLD=>NEW",
                    help="replace text in the copy of the reference configuration (what-if runs)")
    args = ap.parse_args()
    if args.quick:
        args.staff = 5000
        args.queries = min(args.queries, 500)
    build = os.path.abspath(args.build_dir)
    for tool in ("carehubd", "carehub-pub"):
        if not os.access(os.path.join(build, tool), os.X_OK):
            raise SystemExit("%s/%s not found: build first (see the header of %s)"
                             % (build, tool, __file__))
    if args.perf:
        os.makedirs(args.perf, exist_ok=True)
        args.perf = os.path.abspath(args.perf)
    rng = random.Random(args.seed + 1)
    base = tempfile.mkdtemp(prefix="carehub-bench-schedule-", dir=args.work_dir)
    state = os.path.join(base, "state")
    api = "ipc://%s/api.sock" % base
    notify = "ipc://%s/notify.sock" % base
    conf = os.path.join(base, "carehubd.conf")
    events_path = os.path.join(base, "events.jsonl")
    db = os.path.join(state, "carehub.db")
    durable = not args.not_durable
    replacements = []
    for item in args.config_replace:
        if "=>" not in item:
            raise SystemExit("--config-replace wants OLD=>NEW")
        replacements.append(tuple(item.split("=>", 1)))
    write_config(conf, state, api, notify, durable, replacements)
    results = {"staff": args.staff, "durable": durable, "completed_fraction": args.completed,
               "config_replace": args.config_replace,
               "clock_start": CLOCK_START, "build_dir": build}
    ctx = zmq.Context()
    daemon = Daemon(build, conf, args.perf)
    try:
        log("generating the organisation (%d staff) ..." % args.staff)
        t0 = time.perf_counter()
        org = generate(events_path, args.staff, args.completed, args.seed)
        results["levels"] = org.levels
        results["events"] = org.event_counts
        log("  %d events in %.1f s (%.0f MB), in %s" % (
            org.events, time.perf_counter() - t0, os.path.getsize(events_path) / 1e6, base))

        # 1. Load.
        daemon.start()
        client = Client(ctx, api, daemon)
        client.call("status", timeout=START_TIMEOUT_S)
        log("publishing with carehub-pub ...")
        cpu0 = daemon.cpu_s()
        with Perf(args.perf, "load", daemon.pid()):
            t0 = time.perf_counter()
            pub = subprocess.run([os.path.join(build, "carehub-pub"), "-e", api, "--timeout", "300",
                                  events_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            load_s = time.perf_counter() - t0
        if pub.returncode != 0:
            log(pub.stderr[-4000:])
            raise SystemExit("carehub-pub exited with status %d" % pub.returncode)
        # The scheduler may still be sending what fell due at the clock time
        # (the reminders and escalations of obligations created already late).
        t0 = time.perf_counter()
        client.call("clock", advance_seconds=0)
        catch_up_s = time.perf_counter() - t0
        status = client.call("status")
        results["load"] = {"events": org.events, "wall_s": round(load_s, 2),
                           "events_per_s": round(org.events / load_s),
                           "catch_up_after_s": round(catch_up_s, 2),
                           "daemon_cpu_s": round(daemon.cpu_s() - cpu0, 1),
                           "pub_summary": pub.stdout.strip(),
                           "stored": status["events"]["stored"]["total"],
                           "transactions": status["transactions"],
                           "database_mb": round(status["database_bytes"] / 1e6, 1),
                           "notifications": status["notifications"]["last_seq"],
                           "missed": status["notifications"]["missed"]["total"]}
        results["memory_after_load"] = daemon.memory()
        results["obligations"] = db_summary(db)
        log("  loaded in %.1f s; %d obligations" % (load_s, results["obligations"]["total"]))

        # 2. Stop and start again on the same database.
        client.close()
        results["wal_mb_at_stop"] = round(file_mb(db + "-wal"), 1)
        with Perf(args.perf, "stop", daemon.pid()):
            results["stop_s"] = round(daemon.stop(), 2)
        daemon.start(perf_name="start")
        client = Client(ctx, api, daemon)
        status = client.call("status", timeout=START_TIMEOUT_S)
        to_status = time.monotonic() - daemon.spawned_at
        client.call("clock", advance_seconds=0)  # answered once the catch-up has committed
        to_caught_up = time.monotonic() - daemon.spawned_at
        deadline = time.monotonic() + 5
        while daemon.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        results["start"] = {
            "to_ready_log_s": round(daemon.ready_at - daemon.spawned_at, 3)
            if daemon.ready_at else None,
            "to_first_status_s": round(to_status, 3),
            "to_catch_up_committed_s": round(to_caught_up, 3),
            "ready_line": daemon.ready_line}
        results["memory_after_start"] = daemon.memory()

        # 3 and 4. Two working days.
        results["day1"] = working_day(daemon, client, db, args.perf, "day1")
        results["memory_after_day1"] = daemon.memory()
        results["day2"] = working_day(daemon, client, db, args.perf, "day2")
        results["memory_after_day2"] = daemon.memory()

        # 5. Query latency.
        log("queries ...")
        managers = org.managers_by_level[4] + org.managers_by_level[5]
        all_managers = [m for level in (2, 3, 4, 5) for m in org.managers_by_level[level]]
        parent_teams = [t for t, level in org.teams if level <= 4]
        n = args.queries
        q = {}
        perf = Perf(args.perf, "queries", daemon.pid())
        # The client's own round trip: "clock" without fields only reads the
        # time; "status" also reads totals from the database.
        q["clock"] = latency(client, [("clock", {})] * n)
        q["status"] = latency(client, [("status", {})] * n)
        q["due_manager"] = latency(client, [("due", {"manager_id": rng.choice(managers),
                                                     "days": 14}) for _ in range(n)])
        q["overdue_manager"] = latency(client, [("overdue", {"manager_id": rng.choice(all_managers)})
                                                for _ in range(n)])
        team_level = dict(org.teams)
        picked = [rng.choice(parent_teams) for _ in range(max(1, n // 10))]
        q["overdue_team"] = latency(client, [("overdue", {"team_id": t}) for t in picked])
        # The same teams again, by level, for where the time goes.
        by_level = {}
        for level in sorted(set(team_level[t] for t in picked)):
            teams = [t for t in picked if team_level[t] == level][:20]
            by_level[str(level)] = latency(client, [("overdue", {"team_id": t}) for t in teams])
        q["overdue_team"]["by_level"] = by_level
        # The whole organisation with the daemon's default limit (200), and with 1,000.
        q["overdue_org"] = latency(client, [("overdue", {})
                                            for _ in range(max(1, n // 100))])
        q["overdue_org_1000"] = latency(client, [("overdue", {"limit": 1000})
                                                 for _ in range(max(1, n // 100))])
        perf.__exit__()
        results["queries"] = q
        results["memory_at_end"] = daemon.memory()
        client.close()
        daemon.stop()
    finally:
        if daemon.proc and daemon.proc.poll() is None:
            if daemon.pid() != daemon.proc.pid:
                os.kill(daemon.pid(), signal.SIGKILL)  # under perf: the daemon first
            daemon.proc.kill()
            daemon.proc.wait()
        ctx.destroy(linger=0)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log("kept %s" % base)
    report(results, args.json_only)


def mark(ok):
    return "ok" if ok else "OVER TARGET"


def report(r, json_only):
    if not json_only:
        o = r["obligations"]
        p = print
        p("")
        p("bench/schedule: %d staff (levels %s), durable %s, completed fraction %.2f, "
          "test clock from %s" % (r["staff"], "/".join(str(r["levels"][k]) for k in sorted(r["levels"])),
                                  "true" if r["durable"] else "false", r["completed_fraction"],
                                  r["clock_start"]))
        for item in r["config_replace"]:
            p("configuration changed for this run: %s" % item)
        p("")
        p("%-58s %-30s %s" % ("figure", "measured", "target"))
        p("-" * 110)
        L = r["load"]
        p("%-58s %-30s" % ("load: events published (carehub-pub)", "%d in %.1f s" % (L["events"], L["wall_s"])))
        p("%-58s %-30s" % ("load: events/s", "%d" % L["events_per_s"]))
        p("%-58s %-30s" % ("load: then until the start-up reminders are all sent", "%.1f s" % L["catch_up_after_s"]))
        p("%-58s %-30s" % ("load: daemon CPU (publish and catch-up)", "%.1f s" % L["daemon_cpu_s"]))
        p("%-58s %-30s" % ("obligations", "%d" % o["total"]))
        p("%-58s %-30s" % ("  by state", ", ".join("%s %d" % kv for kv in sorted(o["by_state"].items()))))
        p("%-58s %-30s" % ("  open and overdue / due within 14 days", "%d / %d" % (o["open_overdue"], o["open_due_14_days"])))
        p("%-58s %-30s" % ("  notifications / missed during the load", "%d / %d" % (L["notifications"], L["missed"])))
        p("%-58s %-30s" % ("database size", "%.0f MB" % L["database_mb"]))
        s = r["start"]
        p("%-58s %-30s %s" % ("start: spawn to 'ready' log line", "%s s" % s["to_ready_log_s"], "<= %.1f s  %s" % (TARGET_START_S, mark((s["to_ready_log_s"] or 99) <= TARGET_START_S))))
        p("%-58s %-30s %s" % ("start: spawn to first status reply", "%.3f s" % s["to_first_status_s"], "<= %.1f s  %s" % (TARGET_START_S, mark(s["to_first_status_s"] <= TARGET_START_S))))
        p("%-58s %-30s" % ("start: spawn to start-up catch-up committed", "%.3f s" % s["to_catch_up_committed_s"]))
        p("%-58s %-30s" % ("stop (SIGTERM to exit) after the load", "%.2f s (WAL %.0f MB)" % (r["stop_s"], r["wal_mb_at_stop"])))
        for label, key in (("RSS after load", "memory_after_load"), ("RSS after restart", "memory_after_start"),
                           ("RSS after day 1", "memory_after_day1"), ("RSS after day 2", "memory_after_day2"),
                           ("RSS after the queries", "memory_at_end")):
            m = r[key]
            p("%-58s %-30s %s" % (label + " (VmRSS / VmHWM)", "%.0f / %.0f MiB" % (m["rss_mb"], m["hwm_mb"]),
                                  "<= %.0f MB  %s" % (TARGET_RSS_MB, mark(m["hwm_mb"] <= TARGET_RSS_MB))))
        for key, label in (("day1", "day 1 (first after the load)"), ("day2", "day 2")):
            d = r[key]
            p("%-58s %-30s %s" % (label + ": clock +24 h", "%.3f s (CPU %.2f s)" % (d["wall_s"], d["daemon_cpu_s"]),
                                  "<= %.1f s  %s" % (TARGET_DAY_S, mark(d["wall_s"] <= TARGET_DAY_S))))
            p("%-58s %-30s" % ("  notifications (reminder / escalation)", "%d (%d / %d)" % (
                d["notifications"], d.get("reminder", 0), d.get("escalation", 0))))
            p("%-58s %-30s" % ("  obligations / recipients / missed", "%d / %d / %d" % (
                d["obligations"], d["recipients"], d["missed"])))
            if "most_to_one_recipient" in d:
                t = d["most_to_one_recipient"]
                p("%-58s %-30s" % ("  most to one recipient", "%d (%s)" % (t["notifications"], t["recipient_id"])))
        for key, label in (("clock", "clock (client overhead)"), ("status", "status"), ("due_manager", "due, manager, 14 days"),
                           ("overdue_manager", "overdue, manager"), ("overdue_team", "overdue, team + sub-teams"),
                           ("overdue_org", "overdue, organisation, default limit"),
                           ("overdue_org_1000", "overdue, organisation, limit 1000")):
            x = r["queries"][key]
            target = ""
            if key not in ("clock", "status"):
                target = "p99 <= %.0f ms  %s" % (TARGET_QUERY_P99_MS, mark(x["p99_ms"] <= TARGET_QUERY_P99_MS))
            extra = " (x%d" % x["requests"] + (", count %s" % x["mean_count"] if "mean_count" in x else "") + ", %s KB)" % x["mean_reply_kb"]
            p("%-58s %-30s %s" % (label + extra, "%.2f / %.2f / %.2f ms" % (x["p50_ms"], x["p99_ms"], x["max_ms"]), target))
            for level, y in sorted(x.get("by_level", {}).items()):
                p("%-58s %-30s" % ("  team level %s (x%d, count %s)" % (level, y["requests"], y.get("mean_count")),
                                   "%.2f / %.2f / %.2f ms" % (y["p50_ms"], y["p99_ms"], y["max_ms"])))
        p("  (queries: p50 / p99 / max, client side, send to reply received; count = mean 'count' in the replies)")
        p("")
    print(json.dumps(r, separators=(",", ":")))


if __name__ == "__main__":
    main()
