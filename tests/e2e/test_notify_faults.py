#!/usr/bin/python3
"""carehub-notify under bad input and faults, end to end.

The real carehubd (on a test clock), the real carehub-notify and the
scriptable relay of smtp_server.py: a relay that is unreachable, that answers
4xx for a while, that refuses a recipient for good; a manager without an
email address; a person the staff directory no longer has; malformed
templates and configuration files; wrong command lines; the send-test mode;
and stopping by signal.  Each test asserts what carehub-notify does and the
line it logs (or prints) about it.

Every wait is for a condition with a deadline (Notifier.wait_until,
SmtpServer.wait_for, the harness's waits); nothing sleeps for a fixed time.
The retry backoff is 1 s doubling to 2 s and the clock is polled every 50 ms
(notifier.py's defaults), so the whole file runs in well under a minute.

The organisation's time is Europe/London, which is GMT (= UTC) throughout
the days used here (2 to 4 March 2026, Monday to Wednesday), so a local time
of 09:00 is 09:00Z.
"""

import os
import re
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import notifier as nt  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

# One kind: a supervision due two weeks after the start date, a reminder on
# the day (at 09:00) and an escalation to the line manager a day later.
DAEMON_CONFIG = """
timezone = "Europe/London";
schedule = { send_time = "09:00"; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "2 weeks"; };
        reminders = [0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    }
);
"""

MONDAY = "2026-03-02"
TUESDAY = "2026-03-03"
WEDNESDAY = "2026-03-04"
START = MONDAY + "T07:00:00Z"
STARTED = "2026-02-16"          # so the first supervision is due on Monday 2 March

FROM = "care-reviews@example.org"
FALLBACK = "hr-lead@example.org"
MO = "mo@example.org"
MAY = "may@example.org"

# The reminders' texts, as carehubd writes them.
CARA_DUE = ("Supervision for Cara Carer is due on Monday 2 March 2026 (today). Please book a "
            "time with them if you have not already, and record it when it is done.")
CAL_DUE = ("Supervision for Cal Carer is due on Monday 2 March 2026 (today). Please book a "
           "time with them if you have not already, and record it when it is done.")

# A process given a signal must be gone within this long (a refused connect
# or a poll with the signal's descriptor in it answers at once).
EXIT_DEADLINE = 15


def setUpModule():
    for path in (h.CAREHUBD, nt.CAREHUB_NOTIFY):
        if not os.access(path, os.X_OK):
            raise h.HarnessError("%s is not built" % path)


