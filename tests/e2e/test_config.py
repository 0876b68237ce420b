#!/usr/bin/python3
"""Configuration checking (carehubd -n -c FILE) and refusals at start-up:
a state_dir that cannot be written, a database that is not carehub's, and a
database written by a newer version."""

import hashlib
import os
import re
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<key>[A-Za-z_][\w.]*): (?P<reason>.+)$")


def run_daemon(args, timeout=30):
    """Runs carehubd with args to completion; returns (exit status, stdout + stderr)."""
    rc, out, err = h.run_daemon(args, timeout)
    return rc, out + err


class CheckOnly(h.ConfigFileTestCase):
    """carehubd -n -c FILE."""

    write = h.ConfigFileTestCase.write_file  # the whole file, as given

    def assertValid(self, path):
        rc, out = run_daemon(["-n", "-c", path])
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration OK", out)

    def errors_of(self, path):
        """Runs -n on an invalid file: exit 1; returns the parsed error lines."""
        rc, out = run_daemon(["-n", "-c", path])
        self.assertEqual(rc, 1, out)
        self.assertNotIn("configuration OK", out)
        return out, [m.groupdict() for m in map(ERROR_LINE.match, out.splitlines()) if m]

    def assertErrorAt(self, path, line, key, reason_pattern):
        """Exit 1 and an error 'path:line: key: reason' (key may carry its group prefix)."""
        out, errors = self.errors_of(path)
        for e in errors:
            if (e["file"] == path and int(e["line"]) == line
                    and (e["key"] == key or e["key"].endswith("." + key))
                    and re.search(reason_pattern, e["reason"], re.I)):
                return e
        self.fail("no error '%s:%d: %s: /%s/' in:\n%s" % (path, line, key, reason_pattern, out))

    def test_example_configuration(self):
        self.assertTrue(os.path.exists(h.EXAMPLE_CONF), h.EXAMPLE_CONF)
        self.assertValid(h.EXAMPLE_CONF)

    def test_minimal_configuration(self):
        self.assertValid(self.write(self.minimal()))

    def test_every_documented_group(self):
        text = self.minimal() + (
            'timezone = "Europe/London";\n'
            'limits = { max_message_bytes = 65536; max_batch_events = 100; };\n'
            'commit = { max_events = 10; max_delay_ms = 5; };\n')
        self.assertValid(self.write(text))

    def test_syntax_error(self):
        path = self.write(self.minimal() + 'limits = { max_batch_events = 10 ];\n')
        out, _ = self.errors_of(path)
        self.assertRegex(out, r"(?m)^%s:4: .*syntax" % re.escape(path))

    def test_unknown_top_level_key(self):
        path = self.write(self.minimal() + 'colour = "red";\n')
        self.assertErrorAt(path, 4, "colour", "unknown")

    def test_unknown_key_in_a_group(self):
        text = self.minimal().replace('api = { endpoint', 'api = {\n  colour = "red";\n  endpoint')
        path = self.write(text)
        e = self.assertErrorAt(path, 3, "colour", "unknown")
        self.assertIn("api", e["key"] + e["reason"], "the error names the group")

    def test_wrong_type(self):
        path = self.write(self.minimal() + 'limits = {\n  max_batch_events = "ten";\n};\n')
        self.assertErrorAt(path, 5, "max_batch_events", "integer")
        path = self.write('state_dir = 5;\n' + self.minimal().split("\n", 1)[1], "b.conf")
        self.assertErrorAt(path, 1, "state_dir", "string")

    def test_out_of_range(self):
        path = self.write(self.minimal() + 'limits = { max_batch_events = 0; };\n')
        self.assertErrorAt(path, 4, "max_batch_events", "range")
        path = self.write(self.minimal() + 'commit = { max_delay_ms = -1; };\n', "b.conf")
        self.assertErrorAt(path, 4, "max_delay_ms", "range")

    def test_missing_required_keys(self):
        api_line = 'api = { endpoint = "ipc://%s/api.sock"; };' % self.dir
        notify_line = 'notify = { endpoint = "ipc://%s/notify.sock"; };' % self.dir
        for key, text in (
                ("state_dir", self.minimal().split("\n", 1)[1]),
                ("api.endpoint", self.minimal().replace(api_line, "api = { };")),
                ("notify.endpoint", self.minimal().replace(notify_line, "notify = { };")),
                ("api", self.minimal().replace(api_line, "")),
                ("notify", self.minimal().replace(notify_line, ""))):
            with self.subTest(missing=key):
                path = self.write(text, key + ".conf")
                out, _ = self.errors_of(path)
                # A missing whole group may be reported as the group or its key.
                self.assertRegex(out, r"(?m)^%s(:\d+)?: %s(\.endpoint)?: .*(missing|required)"
                                 % (re.escape(path), re.escape(key)))

    def test_unknown_time_zone(self):
        path = self.write(self.minimal() + 'timezone = "Mars/Olympus_Mons";\n')
        self.assertErrorAt(path, 4, "timezone", "time zone")
        path = self.write(self.minimal() + 'timezone = "../../etc/passwd";\n', "b.conf")
        self.assertErrorAt(path, 4, "timezone", "time zone")

    def test_every_error_is_reported(self):
        text = self.minimal() + ('colour = "red";\n'
                                 'limits = { max_batch_events = 0; };\n'
                                 'timezone = "Nowhere/Land";\n')
        path = self.write(text)
        self.assertErrorAt(path, 4, "colour", "unknown")
        self.assertErrorAt(path, 5, "max_batch_events", "range")
        self.assertErrorAt(path, 6, "timezone", "time zone")

    def test_missing_file(self):
        rc, out = run_daemon(["-n", "-c", os.path.join(self.dir, "nope.conf")])
        self.assertEqual(rc, 1, out)
        self.assertIn("nope.conf", out)


