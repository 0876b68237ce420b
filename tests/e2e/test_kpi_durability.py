#!/usr/bin/python3
"""KPI figures and alerts survive SIGKILL: every acknowledged observation is
counted exactly once, and every alert goes out exactly once.

A fixed stream of kpi.observed events (a small tree of teams, four metrics:
a mean with hysteresis, a p90, a count and a "last" that jumps about, so
that states change back and forth and alerts go out often; late ones for
December among them) is published in batches through the API, the test clock
moving one second before each batch.  It runs

- once as a reference, on a daemon that is never killed;
- then on fresh daemons SIGKILLed at seeded random moments: right after a
  batch is acknowledged, or while one is in flight (it is then sent again,
  same ids: what was stored before the kill comes back "duplicate").  Each
  restart puts the test clock back where the test had it.  This is done with
  kpi.flush_ms = 60000, so that the figures are almost never written
  before a kill and every restart applies the stored observations again
  (kpi_replay; the daemon logs "applied again"), and with kpi.flush_ms = 100,
  where they are written whenever the test clock moves (it stands still
  between moves), so a kill finds them sometimes written, sometimes one
  batch behind.

Every run must end with: the same figures from the kpi op as the reference
(every team, month and week), which are also the figures worked out here
from the events themselves; the same alert notifications (the same
multiset of every field but seq: none lost, none doubled, with the text,
recipients and created_at the reference has); notification seq 1..N without
a gap; every event stored once; no sanitizer report from any killed run.

Environment: CAREHUB_KPI_KILL_SEED (default 20260120), CAREHUB_KPI_KILLS
(kills after an acknowledgement per crash run, default 20; a third as many
in flight).
"""

import collections
import datetime
import json
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SEED = int(os.environ.get("CAREHUB_KPI_KILL_SEED", "20260120"))
KILLS = int(os.environ.get("CAREHUB_KPI_KILLS", "20"))

START = datetime.datetime(2026, 1, 20, 12, 0, tzinfo=datetime.timezone.utc)
OBSERVATIONS = 3000
BATCH = 15

# Team -> parent; managers.  T1A has no manager (its alerts go to T1's).
TEAMS = [("T0", "Head office", None, "M0"), ("T1", "Riverside", "T0", "M1"),
         ("T1A", "Riverside nights", "T1", None), ("T2", "Kitchen", "T0", "M2"),
         ("T3", "Gardens", "T0", "M3")]
OBSERVED_TEAMS = ["T0", "T1", "T1A", "T2", "T3"]


def config(flush_ms):
    return """
timezone = "Europe/London";
kpi = { flush_ms = %d; alert_roles = ["registered_manager"]; };
metrics = (
    { name = "length_of_stay"; title = "Average length of stay"; unit = "days";
      aggregate = "mean"; periods = ["week", "month"]; alert_period = "month";
      direction = "lower"; target = 5; warning = 6; critical = 8; hysteresis = 0.25;
      min = 0; max = 365; },
    { name = "stay_p90"; title = "Length of stay of the longest tenth"; unit = "days";
      aggregate = "p90"; periods = ["month"]; direction = "lower"; warning = 10;
      critical = 14; min = 0; },
    { name = "incidents"; title = "Incidents reported"; aggregate = "count";
      periods = ["week", "month"]; alert_period = "month"; direction = "lower";
      warning = 15; critical = 30; alert_roles = []; },
    { name = "vacancies"; title = "Vacant posts"; unit = "posts"; aggregate = "last";
      periods = ["month"]; direction = "lower"; warning = 3; critical = 6; min = 0;
      max = 1000; alert_roles = []; }
);
""" % flush_ms


def rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def the_stream(seed):
    """The directory events, then OBSERVATIONS observations, in batches."""
    rng = random.Random(seed)
    directory = []
    for team_id, name, parent, manager in TEAMS:
        directory.append(h.team_changed(team_id, name, parent_id=parent, manager_id=manager,
                                        source="carehub-e2e-kpi-kill", id_="team-%s" % team_id))
    directory.append(h.staff_hired("M0", "Morag Reid", role="registered_manager", team_id="T0",
                                   start_date="2020-01-06", source="carehub-e2e-kpi-kill",
                                   id_="staff-M0"))
    for i in (1, 2, 3):
        directory.append(h.staff_hired("M%d" % i, "Manager %d" % i, role="manager",
                                       team_id="T%d" % i, start_date="2020-01-06",
                                       manager_id="M0", source="carehub-e2e-kpi-kill",
                                       id_="staff-M%d" % i))
    observations = []
    # Each team's length of stay runs good or bad for a while, so its state swings.
    bad = {t: False for t in OBSERVED_TEAMS}
    for n in range(OBSERVATIONS):
        team = rng.choice(OBSERVED_TEAMS)
        if rng.random() < 0.03:
            bad[team] = not bad[team]
        # Mostly January up to the 20th; one in ten late, for December.
        if rng.random() < 0.1:
            when = datetime.datetime(2025, 12, rng.randint(1, 31), rng.randint(0, 23),
                                     rng.randint(0, 59), tzinfo=datetime.timezone.utc)
        else:
            when = datetime.datetime(2026, 1, rng.randint(1, 20), rng.randint(0, 9),
                                     rng.randint(0, 59), tzinfo=datetime.timezone.utc)
        kind = rng.random()
        if kind < 0.5:
            metric = "length_of_stay"
            value = round(rng.uniform(6.5, 12) if bad[team] else rng.uniform(2, 6), 2)
        elif kind < 0.65:
            metric = "stay_p90"
            value = round(rng.lognormvariate(1.8 if bad[team] else 1.2, 0.5), 3)
        elif kind < 0.85:
            metric = "incidents"
            value = 1
        else:
            metric = "vacancies"
            value = rng.randint(0, 8)
        observations.append(h.event(
            "kpi.observed", {"metric": metric, "team_id": team, "value": value},
            source="carehub-e2e-kpi-kill", id_="obs-%05d" % n, time=rfc3339(when)))
    batches = [directory] + [observations[i:i + BATCH]
                             for i in range(0, len(observations), BATCH)]
    return batches, observations


