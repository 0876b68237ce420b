#!/usr/bin/python3
"""carehubctl's review commands against the real daemon on a test clock:
due, overdue, person, notifications, ack, watch and clock, in tables and
in --json, with their exit statuses.

The organisation: Grace (B1) runs the home (T0); under it Ben (M1) runs the
day team (T1: Cara S1, Dev S2) and Mo (M10) the night team (T2: Eve S3).
M10 is there on purpose: the notification topic "reminder.M1" is a prefix
of "reminder.M10", and following M1 must not show M10's notifications.

Supervision (care workers): first 4 weeks after the start date, then every
6 weeks; reminders 14, 3 and 0 days before; escalation to the manager 1 day
late and to the manager's manager 7 days late, again every 7 days.  The
clock starts on Monday 2026-01-05 at 07:00 UTC, moves to 09:00 (the send
time) and then a day at a time
(never more: actions older than schedule.missed_after_days are recorded as
missed, not sent).  After 30 days, on 2026-02-04:

  S1 (start 01-05, due 02-02): reminders 01-19, 01-30, 02-02 and the first
     escalation 02-03, all to M1                        -> 2 days overdue
  S3 (start 01-05, due 02-02): the same four, to M10    -> 2 days overdue
  S2 (start 01-12, due 02-09): the 14-day reminder 01-26, to M1
                                                        -> due in 5 days

that is 9 notifications, 5 of them to M1.
"""

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, run_ctl, staff_hired, team_changed  # noqa: E402

START = "2026-01-05T07:00:00Z"
DAYS = 30  # to 2026-02-04
TODAY = "2026-02-04"
ALL_NOTIFICATIONS = 9
M1_NOTIFICATIONS = 5
WAIT = 60  # seconds: the deadline of every wait

CONFIG = """
schedule = { send_time = "09:00"; missed_after_days = 14; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "4 weeks"; };
        reminders = [14, 3, 0];
        escalation = (
            { after_days = 1; notify = ["manager"]; },
            { after_days = 7; notify = ["manager+1"]; }
        );
        repeat_days = 7;
    }
);
"""

NAMES = {"B1": "Grace Okafor", "M1": "Ben Smith", "M10": "Mo Khan",
         "S1": "Cara Jones", "S2": "Dev Patel", "S3": "Eve Adams"}


def organisation():
    return [
        team_changed("T0", "Rosewood", manager_id="B1"),
        team_changed("T1", "Day team", parent_id="T0", manager_id="M1"),
        team_changed("T2", "Night team", parent_id="T0", manager_id="M10"),
        staff_hired("B1", NAMES["B1"], role="registered_manager", team_id="T0",
                    start_date="2020-01-06"),
        staff_hired("M1", NAMES["M1"], role="team_leader", team_id="T1", start_date="2021-03-01"),
        staff_hired("M10", NAMES["M10"], role="team_leader", team_id="T2",
                    start_date="2022-05-02"),
        staff_hired("S1", NAMES["S1"], role="care_worker", team_id="T1", start_date="2026-01-05"),
        staff_hired("S2", NAMES["S2"], role="care_worker", team_id="T1", start_date="2026-01-12"),
        staff_hired("S3", NAMES["S3"], role="care_worker", team_id="T2", start_date="2026-01-05"),
    ]


class Watcher:
    """A running `carehubctl watch`: its stdout is read as it comes, so a
    test waits for a line itself (with a deadline), not by polling a file."""

    def __init__(self, argv, endpoint, err_path):
        self.err_path = err_path
        with open(err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, env=h.tool_env(endpoint))
        self.text = ""
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in iter(lambda: self.proc.stdout.readline(), b""):
            with self.changed:
                self.text += raw.decode("utf-8", "replace")
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate, what, timeout=WAIT):
        """Waits until predicate(output so far) holds; fails saying what was awaited."""
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.text), timeout):
                raise h.HarnessError("waited %.0fs for %s; output so far:\n%s"
                                     % (timeout, what, self.text))

    def output(self):
        """All of stdout, once the process has exited."""
        self.reader.join(WAIT)
        with self.changed:
            return self.text


