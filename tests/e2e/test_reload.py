#!/usr/bin/python3
"""Reloading the configuration (SIGHUP) and telling systemd (sd_notify),
through the real daemon and the real client tools.

- systemd's notification protocol, with a Unix datagram socket of the test's
  own as NOTIFY_SOCKET: READY=1 comes once, and when it comes the API
  answers at once; STATUS= lines come with it, and on their own every ten
  seconds; WATCHDOG_USEC=200000 (and no WATCHDOG_PID) brings WATCHDOG=1
  again and again; SIGHUP brings RELOADING=1 with MONOTONIC_USEC=, then
  READY=1; SIGTERM brings STOPPING=1.  Without WATCHDOG_USEC no WATCHDOG=1
  comes.
- Review kinds (test clock, UTC): a kind added by a reload applies to staff
  hired afterwards and not to those hired before; a new schedule.send_time
  (09:00 -> 14:00) applies to the reminders of staff hired afterwards, and
  to a reminder planned before the reload: it comes up at its old moment,
  is worked out again under the new send time and goes out at 14:00; a kind
  removed by a reload sends nothing more.
- Metrics: a changed target and warning level change the kpi op's levels
  and status at once, and the next observation is judged (and alerted)
  under them; figures held in memory at the reload are kept; a metric added
  is accepted, a metric removed is refused, and its figures stay in the
  database.
- An invalid file (and one that cannot be read): every mistake logged as
  FILE:LINE: key: reason, "configuration not reloaded", the old behaviour
  unchanged, the daemon still serving; the next valid file is taken.
  log.level applies from the reload on.
- A changed key that needs a restart (api.endpoint, timezone): the reload is
  refused as a whole (the documented choice), each key named, nothing of the
  file applied, the daemon still on its old endpoint.
- Reloads while carehub-pub publishes team changes and KPI observations:
  every event acknowledged is stored, once, and every observation is
  counted once in the figures.

Every wait is for a message, a reply or a log line, with a deadline.
"""

import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, staff_hired, team_changed  # noqa: E402

WAIT = 30  # seconds: the deadline of every wait
TEST_CLOCK = "2026-01-05T08:00:00Z"  # Monday 5 January 2026, UTC


