#!/usr/bin/python3
"""No stall under pipelining: 100,000 requests from 4 concurrent DEALER
clients, each keeping a window of outstanding requests, all get their replies.

ZMQ_FD is edge-triggered; a daemon that forgets to re-check ZMQ_EVENTS after
a send or receive leaves messages queued with no edge to wake it, and the
clients here would wait for replies that never come.  Each client is its own
process (real concurrency on both cores); every 20th request is a one-event
publish, whose reply waits for a commit, so replies come out of order and the
daemon has replies and requests moving at the same time.

A second test pipelines publish requests only: with no status traffic to
wake the daemon, a request that is queued but never handed to the writer
(a lost wake-up) leaves the client waiting, and the test fails on its idle
deadline.

Usage: test_pipelining.py [unittest args]
       test_pipelining.py --worker ENDPOINT INDEX COUNT WINDOW MODE   (internal)
"""

import json
import os
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402

TOTAL = int(os.environ.get("CAREHUB_E2E_PIPELINE_REQUESTS", "100000"))
CLIENTS = 4
WINDOW = 300
PUBLISH_EVERY = 20
PUBLISH_BATCH = 50
# Seconds without any reply while requests are outstanding: a stall.  A
# commit takes milliseconds even under ASan.
IDLE_DEADLINE = float(os.environ.get("CAREHUB_E2E_IDLE_DEADLINE", "10"))
TOTAL_DEADLINE = 240.0


