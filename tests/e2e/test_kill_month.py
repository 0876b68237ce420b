#!/usr/bin/python3
"""Exactly once: a reminder or escalation for a given obligation, lead time
and occurrence goes out once, whatever crashes and clock jumps happen.

A simulated month of a 200-person organisation runs on the test clock, once
as a reference and then in crash runs, with the same events published at
the same simulated times:

- the reference run: one daemon, never killed;
- the crash runs: a fresh daemon, killed with SIGKILL at seeded random
  moments (right after a publish is acknowledged, while a publish is in
  flight, while a clock move is in flight, right after a clock move is
  answered), restarted on its state directory with its test clock at the last
  time the test asked for; the publish that was not acknowledged is sent again
  (same event ids: a duplicate is recognised), and the last clock target is
  set again (an absolute "set", which may repeat the time the daemon already
  has).  A few SIGHUPs (reloads of the same file, which change nothing) are sent too.

The notifications of the two runs must be the same multiset (none missing,
none duplicated), with sequence numbers 1, 2, 3 ... without gaps or repeats,
and no SIGKILLed run may have left a sanitizer report.

Environment (for exploring; the defaults are what CTest runs):
  CAREHUB_KILL_SEED   the seed of the organisation, its events and the kills
  CAREHUB_KILL_DAYS   how many simulated days (default 30)
  CAREHUB_KILL_KILLS  how many kills to aim for in a crash run (default 25)
  CAREHUB_KILL_ROUNDS how many crash runs (default 4: three of CAREHUB_KILL_KILLS kills
                      with different seeds, then one with a kill at every step)
"""

import collections
import datetime
import json
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SEED = int(os.environ.get("CAREHUB_KILL_SEED", "20260105"))
DAYS = int(os.environ.get("CAREHUB_KILL_DAYS", "30"))
KILLS = int(os.environ.get("CAREHUB_KILL_KILLS", "25"))
ROUNDS = int(os.environ.get("CAREHUB_KILL_ROUNDS", "4"))

START = datetime.datetime(2026, 1, 5, 7, 0, tzinfo=datetime.timezone.utc)
STEP_SECONDS = 6 * 3600
STEPS = DAYS * 86400 // STEP_SECONDS
TEAMS = 9
STAFF = 190
PUBLISH_CHUNK = 40  # events per publish request: more requests, more moments to be killed

CONFIG = """
timezone = "Europe/London";
schedule = {
    send_time = "09:00";
    working_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    missed_after_days = 30;
};
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        recurring = { every = "2 weeks"; first = "1 week"; };
        reminders = [3, 1, 0];
        escalation = (
            { after_days = 1; notify = ["manager"]; },
            { after_days = 3; notify = ["manager+1"]; }
        );
        repeat_days = 2;
    },
    {
        name = "action";
        title = "Agreed action";
        assigned = true;
        reminders = [2, 0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
        repeat_days = 3;
    }
);
"""


