#!/usr/bin/python3
"""carehub-notify through a relay that requires STARTTLS and authentication,
as a real relay on port 587 does: the message arrives over TLS with the
right credentials; with a wrong password, or a certificate it has not been
told to trust, nothing is sent, the log says why, the cursor stays, and the
message goes out once the setting is corrected and carehub-notify started
again."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import notifier as nt  # noqa: E402
import smtp_server  # noqa: E402

CONFIG = """
timezone = "Europe/London";
kinds = ( { name = "supervision"; title = "Supervision"; applies_to = { roles = ["care_worker"]; };
            recurring = { every = "6 weeks"; first = "1 week"; }; reminders = [0]; } );
"""
USER, PASSWORD = "carehub", "s3cret-pass"


class TlsAuthTest(unittest.TestCase):
    def setUp(self):
        self.smtp = smtp_server.SmtpServer(tls=True, auth=(USER, PASSWORD)).start()
        self.addCleanup(self.smtp.stop)
        self.daemon = h.Daemon(extra_config=CONFIG, test_clock="2026-03-02T07:00:00Z").start()
        self.addCleanup(self.daemon.close)
        self.api = self.daemon.client()
        events = [
            h.event("team.changed", {"team_id": "T1", "name": "Day team", "manager_id": "M1"},
                    source="hr"),
            h.staff_hired("M1", "Mo Khan", role="team_leader", team_id="T1",
                          start_date="2026-03-02", email="mo@example.org", source="hr"),
            h.staff_hired("C1", "Cal Carer", role="care_worker", team_id="T1",
                          start_date="2026-03-02", source="hr"),
        ]
        r = h.run_tool(h.CAREHUB_PUB, [], endpoint=self.daemon.api,
                       input="\n".join(json.dumps(e) for e in events) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.password_file = os.path.join(self.daemon.workdir, "smtp-password")

    def notifier(self, password, ca_file):
        with open(self.password_file, "w") as f:
            f.write(password + "\n")
        n = nt.Notifier(self.daemon, self.smtp, {
            "digest.enabled": False, "smtp.tls": "starttls", "smtp.username": USER,
            "smtp.password_file": self.password_file, "smtp.ca_file": ca_file})
        self.addCleanup(n.close)
        return n

    def fire_reminder(self):
        self.api.request({"op": "clock", "set": "2026-03-09T09:05:00Z"})
        return self.api.request({"op": "notifications", "after": 0, "limit": 1})["last_seq"]

    def test_starttls_and_auth(self):
        seq = self.fire_reminder()
        n = self.notifier(PASSWORD, self.smtp.ca_file).start()
        n.wait_cursor(seq)
        [message] = self.smtp.wait_for(1)
        self.assertEqual(message.rcpt_tos, ["mo@example.org"])
        self.assertEqual(message.subject, "Supervision for Cal Carer")
        self.assertEqual(self.smtp.sessions, 1)

    def test_wrong_password_then_right(self):
        seq = self.fire_reminder()
        n = self.notifier("wrong", self.smtp.ca_file).start()
        n.wait_until("log the refused authentication",
                     lambda: re.search(r"could not send notification to mo@example\.org: "
                                       r".*authentication failed.*535.*trying again in \d+ s",
                                       n.stderr()) is not None)
        self.assertEqual(n.cursor(), 0)
        self.assertEqual(self.smtp.messages, [])
        self.assertEqual(n.stop(), 0)
        n2 = self.notifier(PASSWORD, self.smtp.ca_file).start()
        n2.wait_cursor(seq)
        self.assertEqual(len(self.smtp.wait_for(1)), 1)

    def test_untrusted_certificate_sends_nothing(self):
        seq = self.fire_reminder()
        n = self.notifier(PASSWORD, None)  # the system's authorities: the relay's is self-signed
        n.start()
        n.wait_until("log the TLS failure",
                     lambda: re.search(r"could not send notification to mo@example\.org: "
                                       r".*TLS.*trying again", n.stderr()) is not None)
        self.assertEqual(n.cursor(), 0)
        self.assertEqual(self.smtp.messages, [])
        self.assertEqual(n.stop(), 0)
        n2 = self.notifier(PASSWORD, self.smtp.ca_file).start()
        n2.wait_cursor(seq)
        self.assertEqual(len(self.smtp.wait_for(1)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
