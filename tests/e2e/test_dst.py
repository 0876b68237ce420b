#!/usr/bin/python3
"""Daylight saving in Europe/London, through the real daemon on the test clock.

In 2026 the clocks go forward at 01:00 UTC on Sunday 29 March (01:00 GMT
becomes 02:00 BST: 01:30 does not happen that night) and back at 01:00 UTC
on Sunday 25 October (02:00 BST becomes 01:00 GMT: 01:30 happens twice).

Six agreed actions fall due around the two changes, every day is a working
day, each action has a reminder on its due day and an escalation one day
later.  The clock moves in steps of 30 minutes through both weeks, and every
reminder and escalation must go out exactly once, at the instant
daemon/schedule.h gives:

  - a time that does not exist is read as the same distance after the
    change: 01:30 on 29 March is 01:30 UTC (02:30 BST);
  - a time that happens twice is the first: 01:30 on 25 October is
    00:30 UTC (01:30 BST), not 01:30 UTC (01:30 GMT);
  - 09:00 is 08:00 UTC in summer time and 09:00 UTC in winter.

The instants below are written out by hand.
"""

import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

UTC = datetime.timezone.utc
STEP = datetime.timedelta(minutes=30)

CONFIG = """
timezone = "Europe/London";
schedule = {
    send_time = "%s";
    working_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    missed_after_days = 14;
};
kinds = (
    {
        name = "action";
        title = "Agreed action";
        assigned = true;
        reminders = [0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    }
);
"""

DUE_DATES = ["2026-03-28", "2026-03-29", "2026-03-30",
             "2026-10-24", "2026-10-25", "2026-10-26"]

# (action, type) -> the UTC instant it goes out, with send_time "01:30".
AT_0130 = {
    ("A-03-28", "reminder"): "2026-03-28T01:30:00Z",    # Sat, GMT
    ("A-03-28", "escalation"): "2026-03-29T01:30:00Z",  # Sun: 01:30 skipped -> 02:30 BST
    ("A-03-29", "reminder"): "2026-03-29T01:30:00Z",    # the same skipped 01:30
    ("A-03-29", "escalation"): "2026-03-30T00:30:00Z",  # Mon, BST
    ("A-03-30", "reminder"): "2026-03-30T00:30:00Z",    # Mon, BST
    ("A-03-30", "escalation"): "2026-03-31T00:30:00Z",  # Tue, BST
    ("A-10-24", "reminder"): "2026-10-24T00:30:00Z",    # Sat, BST
    ("A-10-24", "escalation"): "2026-10-25T00:30:00Z",  # Sun: the first 01:30 (BST)
    ("A-10-25", "reminder"): "2026-10-25T00:30:00Z",    # the same, not 01:30 GMT too
    ("A-10-25", "escalation"): "2026-10-26T01:30:00Z",  # Mon, GMT
    ("A-10-26", "reminder"): "2026-10-26T01:30:00Z",    # Mon, GMT
    ("A-10-26", "escalation"): "2026-10-27T01:30:00Z",  # Tue, GMT
}

# The same with send_time "09:00".
AT_0900 = {
    ("A-03-28", "reminder"): "2026-03-28T09:00:00Z",    # Sat, GMT
    ("A-03-28", "escalation"): "2026-03-29T08:00:00Z",  # Sun, BST from 01:00 UTC
    ("A-03-29", "reminder"): "2026-03-29T08:00:00Z",
    ("A-03-29", "escalation"): "2026-03-30T08:00:00Z",
    ("A-03-30", "reminder"): "2026-03-30T08:00:00Z",
    ("A-03-30", "escalation"): "2026-03-31T08:00:00Z",
    ("A-10-24", "reminder"): "2026-10-24T08:00:00Z",    # Sat, BST
    ("A-10-24", "escalation"): "2026-10-25T09:00:00Z",  # Sun, GMT from 01:00 UTC
    ("A-10-25", "reminder"): "2026-10-25T09:00:00Z",
    ("A-10-25", "escalation"): "2026-10-26T09:00:00Z",
    ("A-10-26", "reminder"): "2026-10-26T09:00:00Z",
    ("A-10-26", "escalation"): "2026-10-27T09:00:00Z",
}

# The clock walks through these windows in 30-minute steps, jumping between them.
WINDOWS = [("2026-03-26T00:00:00Z", "2026-04-01T12:00:00Z"),
           ("2026-10-22T00:00:00Z", "2026-10-28T12:00:00Z")]


