#!/usr/bin/python3
"""Three working weeks of Rosewood House's email, through the real carehubd,
carehub-pub, carehub-notify and an SMTP server on loopback, on the test clock.

Rosewood House (R1, the registered manager) has a day team (L1, with care
workers C1 and C2) and a night team (L2, who has no email address, with
C3).  The three care workers start on Monday 2 March 2026; their first
supervision is due two weeks later, on Monday 16 March.  carehub-notify is
configured as an experienced administrator would: a digest at 16:00 on
working days, escalations from level 2 and KPI alerts at once, the HR lead
as fallback address.

Day by day (the clock moves Monday 2 to Friday 20 March; events are
published at 07:00 UTC, reminders go out at 09:00, digests at 16:00; London
is on GMT all along):
  Mon  9  reminders 7 days ahead: C1 and C2 to L1, C3 to L2 (no address)
          -> 16:00 L1's digest lists C1 and C2; the HR lead's report lists C3
  Wed 11  a falls figure makes the day team red -> an alert at once to L1
          (day team) and to R1 (the home's figure, which includes it)
  Thu 12  C2's supervision is recorded as done
  Fri 13  reminders 1 day ahead (Sunday's, brought forward): C1 to L1, C3 to L2
          -> L1's digest lists C1 only.  carehub-notify is KILLED while the
          relay takes the HR lead's report, and started again: the report
          arrives once, L1's digest is not sent again
  Mon 16  carehub-notify is stopped after the day's round
  Tue 17  first escalations (due + 1): C1 to L1, C3 to L2; nobody is
          listening
  Wed 18  carehub-notify starts again in the morning, catches up, and at
          16:00 sends L1's digest (C1 OVERDUE) and the report (C3)
  Thu 19  second escalations (due + 3) to R1, who is manager+1 of both: two
          emails at once
Every message the SMTP server received is compared with EXPECTED, written
out by hand: recipients, subjects, the whole text of two digests, key lines
of the others, no duplicates.
"""

import datetime
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import notifier as nt  # noqa: E402
import smtp_server  # noqa: E402

POLICY = "https://intranet.example.org/policies/supervision"

CONFIG = """
timezone = "Europe/London";
schedule = {
    send_time = "09:00";
    working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"];
};
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        policy = "%s";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "2 weeks"; };
        reminders = [7, 1];
        escalation = (
            { after_days = 1; notify = ["manager"]; },
            { after_days = 3; notify = ["manager+1"]; }
        );
    }
);
kpi = { alert_roles = []; };
metrics = (
    {
        name = "falls";
        title = "Falls";
        unit = "falls";
        aggregate = "sum";
        periods = ["month"];
        direction = "lower";
        target = 0;
        warning = 1;
        critical = 3;
    }
);
""" % POLICY

NOTIFY = {
    "digest.time": "16:00",
    "digest.immediate_escalation_level": 2,
    "digest.immediate_alerts": True,
}


def ev(type_, data, time_="2026-03-02T07:00:00Z"):
    return h.event(type_, data, source="rosewood-hr", time=time_)


def hired(sid, name, role, team, email=None):
    data = {"staff_id": sid, "name": name, "role": role, "team_id": team,
            "start_date": "2026-03-02"}
    if email:
        data["email"] = email
    return ev("staff.hired", data)


EVENTS = {
    "2026-03-02": [
        ev("team.changed", {"team_id": "T-HOME", "name": "Rosewood House", "manager_id": "R1"}),
        ev("team.changed", {"team_id": "T-DAY", "name": "Day team", "parent_id": "T-HOME",
                            "manager_id": "L1"}),
        ev("team.changed", {"team_id": "T-NIGHT", "name": "Night team", "parent_id": "T-HOME",
                            "manager_id": "L2"}),
        hired("R1", "Rita Mensah", "registered_manager", "T-HOME", "rita@rosewood.example"),
        hired("L1", "Leon Hart", "team_leader", "T-DAY", "leon@rosewood.example"),
        hired("L2", "Lena Novak", "team_leader", "T-NIGHT"),
        hired("C1", "Cara Jones", "care_worker", "T-DAY"),
        hired("C2", "Dev Patel", "care_worker", "T-DAY"),
        hired("C3", "Colin Moss", "care_worker", "T-NIGHT"),
    ],
    "2026-03-11": [
        ev("kpi.observed", {"metric": "falls", "team_id": "T-DAY", "value": 3},
           "2026-03-10T22:30:00Z"),
    ],
    "2026-03-12": [
        ev("review.completed", {"staff_id": "C2", "kind": "supervision", "date": "2026-03-12"},
           "2026-03-12T07:00:00Z"),
    ],
}

LEON = "leon@rosewood.example"
RITA = "rita@rosewood.example"
HR = "hr-lead@example.org"

