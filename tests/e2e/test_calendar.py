#!/usr/bin/python3
"""carehubctl calendar against the real daemon on a test clock: the
iCalendar file of a manager's reviews, its stable UIDs, and its errors.

The organisation: Zoë (M1) runs the day team (T1: Cara S1, Siobhán S2,
Dev S3); Mo (M2) runs the night team (T2: Eve S4), whose reviews must not
appear in Zoë's calendar.  Supervision (care workers) is due 4 weeks after
the start date.  The clock starts on Monday 2026-01-05 and moves a day at a
time to Wednesday 2026-02-04:

  S1 (start 01-05, due 02-02): not booked, 2 days overdue  -> a to-do
  S2 (start 01-12, due 02-09): booked for 02-06            -> an all-day event
  S3 (start 01-19, due 02-16): not booked, due in 12 days  -> a to-do

Then S3 is booked for 02-12, and the calendar made again holds the same
UIDs, S3's now an event.

Events go in through carehub-pub, as an HR system's would.
"""

import datetime
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, run_ctl, run_pub, staff_hired, team_changed  # noqa: E402

START = "2026-01-05T07:00:00Z"
DAYS = 30  # to 2026-02-04
TODAY = "2026-02-04"

CONFIG = """
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "4 weeks"; };
        reminders = [14, 3, 0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    }
);
"""

MANAGER_NAME = "Zoë Łukasz-Żółć"
NAMES = {"M1": MANAGER_NAME, "M2": "Mo Khan", "S1": "Cara Jones",
         "S2": "Siobhán Ní Bhriain-Ó Súilleabháin", "S3": "Dev Patel", "S4": "Eve Adams"}


def organisation():
    return [
        team_changed("T1", "Day team", manager_id="M1"),
        team_changed("T2", "Night team", manager_id="M2"),
        staff_hired("M1", NAMES["M1"], role="team_leader", team_id="T1", start_date="2021-03-01"),
        staff_hired("M2", NAMES["M2"], role="team_leader", team_id="T2", start_date="2022-05-02"),
        staff_hired("S1", NAMES["S1"], role="care_worker", team_id="T1", start_date="2026-01-05"),
        staff_hired("S2", NAMES["S2"], role="care_worker", team_id="T1", start_date="2026-01-12"),
        staff_hired("S3", NAMES["S3"], role="care_worker", team_id="T1", start_date="2026-01-19"),
        staff_hired("S4", NAMES["S4"], role="care_worker", team_id="T2", start_date="2026-01-05"),
    ]


def booked(staff_id, date):
    return event("review.booked", {"staff_id": staff_id, "kind": "supervision", "date": date})


# --------------------------------------------------------------------------
# Reading iCalendar (RFC 5545), independently of libical


def check_lines(test, raw):
    """The raw bytes: every line ends CRLF, none longer than 75 octets, and
    folding never cuts a UTF-8 character."""
    test.assertTrue(raw.endswith(b"\r\n"), raw[-40:])
    for line in raw[:-2].split(b"\r\n"):
        test.assertNotIn(b"\n", line)
        test.assertNotIn(b"\r", line)
        test.assertLessEqual(len(line), 75, line)
        line.decode("utf-8")  # raises when a fold fell inside a character


def unfold(raw):
    """The content lines: folding undone (a CRLF followed by one space or tab)."""
    text = raw.decode("utf-8")
    return re.sub(r"\r\n[ \t]", "", text)[:-2].split("\r\n")