class StartRefusals(unittest.TestCase):
    """carehubd -c refuses to start, with a clear message, and leaves what it
    refused untouched."""

    def setUp(self):
        self.daemon = h.Daemon()
        self.addCleanup(self.daemon.close)

    def assertRefused(self, *words):
        """carehubd -c exits non-zero (not by a signal) and its stderr names
        each of words (case-insensitive)."""
        self.daemon.start(wait=False)
        rc = self.daemon.wait_exit(h.START_TIMEOUT)
        err = self.daemon.run_stderr()
        self.assertGreater(rc, 0, "exit status %s; stderr:\n%s" % (rc, err))
        self.assertIsNone(h.sanitizer_report(err), err)
        for w in words:
            self.assertIn(w.lower(), err.lower(), err)
        return err

    def plant_database(self, content):
        os.makedirs(self.daemon.state_dir, exist_ok=True)
        path = os.path.join(self.daemon.state_dir, "carehub.db")
        with open(path, "wb") as f:
            f.write(content)
        return path

    @staticmethod
    def digest(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_state_dir_under_a_regular_file(self):
        workdir = tempfile.mkdtemp(prefix="carehub-e2e-")
        blocker = os.path.join(workdir, "not-a-directory")
        with open(blocker, "w") as f:
            f.write("x")
        self.daemon = h.Daemon(workdir=workdir, state_dir=blocker + "/state")
        self.addCleanup(self.daemon.close)
        self.assertRefused(blocker + "/state")

    def test_random_bytes(self):
        path = self.plant_database(os.urandom(64 * 1024))
        before = self.digest(path)
        self.assertRefused("carehub.db")
        self.assertEqual(self.digest(path), before, "the refused file was modified")

    def test_sqlite_database_of_another_application(self):
        os.makedirs(self.daemon.state_dir, exist_ok=True)
        path = os.path.join(self.daemon.state_dir, "carehub.db")
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Acme')")
        conn.commit()
        conn.close()
        before = self.digest(path)
        err = self.assertRefused("carehub.db")
        self.assertIn("carehub", err.replace(path, "").lower(),
                      "the message says it is not a carehub database")
        self.assertEqual(self.digest(path), before, "the refused file was modified")

    def test_database_from_a_newer_version(self):
        self.daemon.start()
        self.daemon.stop_clean()
        path = self.daemon.db_path()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 999")
        conn.commit()
        conn.close()
        before = self.digest(path)
        err = self.assertRefused()
        self.assertTrue("999" in err or "newer" in err.lower(),
                        "the message should say the database is from a newer version:\n"
                        + err)
        self.assertEqual(self.digest(path), before, "the refused file was modified")


if __name__ == "__main__":
    unittest.main(verbosity=2)