def days_between(a, b):
    """Days from date a to date b, both YYYY-MM-DD."""
    return (datetime.date.fromisoformat(b) - datetime.date.fromisoformat(a)).days


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class ReviewDaemon(h.DaemonTestCase):
    """A daemon on a test clock with the organisation published."""

    daemon_kwargs = {"extra_config": CONFIG, "test_clock": START}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.daemon.client()
        reply = cls.api.publish(organisation())
        if h.statuses(reply) != ["stored"] * len(organisation()):
            raise h.HarnessError("publishing the organisation failed: %r" % (reply,))
        # To the send time, 09:00: from then on each day's notifications go
        # out on the day they are planned for.
        reply = cls.api.request({"op": "clock", "advance_seconds": 2 * 3600})
        if reply.get("now") != "2026-01-05T09:00:00.000Z":
            raise h.HarnessError("cannot move the clock to 09:00: %r" % (reply,))

    @classmethod
    def advance_days(cls, days):
        """Moves the clock on a day at a time; each reply comes once all
        that fell due is sent."""
        for _ in range(days):
            reply = cls.api.request({"op": "clock", "advance_seconds": 86400})
            if reply.get("ok") is not True:
                raise h.HarnessError("advancing the clock failed: %r" % (reply,))
        return reply

    def ctl(self, *args, rc=0, **kw):
        kw.setdefault("extra_env", {"CAREHUB_NOTIFY_ENDPOINT": self.daemon.notify})
        cp = run_ctl(list(args), self.daemon.api, **kw)
        self.assertEqual(cp.returncode, rc, "carehubctl %s:\n%s%s"
                         % (" ".join(args), cp.stdout, cp.stderr))
        return cp

    def ctl_json(self, *args):
        cp = self.ctl("--json", *args)
        try:
            return json.loads(cp.stdout)
        except ValueError as e:
            self.fail("carehubctl --json %s: not JSON (%s):\n%s" % (" ".join(args), e, cp.stdout))

    def api_notifications(self, **fields):
        reply = self.api.request(dict({"op": "notifications", "limit": 10000}, **fields))
        self.assertIs(reply["ok"], True, reply)
        return reply["notifications"]


def table_rows(text, first_cell):
    """The lines of a table whose first cell is first_cell, split on runs of
    two or more spaces."""
    rows = []
    for line in text.splitlines():
        cells = [c for c in line.strip().split("  ") if c.strip()]
        cells = [c.strip() for c in cells]
        if cells and cells[0] == first_cell:
            rows.append(cells)
    return rows


