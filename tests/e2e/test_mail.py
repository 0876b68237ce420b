#!/usr/bin/python3
"""The mail module (clients/mail.c) end to end: the mail-send test tool
against the scriptable relay of smtp_server.py, over plain SMTP, STARTTLS
and implicit TLS, with and without AUTH, and with every kind of refusal
mapped to its exit status (10 -EAGAIN, 11 -EPERM, 12 -EIO, 13 -EINVAL)."""

import email.utils
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

MAIL_SEND = os.path.join(h.BIN_DIR, "mail-send")

EXIT_AGAIN, EXIT_REFUSED, EXIT_IO, EXIT_INVALID, EXIT_REJECTED = 10, 11, 12, 13, 14

SENDER = "carehub@example.org"
MANAGER = "siobhan.manager@example.org"
SUBJECT = "Supervision for Zoë Ó Súilleabháin"
LONG_LINE = "".join("word%04d " % i for i in range(250))[:2000]
TEXT = ("Dear manager,\n"
        "\n"
        "Zoë Ó Súilleabháin is due a supervision on 12 March.\n"
        ".a line starting with a dot\n"
        "trailing spaces   \n"
        + LONG_LINE + "\n"
        "= an equals sign and a tab\there\n")
HTML = ("<html><body><p>Zoë Ó Súilleabháin is due a supervision.</p>"
        "<p>" + LONG_LINE + "</p></body></html>\n")
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//carehub//test//EN\r\nMETHOD:PUBLISH\r\n"
       "BEGIN:VEVENT\r\nUID:sup-1@carehub.test\r\nDTSTAMP:20240108T090000Z\r\n"
       "DTSTART;VALUE=DATE:20240312\r\nSUMMARY:Supervision for Zoë\r\nEND:VEVENT\r\n"
       "END:VCALENDAR\r\n").encode("utf-8")

# A failure that is the relay's fault or the network's must come quickly
# when nothing is listening; this is far above what a refused connect takes.
REFUSED_CONNECT_DEADLINE = 5.0


def setUpModule():
    if not os.access(MAIL_SEND, os.X_OK):
        raise h.HarnessError("%s is not built (cmake --build . --target mail-send)" % MAIL_SEND)


def send(url, *extra, subject=SUBJECT, text=TEXT, to=MANAGER, timeout=60, **kw):
    """Runs mail-send with the usual message and extra options; returns the
    CompletedProcess (a sanitizer report or a hang fails the test)."""
    args = ["--url", url, "--from", SENDER, "--from-name", "Carehub Notifications",
            "--to", to, "--subject", subject, "--text", text] + list(extra)
    return h.run_tool(MAIL_SEND, args, timeout=timeout, **kw)


def free_port():
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailTestCase(unittest.TestCase):

    def relay(self, **kw):
        server = SmtpServer(**kw).start()
        self.addCleanup(server.stop)
        return server

    def assertExit(self, cp, status, *patterns):
        """mail-send exited with status and said each pattern in one line
        "mail-send: <err>"."""
        self.assertEqual(cp.returncode, status, "stdout: %s\nstderr: %s" % (cp.stdout, cp.stderr))
        lines = [l for l in cp.stderr.splitlines() if l.startswith("mail-send: ")]
        self.assertTrue(lines, "no 'mail-send: <err>' line in: %r" % cp.stderr)
        for pattern in patterns:
            self.assertRegex(lines[0], pattern)

    def assertSent(self, cp, count=1):
        self.assertEqual(cp.returncode, 0, "stdout: %s\nstderr: %s" % (cp.stdout, cp.stderr))
        self.assertIn("%d message" % count, cp.stdout)

    def assertLinesShort(self, raw, limit=76):
        """No line of the raw message (CRLF excluded) is longer than limit,
        except libcurl's multipart Content-Type lines with their long
        boundary, which stay within RFC 5322's 998."""
        for line in raw.split(b"\r\n"):
            if re.match(rb"Content-Type: multipart/\w+; boundary=", line):
                self.assertLessEqual(len(line), 998, line)
            else:
                self.assertLessEqual(len(line), limit, line)