def worker(endpoint, index, count, window, mode="mixed"):
    """Sends count requests keeping up to window outstanding; prints a JSON
    summary on stdout.  Exits 1 on any problem, with the reason.

    mode "mixed": status requests with every PUBLISH_EVERY-th a one-event
    publish; mode "publish": only publishes of PUBLISH_BATCH events."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    outstanding = {}  # id -> "status" | "publish"
    sent = received = publishes = 0
    problems = []
    last_reply = time.monotonic()
    started = time.monotonic()
    source = "pipeline-%d-%s" % (index, uuid.uuid4().hex[:8])
    while received < count:
        while sent < count and len(outstanding) < window:
            rid = "w%d-%d" % (index, sent)
            if mode == "publish":
                req = {"op": "publish", "id": rid,
                       "events": [h.team_changed("PIPE%d" % index, "Pipeline %d" % index,
                                                 source=source, id_="e%d-%d" % (sent, k))
                                  for k in range(PUBLISH_BATCH)]}
                outstanding[rid] = "publish"
                publishes += PUBLISH_BATCH
            elif sent % PUBLISH_EVERY == PUBLISH_EVERY - 1:
                req = {"op": "publish", "id": rid,
                       "events": [h.team_changed("PIPE%d" % index, "Pipeline %d" % index,
                                                 source=source, id_="e%d" % sent)]}
                outstanding[rid] = "publish"
                publishes += 1
            else:
                req = {"op": "status", "id": rid}
                outstanding[rid] = "status"
            sock.send_multipart([b"", json.dumps(req).encode()])
            sent += 1
        if not sock.poll(200):
            if time.monotonic() - last_reply > IDLE_DEADLINE:
                problems.append("stalled: no reply for %.0fs with %d outstanding (sent %d, "
                                "received %d)" % (IDLE_DEADLINE, len(outstanding), sent,
                                                  received))
                break
            continue
        # Take everything that is queued before sending more.
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            last_reply = time.monotonic()
            received += 1
            if len(frames) != 2 or frames[0] != b"":
                problems.append("bad reply frames %r" % frames[:3])
                continue
            reply = json.loads(frames[1])
            kind = outstanding.pop(reply.get("id"), None)
            if kind is None:
                problems.append("reply to an unknown or already answered id: %r"
                                % reply.get("id"))
            elif reply.get("ok") is not True:
                problems.append("error reply: %r" % reply)
            elif kind == "publish" and {r.get("status") for r in reply["results"]} != {"stored"}:
                problems.append("publish not stored: %r" % reply)
            if len(problems) > 20:
                break
        if len(problems) > 20:
            break
    sock.close(0)
    ctx.term()
    print(json.dumps({"index": index, "sent": sent, "received": received,
                      "publishes": publishes, "outstanding": len(outstanding),
                      "seconds": round(time.monotonic() - started, 2),
                      "problems": problems[:20]}))
    return 0 if not problems and received == count else 1


class Pipelining(h.DaemonTestCase):

    def run_workers(self, clients, per, window, mode):
        """Runs the worker processes; returns their summaries once all pass."""
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                   self.daemon.api, str(i), str(per), str(window), mode],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(clients)]
        end = time.monotonic() + TOTAL_DEADLINE
        results = []
        try:
            for p in procs:
                out, err = p.communicate(timeout=max(1.0, end - time.monotonic()))
                self.assertTrue(out.strip(), "worker printed nothing; stderr: %s" % err)
                results.append((p.returncode, json.loads(out.strip().splitlines()[-1]), err))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        queue = self.daemon.status()["queue"]
        for rc, summary, err in results:
            if summary["problems"]:
                err += "\ndaemon queue after the workers: %r" % (queue,)
            print("%s worker %d: %d replies in %ss" % (mode, summary["index"], summary["received"],
                                                     summary["seconds"]), file=sys.stderr)
            self.assertEqual(summary["problems"], [], err)
            self.assertEqual((rc, summary["received"], summary["outstanding"]), (0, per, 0))
        return [s for _, s, _ in results]

    def test_100000_pipelined_requests_from_4_clients(self):
        before = self.daemon.status()["events"]["stored"]["since_start"]
        results = self.run_workers(CLIENTS, TOTAL // CLIENTS, WINDOW, "mixed")
        publishes = sum(s["publishes"] for s in results)
        after = self.daemon.status()
        self.assertEqual(after["events"]["stored"]["since_start"] - before, publishes)
        self.assertEqual(after["queue"], {"waiting_events": 0, "in_flight_events": 0})
        self.assertServing()

    def test_pipelined_publishes_alone_never_stall(self):
        # One client, 8 requests of 50 events in flight, one new request per
        # reply: nothing but these publishes, so nothing else wakes the daemon.
        before = self.daemon.status()["events"]["stored"]["since_start"]
        results = self.run_workers(1, 3000, 8, "publish")
        publishes = sum(s["publishes"] for s in results)
        after = self.daemon.status()
        self.assertEqual(after["events"]["stored"]["since_start"] - before, publishes)
        self.assertServing()

    def test_req_socket_client(self):
        # REQ adds the empty delimiter itself and expects it back.
        with h.Client(self.daemon.api, socket_type=zmq.REQ, delimiter=False) as c:
            for i in range(3):
                c.sock.send(json.dumps({"op": "status", "id": i}).encode())
                self.assertTrue(c.sock.poll(int(h.REPLY_TIMEOUT * 1000)), "no reply")
                reply = json.loads(c.sock.recv())
                self.assertEqual((reply["id"], reply["ok"]), (i, True))
        self.assertServing()


class GroupCommit(unittest.TestCase):
    """Requests that arrive together share one transaction, within commit.max_events."""

    REQUESTS = 300

    def publish_together(self, daemon):
        """Sends every request before reading any reply; returns the daemon's status after."""
        with h.Client(daemon.api) as c:
            ids = {c.send({"op": "publish", "event": h.filler_event(i)})
                   for i in range(self.REQUESTS)}
            while ids:
                reply = c.recv()
                self.assertEqual(h.statuses(reply), ["stored"])
                ids.remove(reply["id"])
        return daemon.status()

    def test_requests_that_arrive_together_share_a_transaction(self):
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        daemon.start()
        before = daemon.status()["transactions"]
        status = self.publish_together(daemon)
        self.assertEqual(status["events"]["stored"]["since_start"], self.REQUESTS)
        # One transaction per request would be 300; sharing makes it a handful.
        self.assertLess(status["transactions"] - before, self.REQUESTS // 2)
        self.assertEqual(daemon.stop_clean(), 0)

    def test_commit_max_events_bounds_each_transaction(self):
        daemon = h.Daemon(commit={"max_events": 10})
        self.addCleanup(daemon.close)
        daemon.start()
        before = daemon.status()["transactions"]
        status = self.publish_together(daemon)
        self.assertEqual(status["events"]["stored"]["since_start"], self.REQUESTS)
        self.assertGreaterEqual(status["transactions"] - before, self.REQUESTS // 10)
        self.assertEqual(daemon.stop_clean(), 0)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        sys.exit(worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                        sys.argv[6]))
    unittest.main(verbosity=2)