def free_port():
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project_version():
    with open(os.path.join(h.SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(carehub VERSION ([0-9.]+)", f.read())
    return m.group(1)


def line_of(text, needle):
    """The 1-based number of the first line of text that contains needle."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError("%r is not in the text" % needle)


def log_messages(notifier, level=None):
    """carehub-notify's log messages (without the timestamp), of one level or all."""
    out = []
    for line in notifier.stderr().splitlines():
        m = re.match(r"^\S+ \S+ carehub-notify (\w+): (.*)$", line)
        if m and (level is None or m.group(1) == level):
            out.append(m.group(2))
    return out


def matching(notifier, pattern, level=None):
    """The log messages matching the regular expression pattern (re.search)."""
    return [m for m in log_messages(notifier, level) if re.search(pattern, m)]


def no_daemon(directory):
    """What a Notifier needs of a daemon when none runs: its endpoints and a directory."""
    return types.SimpleNamespace(api="ipc://%s/api.sock" % directory,
                                 notify="ipc://%s/notify.sock" % directory,
                                 workdir=directory)


class NotifyCase(unittest.TestCase):
    """A daemon, a relay and a carehub-notify per test, all closed at the end
    (carehub-notify first, then carehubd, which must stop cleanly)."""

    def start_daemon(self, people):
        """carehubd on the test clock at Monday 07:00 with the teams and
        staff in people (a list of events) published; returns (daemon, client)."""
        daemon = h.Daemon(extra_config=DAEMON_CONFIG, test_clock=START)
        self.addCleanup(daemon.close)
        daemon.start()
        self.addCleanup(self._stop_daemon, daemon)
        client = daemon.client()
        reply = client.publish(people)
        self.assertEqual(h.statuses(reply), ["stored"] * len(people), reply)
        return daemon, client

    @staticmethod
    def _stop_daemon(daemon):
        if daemon.running():
            daemon.stop_clean()

    def relay(self, **kw):
        server = SmtpServer(**kw).start()
        self.addCleanup(server.stop)
        return server

    def notifier(self, daemon, smtp, settings=None, start=True):
        n = nt.Notifier(daemon, smtp, settings)
        self.addCleanup(n.close)
        return n.start() if start else n

    def set_clock(self, client, when):
        reply = client.request({"op": "clock", "set": when})
        self.assertIs(reply.get("ok"), True, reply)
        return reply

    def notifications(self, client, recipient):
        reply = client.request({"op": "notifications", "recipient_id": recipient})
        self.assertIs(reply.get("ok"), True, reply)
        return reply["notifications"]

    def wait_log(self, notifier, what, pattern, count=1, level=None, timeout=30):
        """Waits until count log messages match pattern; returns them."""
        notifier.wait_until(what, lambda: len(matching(notifier, pattern, level)) >= count,
                            timeout)
        return matching(notifier, pattern, level)

    def assertExitsWith(self, notifier, sig, status=0):
        """Sends sig and checks the exit status and that no sanitizer spoke."""
        notifier.proc.send_signal(sig)
        rc = notifier.proc.wait(timeout=EXIT_DEADLINE)
        self.assertEqual(rc, status, notifier.stderr()[-3000:])
        self.assertIsNone(h.sanitizer_report(notifier.stderr()), notifier.stderr()[-6000:])


def team(team_id, name, manager_id):
    return h.team_changed(team_id, name, manager_id=manager_id)


def manager(staff_id, name, team_id, email=None):
    return h.staff_hired(staff_id, name, role="manager", team_id=team_id,
                         start_date="2025-01-01", email=email)


def carer(staff_id, name, team_id, manager_id):
    return h.staff_hired(staff_id, name, role="care_worker", team_id=team_id,
                         start_date=STARTED, manager_id=manager_id)


# Mo manages Cara and Cal in the day team.
ONE_MANAGER = [team("T1", "Day team", "M1"),
               manager("M1", "Mo Manager", "T1", email=MO),
               carer("C1", "Cara Carer", "T1", "M1"),
               carer("C2", "Cal Carer", "T1", "M1")]

# Mo manages Cara in the day team, May manages Cal in the night team.
TWO_MANAGERS = [team("T1", "Day team", "M1"), team("T2", "Night team", "M2"),
                manager("M1", "Mo Manager", "T1", email=MO),
                manager("M2", "May Manager", "T2", email=MAY),
                carer("C1", "Cara Carer", "T1", "M1"),
                carer("C2", "Cal Carer", "T2", "M2")]


# ---------------------------------------------------------------------------
# 1, 2. Transient failures: retried with backoff, delivered once, in order


class TransientFailureTest(NotifyCase):

    def test_relay_unreachable_then_reachable(self):
        """1. Nothing listens on the relay's port: the message is retried with
        backoff (1 s, then 2 s, then 2 s: retry.max_seconds), the cursor stays
        before it, and once a relay listens on that port it is delivered
        exactly once."""
        daemon, client = self.start_daemon(ONE_MANAGER[:3])
        port = free_port()
        url = "smtp://127.0.0.1:%d" % port
        n = self.notifier(daemon, None, {"smtp.url": url, "digest.enabled": False})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [reminder] = self.notifications(client, "M1")
        seq = reminder["seq"]

        pattern = (r"^could not send notification to %s: relay %s: temporary failure: .+; "
                   r"trying again in (\d+) s$" % (re.escape(MO), re.escape(url)))
        failures = self.wait_log(n, "fail three times", pattern, count=3, level="warn")
        self.assertEqual([int(re.search(pattern, m).group(1)) for m in failures[:3]], [1, 2, 2],
                         failures)
        self.assertLess(n.cursor(), seq, "the cursor passed a notification not yet sent")
        self.assertEqual(n.deliveries(), [])

        smtp = SmtpServer(port=port).start()
        self.addCleanup(smtp.stop)
        [message] = smtp.wait_for(1)
        n.wait_cursor(seq)
        self.assertEqual(message.message_id, "<carehub.n.%d@example.org>" % seq)
        self.assertEqual(message.rcpt_tos, [MO])
        self.assertEqual(message.subject, "Supervision for Cara Carer")
        self.assertIn(CARA_DUE, message.text)
        self.assertEqual(len(matching(n, r'^sent "Supervision for Cara Carer" to %s '
                                         r'\(notification %d\)$' % (re.escape(MO), seq),
                                      "info")), 1)

        # Exactly once: the next notification (Tuesday's escalation) is the
        # only other message; nothing of the first came again before it.
        self.set_clock(client, TUESDAY + "T09:00:00Z")
        later = [x["seq"] for x in self.notifications(client, "M1") if x["seq"] > seq]
        self.assertEqual(len(later), 1)
        messages = smtp.wait_for(2)
        n.wait_cursor(later[0])
        self.assertEqual([m.message_id for m in messages],
                         ["<carehub.n.%d@example.org>" % s for s in (seq, later[0])])
        self.assertEqual([(d[3], d[4], d[5]) for d in n.deliveries()],
                         [("immediate", seq, seq), ("immediate", later[0], later[0])])

    def test_relay_says_421_then_recovers(self):
        """2. The relay answers every MAIL FROM with 421: both reminders wait,
        are retried, and are delivered once each, in order, when it recovers."""
        daemon, client = self.start_daemon(ONE_MANAGER)
        smtp = self.relay()
        smtp.set_down("421 4.3.2 Service shutting down")
        n = self.notifier(daemon, smtp, {"digest.enabled": False})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        seqs = [x["seq"] for x in self.notifications(client, "M1")]
        self.assertEqual(len(seqs), 2)

        pattern = (r'^could not send notification to %s: relay %s: temporary failure: .*'
                   r'it answered MAIL FROM with "421 4\.3\.2 Service shutting down"; '
                   r'trying again in (\d+) s$' % (re.escape(MO), re.escape(smtp.url)))
        failures = self.wait_log(n, "fail twice", pattern, count=2, level="warn")
        self.assertEqual([int(re.search(pattern, m).group(1)) for m in failures[:2]], [1, 2])
        self.assertEqual(smtp.messages, [])
        self.assertLess(n.cursor(), seqs[0])

        smtp.set_down(None)
        messages = smtp.wait_for(2)
        n.wait_cursor(seqs[1])
        self.assertEqual([m.message_id for m in messages],
                         ["<carehub.n.%d@example.org>" % s for s in seqs])
        self.assertEqual([m.subject for m in messages],
                         ["Supervision for Cara Carer", "Supervision for Cal Carer"])
        # Once each: Tuesday's two escalations are the only messages after them.
        self.set_clock(client, TUESDAY + "T09:00:00Z")
        all_seqs = [x["seq"] for x in self.notifications(client, "M1")]
        self.assertEqual(len(all_seqs), 4)
        messages = smtp.wait_for(4)
        n.wait_cursor(all_seqs[-1])
        self.assertEqual([m.message_id for m in messages],
                         ["<carehub.n.%d@example.org>" % s for s in all_seqs])

    def test_recipient_451_blocks_later_ones_until_it_recovers(self):
        """2. The relay answers 451 for Mo's address: Mo's reminder is retried,
        May's (later) reminder does not overtake it, and both go out, in
        order, once Mo's address is accepted again."""
        daemon, client = self.start_daemon(TWO_MANAGERS)
        smtp = self.relay(refuse={MO: "451 4.3.0 Mailbox temporarily unavailable"})
        n = self.notifier(daemon, smtp, {"digest.enabled": False})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [to_mo] = self.notifications(client, "M1")
        [to_may] = self.notifications(client, "M2")
        self.assertLess(to_mo["seq"], to_may["seq"])

        pattern = (r'^could not send notification to %s: relay %s: temporary failure: .*'
                   r'it answered RCPT TO with "451 4\.3\.0 Mailbox temporarily unavailable"; '
                   r'trying again in (\d+) s$' % (re.escape(MO), re.escape(smtp.url)))
        self.wait_log(n, "fail twice", pattern, count=2, level="warn")
        self.assertEqual(smtp.messages, [], "a later notification overtook one being retried")
        self.assertLess(n.cursor(), to_mo["seq"])

        smtp.set_refuse(MO, None)
        messages = smtp.wait_for(2)
        n.wait_cursor(to_may["seq"])
        self.assertEqual([(m.rcpt_tos, m.message_id) for m in messages],
                         [([MO], "<carehub.n.%d@example.org>" % to_mo["seq"]),
                          ([MAY], "<carehub.n.%d@example.org>" % to_may["seq"])])
        self.assertEqual(len(smtp.messages), 2)


# ---------------------------------------------------------------------------
# 3. A recipient refused for good


class PermanentRefusalTest(NotifyCase):

    def test_550_goes_to_the_fallback_report(self):
        """3. The relay refuses Mo's address with 550: no retry; the reminder
        goes to the fallback report (to mail.fallback, in the daily round),
        quoting the relay; May's reminder, and later ones, still go out."""
        daemon, client = self.start_daemon(TWO_MANAGERS)
        refusal = "550 5.1.1 <mo@example.org>: Recipient address rejected"
        smtp = self.relay(refuse={MO: refusal})
        n = self.notifier(daemon, smtp, {"digest.enabled": False, "digest.time": "10:00"})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [to_mo] = self.notifications(client, "M1")
        [to_may] = self.notifications(client, "M2")
        n.wait_cursor(max(to_mo["seq"], to_may["seq"]))

        [message] = smtp.wait_for(1)
        self.assertEqual(message.rcpt_tos, [MAY])
        self.assertEqual(message.subject, "Supervision for Cal Carer")
        refused = ('relay %s refused the recipient %s: "%s"' % (smtp.url, MO, refusal))
        self.assertEqual(matching(n, r"refused for good", "warn"),
                         ["notification to %s was refused for good: %s" % (MO, refused)])
        self.assertEqual(len(matching(n, r"^notification %d for M1 goes to the fallback "
                                         r"report: .*could not be emailed at %s: %s$"
                                      % (to_mo["seq"], re.escape(MO), re.escape(refused)),
                                      "note")), 1, log_messages(n))
        self.assertEqual(matching(n, r"could not send|trying again"), [])
        self.assertEqual([r for r in smtp.rejected if r[0] == "RCPT"], [("RCPT", MO, refusal)])

        # The round at 10:00 sends the report to mail.fallback.
        self.set_clock(client, MONDAY + "T10:00:00Z")
        n.wait_round(MONDAY)
        messages = smtp.wait_for(2)
        report = messages[1]
        self.assertEqual(report.rcpt_tos, [FALLBACK])
        self.assertEqual(report.subject, "Reminders that could not be delivered: 1 for 1 person")
        self.assertIn("\nMo Manager (M1): could not be emailed at %s: %s\n  - %s\n"
                      % (MO, refused, CARA_DUE), report.text)
        self.assertNotIn("Cal Carer", report.text)
        self.assertEqual(len(matching(n, r"^sent the report of 1 undeliverable notifications "
                                         r"to %s$" % re.escape(FALLBACK), "info")), 1)

        # Tuesday: the escalations.  May's goes out; Mo's is refused once
        # more and waits for Tuesday's report, which lists only it.
        self.set_clock(client, TUESDAY + "T09:00:00Z")
        escalation_mo = [x for x in self.notifications(client, "M1") if x["type"] == "escalation"]
        escalation_may = [x for x in self.notifications(client, "M2")
                          if x["type"] == "escalation"]
        self.assertEqual((len(escalation_mo), len(escalation_may)), (1, 1))
        messages = smtp.wait_for(3)
        self.assertEqual(messages[2].rcpt_tos, [MAY])
        self.assertEqual(messages[2].message_id,
                         "<carehub.n.%d@example.org>" % escalation_may[0]["seq"])
        n.wait_cursor(max(escalation_mo[0]["seq"], escalation_may[0]["seq"]))
        self.set_clock(client, TUESDAY + "T10:00:00Z")
        n.wait_round(TUESDAY)
        messages = smtp.wait_for(4)
        self.assertEqual(len(messages), 4)
        self.assertEqual(messages[3].rcpt_tos, [FALLBACK])
        self.assertIn(escalation_mo[0]["text"], messages[3].text)
        self.assertNotIn(CARA_DUE, messages[3].text)
        self.assertEqual([r for r in smtp.rejected if r[0] == "RCPT"], [("RCPT", MO, refusal)] * 2)
        self.assertEqual(matching(n, r"could not send|trying again"), [])


# ---------------------------------------------------------------------------
# 4, 5, 8. Templates, configuration, command line, send-test (no daemon needed)


class OfflineCase(unittest.TestCase):
    """Tests that need a directory and, at most, a relay."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="carehub-e2e-notify-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_notify(self, args):
        cp = h.run_tool(nt.CAREHUB_NOTIFY, args)
        return cp.returncode, cp.stdout, cp.stderr


# Each: (name, file text, the line's needle or None, the message after "FILE:LINE: ").
BAD_TEMPLATES = [
    ("unclosed section",
     "# Our wording\n"
     "[immediate.text]\n"
     "Hello {{recipient.first_name}},\n"
     "{{#notification.policy}}\n"
     "Guidance: {{notification.policy}}\n",
     "{{#notification.policy}}",
     "{{#notification.policy}} is opened here but never closed"),
    ("unknown part",
     "[immediate.subject]\n"
     "Reminder: {{notification.what}}\n"
     "\n"
     "[immediate.footer]\n"
     "Thanks\n",
     "[immediate.footer]",
     "[immediate.footer] is not a part (write [MESSAGE.PART]: MESSAGE is digest, immediate, "
     "alert or fallback; PART is subject, text or html)"),
    ("misspelt name",
     "[immediate.text]\n"
     "Hello {{recipient.first_name}},\n"
     "\n"
     "{{notification.mesage}}\n",
     "{{notification.mesage}}",
     "{{notification.mesage}} names nothing a message has"),
    # A misspelt name inside a section that the check's sample data happens
    # not to show must be found too: at run time it would fail the message.
    ("misspelt name in a section",
     "[immediate.text]\n"
     "Hello {{recipient.first_name}},\n"
     "{{#notification.booked}}\n"
     "It is booked for {{notification.bookd}}.\n"
     "{{/notification.booked}}\n",
     "{{notification.bookd}}",
     "{{notification.bookd}} names nothing a message has"),
]


class TemplateTest(OfflineCase):

    def test_bad_templates_refused_by_check_and_start(self):
        """4. A malformed templates file: -n exits 1 with FILE:LINE: reason,
        and a normal start refuses with the same message and sends nothing."""
        smtp = SmtpServer().start()
        self.addCleanup(smtp.stop)
        for name, text, needle, reason in BAD_TEMPLATES:
            with self.subTest(name):
                path = self.write(name.replace(" ", "-") + ".templates", text)
                expected = "carehub-notify: %s:%d: %s" % (path, line_of(text, needle), reason)
                n = nt.Notifier(no_daemon(self.dir), smtp, {"templates": path},
                                name="notify-" + name.replace(" ", "-"))
                status, out, err = self.run_notify(["-n", "-c", n.conf])
                self.assertEqual((status, out), (1, ""), err)
                self.assertEqual(err.splitlines(), [expected])

                n.start()
                try:
                    status = n.proc.wait(timeout=30)
                finally:
                    n.close()
                self.assertEqual(status, 1, n.stderr())
                self.assertEqual(n.stderr().splitlines(), [expected])
                self.assertFalse(os.path.exists(n.state_file), "it went on to open its state")
        self.assertEqual((smtp.messages, smtp.sessions), ([], 0))

    def test_good_templates_file_passes(self):
        """The example templates file (the built-in wording) passes the check."""
        n = nt.Notifier(no_daemon(self.dir), None, {"templates": nt.EXAMPLE_TEMPLATES})
        status, out, err = self.run_notify(["-n", "-c", n.conf])
        self.assertEqual((status, err), (0, ""), err)
        self.assertEqual(out, "carehub-notify: %s and its templates are valid\n" % n.conf)


GOOD_CONFIG = """\
api = { endpoint = "ipc://DIR/api.sock"; };
notify = { endpoint = "ipc://DIR/notify.sock"; };
state_file = "DIR/notify.db";
smtp = {
  url = "smtp://127.0.0.1:2525";
  tls = "none";
};
mail = {
  from = "care-reviews@example.org";
  fallback = "hr-lead@example.org";
};
digest = {
  time = "09:30";
};
"""


def config_with(replace=(), append=""):
    """GOOD_CONFIG with each (old line, new line) of replace swapped, and append added."""
    text = GOOD_CONFIG
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    return text + append


# Each: (name, file text, needle of the line or None for a message without one, message).
BAD_CONFIGS = [
    ("unknown key", config_with(append='colour = "blue";\n'), 'colour = ',
     "colour: unknown key"),
    ("misspelt key in a group", config_with([('  time = "09:30";', '  tme = "09:30";')]),
     "tme =", "digest.tme: unknown key"),
    ("wrong type", config_with(append='clock_poll_ms = "fast";\n'), "clock_poll_ms",
     "clock_poll_ms: must be a whole number"),
    ("digest.time without a leading zero", config_with([('"09:30"', '"9:30"')]), '"9:30"',
     'digest.time: "9:30" is not a time of day ("00:00" to "23:59")'),
    ("digest.time past midnight", config_with([('"09:30"', '"24:00"')]), '"24:00"',
     'digest.time: "24:00" is not a time of day ("00:00" to "23:59")'),
    ("digest.time with a sign", config_with([('"09:30"', '"+9:30"')]), '"+9:30"',
     'digest.time: "+9:30" is not a time of day ("00:00" to "23:59")'),
    ("digest.time not a time", config_with([('"09:30"', '"half past nine"')]), "half past",
     'digest.time: "half past nine" is not a time of day ("00:00" to "23:59")'),
    ("missing smtp.url", config_with([('  url = "smtp://127.0.0.1:2525";\n', "")]), None,
     "smtp.url: missing (it is required)"),
    ("mail.from with a display name",
     config_with([('from = "care-reviews@example.org"',
                   'from = "Care Reviews <care-reviews@example.org>"')]),
     "Care Reviews <",
     'mail.from: "Care Reviews <care-reviews@example.org>" is not an email address (write it '
     'as name@example.org, without a display name)'),
    ("mail.from without a domain",
     config_with([('from = "care-reviews@example.org"', 'from = "care-reviews"')]),
     'from = "care-reviews"',
     'mail.from: "care-reviews" is not an email address (write it as name@example.org, '
     'without a display name)'),
    ("smtps:// with starttls",
     config_with([('url = "smtp://127.0.0.1:2525"', 'url = "smtps://127.0.0.1:465"'),
                  ('tls = "none"', 'tls = "starttls"')]),
     'tls = "starttls"', 'smtp.tls: "starttls" does not go with an smtps:// url (use "tls")'),
    ("username without password_file",
     config_with([('  tls = "none";\n', '  tls = "none";\n  username = "notify";\n')]),
     'username =',
     "smtp.username: needs smtp.password_file (the file holding the password)"),
    ("retry.max_seconds below retry.first_seconds",
     config_with(append="retry = {\n  first_seconds = 60;\n  max_seconds = 30;\n};\n"),
     "max_seconds", "retry.max_seconds: 30 is less than retry.first_seconds (60)"),
]


class ConfigTest(OfflineCase):

    def config(self, text, name="carehub-notify.conf"):
        return self.write(name, text.replace("DIR", self.dir))

    def test_good_config_passes(self):
        path = self.config(GOOD_CONFIG)
        status, out, err = self.run_notify(["-n", "-c", path])
        self.assertEqual((status, err), (0, ""), err)
        self.assertEqual(out, "carehub-notify: %s and its templates are valid\n" % path)

    def test_bad_configs(self):
        """5. Each bad file: exit 1, one line "FILE:LINE: key: reason"."""
        for name, text, needle, message in BAD_CONFIGS:
            with self.subTest(name):
                path = self.config(text, re.sub(r"[^a-z0-9]+", "-", name) + ".conf")
                where = path if needle is None else "%s:%d" % (path, line_of(text, needle))
                status, out, err = self.run_notify(["-n", "-c", path])
                self.assertEqual((status, out), (1, ""), err)
                self.assertEqual(err.splitlines(), ["carehub-notify: %s: %s" % (where, message)])

    def test_every_error_is_reported(self):
        """Two mistakes: both reported, each with its line."""
        text = config_with([('"09:30"', '"9:30"')], append='colour = "blue";\n')
        path = self.config(text)
        status, out, err = self.run_notify(["-n", "-c", path])
        self.assertEqual(status, 1, err)
        self.assertEqual(sorted(err.splitlines()), sorted([
            "carehub-notify: %s:%d: colour: unknown key" % (path, line_of(text, "colour")),
            'carehub-notify: %s:%d: digest.time: "9:30" is not a time of day ("00:00" to '
            '"23:59")' % (path, line_of(text, '"9:30"'))]))

    def test_syntax_error(self):
        text = config_with(append="digest_extra = {\n")
        path = self.config(text)
        status, out, err = self.run_notify(["-n", "-c", path])
        self.assertEqual((status, out), (1, ""), err)
        self.assertRegex(err, r"^carehub-notify: %s:\d+: syntax error: .+\n$" % re.escape(path))

    def test_missing_file(self):
        path = os.path.join(self.dir, "nowhere.conf")
        status, out, err = self.run_notify(["-n", "-c", path])
        self.assertEqual((status, out), (1, ""), err)
        self.assertEqual(err, "carehub-notify: %s: cannot read the file: No such file or "
                              "directory\n" % path)

    def test_starting_with_a_bad_config_refuses(self):
        """A normal start on a bad file: the same message, exit 1, no state file."""
        text = BAD_CONFIGS[0][1]
        path = self.config(text)
        status, out, err = self.run_notify(["-c", path])
        self.assertEqual(status, 1, err)
        self.assertEqual(err.splitlines(), ["carehub-notify: %s:%d: colour: unknown key"
                                            % (path, line_of(text, "colour"))])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "notify.db")))


USAGE_FIRST_LINE = "usage: carehub-notify [-c FILE] [-n] [-t ADDRESS]"


class CommandLineTest(OfflineCase):

    def test_usage_errors(self):
        """5. A wrong command line: exit 2, a line saying what is wrong, then the usage."""
        conf = os.path.join(self.dir, "any.conf")  # never read: the command line fails first
        cases = [
            (["-x"], "unknown option -x"),
            (["--bogus"], "unknown option --bogus"),
            (["-n", "-x", "-c", conf], "unknown option -x"),
            # The unknown letter in a cluster is the one to name, not its neighbour
            # (nor the program's own path).
            (["-xn", "-c", conf], "unknown option -x"),
            (["-nx", "-c", conf], "unknown option -x"),
            (["-c"], "-c needs a value"),
            (["--config"], "-c needs a value"),
            (["-n", "-t"], "-t needs a value"),
            (["-c", conf, "extra"], 'unexpected argument "extra"'),
            (["-n", "-t", "someone@example.org", "-c", conf], "give -n or -t, not both"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                status, out, err = self.run_notify(args)
                self.assertEqual((status, out), (2, ""), err)
                lines = err.splitlines()
                self.assertEqual(lines[:2], ["carehub-notify: " + message, USAGE_FIRST_LINE])

    def test_help(self):
        for flag in ("-h", "--help"):
            with self.subTest(flag):
                status, out, err = self.run_notify([flag])
                self.assertEqual((status, err), (0, ""))
                self.assertEqual(out.splitlines()[0], USAGE_FIRST_LINE)
                self.assertIn("  -t, --send-test ADDRESS", out)
                self.assertIn("2 the command line is wrong.", out)

    def test_version(self):
        for flag in ("-V", "--version"):
            with self.subTest(flag):
                status, out, err = self.run_notify([flag])
                self.assertEqual((status, err), (0, ""))
                self.assertEqual(out, "carehub-notify %s\n" % project_version())


class SendTestTest(OfflineCase):

    def test_send_test_message(self):
        """8. -t ADDRESS: the message arrives, exit 0, a line says so."""
        smtp = SmtpServer().start()
        self.addCleanup(smtp.stop)
        n = nt.Notifier(no_daemon(self.dir), smtp)
        status, out, err = self.run_notify(["-t", "someone@example.org", "-c", n.conf])
        self.assertEqual((status, err), (0, ""), err)
        self.assertEqual(out, "carehub-notify: %s accepted the test message for "
                              "someone@example.org\n" % smtp.url)
        [message] = smtp.wait_for(1)
        self.assertEqual(message.subject, "carehub-notify: test message")
        self.assertEqual(message.rcpt_tos, ["someone@example.org"])
        self.assertEqual(message.mail_from, FROM)
        self.assertIn("This is a test message from carehub-notify, sent through %s." % smtp.url,
                      message.text)
        self.assertFalse(os.path.exists(n.state_file), "send-test touched the state file")

    def test_send_test_relay_unreachable(self):
        """8. Nothing listens: exit 1, the reason on stderr, nothing on stdout."""
        url = "smtp://127.0.0.1:%d" % free_port()
        n = nt.Notifier(no_daemon(self.dir), None, {"smtp.url": url})
        status, out, err = self.run_notify(["-t", "someone@example.org", "-c", n.conf])
        self.assertEqual((status, out), (1, ""), err)
        self.assertRegex(err, r"^carehub-notify: the test message was not sent: relay %s: "
                              r"temporary failure: .+\n$" % re.escape(url))

    def test_send_test_recipient_refused(self):
        """8. The relay refuses the address: exit 1, quoting the relay."""
        refusal = "550 5.1.1 no such user"
        smtp = SmtpServer(refuse={"someone@example.org": refusal}).start()
        self.addCleanup(smtp.stop)
        n = nt.Notifier(no_daemon(self.dir), smtp)
        status, out, err = self.run_notify(["-t", "someone@example.org", "-c", n.conf])
        self.assertEqual((status, out), (1, ""), err)
        self.assertEqual(err, 'carehub-notify: the test message was not sent: relay %s refused '
                              'the recipient someone@example.org: "%s"\n' % (smtp.url, refusal))
        self.assertEqual(smtp.messages, [])


# ---------------------------------------------------------------------------
# 6. A manager without an email address


class NoEmailTest(NotifyCase):

    PEOPLE = [team("T1", "Day team", "M1"),
              manager("M1", "Mo Manager", "T1"),       # no email
              carer("C1", "Cara Carer", "T1", "M1")]

    def test_fallback_report_once_per_working_day(self):
        """6. Mo has no email: Mo gets nothing; the reminder is in the next
        daily round's report to mail.fallback, and Tuesday's escalation,
        which comes after Tuesday's round, in Wednesday's report only."""
        daemon, client = self.start_daemon(self.PEOPLE)
        smtp = self.relay()
        # The round at 08:30 comes before the daemon's 09:00 notifications.
        n = self.notifier(daemon, smtp, {"digest.time": "08:30"})
        self.set_clock(client, MONDAY + "T08:30:00Z")
        n.wait_round(MONDAY)
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [reminder] = self.notifications(client, "M1")
        n.wait_cursor(reminder["seq"])
        self.assertEqual(smtp.messages, [])

        self.set_clock(client, TUESDAY + "T08:30:00Z")
        n.wait_round(TUESDAY)
        [report] = smtp.wait_for(1)
        self.assertEqual(report.rcpt_tos, [FALLBACK])
        self.assertEqual(report.subject, "Reminders that could not be delivered: 1 for 1 person")
        self.assertIn("\nMo Manager (M1): has no email address in the staff directory\n  - %s\n"
                      % CARA_DUE, report.text)
        self.assertEqual(len(matching(n, r"^the digest for M1 goes to the fallback report: .*"
                                         r"has no email address in the staff directory$",
                                      "note")), 1)

        self.set_clock(client, TUESDAY + "T09:00:00Z")
        escalations = [x for x in self.notifications(client, "M1") if x["type"] == "escalation"]
        self.assertEqual(len(escalations), 1)
        n.wait_cursor(escalations[0]["seq"])
        self.set_clock(client, WEDNESDAY + "T08:30:00Z")
        n.wait_round(WEDNESDAY)
        messages = smtp.wait_for(2)
        self.assertEqual(len(messages), 2, "one report per working day")
        self.assertEqual(messages[1].rcpt_tos, [FALLBACK])
        self.assertIn("Mo Manager (M1): has no email address in the staff directory\n  - %s\n"
                      % escalations[0]["text"], messages[1].text)
        self.assertNotIn(CARA_DUE, messages[1].text, "Monday's reminder was reported twice")
        self.assertTrue(all(MO not in m.rcpt_tos for m in messages))

    def test_without_fallback_address_only_logged(self):
        """6. No mail.fallback: a warning at start-up, and one carrying the
        reminder's text in the round; nothing is emailed."""
        daemon, client = self.start_daemon(self.PEOPLE)
        smtp = self.relay()
        n = self.notifier(daemon, smtp, {"mail.fallback": None, "digest.time": "09:30"})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [reminder] = self.notifications(client, "M1")
        n.wait_cursor(reminder["seq"])
        self.set_clock(client, MONDAY + "T09:30:00Z")
        n.wait_round(MONDAY)
        warnings = matching(n, r"could not be delivered", "warn")
        self.assertEqual(len(warnings), 1, log_messages(n))
        self.assertRegex(warnings[0],
                         r"^notification %d for M1 could not be delivered: .*has no email "
                         r"address in the staff directory, and no mail\.fallback is set; its "
                         r"text: %s$" % (reminder["seq"], re.escape(reminder["text"])))
        self.assertIn("no mail.fallback is set: notifications for people without an email "
                      "address will only be logged", log_messages(n, "warn"))
        self.assertEqual((smtp.messages, smtp.sessions), ([], 0))
        self.assertEqual(n.query("SELECT count(*) FROM undeliverable"), [(0,)])


# ---------------------------------------------------------------------------
# 7. Someone the staff directory no longer has


class GoneFromDirectoryTest(NotifyCase):
    """carehubd has no delete; retention will remove staff rows one day.  This
    is simulated on the stopped daemon's database: the staff table has no
    foreign keys (checked below) and the daemon keeps no directory on disk
    besides it, its directory caches live in memory only, so deleting the row
    (and taking it off the staff_active counter, as a removal by the daemon
    would) while it is stopped and starting it again is what a daemon with
    retention would hold.  Mo (a recipient) and Cal (a subject) are removed
    after Monday's reminders were written and before carehub-notify reads them.
    """

    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(extra_config=DAEMON_CONFIG, test_clock=START)
        try:
            cls._set_up()
        except BaseException:
            cls._tear_down()
            raise

    @classmethod
    def _set_up(cls):
        d = cls.daemon
        d.start()
        client = h.Client(d.api)
        try:
            reply = client.publish(TWO_MANAGERS)
            assert h.statuses(reply) == ["stored"] * len(TWO_MANAGERS), reply
            reply = client.request({"op": "clock", "set": MONDAY + "T09:00:00Z"})
            assert reply.get("ok") is True, reply
            cls.to_mo = client.request({"op": "notifications", "recipient_id": "M1"})[
                "notifications"]
            cls.to_may = client.request({"op": "notifications", "recipient_id": "M2"})[
                "notifications"]
        finally:
            client.close()
        d.stop_clean()

        conn = sqlite3.connect(d.db_path())
        try:
            assert conn.execute("PRAGMA foreign_key_list(staff)").fetchall() == []
            deleted = conn.execute("DELETE FROM staff WHERE staff_id IN ('M1', 'C2')").rowcount
            assert deleted == 2, deleted
            conn.execute("UPDATE counters SET staff_active = staff_active - 2")
            conn.commit()
        finally:
            conn.close()

        d.test_clock = MONDAY + "T09:00:00Z"
        d.restart()
        cls.client = d.client()
        cls.smtp = SmtpServer().start()
        cls.notifier = nt.Notifier(d, cls.smtp, {"digest.time": "09:30"}).start()
        reply = cls.client.request({"op": "clock", "set": MONDAY + "T09:30:00Z"})
        assert reply.get("ok") is True, reply
        cls.notifier.wait_round(MONDAY)
        cls.messages = cls.smtp.wait_for(2)

    @classmethod
    def _tear_down(cls, check_daemon=False):
        """carehub-notify first, then the relay, then the daemon (stopped
        cleanly when check_daemon)."""
        try:
            if getattr(cls, "notifier", None) is not None:
                cls.notifier.close()
        finally:
            try:
                if getattr(cls, "smtp", None) is not None:
                    cls.smtp.stop()
                if check_daemon and cls.daemon.running():
                    cls.daemon.stop_clean()
            finally:
                cls.daemon.close()

    @classmethod
    def tearDownClass(cls):
        cls._tear_down(check_daemon=True)

    def message_to(self, address):
        found = [m for m in self.messages if m.rcpt_tos == [address]]
        self.assertEqual(len(found), 1, self.messages)
        return found[0]

    def test_recipient_gone(self):
        """7a. Mo is gone: the reminder to Mo is in the fallback report, which
        says Mo is not in the staff directory (named by id: no name is left)."""
        self.assertEqual(len(self.to_mo), 1)
        report = self.message_to(FALLBACK)
        self.assertEqual(report.subject, "Reminders that could not be delivered: 1 for 1 person")
        self.assertIn("\nM1 (M1): is not in the staff directory\n  - %s\n" % CARA_DUE,
                      report.text)
        self.assertEqual(len(matching(self.notifier, r"^the digest for M1 goes to the fallback "
                                                     r"report: .*is not in the staff directory$",
                                      "note")), 1)

    def test_subject_gone(self):
        """7b. Cal is gone: May's digest still lists the reminder, under
        "Not in the staff directory", with Cal's staff id as the name."""
        self.assertEqual(len(self.to_may), 1)
        digest = self.message_to(MAY)
        self.assertEqual(digest.subject, "Staff reviews to look at: Monday 2 March 2026")
        self.assertIn("\nCOMING UP: please book these in\n\nNot in the staff directory\n"
                      "  C2\n  - %s\n" % CAL_DUE, digest.text)
        self.assertIn("sent the digest \"Staff reviews to look at: Monday 2 March 2026\" to %s "
                      "(notifications %d to %d)" % (MAY, self.to_may[0]["seq"],
                                                    self.to_may[0]["seq"]),
                      log_messages(self.notifier, "info"))

    def test_daemon_keeps_working(self):
        """The daemon answers about the people left and the gone alike, moves
        on a day, and carehub-notify follows it."""
        reply = self.client.request({"op": "staff", "staff_id": "M1"})
        self.assertEqual(reply.get("error", {}).get("code"), "not_found", reply)
        reply = self.client.request({"op": "person", "staff_id": "C2"})
        self.assertEqual(reply.get("error", {}).get("code"), "not_found", reply)
        reply = self.client.request({"op": "person", "staff_id": "C1"})
        self.assertIs(reply.get("ok"), True, reply)
        reply = self.client.request({"op": "clock", "set": TUESDAY + "T09:00:00Z"})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertTrue(self.daemon.running(), self.daemon.run_stderr()[-3000:])
        self.assertIs(self.daemon.status()["ok"], True)
        last = max(x["seq"] for x in
                   self.client.request({"op": "notifications", "recipient_id": "M1"})[
                       "notifications"] + self.to_may)
        self.notifier.wait_cursor(last)


# ---------------------------------------------------------------------------
# 9. Stopping by signal


class SignalTest(NotifyCase):

    def test_sigterm_while_following(self):
        """9. SIGTERM while following the daemon: "stopping", exit 0, no sanitizer report."""
        daemon, client = self.start_daemon(ONE_MANAGER)
        smtp = self.relay()
        n = self.notifier(daemon, smtp, {"digest.enabled": False})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        n.wait_cursor(max(x["seq"] for x in self.notifications(client, "M1")))
        smtp.wait_for(2)
        self.assertExitsWith(n, signal.SIGTERM)
        self.assertEqual(log_messages(n, "note")[-1], "stopping")

    def test_sigint_while_following(self):
        daemon, client = self.start_daemon(ONE_MANAGER)
        n = self.notifier(daemon, self.relay())
        self.wait_log(n, "follow the daemon", r"^following carehubd's notifications after 0$",
                      level="note")
        self.assertExitsWith(n, signal.SIGINT)
        self.assertEqual(log_messages(n, "note")[-1], "stopping")

    def test_sigterm_during_backoff(self):
        """9. SIGTERM while waiting to try a send again: exit 0 at once, the
        notification still ahead of the cursor."""
        daemon, client = self.start_daemon(ONE_MANAGER[:3])
        url = "smtp://127.0.0.1:%d" % free_port()
        n = self.notifier(daemon, None, {"smtp.url": url, "digest.enabled": False,
                                         "retry.first_seconds": 600,
                                         "retry.max_seconds": 600})
        self.set_clock(client, MONDAY + "T09:00:00Z")
        [reminder] = self.notifications(client, "M1")
        self.wait_log(n, "fail once", r"trying again in 600 s$", level="warn")
        self.assertExitsWith(n, signal.SIGTERM)
        self.assertLess(n.cursor(), reminder["seq"])

    def test_sigterm_while_waiting_for_the_daemon(self):
        """9. No daemon to follow yet: SIGTERM still stops it at once, exit 0."""
        directory = tempfile.mkdtemp(prefix="carehub-e2e-notify-")
        self.addCleanup(shutil.rmtree, directory, True)
        n = self.notifier(no_daemon(directory), self.relay())
        self.wait_log(n, "start", r"^carehub-notify \S+ starting: ", level="note")
        self.assertExitsWith(n, signal.SIGTERM)


if __name__ == "__main__":
    unittest.main(verbosity=2)
