#!/usr/bin/python3
"""A scriptable SMTP relay for the carehub-notify tests and benchmark.

SmtpServer wraps aiosmtpd's Controller (Debian's python3-aiosmtpd 1.4) on
127.0.0.1 and a free port, records every message it accepts and can be told
to refuse: a recipient at RCPT TO, every MAIL FROM (a relay that is down), or
a message at the end of DATA (on_data).  Everything runs in the controller's
thread; the test's thread reads through thread-safe snapshots and waits on a
condition variable, never by sleeping.

    with SmtpServer(tls=True, auth=("notify", "secret")) as relay:
        run(["mail-send", "--url", relay.url, "--starttls",
             "--ca-file", relay.ca_file, ...])
        [message] = relay.wait_for(1)
        assert message.subject == "Supervision due"

API (other tests code against these names):

  SmtpServer(tls=False, auth=None, refuse=None, *, implicit_tls=False,
             port=0, host="127.0.0.1")
      tls=True offers STARTTLS with a self-signed certificate for 127.0.0.1
      and localhost, made at start() with /usr/bin/openssl in a temporary
      directory, and requires it (530 before STARTTLS).  implicit_tls=True
      serves TLS from the first byte instead (url is then smtps://).
      auth=(user, password) requires AUTH PLAIN or LOGIN before MAIL (530
      otherwise; with TLS, AUTH is offered only after it).  refuse maps a
      recipient address (compared case-insensitively) to the reply given to
      its RCPT TO, such as "550 5.1.1 no such user".  port=0 picks a free
      port.
  .start() -> self; sets .port and .url ("smtp://127.0.0.1:PORT").
  .stop(); also a context manager (start on enter, stop on exit).
  .ca_file       the certificate to trust (tls or implicit_tls), else None.
  .messages      a snapshot list of Received, in arrival order.
  .wait_for(count, timeout=30) -> list of Received once at least count
                 messages arrived; AssertionError listing what did arrive
                 when the deadline passes.
  .set_refuse(address, reply or None)  refuse (or stop refusing) a recipient.
  .set_down(reply or None)  when set, every MAIL FROM gets reply, such as
                 "421 4.3.2 shutting down".
  .hang_up_next_mail(count=1)  the next count MAIL FROM commands get no reply
                 at all: the connection is closed instead (a relay that
                 dropped a kept connection without the client noticing).
  .on_data       None or callable(envelope), called at the end of DATA before
                 the message is recorded; a str it returns is the reply and
                 the message is NOT recorded (a relay killed before it
                 accepted); otherwise the message is recorded and "250 OK"
                 sent.  It runs in the server's event loop: a coroutine
                 function may be given, and a plain function that blocks
                 stalls every session.
  .on_message    None or callable(Received), called after each recording.
  .accepted_count  messages recorded.
  .sessions      SMTP sessions opened (connections that said EHLO or HELO),
                 to show connection reuse; aiosmtpd's own start-up probe is
                 not counted.
  .rejected      list of (stage, address, reply) for every refusal given
                 (reply None for a hang-up).

Received: mail_from, rcpt_tos, to, subject (decoded), message_id, date, text
(the decoded text/plain body, or None), html (the decoded text/html body or
None; both with line endings turned from CRLF to LF),
attachments (list of Attachment(filename, content_type, data) where
content_type is "type/subtype" without parameters and data is bytes), raw
(bytes as received), headers (email.message.EmailMessage), arrived
(time.monotonic()).

Run as a program it serves in the foreground and prints each message's To
and Subject (with --print, its text too), for demonstrations:

    python3 tests/e2e/smtp_server.py --port 2525 [--print]
"""

import argparse
import collections
import email.policy
import inspect
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, TLSSetupException

__all__ = ["SmtpServer", "Received", "Attachment", "main"]

OPENSSL = "/usr/bin/openssl"
START_TIMEOUT = float(os.environ.get("CAREHUB_SMTP_START_TIMEOUT", "30"))

Attachment = collections.namedtuple("Attachment", "filename content_type data")


class Received:
    """One message the server accepted."""

    __slots__ = ("mail_from", "rcpt_tos", "to", "subject", "message_id", "date", "text",
                 "html", "attachments", "raw", "headers", "arrived")

    def __init__(self, mail_from, rcpt_tos, raw, arrived=None):
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.raw = bytes(raw)
        self.arrived = time.monotonic() if arrived is None else arrived
        self.headers = BytesParser(policy=email.policy.default).parsebytes(self.raw)
        self.to = _header(self.headers, "To")
        self.subject = _header(self.headers, "Subject")
        self.message_id = _header(self.headers, "Message-ID")
        self.date = _header(self.headers, "Date")
        self.text = _body(self.headers, "plain")
        self.html = _body(self.headers, "html")
        self.attachments = [
            Attachment(part.get_filename(), part.get_content_type(),
                       part.get_payload(decode=True) or b"")
            for part in self.headers.iter_attachments()]

    def __repr__(self):
        return "<Received to=%r subject=%r>" % (self.to, self.subject)


