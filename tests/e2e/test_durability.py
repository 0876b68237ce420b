#!/usr/bin/python3
"""Durability: an acknowledgement is a promise.

Rounds of: start the daemon on the same state directory, publish batches of
unique events with a window of batches in flight, and SIGKILL the daemon at a
random moment -- chosen by waiting for a random number of acknowledgements,
never by sleeping.  Each round first resends what the previous round did not
see acknowledged, as a real client would.  At the end:

  * every event acknowledged as stored (or duplicate) is in the database,
    exactly once, and no (source, id) is stored twice;
  * an event acknowledged "stored" is never acknowledged "stored" again;
  * republishing every event gives only "duplicate";
  * status' stored total equals the number of events in the database.

Usage: test_durability.py [--rounds N] [--seed S] [unittest args]
       (or CAREHUB_DURABILITY_ROUNDS / CAREHUB_DURABILITY_SEED; default 20 rounds)
"""

import json
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402

ROUNDS = int(os.environ.get("CAREHUB_DURABILITY_ROUNDS", "20"))
SEED = int(os.environ.get("CAREHUB_DURABILITY_SEED", str(int(time.time() * 1000) % 1000000)))
BATCH = 50
WINDOW_BATCHES = 8
MAX_ACKS_BEFORE_KILL = 40  # batches
SOURCE = "durability"


class Publisher:
    """One round's DEALER connection: keeps WINDOW_BATCHES batches in flight
    and records each event's outcome."""

    def __init__(self, endpoint, ledger):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.sock.connect(endpoint)
        self.ledger = ledger
        self.in_flight = {}  # request id -> [event ids]
        self.acks = 0

    def close(self):
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)

    def send(self, ids):
        rid = "b%d" % self.ledger.next_request
        self.ledger.next_request += 1
        events = [self.ledger.events[i] for i in ids]
        self.sock.send_multipart([b"", json.dumps({"op": "publish", "id": rid,
                                                   "events": events}).encode()])
        self.in_flight[rid] = ids

    def take(self, frames):
        reply = json.loads(frames[-1])
        ids = self.in_flight.pop(reply.get("id"))
        if reply.get("ok") is not True:
            raise h.HarnessError("publish failed: %r" % reply)
        outcomes = [r.get("status") for r in reply["results"]]
        if len(outcomes) != len(ids):
            raise h.HarnessError("%d results for %d events" % (len(outcomes), len(ids)))
        for i, outcome in zip(ids, outcomes):
            self.ledger.record(i, outcome)
        self.acks += 1

    def recv(self, timeout):
        if not self.sock.poll(int(timeout * 1000)):
            raise h.HarnessError("no publish reply within %.0fs" % timeout)
        self.take(self.sock.recv_multipart())

    def drain_after_kill(self):
        """After SIGKILL: every reply the daemon wrote before dying is read by
        ZeroMQ before it reports the disconnect; take them all."""
        if not h.wait_disconnect(self.monitor, 30):
            raise h.HarnessError("no disconnect seen within 30s of SIGKILL")
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.take(frames)


class Ledger:
    """Every event ever sent, and what the daemon said about it."""

    def __init__(self):
        self.events = []          # index -> event
        self.acked = {}           # index -> first acknowledged outcome
        self.sent_before = set()  # indices sent in an earlier request
        self.next_request = 0
        self.violations = []

    def new_event(self):
        i = len(self.events)
        self.events.append(h.team_changed("DUR%d" % (i % 5), "Durable %d" % (i % 5),
                                          source=SOURCE, id_=h.new_id()))
        return i

    def record(self, i, outcome):
        if outcome not in ("stored", "duplicate"):
            self.violations.append("event %d: %r" % (i, outcome))
        elif outcome == "stored" and self.acked.get(i) == "stored":
            self.violations.append("event %d acknowledged as stored twice" % i)
        elif outcome == "duplicate" and i not in self.acked and i not in self.sent_before:
            self.violations.append("event %d: duplicate on first sending" % i)
        self.acked.setdefault(i, outcome)
        if outcome == "stored":
            self.acked[i] = "stored"