def rfc3339(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def step_time(step):
    return START + datetime.timedelta(seconds=step * STEP_SECONDS)


def ev(type_, data, when, rng):
    """An event with a deterministic id (the same in both runs)."""
    return h.event(type_, data, source="carehub-e2e-kill-month",
                   id_="%s-%016x" % (type_, rng.getrandbits(64)), time=rfc3339(when))


def organisation_and_month(seed):
    """Every step's events: [[event, ...] for step in 0..STEPS-1]."""
    rng = random.Random(seed)
    steps = [[] for _ in range(STEPS)]
    t0 = step_time(0)
    first = steps[0]
    first.append(ev("team.changed", {"team_id": "TOP", "name": "Leadership", "manager_id": "D1"},
                    t0, rng))
    managers = ["M%d" % i for i in range(1, TEAMS + 1)]
    for i, m in enumerate(managers, 1):
        first.append(ev("team.changed", {"team_id": "T%d" % i, "name": "Team %d" % i,
                                         "parent_id": "TOP", "manager_id": m}, t0, rng))

    def start_date():
        # Spread over the week before the simulated month begins.
        return (START.date() - datetime.timedelta(days=rng.randint(1, 7))).isoformat()

    people = [("D1", "director", "TOP")] + [(m, "manager", "TOP") for m in managers]
    people += [("S%03d" % i, "care_worker", "T%d" % (i % TEAMS + 1)) for i in range(1, STAFF + 1)]
    for sid, role, team in people:
        first.append(ev("staff.hired", {"staff_id": sid, "name": "Person %s" % sid, "role": role,
                                        "team_id": team, "start_date": start_date()}, t0, rng))
    everyone = [p[0] for p in people]

    open_actions = []
    action_no = 0
    for step in range(1, STEPS):
        when = step_time(step)
        today = when.date()
        out = steps[step]
        if step % 4 == 3:
            continue  # nights are quiet
        # Supervisions done (today, or a day or two ago when written up late).
        for sid in rng.sample(everyone, rng.randint(0, 6)):
            done = today - datetime.timedelta(days=rng.choice((0, 0, 0, 1, 2)))
            out.append(ev("review.completed", {"staff_id": sid, "kind": "supervision",
                                               "date": done.isoformat()}, when, rng))
        # Actions agreed, due from today to ten days on; some with a named person responsible.
        for _ in range(rng.randint(0, 3)):
            action_no += 1
            aid = "A%04d" % action_no
            data = {"action_id": aid, "staff_id": rng.choice(everyone[1:]),
                    "title": "Action %s" % aid,
                    "due_date": (today + datetime.timedelta(days=rng.randint(0, 10))).isoformat()}
            if rng.random() < 0.3:
                data["responsible_id"] = rng.choice(managers)
            out.append(ev("action.assigned", data, when, rng))
            open_actions.append(aid)
        # Actions done.
        for _ in range(rng.randint(0, 2)):
            if not open_actions:
                break
            aid = open_actions.pop(rng.randrange(len(open_actions)))
            out.append(ev("action.completed", {"action_id": aid, "date": today.isoformat()},
                          when, rng))
    return steps


def chunks(events):
    return [events[i:i + PUBLISH_CHUNK] for i in range(0, len(events), PUBLISH_CHUNK)]


def all_notifications(client):
    """Every notification in the outbox, by paging through the notifications op."""
    out, after = [], 0
    while True:
        reply = client.request({"op": "notifications", "after": after, "limit": 10000})
        assert reply.get("ok") is True, reply
        batch = reply["notifications"]
        out.extend(batch)
        if len(batch) < 10000:
            return out, reply["last_seq"]
        after = batch[-1]["seq"]


def identity(n):
    """What makes a notification the one it is: the obligation (staff, kind, item,
    step, due), the action (type, level, days overdue, when it was planned), and
    the recipient."""
    return (n["staff_id"], n["kind"], n["item"], n["step"], n["due"], n["type"], n["level"],
            n["days_overdue"], n["planned_at"], n["recipient_id"])


class KillMonth(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(h.CAREHUBD, os.X_OK):
            raise h.HarnessError("%s is not built" % h.CAREHUBD)
        cls.steps = organisation_and_month(SEED)
        cls.event_count = sum(len(s) for s in cls.steps)

    def new_daemon(self):
        d = h.Daemon(extra_config=CONFIG, test_clock=rfc3339(START))
        self.addCleanup(d.close)
        d.start()
        return d

    def assertStored(self, reply, allow_duplicates=False):
        self.assertIs(reply.get("ok"), True, reply)
        allowed = {"stored", "duplicate"} if allow_duplicates else {"stored"}
        bad = [(i, r) for i, r in enumerate(reply["results"]) if r.get("status") not in allowed]
        self.assertEqual(bad, [], "events not stored")

    def check_outbox(self, client, label):
        notes, last_seq = all_notifications(client)
        seqs = [n["seq"] for n in notes]
        self.assertEqual(seqs, list(range(1, len(notes) + 1)),
                         "%s: seq values are not 1..N without gaps or repeats" % label)
        self.assertEqual(last_seq, len(notes), label)
        return notes

    def finish(self, d, label):
        with h.Client(d.api) as c:
            notes = self.check_outbox(c, label)
            status = c.status()
        self.assertIs(status.get("ok"), True, status)
        # Every event stored once, whatever was sent again after a kill.
        self.assertEqual(status["events"]["stored"]["total"], self.event_count, status)
        self.assertEqual(status["events"]["rejected"]["total"], 0, status)
        d.stop_clean()
        return notes, status

    # -- the reference run

    def reference_run(self):
        d = self.new_daemon()
        c = d.client()
        for step, events in enumerate(self.steps):
            for chunk in chunks(events):
                self.assertStored(c.publish(chunk))
            reply = c.request({"op": "clock", "advance_seconds": STEP_SECONDS}, timeout=120)
            self.assertIs(reply.get("ok"), True, reply)
            self.assertEqual(parse_time(reply["now"]), step_time(step + 1), reply)
        return self.finish(d, "reference run")

    # -- the crash run

    def last_seq(self, client):
        reply = client.request({"op": "notifications", "after": 0, "limit": 1})
        self.assertIs(reply.get("ok"), True, reply)
        return reply["last_seq"]

    def crash_run(self, seed, kills):
        """The month again on a fresh daemon, SIGKILLed at kills seeded moments."""
        rng = random.Random(seed)
        moments = ("after_publish", "during_publish", "during_clock", "after_clock")
        plan = collections.defaultdict(set)  # step -> the moments to kill at in that step
        for step in rng.sample(range(STEPS), min(kills, STEPS)):
            moment = rng.choice(moments)
            if moment == "during_clock":
                # Into the move from 07:00 to 13:00, over the 09:00 send time, when the
                # catch-up has most to do.
                step -= step % 4
            plan[step].add(moment)
        reloads = set(rng.sample(range(STEPS), min(5, STEPS)))
        d = self.new_daemon()
        state = {"client": d.client(), "target": START, "kills": 0,
                 "moments": collections.Counter()}

        def kill_and_restart(moment, seq_before=None):
            d.kill()
            text = d.run_stderr()
            marker = h.sanitizer_report(text)
            self.assertIsNone(marker, "sanitizer report after SIGKILL:\n%s" % text[-6000:])
            state["kills"] += 1
            state["moments"][moment] += 1
            state["client"].close()
            if seq_before is not None:
                conn = d.db()
                try:
                    seq_at_kill = conn.execute(
                        "SELECT coalesce(max(seq), 0) FROM notifications").fetchone()[0]
                finally:
                    conn.close()
            d.test_clock = rfc3339(state["target"])
            d.restart()
            c = state["client"] = d.client()
            # Set the clock to the last target again; the reply comes after the catch-up.
            reply = c.request({"op": "clock", "set": rfc3339(state["target"])}, timeout=120)
            if reply.get("ok") is not True:
                # Only an earlier time may be refused; then there is nothing to catch up.
                self.assertEqual(reply.get("error", {}).get("code"), "bad_request", reply)
                state["moments"]["clock_refused"] += 1
            else:
                self.assertEqual(parse_time(reply["now"]), state["target"], reply)
            if seq_before is not None:
                seq_after = self.last_seq(c)
                if seq_after > seq_at_kill:
                    # Killed before the catch-up to the target had committed.
                    state["moments"]["clock_killed_before_commit"] += 1
                elif seq_at_kill > seq_before:
                    state["moments"]["clock_killed_after_commit"] += 1

        def wait_a_little(client, request_id):
            """Waits up to a random moment for the reply, then returns (the kill
            follows, whether or not the reply came: both are moments to test)."""
            if json.dumps(request_id) not in client.pending:
                client.sock.poll(rng.choice((0, 0, 1, 2, 3, 5, 10, 30)))

        def publish(chunk, kill_in_flight):
            c = state["client"]
            rid = c.send({"op": "publish", "events": chunk})
            if kill_in_flight:
                wait_a_little(c, rid)
                kill_and_restart("during_publish")
                c = state["client"]
                # Not acknowledged: send it again; stored before the kill means duplicate now.
                rid = c.send({"op": "publish", "events": chunk})
                reply = c.recv_for(rid, timeout=120)
                self.assertStored(reply, allow_duplicates=True)
                if any(r["status"] == "duplicate" for r in reply["results"]):
                    state["moments"]["publish_stored_before_kill"] += 1
                return
            self.assertStored(c.recv_for(rid, timeout=120))

        def move_clock(target, kill_in_flight):
            state["target"] = target
            c = state["client"]
            seq_before = self.last_seq(c) if kill_in_flight else None
            rid = c.send({"op": "clock", "set": rfc3339(target)})
            if kill_in_flight:
                wait_a_little(c, rid)
                # The restart sets the clock to target again.
                kill_and_restart("during_clock", seq_before)
                return
            reply = c.recv_for(rid, timeout=120)
            self.assertIs(reply.get("ok"), True, reply)
            self.assertEqual(parse_time(reply["now"]), target, reply)

        for step, events in enumerate(self.steps):
            kill_at = plan.get(step, set())
            parts = chunks(events)
            if not parts and kill_at & {"after_publish", "during_publish"}:
                kill_at = (kill_at - {"after_publish", "during_publish"}) | {"during_clock"}
            victim = rng.randrange(len(parts)) if parts else None
            for i, chunk in enumerate(parts):
                publish(chunk, "during_publish" in kill_at and i == victim)
                if "after_publish" in kill_at and i == victim:
                    kill_and_restart("after_publish")
            move_clock(step_time(step + 1), "during_clock" in kill_at)
            if "after_clock" in kill_at:
                kill_and_restart("after_clock")
            if step in reloads:
                # SIGHUP reloads the same file: nothing changes.
                d.signal(signal.SIGHUP)
                state["moments"]["sighup"] += 1
        notes, status = self.finish(d, "crash run (seed %d)" % seed)
        return notes, status, state

    def assertSameNotifications(self, ref, got, label):
        ref_ids = collections.Counter(identity(n) for n in ref)
        got_ids = collections.Counter(identity(n) for n in got)
        dup = sorted(k for k, v in got_ids.items() if v > 1)
        self.assertEqual(dup[:20], [], "%s: %d notifications sent more than once"
                         % (label, len(dup)))
        missing = ref_ids - got_ids
        extra = got_ids - ref_ids
        self.assertEqual((sorted(missing.elements())[:20], sorted(extra.elements())[:20]),
                         ([], []), "%s differs from the reference: %d missing, %d extra"
                         % (label, sum(missing.values()), sum(extra.values())))
        self.assertEqual(len(got), len(ref), label)
        # Each went out when it would have without the kills (the clock stood at the same
        # target), so even created_at and the text are the same; only seq may differ.
        whole = lambda n: json.dumps({k: v for k, v in n.items() if k != "seq"}, sort_keys=True)
        missing = collections.Counter(map(whole, ref)) - collections.Counter(map(whole, got))
        self.assertEqual(sorted(missing.elements())[:5], [],
                         "%s: %d notifications differ from the reference in a field other than "
                         "seq" % (label, sum(missing.values())))

    def assertPlausible(self, ref):
        """The reference itself looks like the configuration asks."""
        self.assertGreater(len(ref), 1000, "the month should produce plenty of notifications")
        kinds = collections.Counter((n["kind"], n["type"]) for n in ref)
        for wanted in (("supervision", "reminder"), ("supervision", "escalation"),
                       ("action", "reminder"), ("action", "escalation")):
            self.assertIn(wanted, kinds, "the month exercised no %s %s" % wanted)
        dup = sorted(k for k, v in collections.Counter(identity(n) for n in ref).items() if v > 1)
        self.assertEqual(dup[:20], [], "the reference run sent %d notifications more than once"
                         % len(dup))
        for n in ref:
            planned = parse_time(n["planned_at"])
            # January: London is on UTC; everything goes out at the 09:00 send time.
            self.assertEqual((planned.hour, planned.minute), (9, 0), n)
            self.assertNotEqual(n["recipient_id"], n["staff_id"], n)
            self.assertLessEqual(parse_time(n["planned_at"]), parse_time(n["created_at"]), n)
        self.assertTrue(all(n["type"] == "escalation" or n["level"] == 0 for n in ref))
        # Nobody hears about one obligation twice in one day (a reminder passed over
        # when the obligation was recorded goes out only if no later one is due that day).
        daily = collections.Counter((n["recipient_id"], n["staff_id"], n["kind"], n["item"],
                                     n["step"], n["due"], n["created_at"][:10]) for n in ref)
        twice = sorted(k for k, v in daily.items() if v > 1)
        self.assertEqual(twice[:10], [], "%d times someone heard about one obligation twice "
                         "in a day" % len(twice))

    def test_exactly_once_through_kills(self):
        began = time.monotonic()
        ref, ref_status = self.reference_run()
        print("kill-month: %d staff, %d days in %d steps, %d events; reference: %d "
              "notifications (%.1fs)" % (STAFF + TEAMS + 1, DAYS, STEPS, self.event_count,
                                         len(ref), time.monotonic() - began), file=sys.stderr)
        self.assertPlausible(ref)

        def missed(status):
            return status["notifications"]["missed"]["total"]

        total_kills = 0
        rounds = [(SEED + 1, KILLS)] + [(SEED + 1 + r, KILLS) for r in range(1, ROUNDS - 1)]
        if ROUNDS > 1:
            rounds.append((SEED + ROUNDS, STEPS))  # a kill at every step
        for seed, kills in rounds:
            with self.subTest(seed=seed, kills=kills):
                began = time.monotonic()
                got, got_status, state = self.crash_run(seed, kills)
                total_kills += state["kills"]
                print("kill-month: crash run seed %d: %d notifications, %d kills %s (%.1fs)"
                      % (seed, len(got), state["kills"], dict(state["moments"]),
                         time.monotonic() - began), file=sys.stderr)
                self.assertGreater(state["kills"], 0)
                self.assertSameNotifications(ref, got, "crash run seed %d" % seed)
                # The same actions were recorded as missed (the director's own supervision
                # has nobody to go to) in both runs.
                self.assertEqual(missed(got_status), missed(ref_status),
                                 (ref_status["notifications"], got_status["notifications"]))
        print("kill-month: %d kills in all" % total_kills, file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
