#!/usr/bin/python3
"""Lifecycle: SIGTERM while carehub-pub and a second publisher are loading
the daemon.  The daemon finishes what is in flight and exits 0 (no leak
report); every event acknowledged before it exited is in the database; a
restart keeps the totals; carehub-pub reconnects and completes."""

import json
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402

LOAD = int(os.environ.get("CAREHUB_E2E_LIFECYCLE_EVENTS", "50000"))
BATCH = 50
WINDOW_BATCHES = 10
ACKS_BEFORE_SIGTERM = 20  # batches of the Python publisher


class TrackedPublisher:
    """A DEALER publisher that keeps a window of batches in flight and records
    exactly which events were acknowledged."""

    def __init__(self, endpoint):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.sock.connect(endpoint)
        self.in_flight = {}
        self.acked = set()  # (source, id)
        self.refused = 0    # error replies (e.g. unavailable while stopping)
        self.acks = 0
        self.n = 0

    def close(self):
        if self.sock.closed:
            return
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)

    def fill(self):
        while len(self.in_flight) < WINDOW_BATCHES:
            events = [h.filler_event(self.n + k, source="tracked") for k in range(BATCH)]
            self.n += BATCH
            rid = "t%d" % self.n
            self.sock.send_multipart([b"", json.dumps(
                {"op": "publish", "id": rid, "events": events}).encode()])
            self.in_flight[rid] = [("tracked", e["id"]) for e in events]

    def take_available(self):
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            reply = json.loads(frames[-1])
            keys = self.in_flight.pop(reply["id"])
            if reply.get("ok") is True:
                for key, r in zip(keys, reply["results"]):
                    if r.get("status") in ("stored", "duplicate"):
                        self.acked.add(key)
                    else:
                        raise h.HarnessError("unexpected outcome %r" % r)
                self.acks += 1
            else:
                self.refused += 1
                if reply.get("error", {}).get("code") != "unavailable":
                    raise h.HarnessError("unexpected error reply %r" % reply)


class Lifecycle(unittest.TestCase):

    def test_sigterm_under_load(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        workdir = tempfile.mkdtemp(prefix="carehub-e2e-lifecycle-")
        self.addCleanup(shutil.rmtree, workdir, True)
        daemon.start()

        # Some history for the totals: 1 stored, 1 duplicate, 2 rejected.
        with daemon.client() as c:
            ev = h.filler_event(0, source="history")
            bad1, bad2 = h.filler_event(1), h.filler_event(2)
            bad1["type"] = "nope"
            bad2["specversion"] = "9"
            self.assertEqual(h.statuses(c.publish([ev, ev, bad1, bad2])),
                             ["stored", "duplicate", "rejected:unknown_type",
                              "rejected:bad_specversion"])

        load = [h.filler_event(i, source="pub-load") for i in range(LOAD)]
        path = os.path.join(workdir, "load.ndjson")
        h.write_ndjson(path, load)
        pub, pub_out, pub_err = h.start_tool(
            h.CAREHUB_PUB, ["--batch", "200", "--window", "2000", "--timeout", "120", path],
            daemon.api, workdir=workdir)
        self.addCleanup(lambda: pub.poll() is None and (pub.kill(), pub.wait()))

        tracked = TrackedPublisher(daemon.api)
        self.addCleanup(tracked.close)
        tracked.fill()
        end = time.monotonic() + 120
        while tracked.acks < ACKS_BEFORE_SIGTERM:
            self.assertLess(time.monotonic(), end, "no progress before SIGTERM")
            if tracked.sock.poll(1000):
                tracked.take_available()
                tracked.fill()
        with daemon.client() as c:
            pub_progress = c.status()["events"]["stored"]["since_start"]
        self.assertIsNone(pub.poll(), "carehub-pub finished before SIGTERM; raise LOAD")

        # SIGTERM with both publishers in full flow; keep the window full
        # until the daemon has gone.
        daemon.signal(signal.SIGTERM)
        end = time.monotonic() + h.STOP_TIMEOUT
        while daemon.running():
            self.assertLess(time.monotonic(), end, "carehubd still running after SIGTERM")
            if tracked.sock.poll(100):
                tracked.take_available()
                tracked.fill()
        rc = daemon.proc.returncode
        self.assertEqual(rc, 0, daemon.run_stderr()[-4000:])
        self.assertIsNone(h.sanitizer_report(daemon.run_stderr()), daemon.run_stderr()[-4000:])
        self.assertTrue(h.wait_disconnect(tracked.monitor, 30), "no disconnect seen")
        tracked.take_available()
        # Close it now: requests it queued while the daemon was down would
        # otherwise reach the restarted daemon.
        tracked.close()
        # carehub-pub is waiting for the daemon to come back: hold it still
        # while the database and the restarted daemon's totals are compared.
        self.assertIsNone(pub.poll(), "carehub-pub gave up while the daemon was down")
        pub.send_signal(signal.SIGSTOP)
        try:
            with daemon.db() as conn:
                keys = h.stored_event_keys(conn)
            lost = [k for k in tracked.acked if keys.get(k) != 1]
            self.assertEqual(lost, [], "acknowledged but not stored exactly once")
            self.assertGreater(len(tracked.acked), 0)
            print("lifecycle: %d tracked events acknowledged, %d refused batches, carehub-pub "
                  "had %d stored at SIGTERM" % (len(tracked.acked), tracked.refused,
                                                pub_progress), file=sys.stderr)

            daemon.restart()
            s = daemon.status()["events"]
            self.assertEqual(s["stored"]["total"], sum(keys.values()))
            self.assertEqual(s["rejected"]["total"], 2)
            self.assertGreaterEqual(s["duplicate"]["total"], 1)
            for kind in ("stored", "duplicate", "rejected"):
                self.assertEqual(s[kind]["since_start"], 0, s)
        finally:
            pub.send_signal(signal.SIGCONT)

        # carehub-pub reconnects, resends what was not acknowledged, completes.
        rc = pub.wait(180)
        with open(pub_out) as f:
            out = f.read()
        with open(pub_err) as f:
            err = f.read()
        self.assertEqual(rc, 0, out + err)
        self.assertIsNone(h.sanitizer_report(err), err)
        stored, duplicate, rejected = h.pub_summary(out)
        self.assertEqual((stored + duplicate, rejected), (LOAD, 0), out)

        # An idle stop and start keeps every total exactly.
        before = daemon.status()["events"]
        daemon.stop_clean()
        with daemon.db() as conn:
            keys = h.stored_event_keys(conn)
        mine = [n for (src, _), n in keys.items() if src == "pub-load"]
        self.assertEqual((len(mine), set(mine)), (LOAD, {1}))
        daemon.restart()
        after = daemon.status()["events"]
        for kind in ("stored", "duplicate", "rejected"):
            self.assertEqual(after[kind]["total"], before[kind]["total"], kind)
            self.assertEqual(after[kind]["since_start"], 0, kind)
        daemon.stop_clean()

    def test_database_is_versioned_and_in_wal_mode(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        daemon.stop_clean()
        with daemon.db() as conn:
            self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertGreaterEqual(conn.execute("PRAGMA user_version").fetchone()[0], 1)
            self.assertEqual(h.events_table(conn)[0], "events")

    def test_sigint_when_idle(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        daemon.signal(signal.SIGINT)
        self.assertEqual(daemon.wait_exit(), 0, daemon.run_stderr())
        self.assertIsNone(h.sanitizer_report(daemon.run_stderr()))

    def test_stderr_lines_carry_timestamps(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        daemon.stop_clean()
        lines = [x for x in daemon.stderr().splitlines() if x.strip()]
        self.assertTrue(lines, "carehubd logged nothing")
        for line in lines:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")

    def test_journald_priority_prefixes_under_systemd(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        # JOURNAL_STREAM names the device and inode of the stream stderr is
        # connected to, as systemd sets it; here that is the stderr file.
        open(daemon.stderr_path, "ab").close()
        st = os.stat(daemon.stderr_path)
        daemon.extra_env = {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino),
                            "INVOCATION_ID": "0" * 32}
        daemon.start()
        daemon.stop_clean()
        lines = [x for x in daemon.stderr().splitlines() if x.strip()]
        self.assertTrue(lines, "carehubd logged nothing")
        for line in lines:
            self.assertRegex(line, r"^<[0-7]>\S")

    def test_requests_during_shutdown_get_unavailable(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        first = daemon.client()
        self.assertEqual(h.statuses(first.publish([h.staff_hired("S1", "Ann Lee")])), ["stored"])
        # Another program holds the database's write lock, so the daemon's next
        # transaction waits and the shutdown cannot finish until it is let go.
        holder = sqlite3.connect(daemon.db_path(), timeout=10, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN IMMEDIATE")
        pending = first.send({"op": "publish", "event": h.staff_hired("S2", "Bob Ray")})
        # The publish is read (and waits for the lock) before the signal arrives.
        end = time.monotonic() + 10
        while daemon.status()["queue"] == {"waiting_events": 0, "in_flight_events": 0}:
            self.assertLess(time.monotonic(), end, "the publish never reached the writer")
        daemon.signal(signal.SIGTERM)
        # The signal is handled on the daemon's loop, asynchronously: wait for
        # its log line, so that the late request surely comes after it.
        h.wait_until("SIGTERM's log line", lambda: "refusing new requests" in daemon.run_stderr(),
                     daemon.workdir, timeout=10)
        with daemon.client() as late:
            reply = late.request({"op": "status"})
        self.assertFalse(reply["ok"], reply)
        self.assertEqual(reply["error"]["code"], "unavailable")
        self.assertIn("shutting down", reply["error"]["message"])
        holder.execute("ROLLBACK")
        # What was read before the signal is still written and acknowledged.
        self.assertEqual(h.statuses(first.recv_for(pending)), ["stored"])
        self.assertEqual(daemon.wait_exit(), 0, daemon.run_stderr())

    def test_sighup_does_not_stop_the_daemon(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        daemon.signal(signal.SIGHUP)
        # The notice is the evidence the signal was handled; wait for it with a deadline.
        end = time.monotonic() + 10
        while "SIGHUP" not in daemon.run_stderr():
            self.assertTrue(daemon.running(), "carehubd exited on SIGHUP")
            self.assertLess(time.monotonic(), end, "no SIGHUP notice logged")
            self.assertTrue(daemon.status()["ok"])  # a round trip paces the wait
        self.assertTrue(daemon.running())
        self.assertTrue(daemon.status()["ok"])
        self.assertEqual(daemon.stop_clean(), 0)

    def test_second_daemon_on_the_same_state_dir_is_refused(self):
        first = h.Daemon()
        self.addCleanup(first.close)
        first.start()
        second = h.Daemon(state_dir=first.state_dir)
        self.addCleanup(second.close)
        second.start(wait=False)
        self.assertEqual(second.wait_exit(), 1)
        self.assertIn("another carehubd (pid %d) is already using state_dir" % first.pid,
                      second.run_stderr())
        # The first keeps serving, and its database was not touched by the second.
        reply = first.client().publish([h.staff_hired("S1", "Ann Lee")])
        self.assertEqual(h.statuses(reply), ["stored"])
        self.assertEqual(first.stop_clean(), 0)

    def test_log_is_checkpointed_into_the_database_while_running(self):
        # About 6 MB of events: past the 1,000-page (4 MB) mark at which the
        # checkpointer copies the write-ahead log into carehub.db, in the background.
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        c = daemon.client()
        for batch in range(30):
            reply = c.publish([h.filler_event(batch * 500 + i) for i in range(500)])
            self.assertEqual(set(h.statuses(reply)), {"stored"})
        db_path = daemon.db_path()
        end = time.monotonic() + 30
        # Each round trip paces the wait; the deadline bounds it.
        while os.path.getsize(db_path) < 2 * 1024 * 1024:
            self.assertLess(time.monotonic(), end,
                            "carehub.db is still %d bytes: the log was never checkpointed"
                            % os.path.getsize(db_path))
            self.assertTrue(daemon.status()["ok"])
        self.assertEqual(daemon.stop_clean(), 0)

    def test_log_stays_bounded_under_a_steady_stream(self):
        # With checkpoint_pages = 100, the log may reach about 400 pages (1.6 MB)
        # plus one transaction before writing pauses for a checkpoint.  Without
        # that pause a steady stream of 30,000 events leaves a log of 7 MB or more.
        daemon = h.Daemon(commit={"max_events": 500},
                          extra_config="storage = { checkpoint_pages = 100; };\n")
        self.addCleanup(daemon.close)
        daemon.start()
        path = os.path.join(daemon.workdir, "stream.jsonl")
        with open(path, "w") as f:
            for i in range(30000):
                f.write(json.dumps(h.filler_event(i)) + "\n")
        cp = h.run_pub(["--batch", "250", path], endpoint=daemon.api, timeout=180)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(h.pub_summary(cp.stdout), (30000, 0, 0))
        wal = daemon.db_path() + "-wal"
        self.assertTrue(os.path.exists(wal))
        self.assertLess(os.path.getsize(wal), 3 * 1024 * 1024)
        self.assertEqual(daemon.stop_clean(), 0)

    def test_second_daemon_on_the_same_ipc_endpoint_is_refused(self):
        # Another state_dir, so the lock does not stop it: the endpoint check must.
        first = h.Daemon()
        self.addCleanup(first.close)
        first.start()
        second = h.Daemon()
        self.addCleanup(second.close)
        with open(second.conf, "w") as f:
            f.write(h.config_text(second.state_dir, first.api, second.notify))
        second.start(wait=False)
        self.assertEqual(second.wait_exit(), 1)
        self.assertIn("cannot bind api.endpoint %s: another process is serving it" % first.api,
                      second.run_stderr())
        # The first still owns its endpoint.
        self.assertTrue(first.status()["ok"])
        self.assertEqual(first.stop_clean(), 0)

    def test_stale_ipc_socket_file_is_replaced(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        daemon.kill()  # SIGKILL leaves the socket files behind
        self.assertTrue(os.path.exists(daemon.api[len("ipc://"):]))
        daemon.start()
        self.assertTrue(daemon.status()["ok"])
        self.assertEqual(daemon.stop_clean(), 0)

    def test_events_are_stored_exactly_as_written(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        # Spacing, escapes and number forms cJSON would print differently.
        texts = ['{ "specversion" : "1.0", "id": "as-written-1", "source": "hr\\/x",'
                 ' "type": "team.changed", "weight": 1.50,'
                 ' "data": {"team_id": "T\\u00e9", "name": "Caf\\u00e9 team"} }',
                 '{"specversion":"1.0","id":"as-written-2","source":"hr","type":"team.changed",'
                 '"data":{"team_id":"T2","name":"Night","parent_id":null}}']
        with daemon.client() as c:
            body = '{"op": "publish", "id": 1, "events": [ %s ,\n %s ]}' % tuple(texts)
            reply = c.raw_request(body)
            self.assertEqual(h.statuses(reply), ["stored", "stored"])
            body = '{"id": 2, "event": %s, "op": "publish"}' % texts[0].replace("-1", "-3")
            self.assertEqual(h.statuses(c.raw_request(body)), ["stored"])
        conn = sqlite3.connect("file:%s?mode=ro" % daemon.db_path(), uri=True)
        self.addCleanup(conn.close)
        stored = [row[0] for row in conn.execute("SELECT body FROM events ORDER BY seq")]
        self.assertEqual(stored, [texts[0], texts[1], texts[0].replace("-1", "-3")])
        self.assertEqual(daemon.stop_clean(), 0)

    def test_staff_hired_again_states_the_whole_record(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        c = daemon.client()
        first = h.staff_hired("S1", "Ann Lee", email="ann@example.org", manager_id="S9")
        again = h.staff_hired("S1", "Ann Lee-Smith", role="senior carer")
        self.assertEqual(h.statuses(c.publish([first, again])), ["stored", "stored"])
        staff = c.request({"op": "staff", "staff_id": "S1"})["staff"]
        self.assertEqual(staff["name"], "Ann Lee-Smith")
        self.assertEqual(staff["role"], "senior carer")
        self.assertIsNone(staff["email"])
        self.assertIsNone(staff["manager_id"])
        self.assertEqual(daemon.status()["staff"], {"active": 1, "left": 0})
        self.assertEqual(daemon.stop_clean(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