class PlainDelivery(MailTestCase):

    def test_message_as_received(self):
        relay = self.relay()
        before = time.time()
        cp = send(relay.url, "--html", HTML, "--to-name", "Siobhán Manager",
                  "--message-id", "<sup-1.42@carehub.test>")
        self.assertSent(cp)
        [m] = relay.wait_for(1)

        self.assertEqual(m.mail_from, SENDER)
        self.assertEqual(m.rcpt_tos, [MANAGER])
        self.assertEqual(m.subject, SUBJECT)
        self.assertEqual(m.headers["To"].addresses[0].addr_spec, MANAGER)
        self.assertEqual(m.headers["To"].addresses[0].display_name, "Siobhán Manager")
        self.assertEqual(m.headers["From"].addresses[0].addr_spec, SENDER)
        self.assertEqual(m.headers["From"].addresses[0].display_name, "Carehub Notifications")
        self.assertEqual(m.message_id, "<sup-1.42@carehub.test>")
        self.assertEqual(m.headers["Auto-Submitted"], "auto-generated")
        self.assertEqual(m.headers["MIME-Version"], "1.0")
        self.assertEqual(m.headers.get_content_type(), "multipart/alternative")
        self.assertEqual(m.attachments, [])

        # Date: RFC 5322, in UTC, the time of sending (to the second).
        self.assertRegex(m.date, r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|"
                                 r"Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000$")
        date = email.utils.parsedate_to_datetime(m.date).timestamp()
        self.assertGreaterEqual(date, int(before))
        self.assertLessEqual(date, time.time() + 1)

        # Both parts come back exactly, through quoted-printable.
        self.assertEqual(m.text, TEXT)
        self.assertEqual(m.html, HTML)
        parts = list(m.headers.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        for part in parts:
            self.assertEqual(part.get_content_charset(), "utf-8")
            self.assertEqual(part["Content-Transfer-Encoding"], "quoted-printable")

        # On the wire: 7-bit, the Subject encoded, no line over 76 characters
        # (the 2,000-character line is cut with soft breaks).
        self.assertTrue(all(b < 0x80 for b in m.raw), "8-bit bytes in the message")
        self.assertRegex(m.raw, rb"(?m)^Subject: =\?UTF-8\?B\?")
        self.assertLinesShort(m.raw)
        self.assertIn(b"word0000 word0001", m.raw)
        self.assertRegex(m.raw, rb"=\r\n")

    def test_text_only(self):
        relay = self.relay()
        self.assertSent(send(relay.url, subject="Plain subject", text="Just text.\n"))
        [m] = relay.wait_for(1)
        self.assertEqual(m.subject, "Plain subject")
        self.assertRegex(m.raw, rb"(?m)^Subject: Plain subject\r$")
        self.assertEqual(m.text, "Just text.\n")
        self.assertIsNone(m.html)
        self.assertTrue(m.message_id.startswith("<") and m.message_id.endswith(">"))

    def test_long_headers_are_folded(self):
        relay = self.relay()
        subjects = [
            "Supervisions overdue for " + ", ".join("Zoë Ó Súilleabháin %d" % i
                                                    for i in range(12)),
            "Weekly digest: " + " ".join("ascii-word-%d" % i for i in range(30)),
            "A" * 120,
            "日本語の件名" * 20,
            "Looks =?UTF-8?B?encoded?= but is not",
        ]
        name = "Zoë Ó Súilleabháin, Registered Manager of the Riverside Home " * 2
        for subject in subjects:
            self.assertSent(send(relay.url, "--to-name", name.strip(), subject=subject))
        messages = relay.wait_for(len(subjects))
        for m, subject in zip(messages, subjects):
            with self.subTest(subject=subject[:40]):
                self.assertEqual(m.subject, subject)
                self.assertEqual(m.headers["To"].addresses[0].display_name, name.strip())
                self.assertEqual(m.headers["To"].addresses[0].addr_spec, MANAGER)
                header_block = m.raw.split(b"\r\n\r\n", 1)[0]
                self.assertLinesShort(header_block)

    def test_count_uses_one_session(self):
        relay = self.relay()
        cp = send(relay.url, "--count", "50", timeout=120)
        self.assertSent(cp, 50)
        messages = relay.wait_for(50)
        self.assertEqual(len(messages), 50)
        self.assertEqual(relay.sessions, 1, "the connection was not reused")
        self.assertEqual(len({m.message_id for m in messages}), 50, "Message-IDs repeat")
        self.assertTrue(all(m.subject == SUBJECT for m in messages))


class Attachments(MailTestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="carehub-e2e-mail-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ics = os.path.join(self.dir, "supervisions.ics")
        with open(self.ics, "wb") as f:
            f.write(ICS)

    def test_calendar_attachment(self):
        relay = self.relay()
        cp = send(relay.url, "--html", HTML, "--attach",
                  "supervisions.ics:text/calendar; charset=UTF-8; method=PUBLISH:" + self.ics)
        self.assertSent(cp)
        [m] = relay.wait_for(1)
        self.assertEqual(m.headers.get_content_type(), "multipart/mixed")
        self.assertEqual(m.text, TEXT)
        self.assertEqual(m.html, HTML)
        self.assertEqual(m.attachments, [("supervisions.ics", "text/calendar", ICS)])
        [part] = list(m.headers.iter_attachments())
        self.assertEqual(part["Content-Transfer-Encoding"], "base64")
        self.assertEqual(part.get_param("method"), "PUBLISH")
        self.assertEqual(part.get_content_disposition(), "attachment")
        self.assertTrue(all(b < 0x80 for b in m.raw))
        self.assertLinesShort(m.raw)

    def test_attachment_with_a_non_ascii_name(self):
        relay = self.relay()
        cp = send(relay.url, "--attach", "Zoë \"Ó\" Súilleabháin.ics:text/calendar:" + self.ics)
        self.assertSent(cp)
        [m] = relay.wait_for(1)
        self.assertEqual(m.attachments, [("Zoë \"Ó\" Súilleabháin.ics", "text/calendar", ICS)])
        self.assertIsNone(m.html)

    def test_quoted_ascii_name(self):
        relay = self.relay()
        cp = send(relay.url, "--attach", 'due "soon" \\ list.ics:text/calendar:' + self.ics)
        self.assertSent(cp)
        [m] = relay.wait_for(1)
        self.assertEqual(m.attachments[0].filename, 'due "soon" \\ list.ics')


class Tls(MailTestCase):

    def test_starttls_with_the_relay_ca(self):
        relay = self.relay(tls=True)
        self.assertTrue(os.path.exists(relay.ca_file))
        self.assertSent(send(relay.url, "--starttls", "--ca-file", relay.ca_file))
        [m] = relay.wait_for(1)
        self.assertEqual(m.subject, SUBJECT)

    def test_untrusted_certificate_fails(self):
        relay = self.relay(tls=True)
        cp = send(relay.url, "--starttls")
        self.assertExit(cp, EXIT_IO, re.escape(relay.url), r"(?i)TLS|certificate")
        self.assertEqual(relay.accepted_count, 0)

    def test_no_verify_accepts_any_certificate(self):
        relay = self.relay(tls=True)
        self.assertSent(send(relay.url, "--starttls", "--no-verify"))
        relay.wait_for(1)

    def test_plain_client_to_a_relay_requiring_starttls(self):
        relay = self.relay(tls=True)
        cp = send(relay.url)
        self.assertExit(cp, EXIT_IO, r"530")
        self.assertEqual(relay.accepted_count, 0)

    def test_starttls_required_but_not_offered(self):
        relay = self.relay()
        cp = send(relay.url, "--starttls")
        self.assertExit(cp, EXIT_IO, r"(?i)TLS|SSL")
        self.assertEqual(relay.accepted_count, 0)

    def test_implicit_tls(self):
        relay = self.relay(implicit_tls=True)
        self.assertTrue(relay.url.startswith("smtps://"))
        self.assertSent(send(relay.url, "--smtps", "--ca-file", relay.ca_file, "--count", "3"), 3)
        relay.wait_for(3)
        self.assertEqual(relay.sessions, 1)

    def test_scheme_must_match_the_tls_mode(self):
        relay = self.relay()
        cp = send(relay.url, "--smtps")
        self.assertExit(cp, EXIT_INVALID, r"smtps")
        self.assertEqual(relay.sessions, 0)


class Auth(MailTestCase):

    def test_auth_after_starttls(self):
        relay = self.relay(tls=True, auth=("notify", "s3cret pass"))
        cp = send(relay.url, "--starttls", "--ca-file", relay.ca_file, "--user", "notify",
                  "--password", "s3cret pass")
        self.assertSent(cp)
        relay.wait_for(1)

    def test_wrong_password(self):
        relay = self.relay(tls=True, auth=("notify", "s3cret pass"))
        cp = send(relay.url, "--starttls", "--ca-file", relay.ca_file, "--user", "notify",
                  "--password", "wrong")
        self.assertExit(cp, EXIT_IO, r"(?i)auth", r"535")
        self.assertNotIn("wrong", cp.stderr, "the password appears in the message")
        self.assertEqual(relay.accepted_count, 0)

    def test_auth_without_tls(self):
        relay = self.relay(auth=("notify", "pw"))
        self.assertSent(send(relay.url, "--user", "notify", "--password", "pw"))
        relay.wait_for(1)

    def test_missing_credentials(self):
        relay = self.relay(auth=("notify", "pw"))
        cp = send(relay.url)
        self.assertExit(cp, EXIT_IO, r"530")
        self.assertEqual(relay.accepted_count, 0)


class Refusals(MailTestCase):

    def test_recipient_refused_for_good(self):
        relay = self.relay(refuse={"gone@example.org": "550 5.1.1 no such user"})
        cp = send(relay.url, to="gone@example.org")
        self.assertExit(cp, EXIT_REFUSED, re.escape(relay.url), r"gone@example\.org",
                        r'"550 5\.1\.1 no such user"')
        self.assertEqual(relay.accepted_count, 0)

    def test_recipient_refused_for_now(self):
        relay = self.relay()
        relay.set_refuse("busy@example.org", "451 4.3.0 try later")
        cp = send(relay.url, to="busy@example.org")
        self.assertExit(cp, EXIT_AGAIN, re.escape(relay.url), r'"451 4\.3\.0 try later"')
        relay.set_refuse("busy@example.org", None)
        self.assertSent(send(relay.url, to="busy@example.org"))
        relay.wait_for(1)

    def test_relay_down(self):
        relay = self.relay()
        relay.set_down("421 4.3.2 shutting down")
        cp = send(relay.url)
        self.assertExit(cp, EXIT_AGAIN, re.escape(relay.url), r'"421 4\.3\.2 shutting down"')
        self.assertEqual(relay.accepted_count, 0)
        relay.set_down(None)
        self.assertSent(send(relay.url))
        relay.wait_for(1)

    def test_message_refused_at_the_end_of_data(self):
        relay = self.relay()
        relay.on_data = lambda envelope: "554 5.6.0 content rejected"
        self.assertExit(send(relay.url), EXIT_REJECTED, r'"554 5\.6\.0 content rejected"')
        relay.on_data = lambda envelope: "452 4.3.1 insufficient storage"
        self.assertExit(send(relay.url), EXIT_AGAIN, r'"452 4\.3\.1 insufficient storage"')
        self.assertEqual(relay.accepted_count, 0)
        relay.on_data = None
        self.assertSent(send(relay.url))
        relay.wait_for(1)

    def test_kept_connection_dropped_by_the_relay(self):
        # The relay drops the kept connection, unnoticed, once the first
        # message is in: the second goes out on a new connection at once.
        relay = self.relay()
        relay.on_message = lambda message: (relay.hang_up_next_mail(1)
                                            if relay.accepted_count == 1 else None)
        self.assertSent(send(relay.url, "--count", "3"), 3)
        relay.wait_for(3)
        self.assertEqual(relay.sessions, 2)
        self.assertEqual([r[0] for r in relay.rejected], ["MAIL"])

    def test_dropped_twice_is_temporary(self):
        relay = self.relay()
        relay.on_message = lambda message: relay.hang_up_next_mail(2)
        cp = send(relay.url, "--count", "2")
        self.assertExit(cp, EXIT_AGAIN, re.escape(relay.url))
        self.assertIn("1 of 2 messages were accepted", cp.stderr)
        self.assertEqual(relay.accepted_count, 1)
        self.assertEqual(relay.sessions, 2, "one new connection, not more")

    def test_hang_up_on_a_new_connection_is_not_retried(self):
        relay = self.relay()
        relay.hang_up_next_mail(1)
        self.assertExit(send(relay.url), EXIT_AGAIN, re.escape(relay.url))
        self.assertEqual(relay.sessions, 1)
        self.assertEqual(relay.accepted_count, 0)

    def test_nothing_listening(self):
        url = "smtp://127.0.0.1:%d" % free_port()
        start = time.monotonic()
        cp = send(url, "--timeout-ms", "20000")
        elapsed = time.monotonic() - start
        self.assertExit(cp, EXIT_AGAIN, re.escape(url))
        self.assertLess(elapsed, REFUSED_CONNECT_DEADLINE, "a refused connection took %.1fs"
                        % elapsed)

    def test_relay_that_never_answers(self):
        # Listening, so the connection is made, but nothing is ever said.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            url = "smtp://127.0.0.1:%d" % silent.getsockname()[1]
            start = time.monotonic()
            cp = send(url, "--timeout-ms", "500")
            elapsed = time.monotonic() - start
        self.assertExit(cp, EXIT_AGAIN, re.escape(url), r"(?i)time")
        self.assertLess(elapsed, 20)


class InvalidMessages(MailTestCase):

    def test_header_injection_in_the_subject(self):
        relay = self.relay()
        cp = send(relay.url, subject="Supervision due\r\nBcc: everyone@example.org")
        self.assertExit(cp, EXIT_INVALID, r"(?i)subject.*line break")
        # mail-send checks before connecting and exits only when done, so
        # there is nothing still in flight to wait for.
        self.assertEqual(relay.sessions, 0)
        self.assertEqual(relay.accepted_count, 0)

    def test_line_breaks_anywhere_in_the_headers(self):
        relay = self.relay()
        for args, kw in (
                (["--to-name", "Zoë\nBcc: x@example.org"], {}),
                (["--from-name", "Carehub\r"], {}),
                ([], {"to": "a@example.org\r\nBcc: x@example.org"}),
                (["--message-id", "<a@b>\r\nBcc: x@example.org"], {}),
                ([], {"subject": "only a newline\n"})):
            with self.subTest(args=args, kw=kw):
                self.assertExit(send(relay.url, *args, **kw), EXIT_INVALID, r"line break")
        self.assertEqual(relay.sessions, 0)

    def test_malformed_fields(self):
        relay = self.relay()
        for args, kw in (
                ([], {"to": "not-an-address"}),
                ([], {"to": "<a@example.org>"}),
                ([], {"to": "a b@example.org"}),
                (["--message-id", "no-angle-brackets@example.org"], {}),
                ([], {"subject": "bad utf-8 \udcff"})):
            with self.subTest(args=args, kw=kw):
                self.assertExit(send(relay.url, *args, **kw), EXIT_INVALID)
        self.assertEqual(relay.sessions, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
