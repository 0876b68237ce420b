#!/usr/bin/python3
"""bench/notify.py: how fast carehub-notify turns notifications into email.

Runs the real carehubd (on a test clock), the real carehub-notify and an SMTP
relay on loopback (tests/e2e/smtp_server.py, aiosmtpd, in this process), all
from a Release build, and prints three sets of figures:

  1. burst (digest off): --managers N team leaders (default 50), each with
     --workers M care workers (default 40), all hired on Monday 2 March 2026,
     so that N*M supervision reminders (default 2,000) fall due together at
     09:00 on Monday 9 March.  carehub-notify runs with digest.enabled =
     false: each notification is its own email.  The test clock is moved past
     09:00 in one "clock" op; time.monotonic() just before that op is sent is
     the "due moment" (the test clock jumps there, so as far as the wall clock
     goes everything fell due then).  Printed: messages, seconds from the
     clock op to the last arrival at the relay, messages/s, and due->arrival
     latency p50 / p99 / max (arrival = the relay's time.monotonic() once it
     has the whole message).  Also how long the clock op itself took (the
     daemon replies once every reminder is committed) and the CPU seconds the
     daemon, carehub-notify and this process (the relay) used meanwhile.
  2. steady (digest on, digest.immediate_alerts = true): one notification at
     a time, --steady K times (default 200).  A team with a manager and a
     KPI metric (aggregate "last", red from 10, target 0) gets a kpi.observed
     of 20 then 0 then 20...: each flips the team red/green, and the daemon
     writes one alert to the manager in the transaction that stores the value,
     before it acknowledges the publish.  The "due moment" is just before the
     publish request is sent (the notification exists by the time the ack
     comes back); the figure is that moment -> arrival at the relay, p50 /
     p99 / max, waiting for each message before the next publish.  The
     publish's own round trip (the daemon's commit) is printed beside it.
     carehub-notify keeps its default clock_poll_ms (1000): it must be woken
     by the PUB socket, not by its clock poll.  The first 3 rounds are a
     warm-up and are not counted.
  3. digest (digest on, digest.time 09:30): the burst of 1 again; the clock
     is moved to 09:05 (reminders fire, carehub-notify queues them: the time
     until its cursor reaches the last one is printed), then to 09:30 in a
     second op, whose send time is the "digest time".  Printed: digests (one
     per manager), time from the digest time to the first and to the last
     digest, digests/s.  Nothing but carehub-notify's clock poll (default
     1000 ms) tells it the time has come, so up to one poll interval of the
     first figure is that wait.

Each scenario has a fresh daemon, relay and carehub-notify.  carehub-notify
logs at its default level (info: one line per message sent, with
millisecond timestamps); its log and the daemon's are kept with --keep.

The relay is tests/e2e/smtp_server.py's SmtpServer (aiosmtpd, on loopback,
in this process), but by default it keeps only each message's envelope,
raw bytes and arrival time, and the checks read the Message-IDs after the
run: the e2e relay's full parse of every message costs this process about
5 ms of CPU per message before it answers 250, and carehub-notify waits for
that answer before its next message, so a burst would measure the relay.
--parsing-relay keeps the full parse, for comparison.

A figure program, not a test: not part of ctest, asserts nothing about
speed, but stops with an error if a message is missing or duplicated.  The
table is followed by one line of JSON with every figure.

Usage (from the repository root, after a Release build):

  cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
  /usr/bin/python3 bench/notify.py                # defaults: 50 x 40, 200 alerts
  /usr/bin/python3 bench/notify.py --quick        # 5 x 10, 20 alerts: a smoke run

(With GCC 12 the Release build has stopped on -Werror false positives, in
clients/notify_templates.c (maybe-uninitialized) and tests/test-calendar.c
(dangling-pointer); this benchmark needs only four targets:
  cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS=-Wno-error=maybe-uninitialized
  cmake --build build-rel -j2 --target carehubd carehub-pub carehubctl carehub-notify)

Options: --managers N, --workers M, --steady K, --build-dir DIR (default
build-rel in the repository), --quick, --work-dir DIR (where the temporary
directories go, default /tmp), --keep (keep them), --timeout S (the longest
wait for one scenario's messages, default 600), --parsing-relay, --json-only.

Needs /usr/bin/python3 with python3-zmq and python3-aiosmtpd (Debian's).
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
E2E_DIR = os.path.join(SOURCE_DIR, "tests", "e2e")

TOOLS = ("carehubd", "carehub-pub", "carehub-notify")
BUILD_HINT = ("cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && "
              "cmake --build build-rel -j2")

CLOCK_START = "2026-03-02T07:00:00Z"  # Monday; everyone is hired today
REMINDER_TIME = "2026-03-09T09:05:00Z"  # the 7-days-ahead reminders went at 09:00
DIGEST_TIME = "09:30"
DIGEST_CLOCK = "2026-03-09T09:30:00Z"
STEADY_CLOCK = "2026-03-02T10:00:00Z"
WARM_UP = 3
NOTIFY_POLL_MS_DEFAULT = 1000  # carehub-notify's own default for clock_poll_ms

CONFIG = """
timezone = "Europe/London";
schedule = { send_time = "09:00"; working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "2 weeks"; };
        reminders = [7, 1];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    }
);
kpi = { alert_roles = []; };
metrics = (
    {
        name = "incidents";
        title = "Incidents";
        unit = "incidents";
        aggregate = "last";
        periods = ["month"];
        direction = "lower";
        target = 0;
        warning = 5;
        critical = 10;
    }
);
"""

h = nt = smtp_server = None  # the test modules, imported in main() once the build is known


def log(text):
    print(text, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# Helpers


def percentile(values, q):
    """Nearest-rank percentile of values (q in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(1, math.ceil(q / 100.0 * len(s)))
    return s[min(k, len(s)) - 1]


def summary_ms(seconds):
    return {"p50_ms": round(percentile(seconds, 50) * 1000, 2),
            "p99_ms": round(percentile(seconds, 99) * 1000, 2),
            "max_ms": round(max(seconds) * 1000, 2),
            "min_ms": round(min(seconds) * 1000, 2),
            "count": len(seconds)}


def cpu_s(pid):
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class CpuMeter:
    """CPU used by the daemon, carehub-notify and this process (the relay) over a phase."""

    def __init__(self, daemon, notifier):
        self.pids = {"daemon": daemon.pid, "notify": notifier.proc.pid}
        self.start = {k: cpu_s(p) for k, p in self.pids.items()}
        self.self_start = time.process_time()

    def done(self):
        out = {k: round(cpu_s(p) - self.start[k], 2) for k, p in self.pids.items()}
        out["relay_and_bench"] = round(time.process_time() - self.self_start, 2)
        return out


def wait_until(what, condition, timeout, alive=()):
    """Polls condition() until it is true, failing at the deadline or when a
    process in alive (objects with running() and a name) is gone."""
    end = time.monotonic() + timeout
    delay = 0.001
    while not condition():
        for name, proc in alive:
            if not proc.running():
                raise BenchError("%s exited while waiting for %s" % (name, what))
        if time.monotonic() > end:
            raise BenchError("%s did not happen within %.0f s" % (what, timeout))
        time.sleep(delay)  # the polling interval of a deadline wait
        delay = min(delay * 2, 0.01)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# --------------------------------------------------------------------------
# The organisation


def org_events(managers, workers):
    out = []
    stamp = "2026-03-02T07:00:00Z"
    for i in range(managers):
        tid, mid = "T%03d" % i, "M%03d" % i
        out.append(h.event("team.changed", {"team_id": tid, "name": "Team %d" % i,
                                            "manager_id": mid},
                           source="bench-hr", time=stamp))
        out.append(h.staff_hired(mid, "Manager %d" % i, role="team_leader", team_id=tid,
                                 start_date="2026-03-02", email="m%03d@bench.example" % i,
                                 source="bench-hr", time=stamp))
        for j in range(workers):
            out.append(h.staff_hired("W%03d-%03d" % (i, j), "Worker %d-%d" % (i, j),
                                     role="care_worker", team_id=tid, start_date="2026-03-02",
                                     source="bench-hr", time=stamp))
    return out


class Run:
    """A daemon, a relay and a carehub-notify for one scenario."""

    def __init__(self, args, name, notify_settings, clock):
        self.args = args
        self.name = name
        workdir = tempfile.mkdtemp(prefix="carehub-bench-notify-%s-" % name, dir=args.work_dir)
        self.smtp = smtp_server.SmtpServer().start()
        self.daemon = h.Daemon(extra_config=CONFIG, test_clock=clock, workdir=workdir,
                               keep=True)
        try:
            self.daemon.start()
        except BaseException:
            self.smtp.stop()
            if not args.keep:
                self.daemon.close()
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        self.api = self.daemon.client()
        settings = {"clock_poll_ms": None}  # carehub-notify's own default
        settings.update(notify_settings)
        self.notifier = nt.Notifier(self.daemon, self.smtp, settings)
        self.alive = (("carehubd", self.daemon), ("carehub-notify", self.notifier))

    def publish_org(self, managers, workers):
        events = org_events(managers, workers)
        r = h.run_tool(h.CAREHUB_PUB, ["--timeout", "300"], endpoint=self.daemon.api,
                       input="\n".join(json.dumps(e) for e in events) + "\n", timeout=600)
        if r.returncode != 0:
            raise BenchError("carehub-pub exited %d: %s" % (r.returncode, r.stderr[-2000:]))
        stored, duplicate, rejected = h.pub_summary(r.stdout)
        if stored != len(events):
            raise BenchError("carehub-pub stored %d of %d events: %s"
                             % (stored, len(events), r.stdout))

    def last_seq(self):
        return self.api.request({"op": "notifications", "after": 0, "limit": 1})["last_seq"]

    def clock(self, when):
        reply = self.api.request({"op": "clock", "set": when}, timeout=self.args.timeout)
        if reply.get("ok") is not True:
            raise BenchError("clock op failed: %r" % (reply,))
        return reply

    def start_notifier(self):
        self.notifier.start()
        wait_until("carehub-notify following the daemon",
                   lambda: "following carehubd's notifications" in self.notifier.stderr(),
                   60, self.alive)

    def wait_messages(self, count, timeout):
        wait_until("%d messages at the relay (have %d)" % (count, self.smtp.accepted_count),
                   lambda: self.smtp.accepted_count >= count, timeout, self.alive)
        return self.smtp.messages

    def close(self):
        try:
            if self.notifier.running():
                self.notifier.stop()
        finally:
            self.smtp.stop()
            if self.daemon.running():
                self.daemon.stop()
            if self.args.keep:
                log("kept %s" % self.daemon.workdir)
            else:
                self.daemon.close()
                shutil.rmtree(self.daemon.workdir, ignore_errors=True)


class LeanReceived:
    """What the lean relay keeps of a message: the envelope, the raw bytes and
    the arrival time.  The e2e relay's Received parses every message (MIME,
    both bodies, attachments) in the relay's event loop before it answers
    250, which costs this Python process about 5 ms of CPU per message: in a
    burst, carehub-notify waits for that answer before the next message, so
    the relay's parsing would be what is measured.  Only the headers are
    read, and only when asked, after the run."""

    __slots__ = ("mail_from", "rcpt_tos", "raw", "arrived")

    def __init__(self, mail_from, rcpt_tos, raw, arrived=None):
        self.arrived = time.monotonic() if arrived is None else arrived
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.raw = bytes(raw)

    def header(self, name):
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        m = re.search(r"^%s:[ \t]*(.*(?:\r\n[ \t].*)*)" % re.escape(name), head,
                      re.M | re.I)
        return re.sub(r"\r\n[ \t]+", " ", m.group(1)).strip() if m else None

    @property
    def message_id(self):
        return self.header("Message-ID")

    def __repr__(self):
        return "<LeanReceived to=%r>" % (self.rcpt_tos,)


def check_one_each(messages, first_seq, last_seq):
    """One message per notification first_seq..last_seq, no more."""
    seqs = []
    for m in messages:
        match = re.match(r"<carehub\.n\.(\d+)@", m.message_id or "")
        if not match:
            raise BenchError("unexpected message %r (Message-ID %r)" % (m, m.message_id))
        seqs.append(int(match.group(1)))
    if sorted(seqs) != list(range(first_seq, last_seq + 1)):
        raise BenchError("the relay has %d messages, not one for each of notifications %d..%d"
                         % (len(seqs), first_seq, last_seq))


def send_gaps(stderr_text):
    """From carehub-notify's info lines ("sent ... (notification N)"): the
    times between consecutive sends, in seconds (the clock in the log)."""
    stamps = []
    for line in stderr_text.splitlines():
        if ": sent " not in line:
            continue
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})", line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
            stamps.append(t + int(m.group(2)) / 1000.0)
    return [b - a for a, b in zip(stamps, stamps[1:])]


# --------------------------------------------------------------------------
# The scenarios


def burst(args):
    n, m = args.managers, args.workers
    expected = n * m
    run = Run(args, "burst", {"digest.enabled": False}, CLOCK_START)
    try:
        log("burst: publishing %d managers x %d workers ..." % (n, m))
        run.publish_org(n, m)
        seq0 = run.last_seq()
        if seq0 != 0:
            raise BenchError("%d notifications before the reminders" % seq0)
        run.start_notifier()
        sessions0 = run.smtp.sessions
        log("burst: clock to %s, %d reminders ..." % (REMINDER_TIME, expected))
        cpu = CpuMeter(run.daemon, run.notifier)
        due = time.monotonic()
        run.clock(REMINDER_TIME)
        clock_op_s = time.monotonic() - due
        messages = run.wait_messages(expected, args.timeout)
        cpus = cpu.done()
        last = run.last_seq()
        if last != expected:
            raise BenchError("%d notifications, %d expected" % (last, expected))
        check_one_each(messages, 1, last)
        lat = [x.arrived - due for x in messages]
        span = max(x.arrived for x in messages) - due
        gaps = send_gaps(run.notifier.stderr())
        return {"managers": n, "workers": m, "messages": len(messages),
                "clock_op_s": round(clock_op_s, 3),
                "first_arrival_s": round(min(lat), 3),
                "last_arrival_s": round(span, 3),
                "messages_per_s": round(len(messages) / span, 1),
                "latency": summary_ms(lat),
                "smtp_sessions": run.smtp.sessions - sessions0,
                "log_send_gap": summary_ms(gaps) if gaps else None,
                "cpu_s": cpus,
                "clock_poll_ms": NOTIFY_POLL_MS_DEFAULT}
    finally:
        run.close()


