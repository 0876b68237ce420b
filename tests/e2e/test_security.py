#!/usr/bin/python3
"""CURVE, authorised keys, roles and connection limits, through the real
daemon and the real client tools (issue 6, items 3 to 5).

A daemon with security.curve on, its API on TCP loopback, and keys made with
`carehubctl keygen`: an admin, a publisher, a reader, a reader limited to
team T1, a reader revoked by a reload, and a stranger's key nobody listed.
Each hostile client is refused and the refusal logged, while the admin's
client keeps being served:

- an unknown key: its handshake never completes (no reply), the log says
  the key is not authorised;
- a key revoked by a reload: served before, "unauthorised" on its next
  request on the same connection after SIGHUP;
- a publisher asking for backup, a reader asking to publish: "forbidden";
- a reader limited to T1 asking about T9: "forbidden"; about T2 (below T1):
  answered;
- a NULL-mechanism client (no keys): no reply, logged;
- a plain TCP client sending garbage: dropped, logged;
- a client that stalls in its handshake: dropped after
  limits.handshake_timeout_ms, logged;
- carehub-notify with api.key_file and api.server_key follows the daemon.

The admin client's status round trips are timed quietly and while hostile
clients hammer the daemon (printed; no assertion on timing: see
bench/security.py).  A plain daemon on tcp://0.0.0.0 logs the warning and
refuses connections over limits.max_connections.  A daemon whose
authorised-keys file has a mistake (FILE:LINE) or whose key file is
missing does not start.

Every wait is for a reply, a log line or a closed socket, with a deadline.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import notifier  # noqa: E402
from harness import staff_hired, team_changed  # noqa: E402

WAIT = 20  # seconds: the deadline of every wait
HANDSHAKE_MS = 1000
LATENCY_ROUNDS = 300


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(directory, name):
    """Makes NAME.key and NAME.pub with carehubctl keygen; returns (public, secret) Z85 bytes."""
    cp = subprocess.run([h.CAREHUBCTL, "--json", "keygen", name, "--dir", directory],
                        capture_output=True, text=True, env=h.tool_env(), timeout=30)
    if cp.returncode != 0:
        raise h.HarnessError("keygen %s failed: %s" % (name, cp.stderr))
    info = json.loads(cp.stdout)
    with open(info["key_file"]) as f:
        secret = re.search(r"secret-key = (\S+)", f.read()).group(1)
    return info["public_key"].encode(), secret.encode()


def wait_log(daemon, pattern, timeout=WAIT, start=0):
    """Waits until the daemon's current run has logged a line matching pattern
    (after character start); returns the match.  Woken by each write to its
    log, never by a timer."""
    found = []

    def check():
        text = daemon.run_stderr()[start:]
        m = re.search(pattern, text)
        if m:
            found.append(m)
            return True
        if not daemon.running():
            raise h.HarnessError("carehubd exited while waiting for %r:\n%s" % (pattern, text))
        return False
    try:
        h.wait_until("a log line matching %r" % pattern, check, daemon.workdir, [daemon.proc],
                     timeout)
    except h.HarnessError as e:
        if "did not happen" not in str(e):
            raise
        raise h.HarnessError("no log line matching %r within %ds:\n%s"
                             % (pattern, timeout, daemon.run_stderr()[start:][-3000:]))
    return found[0]


def wait_closed(sock, timeout=WAIT):
    """Waits until the peer closes sock (reading what it sends); True when it did."""
    sock.settimeout(timeout)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if not sock.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return False


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def time_status(client, rounds):
    """Milliseconds of each of rounds status round trips."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        reply = client.status()
        out.append((time.perf_counter() - t) * 1000)
        if reply.get("ok") is not True:
            raise h.HarnessError("status refused: %r" % (reply,))
    return out