class Durability(unittest.TestCase):

    def test_acknowledged_events_survive_sigkill(self):
        rng = random.Random(SEED)
        print("durability: %d rounds, seed %d" % (ROUNDS, SEED), file=sys.stderr)
        daemon = h.Daemon()
        self.addCleanup(daemon.close)
        ledger = Ledger()
        resend = []
        kills = 0
        for round_ in range(ROUNDS):
            daemon.start()
            pub = Publisher(daemon.api, ledger)
            try:
                target = rng.randint(0, MAX_ACKS_BEFORE_KILL)
                queue = list(resend)

                def fill():
                    # Resent events first, then new ones, BATCH to a request.
                    while len(pub.in_flight) < WINDOW_BATCHES:
                        ids = []
                        while queue and len(ids) < BATCH:
                            ids.append(queue.pop(0))
                        while len(ids) < BATCH:
                            ids.append(ledger.new_event())
                        pub.send(ids)

                fill()
                while pub.acks < target:
                    try:
                        pub.recv(h.REPLY_TIMEOUT)
                    except h.HarnessError as e:
                        raise h.HarnessError(
                            "round %d (seed %d), %d of %d acknowledgements, %d requests in "
                            "flight: %s; status %s; stderr:\n%s\nthreads:\n%s"
                            % (round_, SEED, pub.acks, target, len(pub.in_flight), e,
                               daemon.status(), daemon.run_stderr()[-3000:],
                               daemon.backtraces()))
                    fill()
                daemon.kill()
                kills += 1
                pub.drain_after_kill()
                unacked = {i for ids in pub.in_flight.values() for i in ids}
                ledger.sent_before.update(unacked)
                resend = sorted(set(queue) | unacked)
            finally:
                pub.close()
            self.assertEqual(ledger.violations, [], "round %d (seed %d)" % (round_, SEED))
        # A last, clean round: everything not yet acknowledged goes again.
        daemon.start()
        with daemon.client() as c:
            for start in range(0, len(resend), 500):
                chunk = resend[start:start + 500]
                reply = c.publish([ledger.events[i] for i in chunk], timeout=60)
                for i, r in zip(chunk, reply["results"]):
                    ledger.record(i, r.get("status"))
        self.assertEqual(ledger.violations, [], "seed %d" % SEED)
        self.assertEqual(len(ledger.acked), len(ledger.events), "every event acknowledged")
        total = daemon.status()["events"]["stored"]["total"]
        daemon.stop_clean()

        with daemon.db() as conn:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            keys = h.stored_event_keys(conn)
        twice = [k for k, n in keys.items() if n != 1]
        self.assertEqual(twice, [], "events stored more than once (seed %d)" % SEED)
        missing = [i for i in ledger.acked
                   if (SOURCE, ledger.events[i]["id"]) not in keys]
        self.assertEqual(missing, [], "acknowledged events missing (seed %d)" % SEED)
        self.assertEqual(len(keys), len(ledger.events))
        self.assertEqual(total, len(keys), "status stored total vs database")

        # Republishing everything: only duplicates.
        daemon.start()
        with daemon.client() as c:
            for start in range(0, len(ledger.events), 500):
                reply = c.publish(ledger.events[start:start + 500], timeout=60)
                self.assertEqual(set(h.statuses(reply)), {"duplicate"}, "seed %d" % SEED)
        daemon.stop_clean()
        print("durability: %d kills, %d events, %d stored first time, seed %d"
              % (kills, len(ledger.events),
                 sum(1 for o in ledger.acked.values() if o == "stored"), SEED),
              file=sys.stderr)


if __name__ == "__main__":
    args = sys.argv[:1]
    it = iter(sys.argv[1:])
    for a in it:
        if a == "--rounds":
            ROUNDS = int(next(it))
        elif a == "--seed":
            SEED = int(next(it))
        else:
            args.append(a)
    unittest.main(argv=args, verbosity=2)