DIGEST_9 = """Hello Leon,

Here is what needs your attention on Monday 9 March 2026.

COMING UP: please book these in

Day team
  Cara Jones
  - Supervision for Cara Jones is due on Monday 16 March 2026 (in 7 days). Please book a time with them if you have not already, and record it when it is done.
    Guidance: %s
  Dev Patel
  - Supervision for Dev Patel is due on Monday 16 March 2026 (in 7 days). Please book a time with them if you have not already, and record it when it is done.
    Guidance: %s

When something is done, please record it in the usual way; the reminders
about it then stop.

Rosewood House
""" % (POLICY, POLICY)

DIGEST_18 = """Hello Leon,

Here is what needs your attention on Wednesday 18 March 2026.

OVERDUE: please arrange these as soon as you can

Day team
  Cara Jones
  - Supervision for Cara Jones is 1 day overdue: it was due on Monday 16 March 2026. Please arrange it as soon as you can, and record it when it is done.
    Guidance: %s

When something is done, please record it in the usual way; the reminders
about it then stop.

Rosewood House
""" % POLICY

# (day, to, subject, strings the plain text must hold (or the whole text))
EXPECTED = [
    ("2026-03-09", LEON, "Staff reviews to look at: Monday 9 March 2026", DIGEST_9),
    ("2026-03-09", HR, "Reminders that could not be delivered: 1 for 1 person",
     ["Lena Novak (L2): has no email address in the staff directory",
      "  - Supervision for Colin Moss is due on Monday 16 March 2026 (in 7 days)."]),
    ("2026-03-11", LEON, "Day team: a team figure is now red",
     ["Hello Leon,", "Falls for Day team is now RED for 2026-03"]),
    ("2026-03-11", RITA, "Rosewood House: a team figure is now red",
     ["Hello Rita,", "Falls for Rosewood House is now RED for 2026-03"]),
    ("2026-03-13", LEON, "Staff reviews to look at: Friday 13 March 2026",
     ["COMING UP: please book these in",
      "  - Supervision for Cara Jones is due on Monday 16 March 2026 (in 3 days)."]),
    ("2026-03-13", HR, "Reminders that could not be delivered: 1 for 1 person",
     ["Lena Novak (L2): has no email address in the staff directory",
      "  - Supervision for Colin Moss is due on Monday 16 March 2026 (in 3 days)."]),
    ("2026-03-18", LEON, "Staff reviews to look at: Wednesday 18 March 2026", DIGEST_18),
    ("2026-03-18", HR, "Reminders that could not be delivered: 1 for 1 person",
     ["Lena Novak (L2): has no email address in the staff directory",
      "  - Supervision for Colin Moss is 1 day overdue: it was due on Monday 16 March 2026."]),
    ("2026-03-19", RITA, "Overdue: Supervision for Cara Jones",
     ["Hello Rita,",
      "Supervision for Cara Jones is 3 days overdue: it was due on Monday 16 March 2026. It "
      "has been passed to you because it is still not done.",
      "Guidance: " + POLICY]),
    ("2026-03-19", RITA, "Overdue: Supervision for Colin Moss",
     ["Supervision for Colin Moss is 3 days overdue"]),
]