def steady(args):
    k = args.steady
    run = Run(args, "steady", {"digest.enabled": True, "digest.immediate_alerts": True},
              STEADY_CLOCK)
    try:
        log("steady: %d alerts, one at a time ..." % (k + WARM_UP))
        run.publish_org(1, 0)
        run.start_notifier()
        sessions0 = run.smtp.sessions
        base = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
        lat, acks = [], []
        cpu = None
        for i in range(k + WARM_UP):
            if i == WARM_UP:
                cpu = CpuMeter(run.daemon, run.notifier)
            at = (base + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            ev = h.event("kpi.observed", {"metric": "incidents", "team_id": "T000",
                                          "value": 20 if i % 2 == 0 else 0},
                         source="bench-kpi", time=at)
            t0 = time.monotonic()
            reply = run.api.publish([ev])
            t_ack = time.monotonic()
            if h.statuses(reply) != ["stored"]:
                raise BenchError("kpi.observed not stored: %r" % (reply,))
            msgs = run.wait_messages(i + 1, 60)
            if len(msgs) != i + 1:
                raise BenchError("%d messages after alert %d" % (len(msgs), i + 1))
            if i >= WARM_UP:
                lat.append(msgs[i].arrived - t0)
                acks.append(t_ack - t0)
        cpus = cpu.done()
        last = run.last_seq()
        if last != k + WARM_UP:
            raise BenchError("%d notifications for %d alerts" % (last, k + WARM_UP))
        check_one_each(run.smtp.messages, 1, last)
        return {"alerts": k, "warm_up": WARM_UP, "latency": summary_ms(lat),
                "publish_ack": summary_ms(acks),
                "smtp_sessions": run.smtp.sessions - sessions0,
                "cpu_s": cpus, "clock_poll_ms": NOTIFY_POLL_MS_DEFAULT}
    finally:
        run.close()


def digest(args):
    n, m = args.managers, args.workers
    expected = n * m
    run = Run(args, "digest", {"digest.enabled": True, "digest.time": DIGEST_TIME},
              CLOCK_START)
    try:
        log("digest: publishing %d managers x %d workers ..." % (n, m))
        run.publish_org(n, m)
        run.start_notifier()
        log("digest: clock to %s, %d reminders to queue ..." % (REMINDER_TIME, expected))
        t0 = time.monotonic()
        run.clock(REMINDER_TIME)
        last = run.last_seq()
        if last != expected:
            raise BenchError("%d notifications, %d expected" % (last, expected))
        run.notifier.wait_cursor(last, timeout=args.timeout)
        queued_s = time.monotonic() - t0
        if run.smtp.accepted_count:
            raise BenchError("%d messages before the digest time" % run.smtp.accepted_count)
        log("digest: clock to %s (digest.time %s) ..." % (DIGEST_CLOCK, DIGEST_TIME))
        cpu = CpuMeter(run.daemon, run.notifier)
        due = time.monotonic()
        run.clock(DIGEST_CLOCK)
        messages = run.wait_messages(n, args.timeout)
        run.notifier.wait_round("2026-03-09", timeout=args.timeout)
        cpus = cpu.done()
        messages = run.smtp.messages
        if len(messages) != n or len({x.rcpt_tos[0] for x in messages}) != n:
            raise BenchError("%d digests for %d managers" % (len(messages), n))
        arrivals = sorted(x.arrived - due for x in messages)
        spread = arrivals[-1] - arrivals[0]
        return {"managers": n, "workers": m, "notifications": expected,
                "queue_s": round(queued_s, 3),
                "queue_per_s": round(expected / queued_s, 1),
                "digests": len(messages),
                "first_digest_s": round(arrivals[0], 3),
                "last_digest_s": round(arrivals[-1], 3),
                "digests_per_s": round(n / arrivals[-1], 1),
                "digests_per_s_after_first": round((n - 1) / spread, 1) if spread > 0 else None,
                "cpu_s": cpus, "clock_poll_ms": NOTIFY_POLL_MS_DEFAULT}
    finally:
        run.close()


# --------------------------------------------------------------------------


def report(r):
    p = print
    mach = r["machine"]
    p("")
    p("bench/notify: %s, nproc %d, %s, kernel %s" % (mach["date"], mach["nproc"], mach["cpu"],
                                                     mach["kernel"]))
    p("build %s (%s); work dir %s; relay: aiosmtpd on loopback in this process, %s"
      % (r["build_dir"], r["build_type"], r["work_dir"],
         "parsing each message (--parsing-relay)" if r["relay"] == "parsing"
         else "lean (raw bytes kept, parsed after the run)"))
    p("")
    p("%-62s %s" % ("figure", "measured"))
    p("-" * 100)
    b = r["burst"]
    L = b["latency"]
    p("1. burst, digest off: %d managers x %d care workers, one clock op to %s"
      % (b["managers"], b["workers"], REMINDER_TIME))
    p("%-62s %d" % ("  messages", b["messages"]))
    p("%-62s %.3f s" % ("  clock op to the last arrival", b["last_arrival_s"]))
    p("%-62s %.1f" % ("  messages/s delivered", b["messages_per_s"]))
    p("%-62s %.2f / %.2f / %.2f ms" % ("  due -> arrival latency p50 / p99 / max",
                                       L["p50_ms"], L["p99_ms"], L["max_ms"]))
    p("%-62s %.3f s" % ("  clock op to the first arrival", b["first_arrival_s"]))
    p("%-62s %.3f s" % ("  the clock op itself (daemon: reminders committed)", b["clock_op_s"]))
    if b["log_send_gap"]:
        g = b["log_send_gap"]
        p("%-62s %.1f / %.1f / %.1f ms" % ("  carehub-notify log, gap between sends p50 / p99 / max",
                                           g["p50_ms"], g["p99_ms"], g["max_ms"]))
    p("%-62s %d" % ("  SMTP sessions opened", b["smtp_sessions"]))
    p("%-62s %d ms (default)" % ("  carehub-notify clock_poll_ms", b["clock_poll_ms"]))
    c = b["cpu_s"]
    p("%-62s %.2f / %.2f / %.2f s" % ("  CPU: carehubd / carehub-notify / relay (this process)",
                                      c["daemon"], c["notify"], c["relay_and_bench"]))
    s = r["steady"]
    L = s["latency"]
    A = s["publish_ack"]
    p("2. steady, one KPI alert at a time (digest on, immediate_alerts), x%d after %d warm-up"
      % (s["alerts"], s["warm_up"]))
    p("%-62s %.2f / %.2f / %.2f ms" % ("  publish sent -> arrival p50 / p99 / max",
                                       L["p50_ms"], L["p99_ms"], L["max_ms"]))
    p("%-62s %.2f / %.2f / %.2f ms" % ("  (of which the publish's ack) p50 / p99 / max",
                                       A["p50_ms"], A["p99_ms"], A["max_ms"]))
    p("%-62s %d ms (default)" % ("  carehub-notify clock_poll_ms", s["clock_poll_ms"]))
    p("%-62s %d" % ("  SMTP sessions opened", s["smtp_sessions"]))
    c = s["cpu_s"]
    p("%-62s %.2f / %.2f / %.2f s" % ("  CPU: carehubd / carehub-notify / relay (this process)",
                                      c["daemon"], c["notify"], c["relay_and_bench"]))
    d = r["digest"]
    p("3. digest at %s: %d managers x %d care workers" % (DIGEST_TIME, d["managers"],
                                                         d["workers"]))
    p("%-62s %.3f s (%.1f /s)" % ("  09:05: clock op to all %d notifications queued"
                                  % d["notifications"], d["queue_s"], d["queue_per_s"]))
    p("%-62s %d" % ("  digests", d["digests"]))
    p("%-62s %.3f s" % ("  digest time (clock op) to the first digest", d["first_digest_s"]))
    p("%-62s %.3f s" % ("  digest time (clock op) to the last digest", d["last_digest_s"]))
    p("%-62s %.1f" % ("  digests/s (from the digest time)", d["digests_per_s"]))
    if d["digests_per_s_after_first"] is not None:
        p("%-62s %.1f" % ("  digests/s (first to last digest)", d["digests_per_s_after_first"]))
    p("%-62s %d ms (default)" % ("  carehub-notify clock_poll_ms", d["clock_poll_ms"]))
    c = d["cpu_s"]
    p("%-62s %.2f / %.2f / %.2f s" % ("  CPU in the round: carehubd / carehub-notify / relay",
                                      c["daemon"], c["notify"], c["relay_and_bench"]))
    p("  (latency: relay arrival, time.monotonic() in the relay's thread, minus the due moment;")
    p("   percentiles are nearest-rank)")
    p("")


def main():
    global h, nt, smtp_server
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build-rel"))
    ap.add_argument("--managers", type=int, default=50)
    ap.add_argument("--workers", type=int, default=40)
    ap.add_argument("--steady", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="5 managers x 10 workers, 20 alerts")
    ap.add_argument("--work-dir", default="/tmp")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json-only", action="store_true")
    ap.add_argument("--parsing-relay", action="store_true",
                    help="let the relay parse every message as the e2e tests do (slower relay)")
    args = ap.parse_args()
    if args.quick:
        args.managers, args.workers, args.steady = 5, 10, 20
    if args.managers < 1 or args.workers < 1 or args.steady < 1:
        ap.error("--managers, --workers and --steady must be 1 or more")
    build = os.path.abspath(args.build_dir)
    missing = [t for t in TOOLS if not os.access(os.path.join(build, t), os.X_OK)]
    if missing:
        raise SystemExit("%s not found in %s: make a Release build first, from %s:\n  %s\n"
                         "(or give --build-dir)" % (", ".join(missing), build, SOURCE_DIR,
                                                    BUILD_HINT.replace("build-rel", build)))
    cache = os.path.join(build, "CMakeCache.txt")
    build_type = "?"
    if os.path.exists(cache):
        with open(cache) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            build_type = m.group(1) if m else "?"
    if build_type != "Release":
        log("warning: %s is a %r build, not Release" % (build, build_type))
    os.environ["CAREHUB_BIN_DIR"] = build
    os.environ["CAREHUB_SOURCE_DIR"] = SOURCE_DIR
    sys.path.insert(0, E2E_DIR)
    import harness as h_  # noqa: E402
    import notifier as nt_  # noqa: E402
    import smtp_server as smtp_  # noqa: E402
    h, nt, smtp_server = h_, nt_, smtp_
    if not args.parsing_relay:
        # The relay's handler makes smtp_server.Received(...) for each message.
        smtp_server.Received = LeanReceived
    args.work_dir = os.path.abspath(args.work_dir)

    results = {"machine": machine(), "build_dir": build, "build_type": build_type,
               "work_dir": args.work_dir,
               "relay": "parsing" if args.parsing_relay else "lean"}
    t0 = time.monotonic()
    results["burst"] = burst(args)
    results["steady"] = steady(args)
    results["digest"] = digest(args)
    results["wall_s"] = round(time.monotonic() - t0, 1)
    if not args.json_only:
        report(results)
    print(json.dumps(results, separators=(",", ":")))


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        raise SystemExit("bench/notify: %s" % e)