def _header(message, name):
    value = message.get(name)
    return None if value is None else str(value)


def _body(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    # Lines end CRLF on the wire; tests compare with Python strings.
    return part.get_content().replace("\r\n", "\n")


def _make_certificate(directory):
    """A self-signed certificate and key for 127.0.0.1 and localhost in
    directory; returns (cert path, key path)."""
    cert = os.path.join(directory, "relay-cert.pem")
    key = os.path.join(directory, "relay-key.pem")
    cmd = [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj",
           "/CN=carehub test relay", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                        stdin=subprocess.DEVNULL)
    if cp.returncode != 0:
        raise RuntimeError("openssl could not make a certificate:\n" + cp.stderr)
    return cert, key


class _QuietExpectedNoise(logging.Filter):
    """Drops aiosmtpd's log records about what the test relay does on
    purpose: AUTH required without TLS, a deprecated attribute its own AUTH
    code sets, and TLS handshakes a test makes fail (an untrusted
    certificate).  Anything else still reaches stderr."""

    QUIET = ("auth_require_tls == False", "Session.login_data is deprecated")

    def filter(self, record):
        message = record.getMessage()
        if any(q in message for q in self.QUIET):
            return False
        if record.exc_info and record.exc_info[0] is TLSSetupException:
            return False
        return True


logging.getLogger("mail.log").addFilter(_QuietExpectedNoise())


class _Handler:
    """aiosmtpd hooks, run in the server's event loop; state lives in the
    SmtpServer and is touched only under its condition's lock."""

    def __init__(self, server):
        self.server = server

    def _count_session(self, smtp):
        # One SMTP object per connection (STARTTLS keeps it), so a flag on it
        # counts each connection once, however many times it says EHLO.
        if not getattr(smtp, "_carehub_counted", False):
            smtp._carehub_counted = True
            with self.server._cond:
                self.server._sessions += 1

    async def handle_HELO(self, server, session, envelope, hostname):
        self._count_session(server)
        session.host_name = hostname
        return "250 %s" % server.hostname

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self._count_session(server)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.server._cond:
            hang_up = self.server._hang_ups > 0
            if hang_up:
                self.server._hang_ups -= 1
                self.server._rejected.append(("MAIL", address, None))
        if hang_up:
            # The reply aiosmtpd then writes goes nowhere: the transport is
            # already closed.
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        with self.server._cond:
            down = self.server._down
            if down is not None:
                self.server._rejected.append(("MAIL", address, down))
        if down is not None:
            return down
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.server._cond:
            reply = self.server._refuse.get(address.lower())
            if reply is not None:
                self.server._rejected.append(("RCPT", address, reply))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        hook = self.server.on_data
        if hook is not None:
            verdict = hook(envelope)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if isinstance(verdict, str):
                with self.server._cond:
                    self.server._rejected.append(("DATA", envelope.mail_from, verdict))
                return verdict
        message = Received(envelope.mail_from, envelope.rcpt_tos,
                           envelope.original_content or envelope.content or b"")
        with self.server._cond:
            self.server._messages.append(message)
            self.server._cond.notify_all()
        callback = self.server.on_message
        if callback is not None:
            callback(message)
        return "250 OK"


class _Controller(Controller):
    """Controller on port 0: the kernel picks a free port, which is read back
    before aiosmtpd's start-up probe connects to it (no window in which
    another process could take a port chosen in advance)."""

    def factory(self):
        with warnings.catch_warnings():
            # "Requiring AUTH while not requiring TLS": deliberate here.
            warnings.simplefilter("ignore")
            return SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """An SMTP relay for tests; see the module documentation."""

    def __init__(self, tls=False, auth=None, refuse=None, *, implicit_tls=False, port=0,
                 host="127.0.0.1"):
        if tls and implicit_tls:
            raise ValueError("tls (STARTTLS) and implicit_tls are alternatives")
        if auth is not None and (len(auth) != 2 or not all(isinstance(x, str) for x in auth)):
            raise ValueError("auth is (user, password)")
        self.tls = bool(tls)
        self.implicit_tls = bool(implicit_tls)
        self.auth = tuple(auth) if auth is not None else None
        self.host = host
        self.port = port
        self.url = None
        self.ca_file = None
        self.on_data = None
        self.on_message = None
        self._cond = threading.Condition()
        self._refuse = {k.lower(): v for k, v in (refuse or {}).items()}
        self._down = None
        self._hang_ups = 0
        self._messages = []
        self._rejected = []
        self._sessions = 0
        self._controller = None
        self._dir = None

    # -- life cycle

    def start(self):
        if self._controller is not None:
            raise RuntimeError("SmtpServer already started")
        kwargs = {"server_hostname": "carehub-test-relay", "ready_timeout": START_TIMEOUT,
                  "enable_SMTPUTF8": True}
        try:
            if self.tls or self.implicit_tls:
                self._dir = tempfile.mkdtemp(prefix="carehub-smtp-")
                cert, key = _make_certificate(self._dir)
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(cert, key)
                self.ca_file = cert
                if self.tls:
                    kwargs.update(tls_context=context, require_starttls=True)
                else:
                    kwargs["ssl_context"] = context
            if self.auth is not None:
                kwargs.update(authenticator=self._authenticate, auth_required=True,
                              auth_require_tls=self.tls or self.implicit_tls)
            self._controller = _Controller(_Handler(self), hostname=self.host, port=self.port,
                                           **kwargs)
            self._controller.start()
        except BaseException:
            self._controller = None
            self._remove_dir()
            raise
        self.port = self._controller.port
        self.url = "%s://%s:%d" % ("smtps" if self.implicit_tls else "smtp", self.host,
                                   self.port)
        return self

    def stop(self):
        controller, self._controller = self._controller, None
        try:
            if controller is not None:
                controller.stop()
        finally:
            self._remove_dir()

    def _remove_dir(self):
        if self._dir is not None:
            shutil.rmtree(self._dir, True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- behaviour

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        user, password = self.auth
        ok = (mechanism in ("PLAIN", "LOGIN")
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        if not ok:
            with self._cond:
                self._rejected.append(("AUTH", auth_data.login.decode("utf-8", "replace"),
                                       "535 5.7.8 Authentication credentials invalid"))
        # handled=False: aiosmtpd sends the 535 itself.
        return AuthResult(success=ok, handled=False)

    def set_refuse(self, address, reply):
        """Refuse RCPT TO address with reply; None stops refusing it."""
        with self._cond:
            if reply is None:
                self._refuse.pop(address.lower(), None)
            else:
                self._refuse[address.lower()] = reply

    def set_down(self, reply):
        """Answer every MAIL FROM with reply (a relay that is down); None
        serves normally again."""
        with self._cond:
            self._down = reply

    def hang_up_next_mail(self, count=1):
        """Close the connection, without a reply, on each of the next count
        MAIL FROM commands."""
        with self._cond:
            self._hang_ups += count

    # -- observations

    @property
    def messages(self):
        with self._cond:
            return list(self._messages)

    @property
    def accepted_count(self):
        with self._cond:
            return len(self._messages)

    @property
    def sessions(self):
        with self._cond:
            return self._sessions

    @property
    def rejected(self):
        with self._cond:
            return list(self._rejected)

    def wait_for(self, count, timeout=30):
        """Waits until at least count messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "expected %d message(s) at %s within %gs, got %d: %r; refusals: %r"
                        % (count, self.url, timeout, len(self._messages), self._messages,
                           self._rejected))
                self._cond.wait(left)
            return list(self._messages)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="A local SMTP relay that prints what it receives (carehub demos and tests).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--print", action="store_true", dest="print_text",
                        help="also print each message's text part")
    parser.add_argument("--tls", action="store_true", help="offer and require STARTTLS")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH")
    args = parser.parse_args(argv)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    if auth is not None and len(auth) != 2:
        parser.error("--auth takes USER:PASSWORD")

    def show(message):
        print("To: %s\nSubject: %s" % (message.to, message.subject))
        if args.print_text:
            print()
            print(message.text or "")
            for a in message.attachments:
                print("[attachment %s, %s, %d bytes]" % (a.filename, a.content_type, len(a.data)))
            print("-" * 72)
        else:
            print()
        sys.stdout.flush()

    server = SmtpServer(tls=args.tls, auth=auth, port=args.port, host=args.host)
    server.on_message = show
    server.start()
    print("listening on %s%s (Ctrl-C to stop)" % (
        server.url, "; trust %s" % server.ca_file if server.ca_file else ""))
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