class NotifySocket:
    """A systemd notification socket: a Unix datagram socket whose messages
    (each a list of (name, value)) a thread collects as they come, so that
    the daemon's sd_notify() never waits on a full queue."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "sd-notify.sock")  # notify.sock is the PUB socket
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = []
            for line in data.decode("utf-8", "replace").split("\n"):
                if line:
                    name, _, value = line.partition("=")
                    fields.append((name, value))
            with self.cond:
                self.messages.append(fields)
                self.cond.notify_all()

    def close(self):
        self.closed = True
        self.thread.join(5)
        self.sock.close()

    def count(self):
        with self.cond:
            return len(self.messages)

    def wait_for(self, name, value=None, start=0, timeout=WAIT):
        """The index of the first message from index start holding name (=value
        when given), waiting for it until the deadline."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.messages)):
                    for n, v in self.messages[i]:
                        if n == name and (value is None or v == value):
                            return i
                left = end - time.monotonic()
                if left <= 0:
                    raise h.HarnessError("no %s%s from carehubd within %ds; got %r"
                                         % (name, "=" + value if value else "", timeout,
                                            self.messages[start:][-10:]))
                self.cond.wait(left)

    def wait_for_status_alone(self, start, timeout):
        """The index of the first message from start that is STATUS= and nothing
        else: the periodic line, not one sent with READY=1 or RELOADING=1."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.messages)):
                    if [n for n, _ in self.messages[i]] == ["STATUS"]:
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    raise h.HarnessError("no STATUS= line of its own within %ds" % timeout)
                self.cond.wait(left)

    def field(self, index, name):
        with self.cond:
            for n, v in self.messages[index]:
                if n == name:
                    return v
        return None

    def names(self):
        with self.cond:
            return [n for m in self.messages for n, _ in m]


class ReloadCase(unittest.TestCase):
    """A daemon with a notification socket, and helpers to rewrite its file and reload."""

    def start(self, config, test_clock=TEST_CLOCK, env=None):
        self.daemon = h.Daemon(extra_config=config, test_clock=test_clock)
        self.addCleanup(self.daemon.close)
        self.notify = NotifySocket(self.daemon.workdir)
        self.addCleanup(self.notify.close)
        extra = {"NOTIFY_SOCKET": self.notify.path}
        extra.update(env or {})
        self.daemon.extra_env = extra
        self.daemon.start()
        self.notify.wait_for("READY", "1")
        self.client = self.daemon.client()
        return self.daemon

    def write_config(self, config):
        with open(self.daemon.conf, "w") as f:
            f.write(h.config_text(self.daemon.state_dir, self.daemon.api, self.daemon.notify,
                                  extra=config))

    def reload(self, config=None):
        """Rewrites the file (unless config is None), sends SIGHUP and waits for
        RELOADING=1 and the READY=1 after it; returns the log lines the reload
        wrote."""
        if config is not None:
            self.write_config(config)
        before = len(self.daemon.run_stderr())
        start = self.notify.count()
        self.daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING", "1", start)
        self.assertRegex(self.notify.field(reloading, "MONOTONIC_USEC") or "", r"^\d+$")
        ready = self.notify.wait_for("READY", "1", reloading + 1)
        self.assertIn("events stored", self.notify.field(ready, "STATUS") or "")
        self.assertTrue(self.daemon.running())
        return self.daemon.run_stderr()[before:]

    def assertReloaded(self, log):
        self.assertIn("configuration reloaded from %s" % self.daemon.conf, log)
        self.assertNotIn("configuration not reloaded", log)

    def assertRefused(self, log):
        self.assertIn("configuration not reloaded", log)
        self.assertIn("goes on with the configuration it had", log)
        self.assertNotIn("configuration reloaded", log)

    def publish(self, events, expected=None):
        reply = self.client.publish(events)
        self.assertIs(reply.get("ok"), True, reply)
        got = h.statuses(reply)
        self.assertEqual(got, expected or ["stored"] * len(events), reply)
        return reply

    def set_clock(self, when):
        reply = self.client.request({"op": "clock", "set": when})
        self.assertIs(reply.get("ok"), True, reply)
        return reply

    def notifications_after(self, seq):
        reply = self.client.request({"op": "notifications", "after": seq, "limit": 200})
        self.assertIs(reply.get("ok"), True, reply)
        return reply["notifications"]

    def stop(self):
        self.client.close()
        start = self.notify.count()
        self.assertEqual(self.daemon.stop_clean(), 0)
        self.notify.wait_for("STOPPING", "1", start)


# --------------------------------------------------------------------------

class SystemdNotify(ReloadCase):

    def test_ready_status_watchdog_reloading_stopping(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        self.daemon = daemon
        self.notify = NotifySocket(daemon.workdir)
        self.addCleanup(self.notify.close)
        # No WATCHDOG_PID: sd_watchdog_enabled() then takes WATCHDOG_USEC for this process.
        daemon.extra_env = {"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": "200000"}
        daemon.start(wait=False)
        ready = self.notify.wait_for("READY", "1")
        # The database is open and the socket bound: the API answers at once.
        self.assertTrue(os.path.exists(daemon.db_path()))
        with h.Client(daemon.api) as c:
            reply = c.status(timeout=5)
        self.assertIs(reply["ok"], True, reply)
        status = self.notify.field(ready, "STATUS")
        self.assertRegex(status, r"^0 events stored \(0\.0/s\), 0 waiting; 0 staff, 0 teams; "
                                 r"next reminder or escalation none planned; configuration loaded "
                                 r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual(self.notify.names().count("READY"), 1)

        # WATCHDOG=1 every 100 ms: several of them, without doing anything.
        index = ready
        for _ in range(4):
            index = self.notify.wait_for("WATCHDOG", "1", index + 1, timeout=10)
        self.assertIn("watchdog: pinging the service manager every 100 ms", daemon.run_stderr())

        self.client = daemon.client()
        self.publish([team_changed("T1", "Riverside"), staff_hired("S1", "Ann Lee")])
        log = self.reload()
        self.assertReloaded(log)
        ready = self.notify.wait_for("READY", "1", self.notify.wait_for("RELOADING", "1"))
        self.assertRegex(self.notify.field(ready, "STATUS"),
                         r"^2 events stored .* 1 staff, 1 teams; ")
        self.stop()
        self.assertEqual(self.notify.names().count("READY"), 2)

    def test_status_every_ten_seconds_and_no_watchdog_unless_asked(self):
        self.start("")
        self.publish([team_changed("T1", "Riverside")])
        begun = time.monotonic()
        index = self.notify.wait_for_status_alone(0, timeout=25)
        self.assertRegex(self.notify.field(index, "STATUS"), r"^1 events stored ")
        index = self.notify.wait_for_status_alone(index + 1, timeout=25)
        self.assertGreater(time.monotonic() - begun, 15)  # two lines, ten seconds apart
        self.reload()
        self.stop()
        self.assertNotIn("WATCHDOG", self.notify.names())


# --------------------------------------------------------------------------

REVIEWS_BEFORE = """
schedule = { send_time = "09:00"; working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]; };
kinds = (
    { name = "supervision"; title = "Supervision"; applies_to = { roles = ["care_worker"]; };
      recurring = { every = "4 weeks"; first = "2 weeks"; }; reminders = [0]; },
    { name = "appraisal"; title = "Appraisal";  applies_to = { roles = ["care_worker"]; };
      recurring = { every = "1 year"; first = "1 week"; }; reminders = [0]; }
);
"""

# send_time later, appraisal removed, probation added.
REVIEWS_AFTER = """
schedule = { send_time = "14:00"; working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]; };
kinds = (
    { name = "supervision"; title = "Supervision"; applies_to = { roles = ["care_worker"]; };
      recurring = { every = "4 weeks"; first = "2 weeks"; }; reminders = [0]; },
    { name = "probation"; title = "Probation review"; applies_to = { roles = ["care_worker"]; };
      milestones = { after = "staff.hired"; steps = (
          { name = "week1"; title = "Week 1 review"; at = "1 week"; } ); };
      reminders = [0]; }
);
"""


class ReloadReviewKinds(ReloadCase):

    def test_new_kind_new_send_time_removed_kind(self):
        self.start(REVIEWS_BEFORE)
        stamp = TEST_CLOCK
        self.publish([
            staff_hired("M1", "Maya Osei", role="team_leader", team_id="T1",
                        start_date="2026-01-05", time=stamp),
            team_changed("T1", "Riverside", manager_id="M1", time=stamp),
            staff_hired("S1", "Sam Doyle", role="care_worker", team_id="T1",
                        start_date="2026-01-05", time=stamp),
        ])
        # Planned under the old file: appraisal Mon 12 Jan 09:00, supervision Mon 19 Jan 09:00.
        self.assertEqual(self.client.status()["notifications"]["next_at"],
                         "2026-01-12T09:00:00.000Z")
        bad = self.client.publish([event("review.booked", {
            "staff_id": "S1", "kind": "probation", "date": "2026-01-12"}, time=stamp)])
        self.assertEqual(h.statuses(bad), ["rejected:unknown_kind"])

        self.assertReloaded(self.reload(REVIEWS_AFTER))
        self.publish([staff_hired("S2", "Kim Ahn", role="care_worker", team_id="T1",
                                  start_date="2026-01-05", time=stamp)])

        # The appraisal's planned moment comes: its kind is gone, nothing is sent.
        self.set_clock("2026-01-12T13:59:00Z")
        self.assertEqual(self.notifications_after(0), [])
        # S2's probation step (a kind S1, hired before, does not get), at the new send time.
        self.set_clock("2026-01-12T14:00:00Z")
        sent = self.notifications_after(0)
        self.assertEqual([(n["staff_id"], n["kind"], n["step"], n["planned_at"], n["recipient_id"])
                          for n in sent],
                         [("S2", "probation", "week1", "2026-01-12T14:00:00.000Z", "M1")], sent)
        last = sent[-1]["seq"]

        # S1's supervision was planned for 09:00: it comes up then, is worked out
        # again under the new send time, and goes out at 14:00 with S2's.
        self.set_clock("2026-01-19T09:00:00Z")
        self.assertEqual(self.notifications_after(last), [])
        self.assertEqual(self.client.status()["notifications"]["next_at"],
                         "2026-01-19T14:00:00.000Z")
        self.set_clock("2026-01-19T14:00:00Z")
        sent = self.notifications_after(last)
        self.assertEqual(sorted((n["staff_id"], n["kind"], n["planned_at"]) for n in sent),
                         [("S1", "supervision", "2026-01-19T14:00:00.000Z"),
                          ("S2", "supervision", "2026-01-19T14:00:00.000Z")], sent)
        self.assertEqual(self.client.status()["notifications"]["missed"]["total"], 0)
        # Events may name the new kind now, and no longer the removed one.
        reply = self.client.publish([
            event("review.completed", {"staff_id": "S2", "kind": "probation", "step": "week1",
                                       "date": "2026-01-19"}, time="2026-01-19T14:00:00Z"),
            event("review.completed", {"staff_id": "S1", "kind": "appraisal",
                                       "date": "2026-01-19"}, time="2026-01-19T14:00:00Z")])
        self.assertEqual(h.statuses(reply), ["stored", "rejected:unknown_kind"])
        self.stop()


# --------------------------------------------------------------------------

METRICS = """
kpi = { flush_ms = 60000; };
metrics = (
    { name = "sickness"; title = "Sickness absence"; unit = "%%"; aggregate = "mean";
      periods = ["month"]; direction = "lower"; target = %s; warning = %s; critical = 8; },
    %s
);
"""
INCIDENTS = """{ name = "incidents"; title = "Incidents"; aggregate = "count";
      periods = ["month"]; }"""
FALLS = """{ name = "falls"; title = "Falls"; aggregate = "sum"; periods = ["month"]; }"""


def observed(metric, value, team="T1", at=TEST_CLOCK):
    return event("kpi.observed", {"metric": metric, "team_id": team, "value": value}, time=at)


class ReloadMetrics(ReloadCase):

    def kpi_row(self, metric):
        reply = self.client.request({"op": "kpi", "team": "T1", "metric": metric, "periods": 1})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(len(reply["rows"]), 1, reply)
        return reply["rows"][0]

    def test_changed_added_and_removed_metrics(self):
        self.start(METRICS % ("3", "5", INCIDENTS))
        self.publish([
            staff_hired("M1", "Maya Osei", role="team_leader", team_id="T1",
                        start_date="2026-01-05", time=TEST_CLOCK),
            team_changed("T1", "Riverside", manager_id="M1", time=TEST_CLOCK),
            observed("sickness", 4.5), observed("incidents", 1), observed("incidents", 1)])
        row = self.kpi_row("sickness")
        self.assertEqual((row["value"], row["target"], row["warning"], row["status"]),
                         (4.5, 3, 5, "green"), row)
        self.assertEqual(self.kpi_row("incidents")["value"], 2)
        self.assertEqual(h.statuses(self.client.publish([observed("falls", 1)])),
                         ["rejected:unknown_metric"])
        # Figures held in memory when the reload comes (flush_ms is a minute).
        self.publish([observed("sickness", 4.5)])

        self.assertReloaded(self.reload(METRICS % ("2", "4", FALLS)))
        # The levels and the status the kpi op shows follow the new file at once.
        row = self.kpi_row("sickness")
        self.assertEqual((row["value"], row["count"], row["target"], row["warning"],
                          row["status"]), (4.5, 2, 2, 4, "amber"), row)
        # The next observation is judged under the new warning level, and alerted.
        self.publish([observed("sickness", 4.5)])
        alerts = [n for n in self.notifications_after(0) if n["type"] == "alert"]
        self.assertEqual([(n["kind"], n["recipient_id"], n["level"]) for n in alerts],
                         [("sickness", "M1", 1)], alerts)
        self.assertIn("now AMBER", alerts[0]["text"])
        self.assertEqual(self.kpi_row("sickness")["count"], 3)
        # A metric added is taken; one removed is refused, its figures kept on disk.
        self.publish([observed("falls", 2)])
        self.assertEqual(self.kpi_row("falls")["value"], 2)
        self.assertEqual(h.statuses(self.client.publish([observed("incidents", 1)])),
                         ["rejected:unknown_metric"])
        self.stop()
        with self.daemon.db() as conn:
            rows = conn.execute("SELECT metric, count FROM kpi_cells ORDER BY metric").fetchall()
        self.assertEqual(rows, [("falls", 1), ("incidents", 2), ("sickness", 3)])


# --------------------------------------------------------------------------

GOOD = """
log = { level = "info"; };
kinds = (
    { name = "supervision"; title = "Supervision";
      recurring = { every = "4 weeks"; first = "2 weeks"; }; }
);
metrics = ( { name = "sickness"; title = "Sickness absence"; periods = ["month"]; } );
"""

# Lines 1-3 are the required keys (config_text); these start at line 4.
INVALID = """log = { level = "loud"; };
kinds = (
    { name = "supervision"; title = "Supervision";
      recurring = { every = "4 weeks"; first = "2 weeks"; }; },
    { name = "probation"; title = "Probation";
      milestones = { after = "staff.hired"; steps = ( { name = "m1"; at = "0 months"; } ); }; }
);
metrics = ( { name = "falls"; title = "Falls"; periods = ["fortnight"]; } );
limits = { max_batch_events = 0; };
"""


class ReloadInvalid(ReloadCase):

    def test_invalid_file_is_refused_whole(self):
        self.start(GOOD)
        self.publish([team_changed("T1", "Riverside", time=TEST_CLOCK)])
        log = self.reload(INVALID)
        self.assertRefused(log)
        conf = self.daemon.conf
        self.assertIn('%s:4: log.level: "loud" is not a level' % conf, log)
        self.assertIn("%s:12: limits.max_batch_events: 0 is out of range" % conf, log)
        self.assertIn("%s:9: kinds.probation.milestones.steps.m1.title: required key is missing"
                      % conf, log)
        self.assertIn('%s:11: metrics.falls.periods[1]: "fortnight" is not a period' % conf, log)
        self.assertIn("%s has 4 mistakes" % conf, log)
        # systemctl status tells the reload was refused.
        ready = self.notify.wait_for("READY", "1", self.notify.wait_for("RELOADING", "1"))
        self.assertIn("the last reload refused", self.notify.field(ready, "STATUS"))
        # The old configuration goes on: its metric is taken, the new one's is not.
        reply = self.client.publish([observed("sickness", 2), observed("falls", 1)])
        self.assertEqual(h.statuses(reply), ["stored", "rejected:unknown_metric"])
        self.assertIs(self.daemon.status()["ok"], True)

        # A valid file is taken afterwards, and the status line says so.
        log = self.reload(GOOD.replace('"sickness"', '"falls"'))
        self.assertReloaded(log)
        ready = self.notify.wait_for("READY", "1", self.notify.wait_for("RELOADING", "1", ready))
        self.assertNotIn("refused", self.notify.field(ready, "STATUS"))
        self.assertEqual(h.statuses(self.client.publish([observed("falls", 1)])), ["stored"])

        # A file that cannot be read at all (a directory in its place) is refused too.
        os.rename(conf, conf + ".saved")
        os.mkdir(conf)
        try:
            log = self.reload()
        finally:
            os.rmdir(conf)
            os.rename(conf + ".saved", conf)
        self.assertRefused(log)
        self.assertIn("%s: cannot read the file: Is a directory" % conf, log)
        self.assertEqual(h.statuses(self.client.publish([observed("falls", 1)])), ["stored"])
        self.stop()

    def test_log_level_applies_at_once(self):
        self.start(GOOD)
        log = self.reload(GOOD.replace('"info"', '"warning"'))
        self.assertIn("received SIGHUP", log)  # logged before the switch, at notice level
        self.assertNotIn("configuration reloaded", log)  # a notice, after it
        log = self.reload(INVALID)
        self.assertNotIn("received SIGHUP", log)
        self.assertIn("configuration not reloaded", log)  # an error
        log = self.reload(GOOD)
        self.assertNotIn("received SIGHUP", log)
        self.assertReloaded(log)
        self.stop()

    def test_restart_only_keys_refuse_the_reload(self):
        self.start(GOOD)
        other = "ipc://%s/other.sock" % self.daemon.workdir
        text = h.config_text(self.daemon.state_dir, other, self.daemon.notify,
                             extra='timezone = "Europe/London";\n' +
                             GOOD.replace('"sickness"', '"falls"'))
        with open(self.daemon.conf, "w") as f:
            f.write(text)
        log = self.reload()
        self.assertRefused(log)
        conf = self.daemon.conf
        self.assertIn('%s: api.endpoint: the file says "%s" but carehubd runs with "%s", and '
                      'only a restart can apply a change to this key'
                      % (conf, other, self.daemon.api), log)
        self.assertIn('%s: timezone: the file says "Europe/London" but carehubd runs with "UTC"'
                      % conf, log)
        self.assertIn("2 keys that only a restart can change differ", log)
        # Nothing of the file was applied: the old metric, the old endpoint.
        self.publish([team_changed("T1", "Riverside", time=TEST_CLOCK)])
        reply = self.client.publish([observed("sickness", 2), observed("falls", 1)])
        self.assertEqual(h.statuses(reply), ["stored", "rejected:unknown_metric"])
        self.assertFalse(os.path.exists(other[len("ipc://"):]))
        self.stop()


# --------------------------------------------------------------------------

class ReloadUnderLoad(ReloadCase):

    N = int(os.environ.get("CAREHUB_E2E_RELOAD_EVENTS", "40000"))

    def test_reloads_while_publishing_lose_nothing(self):
        self.start(METRICS % ("3", "5", INCIDENTS), test_clock=None)
        workdir = self.daemon.workdir
        path = os.path.join(workdir, "load.ndjson")
        # Team changes, and every fourth event a sickness figure for one of the teams
        # (a metric both files keep): the reloads write and let go of figures in memory.
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.publish([h.filler_event(i) for i in range(8)])

        def load(i):
            if i % 4 == 3:
                return event("kpi.observed", {"metric": "sickness", "team_id": "LOAD%d" % (i % 8),
                                              "value": 2}, source="reload-load", time=now)
            return h.filler_event(i, source="reload-load")
        h.write_ndjson(path, (load(i) for i in range(self.N)))
        proc, out, err = h.start_tool(h.CAREHUB_PUB, ["--batch", "200", "--window", "2000", path],
                                      self.daemon.api, workdir=workdir)
        reloads = 0
        try:
            configs = [METRICS % ("2", "4", FALLS), METRICS % ("3", "5", INCIDENTS)]
            while proc.poll() is None:
                # A reload each time another twentieth of the stream is stored.
                stored = self.client.status()["events"]["stored"]["since_start"]
                end = time.monotonic() + WAIT
                while (proc.poll() is None and
                       self.client.status()["events"]["stored"]["since_start"]
                       < stored + self.N // 20):
                    self.assertLess(time.monotonic(), end, "no progress")
                self.assertReloaded(self.reload(configs[reloads % 2]))
                reloads += 1
            rc = proc.wait(WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(out) as f:
            stdout = f.read()
        with open(err) as f:
            stderr = f.read()
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIsNone(h.sanitizer_report(stderr), stderr)
        self.assertEqual(h.pub_summary(stdout), (self.N, 0, 0), stdout)
        print("%d events published across %d reloads" % (self.N, reloads), file=sys.stderr)
        self.assertGreaterEqual(reloads, 2)
        self.stop()
        with self.daemon.db() as conn:
            keys = h.stored_event_keys(conn)
            mine = {k: n for k, n in keys.items() if k[0] == "reload-load"}
            figures = conn.execute("SELECT sum(count), sum(sum) FROM kpi_cells "
                                   "WHERE metric = 'sickness'").fetchone()
        self.assertEqual(len(mine), self.N, "every acknowledged event stored")
        self.assertEqual(set(mine.values()), {1}, "none stored twice")
        # Every observation counted once, across every reload.
        self.assertEqual(figures, (self.N // 4, 2.0 * (self.N // 4)))


if __name__ == "__main__":
    unittest.main()