class Queries(ReviewDaemon):
    """due, overdue, notifications and ack on 2026-02-04."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reply = cls.advance_days(DAYS)
        if reply["today"] != TODAY:
            raise h.HarnessError("the clock is at %r, not %s" % (reply, TODAY))

    # -- due

    def test_due_json(self):
        r = self.ctl_json("due", "M1")
        self.assertEqual((r["today"], r["manager_id"], r["days"]), (TODAY, "M1", 14))
        self.assertEqual(r["count"], 1)
        self.assertIs(r["truncated"], False)
        [o] = r["obligations"]
        self.assertEqual((o["staff_id"], o["name"], o["kind"], o["due"], o["days_until_due"],
                          o["state"]),
                         ("S2", NAMES["S2"], "supervision", "2026-02-09", 5, "open"))
        self.assertEqual(self.ctl_json("due", "M1", "--days", "4")["obligations"], [])
        self.assertEqual(self.ctl_json("due", "M1", "--days", "5")["count"], 1)
        # S3 is overdue, not due.
        self.assertEqual(self.ctl_json("due", "M10", "--days", "366")["count"], 0)

    def test_due_table(self):
        text = self.ctl("due", "M1").stdout
        lines = text.splitlines()
        self.assertEqual(lines[0],
                         "Due for M1 (Ben Smith) in the next 14 days, as of %s: 1" % TODAY)
        self.assertEqual(table_rows(text, "Person"),
                         [["Person", "What", "Due", "Booked", "In (days)"]])
        self.assertEqual(table_rows(text, "Dev Patel (S2)"),
                         [["Dev Patel (S2)", "Supervision", "2026-02-09", "-", "5"]])
        text = self.ctl("due", "M1", "--days", "4").stdout
        self.assertEqual(text.strip(),
                         "Due for M1 (Ben Smith) in the next 4 days, as of %s: 0" % TODAY)
        # A manager the daemon has never heard of: no name, nothing due.
        text = self.ctl("due", "NOBODY").stdout
        self.assertEqual(text.strip(), "Due for NOBODY in the next 14 days, as of %s: 0" % TODAY)

    # -- overdue

    def overdue(self, *args):
        r = self.ctl_json("overdue", *args)
        self.assertEqual(r["today"], TODAY)
        self.assertEqual(r["count"], len(r["obligations"]))
        return sorted((o["staff_id"], o["days_overdue"], o["due"]) for o in r["obligations"])

    def test_overdue_json(self):
        s1 = ("S1", 2, "2026-02-02")
        s3 = ("S3", 2, "2026-02-02")
        self.assertEqual(self.overdue("--manager", "M1"), [s1])
        self.assertEqual(self.overdue("--manager", "M10"), [s3])
        self.assertEqual(self.overdue("--manager", "B1"), [])
        self.assertEqual(self.overdue("--team", "T1"), [s1])
        self.assertEqual(self.overdue("--team", "T2"), [s3])
        self.assertEqual(self.overdue("--team", "T0"), [s1, s3])  # with its sub-teams
        self.assertEqual(self.overdue(), [s1, s3])  # the whole organisation
        r = self.ctl_json("overdue", "--limit", "1")
        self.assertEqual((r["count"], len(r["obligations"]), r["truncated"]), (2, 1, True))

    def test_overdue_table(self):
        text = self.ctl("overdue", "--manager", "M1").stdout
        self.assertEqual(text.splitlines()[0],
                         "Overdue for M1 (Ben Smith), as of %s: 1" % TODAY)
        self.assertEqual(table_rows(text, "Person"),
                         [["Person", "What", "Due", "Booked", "Overdue (days)"]])
        self.assertEqual(table_rows(text, "Cara Jones (S1)"),
                         [["Cara Jones (S1)", "Supervision", "2026-02-02", "-", "2"]])
        text = self.ctl("overdue", "--team", "T0").stdout
        self.assertEqual(text.splitlines()[0],
                         "Overdue in team T0 (Rosewood) and its sub-teams, as of %s: 2" % TODAY)
        self.assertEqual(len(table_rows(text, "Cara Jones (S1)")), 1)
        self.assertEqual(len(table_rows(text, "Eve Adams (S3)")), 1)
        text = self.ctl("overdue").stdout
        self.assertEqual(text.splitlines()[0],
                         "Overdue in the whole organisation, as of %s: 2" % TODAY)
        self.assertEqual(table_rows(text, "Cara Jones (S1)"),
                         [["Cara Jones (S1)", "Supervision", "2026-02-02", "-", "2"]])
        self.assertEqual(table_rows(text, "Eve Adams (S3)"),
                         [["Eve Adams (S3)", "Supervision", "2026-02-02", "-", "2"]])
        text = self.ctl("overdue", "--limit", "1").stdout
        self.assertEqual(text.splitlines()[0],
                         "Overdue in the whole organisation, as of %s: more than 1" % TODAY)
        self.assertIn("Only the first 1 are shown; use --limit to see more.", text)

    def test_overdue_unknown_team(self):
        cp = self.ctl("overdue", "--team", "NO-SUCH-TEAM", rc=1)
        self.assertIn("(not_found)", cp.stderr)
        self.assertTrue(cp.stderr.startswith("carehubctl: "), cp.stderr)

    # -- notifications and ack

    def test_notifications(self):
        every = self.api_notifications()
        self.assertEqual([n["seq"] for n in every], list(range(1, ALL_NOTIFICATIONS + 1)))
        r = self.ctl_json("notifications")
        self.assertEqual([n["seq"] for n in r["notifications"]], [n["seq"] for n in every])
        self.assertEqual(r["last_seq"], ALL_NOTIFICATIONS)
        r = self.ctl_json("notifications", "--recipient", "M1")
        self.assertEqual(len(r["notifications"]), M1_NOTIFICATIONS)
        self.assertEqual({n["recipient_id"] for n in r["notifications"]}, {"M1"})
        r = self.ctl_json("notifications", "--after", "3", "--limit", "2")
        self.assertEqual([n["seq"] for n in r["notifications"]], [4, 5])
        kinds = sorted((n["staff_id"], n["type"], n["level"]) for n in every
                       if n["recipient_id"] == "M1")
        self.assertEqual(kinds, [("S1", "escalation", 1)] + [("S1", "reminder", 0)] * 3
                         + [("S2", "reminder", 0)])

        text = self.ctl("notifications", "--recipient", "M10").stdout
        self.assertTrue(text.startswith("Notifications after number 0 sent to M10: 4 "), text)
        self.assertIn("Reminder to M10", text)
        self.assertIn("Escalation (level 1) to M10", text)
        self.assertIn("Eve Adams", text)
        self.assertIn("overdue", text)
        self.assertNotIn("to M1,", text)
        text = self.ctl("notifications", "--limit", "2").stdout
        self.assertIn("There may be more: carehubctl notifications --after 2", text)

    def test_ack(self):
        seq = self.api_notifications(recipient_id="M1")[0]["seq"]
        cp = self.ctl("ack", str(seq), "--by", "M1")
        self.assertEqual(cp.stdout.strip(), "Notification %d is acknowledged." % seq)
        [n] = self.api_notifications(after=seq - 1, limit=1)
        self.assertEqual(n["acked_by"], "M1")
        self.assertIsNotNone(n["acked_at"])
        r = self.ctl_json("ack", str(seq))  # again: still acknowledged, first ack kept
        self.assertEqual((r["seq"], r["acked"]), (seq, True))
        self.assertEqual(self.api_notifications(after=seq - 1, limit=1)[0]["acked_by"], "M1")
        text = self.ctl("notifications", "--after", str(seq - 1), "--limit", "1").stdout
        self.assertIn("Acknowledged %s" % TODAY, text)
        self.assertIn("by M1", text)

        cp = self.ctl("ack", "99999", rc=1)
        self.assertEqual(cp.stderr.strip(),
                         "carehubctl: no notification has that sequence number (not_found)")
        cp = self.ctl("--json", "ack", "99999", rc=1)
        self.assertEqual(json.loads(cp.stdout)["error"]["code"], "not_found")

    def test_clock(self):
        r = self.ctl_json("clock")
        self.assertEqual((r["today"], r["test_clock"]), (TODAY, True))
        text = self.ctl("clock").stdout
        self.assertIn("(a test clock)", text)
        self.assertIn("Today             %s" % TODAY, text)
        # Backwards is refused by the daemon.
        cp = self.ctl("clock", "--set", "2026-01-01T00:00:00Z", rc=1)
        self.assertIn("(bad_request)", cp.stderr)


class Watch(ReviewDaemon):
    """watch: live, from the start, and catching up later."""

    def start_watch(self, *args):
        watcher = Watcher([h.CAREHUBCTL, "-n", self.daemon.notify, "watch"] + list(args),
                          self.daemon.api, os.path.join(self.tmpdir(), "watch.err"))
        proc = watcher.proc
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return watcher

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="carehub-e2e-watch-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def finished(self, watcher, what):
        proc, err = watcher.proc, watcher.err_path
        try:
            rc = proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("%s still running after %ds; stdout:\n%s\nstderr:\n%s"
                      % (what, WAIT, watcher.output(), read(err)))
        self.assertEqual(rc, 0, "%s exited %s:\n%s" % (what, rc, read(err)))
        self.assertIsNone(h.sanitizer_report(read(err)), read(err))
        return watcher.output()

    def seqs_of_json_lines(self, text):
        return [json.loads(line)["seq"] for line in text.splitlines()]

    def test_watch(self):
        # Started before the clock moves: every notification, and M1's only.
        every = self.start_watch("--json", "--after", "0", "--count", str(ALL_NOTIFICATIONS))
        for_m1 = self.start_watch("--json", "--recipient", "M1", "--after", "0",
                                  "--count", str(M1_NOTIFICATIONS))
        until_signal = self.start_watch("--after", "0")

        # Once the first reminder is out, a watcher that has caught up with it
        # is subscribed: the rest reach it through the notification socket.
        while not self.api_notifications():
            self.advance_days(1)
        live = self.start_watch("--json", "--after", "0", "--count", str(ALL_NOTIFICATIONS))
        live.wait_for(lambda text: text.count("\n") >= 1, "the live watcher's first line")

        today = self.api.request({"op": "clock"})["today"]
        self.advance_days(DAYS - days_between(START[:10], today))
        self.assertEqual(self.api.request({"op": "clock"})["today"], TODAY)

        every_seq = [n["seq"] for n in self.api_notifications()]
        m1_seq = [n["seq"] for n in self.api_notifications(recipient_id="M1")]
        self.assertEqual(len(every_seq), ALL_NOTIFICATIONS)
        self.assertEqual(len(m1_seq), M1_NOTIFICATIONS)

        text = self.finished(every, "watch --after 0 --count %d" % ALL_NOTIFICATIONS)
        self.assertEqual(self.seqs_of_json_lines(text), every_seq)
        full = [json.loads(line) for line in text.splitlines()]
        self.assertEqual(full, self.api_notifications())  # full records, as the API gives them
        text = self.finished(live, "the live watcher")
        self.assertEqual(self.seqs_of_json_lines(text), every_seq)
        text = self.finished(for_m1, "watch --recipient M1")
        self.assertEqual(self.seqs_of_json_lines(text), m1_seq)  # not M10's

        # The human watcher runs until SIGTERM, and then exits 0.
        until_signal.wait_for(lambda text: "#%d " % every_seq[-1] in text,
                              "the human watcher's last")
        until_signal.proc.send_signal(signal.SIGTERM)
        text = self.finished(until_signal, "watch until SIGTERM")
        for seq in every_seq:
            self.assertEqual(text.count("#%d " % seq), 1, text)
        self.assertIn("Escalation (level 1) to M10", text)

        # Started afterwards: catches up through the API, M1's only, then stops.
        cp = self.ctl("--json", "-n", self.daemon.notify, "watch", "--recipient", "M1",
                      "--after", "0", "--count", str(M1_NOTIFICATIONS))
        self.assertEqual(self.seqs_of_json_lines(cp.stdout), m1_seq)
        cp = self.ctl("--json", "watch", "--recipient", "M1", "--after", str(m1_seq[1]),
                      "--count", "2")  # the endpoint from CAREHUB_NOTIFY_ENDPOINT
        self.assertEqual(self.seqs_of_json_lines(cp.stdout), m1_seq[2:4])

        # Without --after: only what is sent from now on, none of the nine.
        # When it is ready is not known here, so the clock moves on a day at a
        # time (S1's and S3's escalations repeat weekly) until it has one;
        # whichever it gets is newer than those.
        new_only = self.start_watch("--json", "--count", "1")
        end = time.monotonic() + WAIT
        while new_only.proc.poll() is None and time.monotonic() < end:
            self.advance_days(1)
            try:
                new_only.proc.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
        text = self.finished(new_only, "watch --count 1")
        [seq] = self.seqs_of_json_lines(text)
        self.assertGreater(seq, every_seq[-1])

    def test_watch_needs_the_notify_endpoint(self):
        cp = self.ctl("watch", rc=2, extra_env={})
        self.assertIn("CAREHUB_NOTIFY_ENDPOINT", cp.stderr)


class Person(ReviewDaemon):
    """person, before and after a review.completed event."""

    def test_person_then_completed(self):
        self.advance_days(DAYS)
        r = self.ctl_json("person", "S1")
        self.assertEqual(r["staff"]["name"], NAMES["S1"])
        self.assertEqual(r["absences"], [])
        [o] = r["obligations"]
        self.assertEqual((o["kind"], o["due"], o["state"], o["days_overdue"]),
                         ("supervision", "2026-02-02", "open", 2))
        text = self.ctl("person", "S1").stdout
        self.assertIn("Staff member      S1  Cara Jones", text)
        self.assertIn("Still to do (1)", text)
        [row] = table_rows(text, "Supervision")
        self.assertEqual(row[:4], ["Supervision", "2026-02-02", "-", "2 days overdue"])
        self.assertIn("Done and closed: nothing yet", text)

        reply = self.api.publish([event("review.completed", {
            "staff_id": "S1", "kind": "supervision", "date": TODAY, "by": "M1",
            "outcome": "no concerns"})])
        self.assertEqual(h.statuses(reply), ["stored"])

        r = self.ctl_json("person", "S1")
        states = sorted((o["state"], o["due"], o["closed"]) for o in r["obligations"])
        self.assertEqual(states, [("completed", "2026-02-02", TODAY),
                                  ("open", "2026-03-18", None)])  # 6 weeks after
        text = self.ctl("person", "S1").stdout
        self.assertIn("Still to do (1)", text)
        self.assertIn("Done and closed (1)", text)
        self.assertEqual(table_rows(text, "Supervision"),
                         [["Supervision", "2026-03-18", "-", "in 42 days",
                           "2026-03-04 09:00 UTC"],
                          ["Supervision", "2026-02-02", "done", TODAY, "no concerns"]])
        self.assertEqual(self.ctl_json("overdue", "--manager", "M1")["count"], 0)

        cp = self.ctl("person", "NOBODY", rc=1)
        self.assertEqual(cp.stderr.strip(), "carehubctl: no staff member has that id (not_found)")


class RealClock(h.DaemonTestCase):
    """A daemon on the real clock refuses to have it moved; usage errors."""

    def test_clock_refused(self):
        cp = run_ctl(["clock"], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("(the real clock)", cp.stdout)
        for args in (["--advance", "60"], ["--set", "2030-01-01T00:00:00Z"]):
            cp = run_ctl(["clock"] + args, self.daemon.api)
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertTrue(cp.stderr.startswith("carehubctl: this daemon runs on the real clock"),
                            cp.stderr)
            self.assertTrue(cp.stderr.rstrip().endswith("(no_test_clock)"), cp.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            (["due", "M1", "--frobnicate"], "frobnicate"),
            (["due"], "needs MANAGER_ID"),
            (["due", "M1", "--days", "-1"], "--days"),
            (["due", "M1", "--days", "abc"], "--days"),
            (["due", "M1", "--days", "367"], "--days"),
            (["due", "M1", "M2"], "too many"),
            (["due", "M1", "--limit", "0"], "--limit"),
            (["overdue", "--manager", "M1", "--team", "T1"], "not both"),
            (["overdue", "--days", "3"], "--days"),
            (["person"], "STAFF_ID"),
            (["notifications", "--after", "x"], "--after"),
            (["ack"], "SEQ"),
            (["ack", "seven"], "SEQ"),
            (["ack", "0"], "SEQ"),
            (["watch", "--count", "0"], "--count"),
            (["clock", "--set", "tomorrow"], "RFC 3339"),
            (["clock", "--set", "2030-01-01T00:00:00Z", "--advance", "5"], "not both"),
            (["clock", "--advance", "-5"], "--advance"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                cp = run_ctl(args, self.daemon.api)
                self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
                self.assertIn(message, cp.stderr)
                self.assertEqual(cp.stdout, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
