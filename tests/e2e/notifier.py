"""carehub-notify for the end-to-end tests: its configuration, its process,
its state file.

A Notifier writes a carehub-notify.conf pointing at a harness.Daemon and an
smtp_server.SmtpServer, runs the real carehub-notify built by CMake, and
reads its state file (SQLite) to wait for what it has done.  Nothing here
sleeps for a fixed time: every wait polls for a condition with a deadline.
"""

import json
import os
import signal
import sqlite3
import subprocess

import harness as h

CAREHUB_NOTIFY = os.path.join(h.BIN_DIR, "carehub-notify")
EXAMPLE_NOTIFY_CONF = os.path.join(h.SOURCE_DIR, "conf", "carehub-notify.conf")
EXAMPLE_TEMPLATES = os.path.join(h.SOURCE_DIR, "conf", "carehub-notify.templates")


def value(v):
    """A Python value in libconfig syntax."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


def notify_config_text(daemon, smtp_url, state_file, settings=None, extra=""):
    """A carehub-notify.conf; settings maps "group.key" (or "key") to values."""
    groups = {"smtp": {"url": smtp_url, "tls": "none"},
              "mail": {"from": "care-reviews@example.org", "fallback": "hr-lead@example.org"},
              "retry": {"first_seconds": 1, "max_seconds": 2}}
    top = {"state_file": state_file, "clock_poll_ms": 50, "organisation": "Rosewood House"}
    for key, v in (settings or {}).items():
        if "." in key:
            group, name = key.split(".", 1)
            groups.setdefault(group, {})
            if v is None:
                groups[group].pop(name, None)
            else:
                groups[group][name] = v
        elif v is None:
            top.pop(key, None)
        else:
            top[key] = v
    text = 'api = { endpoint = "%s"; };\nnotify = { endpoint = "%s"; };\n' % (
        daemon.api, daemon.notify)
    for key, v in top.items():
        text += "%s = %s;\n" % (key, value(v))
    for group, values in groups.items():
        text += "%s = { %s };\n" % (group, " ".join(
            "%s = %s;" % (k, value(v)) for k, v in values.items()))
    return text + extra


class Notifier:
    """The real carehub-notify, configured for daemon and smtp."""

    def __init__(self, daemon, smtp, settings=None, extra="", name="notify"):
        self.daemon = daemon
        self.smtp = smtp
        self.conf = os.path.join(daemon.workdir, name + ".conf")
        self.state_file = os.path.join(daemon.workdir, name + ".db")
        self.stderr_path = os.path.join(daemon.workdir, name + ".stderr.log")
        self.proc = None
        self.write_config(settings, extra)

    def write_config(self, settings=None, extra=""):
        with open(self.conf, "w") as f:
            f.write(notify_config_text(self.daemon, self.smtp.url if self.smtp else
                                       "smtp://127.0.0.1:9", self.state_file, settings, extra))

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([CAREHUB_NOTIFY, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=h.tool_env(), close_fds=True)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, and waits for it to be gone."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=h.STOP_TIMEOUT)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=h.STOP_TIMEOUT) if self.proc else None

    def close(self):
        if self.running():
            self.stop()
        report = h.sanitizer_report(self.stderr())
        if report:
            raise h.HarnessError("carehub-notify's stderr has a sanitizer report:\n" + report)

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- its state file

    def query(self, sql, args=()):
        """Rows of a query on the state file ([] while it does not exist yet)."""
        if not os.path.exists(self.state_file):
            return []
        conn = sqlite3.connect("file:%s?mode=ro" % self.state_file, uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    def cursor(self):
        rows = self.query("SELECT cursor FROM progress")
        return rows[0][0] if rows else 0

    def digest_day(self):
        rows = self.query("SELECT digest_day FROM progress")
        return rows[0][0] if rows else ""

    def deliveries(self):
        return self.query("SELECT message_id, address, subject, what, first_seq, last_seq "
                          "FROM deliveries ORDER BY id")

    def wait_until(self, what, condition, timeout=30):
        """Waits until condition() is true, failing early if carehub-notify
        exits: woken by every write to its state file and log (and by its
        exit), never by a timer."""
        def check():
            if condition():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                raise h.HarnessError("carehub-notify exited (%s) while waiting for %s:\n%s"
                                     % (self.proc.returncode, what, self.stderr()[-4000:]))
            return False
        try:
            h.wait_until("carehub-notify to " + what, check, self.daemon.workdir, [self.proc],
                         timeout)
        except h.HarnessError as e:
            if "did not happen" not in str(e):
                raise
            raise h.HarnessError("carehub-notify did not %s within %ss:\n%s"
                                 % (what, timeout, self.stderr()[-4000:]))

    def wait_cursor(self, seq, timeout=30):
        self.wait_until("reach notification %d" % seq, lambda: self.cursor() >= seq, timeout)

    def wait_round(self, day, timeout=30):
        """Waits until the daily round of day (YYYY-MM-DD) is done."""
        self.wait_until("finish the round of %s" % day, lambda: self.digest_day() >= day,
                        timeout)


def run_notify(args, timeout=60):
    """Runs carehub-notify with args to completion: (status, stdout, stderr)."""
    proc = subprocess.run([CAREHUB_NOTIFY] + args, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=h.tool_env(), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr
