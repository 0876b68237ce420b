#!/usr/bin/python3
"""Retention and the audit trail, on the real daemon and a test clock.

The organisation: Ben (M1) manages the day team (T1); Zebedee (S1), a care
worker with an email and a registration, is hired, renamed, books and
completes nothing, and leaves on 2026-01-06.  Retention keeps the details of
staff who left for 10 days (left_staff_days) and raw events for 30 days
(event_days), and runs at 02:30.  The clock starts on Monday 2026-01-05 at
07:00 UTC; the run of 2026-01-17 is the first to find Zebedee's leave date
(2026-01-06) more than 10 days back.

Checked: the audit op and carehubctl audit list Zebedee's changes with their
causes before and after; at the run his name, email and registration are
gone from the ops and from the database file (its bytes, after a clean
stop), while the counts stay and re-sent events, old or recent, are still
recognised as duplicates; carehubctl audit's usage errors.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, run_ctl, staff_changed, staff_hired, staff_left, team_changed  # noqa

START = "2026-01-05T07:00:00Z"
RECENT = "2026-01-05T07:00:00Z"
NAME = "Zebedee Quixotic"
NEW_NAME = "Zebedee Quixotic-Brown"
EMAIL = "zebedee.quixotic@example.org"
REGISTRATION = {"body": "NMC", "number": "99Z9999Z", "renewal_date": "2027-01-31"}

CONFIG = """
schedule = { send_time = "09:00"; missed_after_days = 14; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "1 day"; };
        reminders = [0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
        repeat_days = 7;
    }
);
retention = { left_staff_days = 10; event_days = 30; run_at = "02:30"; };
"""


class Retention(h.DaemonTestCase):
    daemon_kwargs = {"extra_config": CONFIG, "test_clock": START}

    def advance_days(self, days):
        for _ in range(days):
            reply = self.api.request({"op": "clock", "advance_seconds": 86400})
            self.assertIs(reply.get("ok"), True, reply)
        return reply

    def ctl(self, *args, rc=0):
        cp = run_ctl(list(args), self.daemon.api)
        self.assertEqual(cp.returncode, rc, "carehubctl %s:\n%s%s"
                         % (" ".join(args), cp.stdout, cp.stderr))
        return cp

    def audit(self, staff_id, **fields):
        reply = self.api.request(dict({"op": "audit", "staff_id": staff_id}, **fields))
        self.assertIs(reply.get("ok"), True, reply)
        return reply["audit"]

    def test_retention_and_audit(self):
        self.api = self.daemon.client()
        old = team_changed("T9", "Old team", time="2024-01-08T09:00:00Z")
        hired = staff_hired("S1", NAME, role="care_worker", team_id="T1",
                            start_date="2025-06-02", email=EMAIL, registration=REGISTRATION,
                            time=RECENT)
        events = [
            old,
            team_changed("T1", "Day team", manager_id="M1", time=RECENT),
            staff_hired("M1", "Ben Smith", role="manager", team_id="T1",
                        start_date="2020-01-06", time=RECENT),
            hired,
            staff_changed("S1", {"name": NEW_NAME}, time=RECENT),
        ]
        reply = self.api.publish(events)
        self.assertEqual(h.statuses(reply), ["stored"] * len(events), reply)
        # To 09:00 on 2026-01-06, the day the first supervision falls due.
        self.api.request({"op": "clock", "advance_seconds": 26 * 3600})
        left = staff_left("S1", "2026-01-06", time="2026-01-06T12:00:00Z")
        self.assertEqual(h.statuses(self.api.publish([left])), ["stored"])

        # -- the audit trail, before retention
        rows = self.audit("S1")
        whats = [r["what"] for r in rows]
        for what in ("staff.hired", "staff.changed", "obligation.created", "notification.sent",
                     "staff.left", "obligation.cancelled"):
            self.assertIn(what, whats, rows)
        self.assertLess(whats.index("staff.hired"), whats.index("staff.left"))
        first = rows[0]
        self.assertEqual((first["what"], first["cause"], first["cause_id"]),
                         ("staff.hired", "carehub-e2e", hired["id"]))
        self.assertEqual(first["details"]["name"], NAME)
        self.assertEqual(first["time"], "2026-01-05T07:00:00.000Z")
        changed = rows[whats.index("staff.changed")]
        self.assertEqual(changed["details"], {"name": {"from": NAME, "to": NEW_NAME}})
        sent = rows[whats.index("notification.sent")]
        self.assertEqual((sent["cause"], sent["cause_id"]), ("schedule", None))
        self.assertEqual(sent["details"]["recipient_id"], "M1")
        # Paging: after a row, the ones after it.
        self.assertEqual(self.audit("S1", after=rows[0]["seq"], limit=1), [rows[1]])
        team = self.api.request({"op": "audit", "team_id": "T1"})
        self.assertEqual([r["what"] for r in team["audit"]], ["team.created"], team)
        bad = self.api.request({"op": "audit"})
        self.assertEqual(bad["error"]["code"], "bad_request", bad)

        # -- ten days on the name is still there: the leave date is not yet 10 days back
        self.advance_days(10)  # 2026-01-16 09:00
        staff = self.api.request({"op": "staff", "staff_id": "S1"})
        self.assertEqual(staff["staff"]["name"], NEW_NAME, staff)
        status_before = self.daemon.status()

        # -- the run of 2026-01-17 02:30 removes it
        self.advance_days(1)
        staff = self.api.request({"op": "staff", "staff_id": "S1"})
        self.assertEqual(staff["staff"]["name"], "[removed]", staff)
        self.assertIsNone(staff["staff"].get("email"), staff)
        manager = self.api.request({"op": "staff", "staff_id": "M1"})
        self.assertEqual(manager["staff"]["name"], "Ben Smith")
        person = self.api.request({"op": "person", "staff_id": "S1"})
        self.assertIs(person["ok"], True, person)
        self.assertNotIn("Zebedee", json.dumps(person))
        status_after = self.daemon.status()
        for key in ("stored", "duplicate", "rejected"):
            self.assertEqual(status_before["events"][key], status_after["events"][key])
        self.assertEqual(status_before["staff"], status_after["staff"])

        rows = self.audit("S1")
        self.assertEqual(rows[-1]["what"], "retention.removed", rows)
        self.assertEqual((rows[-1]["cause"], rows[-1]["cause_id"]), ("retention", None))
        self.assertEqual(rows[0]["details"], {})  # what the hiring said is gone
        self.assertEqual(rows[0]["cause_id"], hired["id"])  # what caused it stays
        self.assertNotIn("Zebedee", json.dumps(rows))

        # -- de-duplication: a re-sent event, old or recent, is still recognised
        reply = self.api.publish([hired, old])
        self.assertEqual(h.statuses(reply), ["duplicate", "duplicate"], reply)
        with self.daemon.db() as conn:
            bodies = dict(conn.execute("SELECT event_id, body FROM events"))
        self.assertEqual(bodies[hired["id"]], "{}")  # about someone removed
        self.assertEqual(bodies[old["id"]], "{}")    # older than 30 days
        self.assertNotEqual(bodies[events[2]["id"]], "{}")

        # -- carehubctl audit
        cp = self.ctl("audit", "S1")
        self.assertIn("retention.removed", cp.stdout)
        self.assertIn("cause: retention", cp.stdout)
        self.assertIn("cause: event %s from carehub-e2e" % hired["id"], cp.stdout)
        cp = self.ctl("--json", "audit", "S1", "--after", str(rows[0]["seq"]), "--limit", "2")
        reply = json.loads(cp.stdout)
        self.assertEqual(reply["audit"], rows[1:3])
        self.assertEqual(reply["last_seq"], rows[2]["seq"])
        cp = self.ctl("audit", rc=2)
        self.assertIn("audit needs STAFF_ID", cp.stderr)
        cp = self.ctl("audit", "S1", "--recipient", "M1", rc=2)
        self.assertIn("does not go with", cp.stderr)
        self.ctl("audit", "S1", "--limit", "0", rc=2)

        # -- the bytes: gone from the database file once the daemon has stopped
        self.daemon.stop_clean()
        state = self.daemon.state_dir
        files = [os.path.join(state, n) for n in os.listdir(state) if n.startswith("carehub.db")]
        data = b"".join(open(p, "rb").read() for p in files)
        self.assertIn(b"Ben Smith", data)  # the search works
        for secret in (b"Zebedee", b"Quixotic", EMAIL.encode(), b"99Z9999Z"):
            self.assertNotIn(secret, data, secret)


if __name__ == "__main__":
    unittest.main()