def all_notifications(client):
    out, after = [], 0
    while True:
        reply = client.request({"op": "notifications", "after": after, "limit": 10000})
        assert reply.get("ok") is True, reply
        out.extend(reply["notifications"])
        if len(reply["notifications"]) < 10000:
            return out, reply["last_seq"]
        after = reply["notifications"][-1]["seq"]


def without_seq(n):
    return json.dumps({k: v for k, v in n.items() if k != "seq"}, sort_keys=True)


class KpiDurability(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(h.CAREHUBD, os.X_OK):
            raise h.HarnessError("%s is not built" % h.CAREHUBD)
        cls.batches, cls.observations = the_stream(SEED)
        cls.event_count = sum(len(b) for b in cls.batches)

    def target(self, i):
        return START + datetime.timedelta(seconds=i)

    def assertStored(self, reply, allow_duplicates=False):
        self.assertIs(reply.get("ok"), True, reply)
        allowed = {"stored", "duplicate"} if allow_duplicates else {"stored"}
        bad = [(i, r) for i, r in enumerate(reply["results"]) if r.get("status") not in allowed]
        self.assertEqual(bad, [], "events not stored")

    def run_stream(self, flush_ms, seed=None, kills=0):
        """Publishes the stream on a fresh daemon, SIGKILLed at seeded moments when seed
        is given; returns (figures, notifications, status, what happened)."""
        rng = random.Random(seed)
        moments = collections.Counter()
        d = h.Daemon(extra_config=config(flush_ms), test_clock=rfc3339(START))
        self.addCleanup(d.close)
        d.start()
        after_ack, in_flight = set(), set()
        if seed is not None:
            choices = list(range(1, len(self.batches)))
            after_ack = set(rng.sample(choices, kills))
            in_flight = set(rng.sample(sorted(set(choices) - after_ack), max(1, kills // 3)))
        state = {"client": d.client()}

        def kill_and_restart(moment, i):
            d.kill()
            text = d.run_stderr()
            marker = h.sanitizer_report(text)
            self.assertIsNone(marker, "sanitizer report after SIGKILL:\n%s" % text[-6000:])
            moments[moment] += 1
            state["client"].close()
            d.test_clock = rfc3339(self.target(i))
            d.restart()
            state["client"] = d.client()

        for i, batch in enumerate(self.batches):
            c = state["client"]
            if i > 0:
                reply = c.request({"op": "clock", "set": rfc3339(self.target(i))}, timeout=60)
                self.assertIs(reply.get("ok"), True, reply)
            if i in in_flight:
                c.send({"op": "publish", "events": batch})
                # Waits up to a few milliseconds for the reply (or not at all): killed with
                # the batch committed or not, both are moments to test.
                c.sock.poll(rng.choice((0, 0, 1, 2, 5, 10)))
                kill_and_restart("in_flight", i)
                reply = state["client"].request({"op": "publish", "events": batch},
                                                timeout=60)
                self.assertStored(reply, allow_duplicates=True)
                if any(r["status"] == "duplicate" for r in reply["results"]):
                    moments["in_flight_stored_before_kill"] += 1
                continue
            self.assertStored(c.request({"op": "publish", "events": batch}, timeout=60))
            if i in after_ack:
                kill_and_restart("after_ack", i)

        c = state["client"]
        figures = []
        for request in ({"op": "kpi", "period": "month", "periods": 2},
                        {"op": "kpi", "period": "week", "periods": 8}):
            reply = c.request(request, timeout=60)
            self.assertIs(reply.get("ok"), True, reply)
            reply.pop("id")
            figures.append(reply)
        notes, last_seq = all_notifications(c)
        self.assertEqual([n["seq"] for n in notes], list(range(1, len(notes) + 1)),
                         "notification seq values are not 1..N without gaps or repeats")
        self.assertEqual(last_seq, len(notes))
        status = c.status()
        self.assertIs(status.get("ok"), True, status)
        self.assertEqual(status["events"]["stored"]["total"], self.event_count, status["events"])
        self.assertEqual(status["events"]["rejected"]["total"], 0, status["events"])
        with d.db() as conn:
            stored = h.stored_event_keys(conn)
        self.assertEqual(len(stored), self.event_count)
        self.assertEqual(set(stored.values()), {1})
        moments["replays"] = d.stderr().count("applied again")
        d.stop_clean()
        return figures, notes, moments

    # -- what the figures must be, worked out from the events

    def expected_counts(self):
        """{(metric, team, month label): (count, sum)} with each team's sub-teams."""
        parents = {t: p for t, _, p, _ in TEAMS}
        out = collections.defaultdict(lambda: [0, 0.0])
        for ev in self.observations:
            month = ev["time"][:7]
            team = ev["data"]["team_id"]
            while team is not None:
                cell = out[(ev["data"]["metric"], team, month)]
                cell[0] += 1
                cell[1] += ev["data"]["value"]
                team = parents[team]
        return out

    def assertFiguresAsWorkedOut(self, figures):
        expected = self.expected_counts()
        monthly = figures[0]
        checked = 0
        self.assertEqual(len(monthly["rows"]), len(TEAMS) * 4)
        for row in monthly["rows"]:
            for p in row["periods"]:
                count, total = expected.get((row["metric"], row["team_id"], p["label"]), (0, 0))
                self.assertEqual(p["count"], count, (row["metric"], row["team_id"], p))
                if row["metric"] == "length_of_stay" and count:
                    self.assertAlmostEqual(p["value"], total / count, places=9)
                if row["metric"] == "incidents" and count:
                    self.assertEqual(p["value"], count)
                checked += count
        self.assertGreater(checked, OBSERVATIONS)  # each counted in its team and those above

    def assertSameAsReference(self, ref, got, label):
        ref_figures, ref_notes, _ = ref
        figures, notes, _ = got
        self.assertEqual(figures, ref_figures, "%s: the figures differ from the reference" % label)
        ref_set = collections.Counter(map(without_seq, ref_notes))
        got_set = collections.Counter(map(without_seq, notes))
        missing, extra = ref_set - got_set, got_set - ref_set
        self.assertEqual((sorted(missing.elements())[:5], sorted(extra.elements())[:5]), ([], []),
                         "%s: %d alerts missing, %d extra (doubled or different)"
                         % (label, sum(missing.values()), sum(extra.values())))
        self.assertEqual(len(notes), len(ref_notes), label)

    def test_kills_lose_and_double_nothing(self):
        began = time.monotonic()
        ref = self.run_stream(2000)
        ref_figures, ref_notes, _ = ref
        print("kpi-durability: %d events in %d batches; reference: %d alert notifications "
              "(%.1fs)" % (self.event_count, len(self.batches), len(ref_notes),
                           time.monotonic() - began), file=sys.stderr)
        # The reference itself: the figures are those of the events, and alerts went out
        # often, in every state and back.
        self.assertFiguresAsWorkedOut(ref_figures)
        self.assertGreater(len(ref_notes), 50)
        self.assertTrue(all(n["type"] == "alert" for n in ref_notes))
        levels = collections.Counter((n["kind"], n["level"]) for n in ref_notes)
        for wanted in (("length_of_stay", 0), ("length_of_stay", 1), ("length_of_stay", 2),
                       ("vacancies", 0), ("vacancies", 2), ("incidents", 1)):
            self.assertIn(wanted, levels, "the stream raised no %s alert of level %d" % wanted)

        for flush_ms, seed in ((60000, SEED + 1), (100, SEED + 2), (60000, SEED + 3),
                               (100, SEED + 4)):
            with self.subTest(flush_ms=flush_ms, seed=seed):
                began = time.monotonic()
                got = self.run_stream(flush_ms, seed, KILLS)
                moments = got[2]
                print("kpi-durability: flush_ms %d, seed %d: %d alert notifications, kills %s "
                      "(%.1fs)" % (flush_ms, seed, len(got[1]), dict(moments),
                                   time.monotonic() - began), file=sys.stderr)
                self.assertEqual(moments["after_ack"], KILLS)
                self.assertGreater(moments["in_flight"], 0)
                if flush_ms == 60000:
                    # The figures were never written before a kill: each restart that had
                    # work to do applied the stored observations again.
                    self.assertGreaterEqual(moments["replays"], KILLS, dict(moments))
                self.assertFiguresAsWorkedOut(got[0])
                self.assertSameAsReference(ref, got, "flush_ms %d, seed %d" % (flush_ms, seed))


if __name__ == "__main__":
    unittest.main(verbosity=2)
