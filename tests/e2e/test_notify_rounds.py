#!/usr/bin/python3
"""carehub-notify's daily round when things go partly wrong: a digest that
cannot go now does not hold up the others, and nobody gets two digests in a
day when the round is taken up again; a relay that keeps saying "try later"
to one message is given up on after retry.give_up_seconds, so that the
others go; a long list of undeliverable notifications is split into several
fallback reports; and a carehubd whose notifications end before
carehub-notify's cursor (its database restored from an older copy) is
reported at start.

Uses the organisation and helpers of test_notify_faults.py (one supervision
kind: a reminder on the due day, Monday 2 March 2026, at 09:00).
"""

import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from test_notify_faults import (FALLBACK, MAY, MO, MONDAY, TUESDAY, TWO_MANAGERS,  # noqa: E402
                                NotifyCase, carer, manager, matching, team)


class RoundTest(NotifyCase):

    def test_interrupted_round_sends_each_digest_once(self):
        """May's digest meets "451 try later"; Mo's goes.  A new reminder for
        Mo arrives before May's is let through: when the round is taken up
        again only May's goes; Mo's new one waits for Tuesday's digest."""
        daemon, client = self.start_daemon(TWO_MANAGERS)
        smtp = self.relay()
        n = self.notifier(daemon, smtp, {"digest.time": "09:30"})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        n.wait_cursor(2)
        smtp.set_refuse(MAY, "451 4.3.0 try later")
        self.set_clock(client, MONDAY + "T09:30:00Z")
        [first] = smtp.wait_for(1)
        self.assertEqual(first.rcpt_tos, [MO])
        self.wait_log(n, "retry May's digest", r"could not send the digest to may@example\.org")
        self.assertEqual(n.digest_day(), "")
        # A carer hired now, due today: a new reminder for Mo, after his digest.
        reply = client.publish([carer("C3", "Cody Carer", "T1", "M1")])
        self.assertEqual(h.statuses(reply), ["stored"])
        last = client.request({"op": "notifications", "after": 0, "limit": 1})["last_seq"]
        self.assertEqual(last, 3)
        n.wait_cursor(3)
        smtp.set_refuse(MAY, None)
        n.wait_round(MONDAY)
        self.assertEqual([m.rcpt_tos for m in smtp.messages], [[MO], [MAY]])
        self.assertNotIn("Cody", smtp.messages[1].text)
        # Tuesday: Mo's digest holds Cody (his reminder, now superseded by the
        # day's escalation: only the latest about each review is listed).
        self.set_clock(client, TUESDAY + "T09:30:00Z")
        n.wait_round(TUESDAY)
        tuesday = [m for m in smtp.messages[2:] if m.rcpt_tos == [MO]]
        self.assertEqual(len(tuesday), 1)
        self.assertIn("Supervision for Cody Carer is 1 day overdue", tuesday[0].text)
        self.assertNotIn("(today)", tuesday[0].text)
        ids = [m.message_id for m in smtp.messages]
        self.assertEqual(len(ids), len(set(ids)))

    def test_gives_up_after_give_up_seconds(self):
        """Every notification its own email; Mo's mailbox says "452 try
        later" for ever.  After retry.give_up_seconds the reminder goes to the
        fallback report and May's, behind it, goes out."""
        daemon, client = self.start_daemon(TWO_MANAGERS)
        smtp = self.relay()
        smtp.set_refuse(MO, "452 4.2.2 mailbox full")
        n = self.notifier(daemon, smtp, {"digest.enabled": False, "digest.time": "17:00",
                                         "retry.give_up_seconds": 2})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [to_may] = smtp.wait_for(1)
        self.assertEqual(to_may.rcpt_tos, [MAY])
        self.assertEqual(len(matching(n, r"^notification to mo@example\.org: giving up after "
                                         r"\d+ s of temporary failures: .*452 4\.2\.2")), 1)
        n.wait_cursor(2)
        self.set_clock(client, MONDAY + "T17:00:00Z")
        n.wait_round(MONDAY)
        report = [m for m in smtp.messages if m.rcpt_tos == [FALLBACK]]
        self.assertEqual(len(report), 1)
        self.assertRegex(report[0].text, r"Mo Manager \(M1\): could not be emailed at "
                                         r"mo@example\.org: the relay did not take it for \d+ s")

    def test_many_undeliverable_split_into_reports(self):
        """250 reminders for a manager without an address: two reports, of
        200 and 50, each listing its own, none twice."""
        people = [team("T1", "Day team", "M1"), manager("M1", "Mo Manager", "T1")]
        people += [carer("C%03d" % i, "Carer %03d" % i, "T1", "M1") for i in range(250)]
        daemon, client = self.start_daemon(people)
        smtp = self.relay()
        n = self.notifier(daemon, smtp, {"digest.time": "09:30"})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        n.wait_cursor(250)
        self.set_clock(client, MONDAY + "T09:30:00Z")
        n.wait_round(MONDAY)
        reports = smtp.messages
        self.assertEqual([m.rcpt_tos for m in reports], [[FALLBACK], [FALLBACK]])
        self.assertEqual([m.subject for m in reports],
                         ["Reminders that could not be delivered: 200 for 1 person",
                          "Reminders that could not be delivered: 50 for 1 person"])
        listed = [re.findall(r"Supervision for (Carer \d+) is due", m.text) for m in reports]
        self.assertEqual(sorted(listed[0] + listed[1]), ["Carer %03d" % i for i in range(250)])
        self.assertEqual(n.query("SELECT COUNT(*) FROM undeliverable"), [(0,)])

    def test_cursor_ahead_of_a_restored_daemon_is_reported(self):
        """carehubd's database replaced by an older one (here: an empty one)
        while carehub-notify had handled notifications up to 2: it says so."""
        daemon, client = self.start_daemon(TWO_MANAGERS)
        smtp = self.relay()
        n = self.notifier(daemon, smtp, {"digest.enabled": False})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        n.wait_cursor(2)
        self.assertEqual(n.stop(), 0)
        self.assertEqual(daemon.stop_clean(), 0)
        shutil.rmtree(daemon.state_dir)
        daemon.start()
        n.start()
        self.wait_log(n, "report the cursor", r"^carehubd's notifications end at 0, but this "
                      r"carehub-notify has handled them up to 2: was carehubd's database "
                      r"replaced\?", level="error")


if __name__ == "__main__":
    unittest.main(verbosity=2)