def parse_utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class DaylightSaving(unittest.TestCase):

    def run_through(self, send_time, expected_text):
        expected = {k: parse_utc(v) for k, v in expected_text.items()}
        daemon = h.Daemon(extra_config=CONFIG % send_time, test_clock=WINDOWS[0][0])
        self.addCleanup(daemon.close)
        daemon.start()
        client = daemon.client()

        stamp = WINDOWS[0][0]
        events = [
            h.staff_hired("M1", "Maya Osei", role="team_leader", team_id="T1",
                          start_date="2026-03-02", time=stamp),
            h.staff_hired("S1", "Sam Doyle", role="care_worker", team_id="T1",
                          start_date="2026-03-02", time=stamp),
            h.team_changed("T1", "Night team", manager_id="M1", time=stamp),
        ]
        for due in DUE_DATES:
            events.append(h.event("action.assigned",
                                  {"action_id": "A-" + due[5:], "staff_id": "S1",
                                   "title": "Action due " + due, "due_date": due},
                                  time=stamp))
        reply = client.publish(events)
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(h.statuses(reply), ["stored"] * len(events))

        seen = {}        # (action, type) -> notification
        last_seq = 0

        def check_clock(reply, now):
            """The reply names the new time and the next instant still to come."""
            self.assertIs(reply.get("ok"), True, reply)
            self.assertEqual(parse_utc(reply["now"]), now, reply)
            upcoming = sorted(t for k, t in expected.items() if k not in seen and t > now)
            if upcoming:
                self.assertIsNotNone(reply["next_action_at"], reply)
                self.assertEqual(parse_utc(reply["next_action_at"]), upcoming[0], reply)
            else:
                self.assertIsNone(reply["next_action_at"], reply)

        def collect(before, now):
            """Notifications that came with this step: all due in (before, now]."""
            nonlocal last_seq
            reply = client.request({"op": "notifications", "after": last_seq, "limit": 100})
            self.assertIs(reply.get("ok"), True, reply)
            for n in reply["notifications"]:
                self.assertEqual(n["seq"], last_seq + 1, n)
                last_seq = n["seq"]
                key = (n["item"], n["type"])
                self.assertIn(key, expected, "unexpected notification %r" % n)
                self.assertNotIn(key, seen, "sent twice: %r and %r" % (seen.get(key), n))
                seen[key] = n
                planned = parse_utc(n["planned_at"])
                self.assertEqual(planned, expected[key],
                                 "%s %s planned at %s, expected %s"
                                 % (key + (n["planned_at"], expected_text[key])))
                self.assertTrue(before < planned <= now,
                                "%r planned at %s came with the step %s -> %s"
                                % (key, planned, before, now))
                self.assertEqual(parse_utc(n["created_at"]), now, n)
                self.assertEqual(n["recipient_id"], "M1", n)
                self.assertEqual(n["staff_id"], "S1", n)
                self.assertEqual(n["kind"], "action", n)
                self.assertEqual(n["due"], n["item"].replace("A-", "2026-"), n)
                if n["type"] == "reminder":
                    self.assertEqual((n["level"], n["days_overdue"]), (0, 0), n)
                else:
                    self.assertEqual((n["level"], n["days_overdue"]), (1, 1), n)

        now = parse_utc(WINDOWS[0][0])
        check_clock(client.request({"op": "clock"}), now)
        for i, (first, last) in enumerate(WINDOWS):
            if i > 0:
                before, now = now, parse_utc(first)
                reply = client.request({"op": "clock", "set": first})
                check_clock(reply, now)
                collect(before, now)  # nothing falls between the windows
            end = parse_utc(last)
            while now < end:
                before, now = now, now + STEP
                reply = client.request({"op": "clock", "advance_seconds": 1800})
                collect(before, now)
                check_clock(reply, now)

        missing = sorted(set(expected) - set(seen))
        self.assertEqual(missing, [], "never sent")
        self.assertEqual(len(seen), 12)
        self.assertEqual(last_seq, 12)
        status = client.status()
        self.assertEqual(status["notifications"]["last_seq"], 12, status)
        self.assertEqual(status["notifications"]["missed"]["total"], 0, status)
        client.close()
        daemon.stop_clean()

    def test_send_time_0130_skipped_in_spring_repeated_in_autumn(self):
        self.run_through("01:30", AT_0130)

    def test_send_time_0900(self):
        self.run_through("09:00", AT_0900)


if __name__ == "__main__":
    unittest.main()