class FortnightTest(unittest.TestCase):
    def setUp(self):
        self.smtp = smtp_server.SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.daemon = h.Daemon(extra_config=CONFIG, test_clock="2026-03-02T06:00:00Z").start()
        self.addCleanup(self.daemon.close)
        self.api = self.daemon.client()
        self.notifier = nt.Notifier(self.daemon, self.smtp, NOTIFY).start()
        self.addCleanup(self.notifier.close)
        self.killed = []

    def set_clock(self, when):
        reply = self.api.request({"op": "clock", "set": when})
        self.assertTrue(reply["ok"], reply)
        return reply

    def last_seq(self):
        return self.api.request({"op": "notifications", "after": 0, "limit": 1})["last_seq"]

    def publish(self, events):
        text = "\n".join(json.dumps(e) for e in events) + "\n"
        r = h.run_tool(h.CAREHUB_PUB, [], endpoint=self.daemon.api, input=text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def kill_during_report(self, envelope):
        """on_data: kills carehub-notify while the relay has the HR lead's
        report of 13 March and has not accepted it yet."""
        if self.killed or HR not in envelope.rcpt_tos:
            return None
        self.killed.append(envelope.rcpt_tos)  # first: a waiter may see the exit at once
        self.notifier.kill()
        return "451 4.3.0 test relay: the sender was killed before this was accepted"

    def check_day(self, day, received):
        expected = [e for e in EXPECTED if e[0] == day]
        got = received
        self.assertEqual([(m.rcpt_tos, m.subject) for m in got],
                         [([e[1]], e[2]) for e in expected], "messages of %s" % day)
        for message, (_, _, _, text) in zip(got, expected):
            if isinstance(text, str):
                self.assertEqual(message.text.replace("\r\n", "\n"), text)
            else:
                for line in text:
                    self.assertIn(line, message.text.replace("\r\n", "\n"))
            self.assertIn(message.rcpt_tos[0], message.to)
            self.assertIn("<html>", message.html)
            self.assertEqual(message.mail_from, "care-reviews@example.org")

    def test_three_weeks(self):
        day = datetime.date(2026, 3, 2)
        seen = 0
        while day <= datetime.date(2026, 3, 20):
            iso = day.isoformat()
            working = day.weekday() < 5
            self.set_clock(iso + "T07:00:00Z")
            if iso in EVENTS:
                self.publish(EVENTS[iso])
            if iso == "2026-03-13":
                self.smtp.on_data = self.kill_during_report
            if iso == "2026-03-18":
                self.notifier.start()  # down since Monday evening: catches up
            self.set_clock(iso + "T09:05:00Z")
            if self.notifier.running():
                self.notifier.wait_cursor(self.last_seq())
            self.set_clock(iso + "T16:05:00Z")
            if working and self.notifier.running():
                if iso == "2026-03-13":
                    # Killed while the relay held the report; L1's digest went first.
                    self.notifier.wait_until("be killed", lambda: bool(self.killed))
                    # The hook notes the kill just before it; the exit itself follows.
                    self.assertEqual(self.notifier.proc.wait(timeout=h.STOP_TIMEOUT), -9)
                    self.assertEqual(len(self.smtp.messages), seen + 1)
                    self.smtp.on_data = None
                    self.notifier.start()
                self.notifier.wait_round(iso)
            if iso == "2026-03-16":
                self.assertEqual(self.notifier.stop(), 0)
            messages = self.smtp.messages
            self.check_day(iso, messages[seen:])
            seen = len(messages)
            day += datetime.timedelta(days=1)

        self.assertEqual(len(self.smtp.messages), len(EXPECTED))
        ids = [m.message_id for m in self.smtp.messages]
        self.assertEqual(len(ids), len(set(ids)), "a Message-ID repeats: %r" % ids)
        # The state file's log has every accepted message, in order.
        logged = self.notifier.deliveries()
        self.assertEqual([(row[1], row[2]) for row in logged],
                         [(e[1], e[2]) for e in EXPECTED])
        self.assertEqual(self.notifier.cursor(), self.last_seq())
        # What was killed was sent again once: the relay refused it then.
        self.assertEqual(len(self.killed), 1)
        self.assertEqual(len(self.smtp.rejected), 1)



class CalendarAttachmentTest(unittest.TestCase):
    """With digest.attach_calendar, the digest carries the manager's calendar:
    C1's supervision, booked for Friday 13 March, as an event; C2's, not
    booked, as a to-do due on Monday 16 March."""

    def test_digest_carries_the_calendar(self):
        smtp = smtp_server.SmtpServer().start()
        self.addCleanup(smtp.stop)
        daemon = h.Daemon(extra_config=CONFIG, test_clock="2026-03-02T06:00:00Z").start()
        self.addCleanup(daemon.close)
        api = daemon.client()
        settings = dict(NOTIFY)
        settings["digest.attach_calendar"] = True
        notifier = nt.Notifier(daemon, smtp, settings).start()
        self.addCleanup(notifier.close)
        api.request({"op": "clock", "set": "2026-03-02T07:00:00Z"})
        events = EVENTS["2026-03-02"] + [
            ev("review.booked", {"staff_id": "C1", "kind": "supervision", "date": "2026-03-13"})]
        r = h.run_tool(h.CAREHUB_PUB, [], endpoint=daemon.api,
                       input="\n".join(json.dumps(e) for e in events) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Friday 6 March: the reminder for the booked date (7 days ahead).
        api.request({"op": "clock", "set": "2026-03-06T09:05:00Z"})
        notifier.wait_cursor(api.request({"op": "notifications", "after": 0,
                                          "limit": 1})["last_seq"])
        api.request({"op": "clock", "set": "2026-03-06T16:05:00Z"})
        notifier.wait_round("2026-03-06")
        leon = [m for m in smtp.messages if m.rcpt_tos == [LEON]]
        self.assertEqual(len(leon), 1)
        digest = leon[0]
        self.assertIn("Supervision for Cara Jones is booked for Friday 13 March 2026",
                      digest.text)
        self.assertIn("The attached calendar file (reviews.ics)", digest.text)
        self.assertEqual([(a.filename, a.content_type) for a in digest.attachments],
                         [("reviews.ics", "text/calendar")])
        ics = digest.attachments[0].data.decode("utf-8").replace("\r\n ", "")
        lines = ics.split("\r\n")
        self.assertEqual(lines[0], "BEGIN:VCALENDAR")
        self.assertEqual(lines.count("BEGIN:VEVENT"), 1)
        self.assertEqual(lines.count("BEGIN:VTODO"), 1)
        self.assertIn("SUMMARY:Supervision: Cara Jones", lines)
        self.assertIn("DTSTART;VALUE=DATE:20260313", lines)
        self.assertIn("SUMMARY:Supervision: Dev Patel", lines)
        self.assertIn("DUE;VALUE=DATE:20260316", lines)
        self.assertIn("URL:" + POLICY, lines)
        uids = [line for line in lines if line.startswith("UID:carehub-obligation-")]
        self.assertEqual(len(uids), 2)
        self.assertTrue(all(u.endswith("@example.org") for u in uids), uids)


if __name__ == "__main__":
    unittest.main(verbosity=2)
