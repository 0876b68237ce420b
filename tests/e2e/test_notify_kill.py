#!/usr/bin/python3
"""carehub-notify killed again and again in the middle of a batch: nothing
lost, nothing doubled, order kept.

A home of 40 care workers under four team leaders, all hired on one day, so
that 40 reminders come out at the same 09:00; carehub-notify runs with the
digest off (every notification is its own email).  While the relay is
taking the messages, a hook in the SMTP server SIGKILLs carehub-notify at
chosen points of the batch: in the middle of a message's data (before the
relay accepted it: the message must come again, once) and right after a
RCPT (the same).  After each kill the test starts it again.  Between two
days it is also stopped for good while reminders fire, and must catch up.

At the end the server must hold exactly one message per notification, in
sequence order (Message-IDs name the sequence number), and the cursor in
carehub-notify's state file must be the daemon's last sequence number.
"""

import json
import os
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import notifier as nt  # noqa: E402
import smtp_server  # noqa: E402

CONFIG = """
timezone = "Europe/London";
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
"""

LEADERS = 4
WORKERS = 40
# Kill points, counted in DATA commands the relay has seen (accepted or not).
KILL_AT = {3, 4, 11, 19, 27, 28, 35, 50, 61, 77}


def events():
    out = [h.event("team.changed", {"team_id": "T0", "name": "Home", "manager_id": "R1"},
                   source="hr", time="2026-03-02T07:00:00Z"),
           h.staff_hired("R1", "Rita Mensah", role="registered_manager", team_id="T0",
                         start_date="2026-03-02", email="r1@home.example", source="hr")]
    for t in range(LEADERS):
        tid = "T%d" % (t + 1)
        out.append(h.event("team.changed", {"team_id": tid, "name": "Team %d" % (t + 1),
                                            "parent_id": "T0", "manager_id": "L%d" % (t + 1)},
                           source="hr", time="2026-03-02T07:00:00Z"))
        out.append(h.staff_hired("L%d" % (t + 1), "Leader %d" % (t + 1), role="team_leader",
                                 team_id=tid, start_date="2026-03-02",
                                 email="l%d@home.example" % (t + 1), source="hr"))
    for w in range(WORKERS):
        out.append(h.staff_hired("C%02d" % w, "Carer %02d" % w, role="care_worker",
                                 team_id="T%d" % (w % LEADERS + 1), start_date="2026-03-02",
                                 source="hr"))
    return out


class KillTest(unittest.TestCase):
    def setUp(self):
        self.smtp = smtp_server.SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.daemon = h.Daemon(extra_config=CONFIG, test_clock="2026-03-02T07:00:00Z").start()
        self.addCleanup(self.daemon.close)
        self.api = self.daemon.client()
        self.notifier = nt.Notifier(self.daemon, self.smtp, {"digest.enabled": False})
        self.addCleanup(self.notifier.close)
        self.lock = threading.Lock()
        self.data_seen = 0
        self.kills = 0

    def hook(self, envelope):
        with self.lock:
            self.data_seen += 1
            if self.data_seen not in KILL_AT:
                return None
            self.kills += 1
        self.notifier.kill()
        return "451 4.3.0 test relay: the sender was killed before this was accepted"

    def last_seq(self):
        return self.api.request({"op": "notifications", "after": 0, "limit": 1})["last_seq"]

    def run_until_delivered(self):
        """Starts carehub-notify again after every kill until the cursor is the last seq."""
        target = self.last_seq()
        while True:
            if not self.notifier.running():
                self.notifier.start()
            try:
                self.notifier.wait_cursor(target, timeout=60)
                return
            except h.HarnessError:
                if self.notifier.running():
                    raise
                # Killed by the hook: start it again.

    def test_killed_mid_batch(self):
        r = h.run_tool(h.CAREHUB_PUB, [], endpoint=self.daemon.api,
                       input="\n".join(json.dumps(e) for e in events()) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.smtp.on_data = self.hook
        self.notifier.start()
        # Monday 9 March: the reminders 7 days ahead.
        self.api.request({"op": "clock", "set": "2026-03-09T09:05:00Z"})
        self.run_until_delivered()
        # Stopped for good while Friday's reminders and Tuesday's escalations fire.
        self.notifier.kill()
        for when in ("2026-03-13T09:05:00Z", "2026-03-16T09:05:00Z", "2026-03-17T09:05:00Z"):
            self.api.request({"op": "clock", "set": when})
        self.run_until_delivered()
        self.assertEqual(self.kills, len([k for k in KILL_AT if k <= self.data_seen]))
        self.assertGreaterEqual(self.kills, 8)

        total = self.last_seq()
        self.assertEqual(total, 3 * WORKERS)  # two reminders and one escalation each
        received = self.smtp.wait_for(total)
        seqs = [int(re.match(r"<carehub\.n\.(\d+)@", m.message_id).group(1)) for m in received]
        self.assertEqual(seqs, list(range(1, total + 1)), "one message per notification, in order")
        notifications = self.api.request({"op": "notifications", "after": 0,
                                          "limit": 1000})["notifications"]
        for m, n in zip(received, notifications):
            staff = self.api.request({"op": "staff", "staff_id": n["recipient_id"]})["staff"]
            self.assertEqual(m.rcpt_tos, [staff["email"]])
            self.assertIn(n["message"], m.text.replace("\n", " "))
        self.assertEqual(len(self.smtp.rejected), self.kills)
        self.assertEqual(self.notifier.cursor(), total)
        self.assertEqual(len(self.notifier.deliveries()), total)


if __name__ == "__main__":
    unittest.main(verbosity=2)