class Hostiles:
    """Threads that keep attacking the API until stopped: garbage over TCP,
    handshakes that stall, and a client with an unknown key reconnecting."""

    def __init__(self, port, endpoint, server_public, stranger):
        self.port = port
        self.endpoint = endpoint
        self.server_public = server_public
        self.stranger = stranger
        self.stop = threading.Event()
        self.rounds = {"garbage": 0, "stall": 0, "unknown": 0}
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.garbage, self.stall, self.unknown)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(WAIT)

    def garbage(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(os.urandom(512))
                    wait_closed(s, 2)
            except OSError:
                pass
            self.rounds["garbage"] += 1

    def stall(self):
        while not self.stop.is_set():
            socks = []
            try:
                for _ in range(5):
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    s.sendall(b"\xff\x00\x00\x00")
                    socks.append(s)
                self.stop.wait(0.2)  # pacing of the attack, not a wait for a result
            except OSError:
                pass
            for s in socks:
                s.close()
            self.rounds["stall"] += 1

    def unknown(self):
        ctx = zmq.Context()
        while not self.stop.is_set():
            c = h.Client(self.endpoint, context=ctx,
                         curve=(self.server_public,) + self.stranger)
            c.send({"op": "status"})
            c.sock.poll(100)
            c.close()
            self.rounds["unknown"] += 1
        ctx.term()


class CurveDaemonTest(h.DaemonTestCase):
    """One daemon with CURVE, shared by the tests in the order they are numbered."""

    @classmethod
    def setUpClass(cls):
        for path in (h.CAREHUBD, h.CAREHUB_PUB, h.CAREHUBCTL):
            if not os.access(path, os.X_OK):
                raise h.HarnessError("%s is not built" % path)
        cls.daemon = h.Daemon()
        d = cls.daemon
        cls.keydir = os.path.join(d.workdir, "keys")
        os.makedirs(cls.keydir)
        cls.keys = {name: keygen(cls.keydir, name)
                    for name in ("carehubd", "admin", "hr", "reader", "teamreader", "revokee",
                                 "stranger", "notify")}
        cls.server_public = cls.keys["carehubd"][0]
        cls.authorised = os.path.join(d.workdir, "authorised_keys")
        cls.write_keys(["admin", "hr", "reader", "teamreader", "revokee", "notify"])
        cls.port = free_port()
        d.api = "tcp://127.0.0.1:%d" % cls.port
        with open(d.conf, "w") as f:
            f.write(h.config_text(
                d.state_dir, d.api, d.notify,
                limits={"handshake_timeout_ms": HANDSHAKE_MS},
                extra='security = { curve = true; server_key_file = "%s"; '
                      'authorised_keys = "%s"; };\n'
                      % (os.path.join(cls.keydir, "carehubd.key"), cls.authorised)))
        d.client_curve = cls.curve("admin")
        try:
            d.start()
        except Exception:
            d.close()
            raise

    @classmethod
    def write_keys(cls, names):
        roles = {"admin": "admin", "hr": "publisher", "reader": "reader",
                 "teamreader": "reader", "revokee": "reader", "notify": "reader"}
        with open(cls.authorised, "w") as f:
            f.write("# carehub authorised keys\n")
            for name in names:
                f.write("%s %s %s%s\n" % (cls.keys[name][0].decode(), roles[name], name,
                                          " team=T1" if name == "teamreader" else ""))

    @classmethod
    def curve(cls, name):
        return (cls.server_public,) + cls.keys[name]

    def client(self, name):
        return self.daemon.client(curve=self.curve(name))

    def assertNoReply(self, client):
        """client's request never gets an answer: the handshake did not complete."""
        self.assertEqual(client.sock.poll(0), 0)

    # -- the tests, in order

    def test_01_roles(self):
        admin = self.client("admin")
        reply = admin.publish([team_changed("T1", "North"),
                               team_changed("T2", "North east", parent_id="T1"),
                               team_changed("T9", "South"),
                               staff_hired("S1", "Ann", team_id="T2"),
                               staff_hired("S9", "Bob", team_id="T9")])
        self.assertEqual(h.statuses(reply), ["stored"] * 5, reply)

        hr = self.client("hr")
        self.assertIs(hr.status()["ok"], True)
        self.assertError(hr.request({"op": "backup", "path": "/tmp/never.db"}), "forbidden")
        wait_log(self.daemon, r"refused a backup request from hr \(publisher\)")

        reader = self.client("reader")
        self.assertIs(reader.request({"op": "team", "team_id": "T9"})["ok"], True)
        self.assertError(reader.publish([team_changed("T3", "East")]), "forbidden")
        wait_log(self.daemon, r"refused a publish request from reader \(reader\)")

        # The same over the real tools.
        env = h.tool_env(self.daemon.api, {
            "CAREHUB_KEY_FILE": os.path.join(self.keydir, "hr.key"),
            "CAREHUB_SERVER_KEY": os.path.join(self.keydir, "carehubd.pub")})
        cp = subprocess.run([h.CAREHUBCTL, "backup", os.path.join(self.daemon.workdir, "b.db")],
                            capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("forbidden", cp.stderr)
        events = os.path.join(self.daemon.workdir, "events.json")
        with open(events, "w") as f:
            json.dump([team_changed("T4", "West")], f)
        cp = subprocess.run([h.CAREHUB_PUB, "--key-file", os.path.join(self.keydir, "hr.key"),
                             "--server-key", os.path.join(self.keydir, "carehubd.pub"), events],
                            capture_output=True, text=True, env=h.tool_env(self.daemon.api),
                            timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("stored 1", cp.stdout)

    def test_02_team_limited_reader(self):
        r = self.client("teamreader")
        self.assertIs(r.request({"op": "team", "team_id": "T2"})["ok"], True)
        self.assertIs(r.request({"op": "staff", "staff_id": "S1"})["ok"], True)
        self.assertError(r.request({"op": "team", "team_id": "T9"}), "forbidden")
        self.assertError(r.request({"op": "staff", "staff_id": "S9"}), "forbidden")
        self.assertError(r.request({"op": "person", "staff_id": "S9"}), "forbidden")
        self.assertError(r.request({"op": "overdue", "team_id": "T9"}), "forbidden")
        self.assertError(r.request({"op": "notifications"}), "forbidden")
        self.assertIs(r.request({"op": "overdue"})["ok"], True)  # narrowed to T1
        wait_log(self.daemon, r"refused a team request from teamreader \(reader, team T1\)")

    def test_03_unknown_key(self):
        stranger = self.client("stranger")
        stranger.send({"op": "status"})
        wait_log(self.daemon, r"refused a connection from 127\.0\.0\.1: the key %s is not "
                 r"authorised" % re.escape(self.keys["stranger"][0].decode()))
        self.assertNoReply(stranger)
        stranger.close()
        self.assertServing()

    def test_04_null_mechanism(self):
        plain = self.daemon.client(curve=None)
        plain.send({"op": "status"})
        wait_log(self.daemon, r"dropped a connection to tcp://127\.0\.0\.1:%d: its security "
                 r"mechanism does not match" % self.port)
        self.assertNoReply(plain)
        plain.close()
        self.assertServing()

    def test_05_garbage_over_tcp(self):
        start = len(self.daemon.run_stderr())
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: carehub\r\n\r\n" + os.urandom(2048))
            self.assertTrue(wait_closed(s), "carehubd kept a garbage connection open")
        wait_log(self.daemon, r"dropped a connection to tcp://", start=start)
        self.assertServing()

    def test_06_stalled_handshake(self):
        start = len(self.daemon.run_stderr())
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as s:
            s.sendall(b"\xff\x00\x00\x00\x00")  # half a ZMTP greeting, then nothing
            t = time.monotonic()
            self.assertTrue(wait_closed(s), "carehubd kept a stalled handshake open")
            waited = time.monotonic() - t
        self.assertGreater(waited, HANDSHAKE_MS / 1000 * 0.5)
        wait_log(self.daemon, r"dropped a connection to tcp://[^:]+:\d+: its handshake did not "
                 r"complete", start=start)
        self.assertServing()

    def test_07_revoked_by_reload(self):
        revokee = self.client("revokee")
        self.assertIs(revokee.status()["ok"], True)
        self.write_keys(["admin", "hr", "reader", "teamreader", "notify"])
        start = len(self.daemon.run_stderr())
        self.daemon.signal(signal.SIGHUP)
        wait_log(self.daemon, r"authorised keys reloaded from .*: 5 keys", start=start)
        self.assertError(revokee.status(), "unauthorised")
        wait_log(self.daemon, r"refused a status request from key %s: it is not \(or no longer\) "
                 r"authorised" % re.escape(self.keys["revokee"][0].decode()))
        self.assertServing()

    def test_08_bad_keys_file_on_reload(self):
        with open(self.authorised, "a") as f:
            f.write("not-a-key admin oops\n")
        start = len(self.daemon.run_stderr())
        self.daemon.signal(signal.SIGHUP)
        wait_log(self.daemon, r"%s:7: " % re.escape(self.authorised), start=start)
        wait_log(self.daemon, r"configuration not reloaded", start=start)
        self.assertIs(self.client("hr").status()["ok"], True)  # the old keys still hold
        self.write_keys(["admin", "hr", "reader", "teamreader", "notify"])

    def test_09_latency_under_hostile_clients(self):
        admin = self.client("admin")
        time_status(admin, 20)  # warm up
        quiet = time_status(admin, LATENCY_ROUNDS)
        with Hostiles(self.port, self.daemon.api, self.server_public,
                      self.keys["stranger"]) as hostiles:
            # Until every kind of attack has run, and at least LATENCY_ROUNDS requests.
            hostile = time_status(admin, LATENCY_ROUNDS)
            end = time.monotonic() + WAIT
            while min(hostiles.rounds.values()) < 2 and time.monotonic() < end:
                hostile += time_status(admin, 10)
        print("\nadmin status latency with CURVE: quiet p50 %.2f ms p99 %.2f ms; under hostile "
              "clients (%s) p50 %.2f ms p99 %.2f ms"
              % (percentile(quiet, 50), percentile(quiet, 99), hostiles.rounds,
                 percentile(hostile, 50), percentile(hostile, 99)), file=sys.stderr)
        self.assertGreaterEqual(min(hostiles.rounds.values()), 2, hostiles.rounds)
        self.assertServing()

    def test_10_notify_with_curve(self):
        n = notifier.Notifier(self.daemon, None)
        with open(n.conf) as f:
            text = f.read()
        api = 'api = { endpoint = "%s"; };' % self.daemon.api
        self.assertIn(api, text)
        with open(n.conf, "w") as f:
            f.write(text.replace(api, 'api = { endpoint = "%s"; key_file = "%s"; '
                                 'server_key = "%s"; };'
                                 % (self.daemon.api, os.path.join(self.keydir, "notify.key"),
                                    os.path.join(self.keydir, "carehubd.pub"))))
        try:
            n.start()
            n.wait_until("follow the daemon's notifications",
                         lambda: "following carehubd's notifications" in n.stderr())
            wait_log(self.daemon, r"admitted notify \(reader\)")
            self.assertNotIn("unauthorised", n.stderr())
        finally:
            n.close()


class PlainDaemonTest(h.DaemonTestCase):
    """Without CURVE on every interface: the warning, and max_connections."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = h.Daemon(limits={"max_connections": 4})
        d = cls.daemon
        cls.port = free_port()
        d.api = "tcp://127.0.0.1:%d" % cls.port
        with open(d.conf, "w") as f:
            f.write(h.config_text(d.state_dir, "tcp://0.0.0.0:%d" % cls.port, d.notify,
                                  limits={"max_connections": 4}))
        try:
            d.start()
        except Exception:
            d.close()
            raise

    def test_warning(self):
        wait_log(self.daemon, r"api\.endpoint tcp://0\.0\.0\.0:%d is reachable from other "
                 r"machines without CURVE: anyone who can reach it can publish and read personal "
                 r"data; set security\.curve" % self.port)

    def test_max_connections(self):
        served = []
        refused = None
        for _ in range(8):
            c = h.Client(self.daemon.api)
            rid = c.send({"op": "status"})
            if c.sock.poll(3000):
                self.assertIs(c.recv_for(rid)["ok"], True)
                served.append(c)
            else:
                refused = c
                break
        self.assertIsNotNone(refused, "more than 4 connections were served")
        self.assertLessEqual(len(served), 4)
        wait_log(self.daemon, r"refused a connection from 127\.0\.0\.1: too many connections "
                 r"\(\d+ open, limits\.max_connections is 4\)")
        refused.close()
        for c in served:
            c.close()
        # Once they are gone, a new client is served again.
        end = time.monotonic() + WAIT
        while True:
            with h.Client(self.daemon.api) as c:
                rid = c.send({"op": "status"})
                if c.sock.poll(500):
                    self.assertIs(c.recv_for(rid)["ok"], True)
                    break
            self.assertLess(time.monotonic(), end, "no client served after the others left")


class StartupRefusedTest(h.ConfigFileTestCase):
    """carehubd does not start without its keys, or with a bad keys file."""

    def curve_config(self, server_key_file, authorised):
        return self.write('security = { curve = true; server_key_file = "%s"; '
                          'authorised_keys = "%s"; };\n' % (server_key_file, authorised))

    def test_bad_authorised_keys(self):
        public, _ = keygen(self.dir, "carehubd")
        client, _ = keygen(self.dir, "client")
        keys = self.write_file("# keys\n%s admin ops\n%s superuser eve\n"
                               % (client.decode(), public.decode()), "authorised_keys")
        conf = self.curve_config(os.path.join(self.dir, "carehubd.key"), keys)
        rc, _, err = h.run_daemon(["-c", conf])
        self.assertEqual(rc, 1, err)
        self.assertIn('%s:3: "superuser" is not a role' % keys, err)
        self.assertIn("carehubd will not start", err)

    def test_missing_server_key(self):
        client, _ = keygen(self.dir, "client")
        keys = self.write_file("%s admin ops\n" % client.decode(), "authorised_keys")
        conf = self.curve_config(os.path.join(self.dir, "missing.key"), keys)
        rc, _, err = h.run_daemon(["-c", conf])
        self.assertEqual(rc, 1, err)
        self.assertIn("security.server_key_file", err)
        self.assertIn("missing.key", err)

    def test_curve_needs_its_files(self):
        conf = self.write("security = { curve = true; };\n")
        rc, _, err = h.run_daemon(["-n", "-c", conf])
        self.assertEqual(rc, 1, err)
        self.assertIn("security.server_key_file: required when security.curve is true", err)
        self.assertIn("security.authorised_keys: required when security.curve is true", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