def unescape(value):
    """A TEXT value as written: \\n, \\, \\; and \\\\ escapes undone."""
    return re.sub(r"\\([nN,;\\])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse(raw):
    """(calendar properties, [components]): each a dict of name -> [(params, value)],
    plus "_type" for components."""
    lines = unfold(raw)
    stack, components, calendar = [], [], None
    for line in lines:
        name_params, _, value = line.partition(":")
        name, *params = name_params.split(";")
        if name == "BEGIN":
            stack.append({"_type": value})
            continue
        if name == "END":
            done = stack.pop()
            assert done["_type"] == value, (done["_type"], value)
            if value == "VCALENDAR":
                calendar = done
            else:
                components.append(done)
            continue
        stack[-1].setdefault(name, []).append((tuple(params), value))
    assert not stack, "components left open: %r" % stack
    assert calendar is not None, "no VCALENDAR"
    return calendar, components


def one(component, name):
    """(params, value) of the one property name."""
    values = component.get(name, [])
    assert len(values) == 1, "%s: %r in %r" % (name, values, component)
    return values[0]


def value(component, name):
    return one(component, name)[1]


class CalendarTest(h.DaemonTestCase):
    daemon_kwargs = {"extra_config": CONFIG, "test_clock": START}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.daemon.client()
        cls.dir = tempfile.mkdtemp(prefix="carehub-e2e-calendar-")
        cls.publish(organisation() + [booked("S2", "2026-02-06")])
        for _ in range(DAYS):
            reply = cls.api.request({"op": "clock", "advance_seconds": 86400})
            if reply.get("ok") is not True:
                raise h.HarnessError("advancing the clock failed: %r" % (reply,))
        if reply["today"] != TODAY:
            raise h.HarnessError("the clock is at %r, not %s" % (reply, TODAY))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)
        super().tearDownClass()

    @classmethod
    def publish(cls, events):
        path = os.path.join(cls.dir, "events-%s.jsonl" % h.new_id())
        h.write_ndjson(path, events)
        cp = run_pub([path], cls.daemon.api)
        if cp.returncode != 0 or h.pub_summary(cp.stdout) != (len(events), 0, 0):
            raise h.HarnessError("carehub-pub failed (%s):\n%s%s"
                                 % (cp.returncode, cp.stdout, cp.stderr))

    def ctl(self, *args, rc=0, endpoint=None):
        cp = run_ctl(list(args), endpoint or self.daemon.api)
        self.assertEqual(cp.returncode, rc, "carehubctl %s:\n%s%s"
                         % (" ".join(args), cp.stdout, cp.stderr))
        return cp

    def output_path(self):
        return os.path.join(tempfile.mkdtemp(dir=self.dir), "reviews.ics")

    def calendar(self, *args):
        """Runs carehubctl calendar --output FILE with args; (raw bytes, stderr)."""
        path = self.output_path()
        cp = self.ctl("calendar", "--output", path, *args)
        self.assertEqual(cp.stdout, "")
        with open(path, "rb") as f:
            raw = f.read()
        self.assertEqual(os.listdir(os.path.dirname(path)), ["reviews.ics"])  # no temp file left
        return raw, cp.stderr, path

    def obligation_ids(self):
        """staff_id -> obligation_id of the open supervisions, from the API."""
        ids = {}
        for op, extra in (("due", {"days": 366}), ("overdue", {})):
            reply = self.api.request(dict({"op": op, "manager_id": "M1", "limit": 10000}, **extra))
            self.assertIs(reply["ok"], True, reply)
            for o in reply["obligations"]:
                ids[o["staff_id"]] = o["obligation_id"]
        return ids

    def stamp(self):
        now = self.api.request({"op": "clock"})["now"]
        return datetime.datetime.strptime(now[:19], "%Y-%m-%dT%H:%M:%S").strftime(
            "%Y%m%dT%H%M%SZ")

    def check_calendar(self, raw, name=MANAGER_NAME):
        """The calendar's own lines and properties; returns the components by UID."""
        check_lines(self, raw)
        lines = unfold(raw)
        self.assertEqual(lines[0], "BEGIN:VCALENDAR")
        self.assertEqual(lines[-1], "END:VCALENDAR")
        calendar, components = parse(raw)
        self.assertEqual(value(calendar, "VERSION"), "2.0")
        self.assertTrue(value(calendar, "PRODID").startswith("-//carehub//"),
                        value(calendar, "PRODID"))
        self.assertEqual(unescape(value(calendar, "X-WR-CALNAME")), "Reviews to arrange: " + name)
        by_uid = {}
        for c in components:
            self.assertIn(c["_type"], ("VEVENT", "VTODO"))
            uid = value(c, "UID")
            self.assertNotIn(uid, by_uid, "UID %s twice" % uid)
            by_uid[uid] = c
        return by_uid

    def check_entry(self, c, kind, summary, date, stamp):
        self.assertEqual(c["_type"], kind)
        self.assertEqual(unescape(value(c, "SUMMARY")), summary)
        self.assertEqual(value(c, "DTSTAMP"), stamp)
        self.assertIn(summary.split(": ", 1)[1], unescape(value(c, "DESCRIPTION")))
        compact = date.replace("-", "")
        if kind == "VEVENT":
            self.assertEqual(one(c, "DTSTART"), (("VALUE=DATE",), compact))
            following = datetime.date.fromisoformat(date) + datetime.timedelta(days=1)
            self.assertEqual(one(c, "DTEND"), (("VALUE=DATE",), following.strftime("%Y%m%d")))
            self.assertNotIn("DUE", c)
        else:
            self.assertEqual(one(c, "DUE"), (("VALUE=DATE",), compact))
            self.assertEqual(value(c, "STATUS"), "NEEDS-ACTION")
            self.assertNotIn("DTSTART", c)

    # -- the tests run in name order; test_z_booking_later changes the daemon, so it is last

    def test_calendar_file(self):
        ids = self.obligation_ids()
        self.assertEqual(sorted(ids), ["S1", "S2", "S3"])
        raw, err, path = self.calendar("--manager", "M1")
        self.assertEqual(err, "wrote 3 entries (1 event, 2 to-dos) to %s\n" % path)
        by_uid = self.check_calendar(raw)
        uid = {s: "carehub-obligation-%d@carehub.invalid" % ids[s] for s in ids}
        self.assertEqual(sorted(by_uid), sorted(uid.values()))
        stamp = self.stamp()
        self.check_entry(by_uid[uid["S1"]], "VTODO", "Supervision: Cara Jones", "2026-02-02", stamp)
        self.check_entry(by_uid[uid["S2"]], "VEVENT", "Supervision: " + NAMES["S2"],
                         "2026-02-06", stamp)
        self.check_entry(by_uid[uid["S3"]], "VTODO", "Supervision: Dev Patel", "2026-02-16", stamp)
        self.assertIn("overdue", unescape(value(by_uid[uid["S1"]], "DESCRIPTION")))
        self.assertNotIn(NAMES["S4"].encode(), raw)  # Mo's report
        # The file is readable as any new file is: 0666 less the umask.
        mask = os.umask(0)
        os.umask(mask)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o666 & ~mask)

        # To standard output: the same bytes, and no summary.
        cp = run_ctl_bytes(["calendar", "--manager", "M1"], self.daemon.api)
        self.assertEqual((cp.stdout, cp.stderr), (raw, b""))

        # An existing file is replaced whole.
        with open(path, "wb") as f:
            f.write(b"old contents " * 1000)
        self.ctl("calendar", "--manager", "M1", "--output", path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), raw)

    def test_days_and_domain(self):
        ids = self.obligation_ids()
        raw, err, path = self.calendar("--manager", "M1", "--days", "3",
                                       "--domain", "rosewood.example")
        self.assertEqual(err, "wrote 2 entries (1 event, 1 to-do) to %s\n" % path)
        by_uid = self.check_calendar(raw)
        self.assertEqual(sorted(by_uid), sorted("carehub-obligation-%d@rosewood.example" % ids[s]
                                                for s in ("S1", "S2")))
        # --days 0: today only; the overdue one is there whatever --days says.
        raw, err, path = self.calendar("--manager", "M1", "--days", "0")
        self.assertEqual(err, "wrote 1 entry (0 events, 1 to-do) to %s\n" % path)

    def test_other_manager(self):
        raw, err, path = self.calendar("--manager", "M2")
        self.assertEqual(err, "wrote 1 entry (0 events, 1 to-do) to %s\n" % path)
        [c] = self.check_calendar(raw, "Mo Khan").values()
        self.check_entry(c, "VTODO", "Supervision: Eve Adams", "2026-02-02", self.stamp())

    def test_unknown_manager_gets_an_empty_calendar(self):
        raw, err, path = self.calendar("--manager", "NOBODY")
        self.assertEqual(err, "wrote 0 entries (0 events, 0 to-dos) to %s\n" % path)
        self.assertEqual(self.check_calendar(raw, "NOBODY"), {})

    def test_usage_errors_exit_2(self):
        cases = [
            (["calendar"], "needs --manager"),
            (["calendar", "--days", "3"], "needs --manager"),
            (["calendar", "--manager", "M1", "--days", "abc"], "--days"),
            (["calendar", "--manager", "M1", "--days", "-1"], "--days"),
            (["calendar", "--manager", "M1", "--days", "367"], "--days"),
            (["--json", "calendar", "--manager", "M1"], "--json"),
            (["calendar", "--manager", "M1", "--json"], "--json"),
            (["calendar", "--manager", "M1", "--limit", "5"], "--limit"),
            (["calendar", "--manager", ""], "--manager"),
            (["calendar", "--manager", "M1", "--output", ""], "--output"),
            (["calendar", "--manager", "M1", "--domain", "two words"], "--domain"),
            (["calendar", "--manager", "M1", "--domain", ""], "--domain"),
            (["calendar", "M1"], "too many"),
            (["due", "M1", "--output", "x.ics"], "--output"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                cp = run_ctl(args, self.daemon.api)
                self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
                self.assertIn(message, cp.stderr)
                self.assertEqual(cp.stdout, "")
        self.assertIn("calendar --manager ID", run_ctl(["--help"]).stdout)

    def test_unwritable_output(self):
        missing = os.path.join(self.dir, "no-such-directory", "reviews.ics")
        cp = self.ctl("calendar", "--manager", "M1", "--output", missing, rc=2)
        self.assertEqual(cp.stderr, "carehubctl: cannot write %s: No such file or directory\n"
                         % missing)
        # A directory in the way: the rename fails, and the new file is removed.
        where = tempfile.mkdtemp(dir=self.dir)
        os.mkdir(os.path.join(where, "reviews.ics"))
        cp = self.ctl("calendar", "--manager", "M1", "--output",
                      os.path.join(where, "reviews.ics"), rc=2)
        self.assertTrue(cp.stderr.startswith("carehubctl: cannot write "), cp.stderr)
        self.assertEqual(os.listdir(where), ["reviews.ics"])

    def test_daemon_error_exits_1(self):
        # An id longer than the daemon takes (128 bytes): it answers bad_request.
        path = os.path.join(self.dir, "refused.ics")
        cp = self.ctl("calendar", "--manager", "M" * 200, "--output", path, rc=1)
        self.assertTrue(cp.stderr.startswith("carehubctl: "), cp.stderr)
        self.assertTrue(cp.stderr.rstrip().endswith("(bad_request)"), cp.stderr)
        self.assertFalse(os.path.exists(path))

    def test_unreachable_daemon(self):
        nobody = "ipc://%s/nobody.sock" % self.dir
        path = os.path.join(self.dir, "never.ics")
        cp = run_ctl(["--timeout", "1", "calendar", "--manager", "M1", "--output", path], nobody,
                     timeout=30)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("no reply", cp.stderr)
        self.assertFalse(os.path.exists(path))

    def test_z_booking_later_keeps_the_uids(self):
        before, _, _ = self.calendar("--manager", "M1")
        before = self.check_calendar(before)
        self.publish([booked("S3", "2026-02-12")])
        after, err, path = self.calendar("--manager", "M1")
        self.assertEqual(err, "wrote 3 entries (2 events, 1 to-do) to %s\n" % path)
        after = self.check_calendar(after)
        self.assertEqual(sorted(after), sorted(before))
        uid = "carehub-obligation-%d@carehub.invalid" % self.obligation_ids()["S3"]
        self.assertEqual(before[uid]["_type"], "VTODO")
        self.check_entry(after[uid], "VEVENT", "Supervision: Dev Patel", "2026-02-12", self.stamp())


def run_ctl_bytes(args, endpoint):
    """carehubctl run to success, its output as bytes (text mode would turn CRLF into LF)."""
    cp = subprocess.run([h.CAREHUBCTL] + args, capture_output=True, timeout=60,
                        env=h.tool_env(endpoint))
    marker = h.sanitizer_report(cp.stderr.decode("utf-8", "replace"))
    if marker or cp.returncode != 0:
        raise h.HarnessError("carehubctl %s: %s %s" % (" ".join(args), cp.returncode, cp.stderr))
    return cp


if __name__ == "__main__":
    unittest.main(verbosity=2)
