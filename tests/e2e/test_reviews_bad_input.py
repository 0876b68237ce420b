#!/usr/bin/python3
"""Bad input about review obligations, through the real daemon: each gets a
clear error, and nothing of a rejected event is kept.

- configuration errors found by carehubd -n -c FILE: exit 1 and
  "FILE:LINE: key: reason" naming the exact line;
- an escalation step naming a role nobody has: not an error; the daemon
  starts and logs a warning naming the role;
- review, absence, action, training and concern events that cannot apply:
  rejected with their own code, not stored (status counts, the events table),
  and no change to anyone's obligations (the person op);
- the clock op: refused on a daemon on the real clock (no_test_clock, though
  asking the time works), and bad moves of a test clock (bad_request);
- carehubd --test-clock with something that is not a time: exit 2.
"""

import datetime
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, staff_hired, team_changed  # noqa: E402

# "FILE:LINE: key: reason"; keys carry list positions ("kinds.x.escalation[1].notify[1]").
ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<key>[A-Za-z_][\w.\[\]]*): "
                        r"(?P<reason>.+)$")

TEST_CLOCK = "2026-01-05T07:00:00Z"

KINDS = """
timezone = "Europe/London";
schedule = { send_time = "09:00"; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        recurring = { every = "4 weeks"; first = "2 weeks"; };
        reminders = [3, 0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    },
    {
        name = "concern";
        title = "Concern about practice";
        milestones = {
            after = "concern.opened";
            steps = ( { name = "welfare"; title = "Welfare check"; at = "2 days"; } );
        };
        reminders = [0];
        during_absence = "continue";
    },
    {
        name = "action";
        title = "Agreed action";
        assigned = true;
        reminders = [0];
    },
    {
        name = "training";
        title = "Training renewal";
        training = true;
        reminders = [7];
    }
);
courses = (
    { name = "fire_safety"; title = "Fire safety"; valid = "1 year"; first = "4 weeks"; }
);
"""


run_daemon = h.run_daemon


class ConfigErrors(h.ConfigFileTestCase):
    """carehubd -n -c FILE on review settings that are wrong."""

    prefix = "carehub-e2e-reviews-conf-"

    def assertErrorAt(self, text, line, key, *reason_parts):
        """-n exits 1 with the error 'FILE:LINE: key: reason' where reason holds every
        one of reason_parts; returns the error line."""
        path = self.write(text)
        rc, out, err = run_daemon(["-n", "-c", path])
        self.assertEqual(rc, 1, "exit %s (1 expected):\n%s%s" % (rc, out, err))
        self.assertNotIn("configuration OK", out + err)
        errors = [m for m in map(ERROR_LINE.match, err.splitlines()) if m]
        for m in errors:
            if (m["file"] == path and int(m["line"]) == line and m["key"] == key
                    and all(p in m["reason"] for p in reason_parts)):
                return m.group(0)
        self.fail("no error '%s:%d: %s: ...%s...' in:\n%s"
                  % (path, line, key, "...".join(reason_parts), err))

    def test_unknown_field_in_a_kind(self):
        self.assertErrorAt('kinds = (\n'                                      # 4
                           '  { name = "supervision"; title = "Supervision";\n'  # 5
                           '    recurring = { every = "2 weeks"; };\n'        # 6
                           '    colour = "red";\n'                            # 7
                           '  }\n'
                           ');\n', 7, "kinds.supervision.colour", "unknown key")

    def test_every_zero_weeks(self):
        self.assertErrorAt('kinds = (\n'
                           '  { name = "supervision"; title = "Supervision";\n'
                           '    recurring = {\n'                              # 6
                           '      every = "0 weeks";\n'                       # 7
                           '    };\n'
                           '  }\n'
                           ');\n', 7, "kinds.supervision.recurring.every", '"0 weeks"',
                           "at least", "1 day")

    def test_every_negative(self):
        self.assertErrorAt('kinds = (\n'
                           '  { name = "supervision"; title = "Supervision";\n'
                           '    recurring = {\n'
                           '      every = "-1 weeks";\n'                      # 7
                           '    };\n'
                           '  }\n'
                           ');\n', 7, "kinds.supervision.recurring.every", '"-1 weeks"',
                           "negative")

    def test_escalation_to_someone_unknown(self):
        line = self.assertErrorAt(
            'kinds = (\n'
            '  { name = "supervision"; title = "Supervision";\n'
            '    recurring = { every = "2 weeks"; };\n'
            '    escalation = (\n'                                            # 7
            '      { after_days = 1; notify = ["manager"]; },\n'              # 8
            '      { after_days = 3; notify = ["boss"]; }\n'                  # 9
            '    );\n'
            '  }\n'
            ');\n', 9, "kinds.supervision.escalation[2].notify[1]", '"boss"')
        # The message says what may be written instead.
        for word in ("manager", "manager+1", "role:", "staff:"):
            self.assertIn(word, line)

    def test_closure_not_a_real_date(self):
        self.assertErrorAt('schedule = {\n'                                   # 4
                           '  closures = ["2026-01-01", "2026-02-30"];\n'     # 5
                           '};\n', 5, "schedule.closures[2]", '"2026-02-30"', "not a date",
                           "28 days")

    def test_closure_written_day_first(self):
        self.assertErrorAt('schedule = {\n'
                           '  closures = [\n'                                 # 5
                           '    "2026-12-24",\n'                              # 6
                           '    "25/12/2026"];\n'                             # 7
                           '};\n', 7, "schedule.closures[2]", '"25/12/2026"', "YYYY-MM-DD")

    # Daemon bug: the last string of a list written one per line is reported on
    # the line of the closing bracket (here 8), not its own line: libconfig's
    # lexer reads ahead for string concatenation before the element is made,
    # and the element takes the line where the lexer stands.  Integers are not
    # affected.  Remove expectedFailure once the daemon reports line 7.
    @unittest.expectedFailure
    def test_last_string_of_a_list_on_its_own_line(self):
        self.assertErrorAt('schedule = {\n'
                           '  closures = [\n'                                 # 5
                           '    "2026-12-24",\n'                              # 6
                           '    "25/12/2026"\n'                               # 7
                           '  ];\n'                                           # 8
                           '};\n', 7, "schedule.closures[2]", '"25/12/2026"', "YYYY-MM-DD")

    def test_kind_with_no_way_to_arise(self):
        line = self.assertErrorAt('kinds = (\n'
                                  '  { name = "supervision"; title = "Supervision";\n'  # 5
                                  '    reminders = [3, 0];\n'
                                  '  }\n'
                                  ');\n', 5, "kinds.supervision")
        for word in ("recurring", "milestones", "assigned", "training"):
            self.assertIn(word, line)

    def test_all_errors_at_once(self):
        # Two mistakes in one file: both reported, each on its own line.
        path = self.write('kinds = (\n'
                          '  { name = "supervision"; title = "Supervision";\n'
                          '    recurring = { every = "0 weeks"; };\n'        # 6
                          '    colour = "red";\n'                            # 7
                          '  }\n'
                          ');\n')
        rc, out, err = run_daemon(["-n", "-c", path])
        self.assertEqual(rc, 1, err)
        lines = sorted(int(m["line"]) for m in map(ERROR_LINE.match, err.splitlines()) if m)
        self.assertEqual(lines, [6, 7], err)


class RoleNobodyHas(unittest.TestCase):
    """An escalation step that tells a role no staff member has yet."""

    def test_starts_and_warns(self):
        config = KINDS.replace('escalation = ( { after_days = 1; notify = ["manager"]; } );',
                               'escalation = ( { after_days = 1; notify = ["manager"]; },\n'
                               '               { after_days = 7; '
                               'notify = ["role:registered_manager"]; } );')
        self.assertIn("role:registered_manager", config)
        d = h.Daemon(extra_config=config, test_clock=TEST_CLOCK)
        self.addCleanup(d.close)
        path = d.conf
        rc, out, err = run_daemon(["-n", "-c", path])
        self.assertEqual(rc, 0, err)  # not a configuration error
        d.start()
        self.assertTrue(d.running())
        warnings = [x for x in d.run_stderr().splitlines() if "registered_manager" in x]
        self.assertEqual(len(warnings), 1, d.run_stderr())
        self.assertRegex(warnings[0], r"carehubd warn(ing)?: ")
        self.assertIn('"supervision"', warnings[0])
        self.assertIn("step 2", warnings[0])
        # Once someone has the role, the warning is gone.
        with h.Client(d.api) as c:
            reply = c.publish([team_changed("T1", "Ward", manager_id="RM1"),
                               staff_hired("RM1", "Rita Mann", role="registered_manager",
                                           team_id="T1", start_date="2025-01-06")])
            self.assertEqual(h.statuses(reply), ["stored", "stored"])
        d.stop_clean()
        d.restart()
        self.assertNotIn("registered_manager", d.run_stderr())
        d.stop_clean()


class RejectedReviewEvents(h.DaemonTestCase):
    """Events that cannot apply: rejected with their code, not stored, and no
    change to anyone's obligations."""

    daemon_kwargs = {"extra_config": KINDS, "test_clock": TEST_CLOCK}
    counter = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with h.Client(cls.daemon.api) as c:
            reply = c.publish([team_changed("T1", "Riverside", manager_id="M1"),
                               staff_hired("M1", "Mo Khan", role="manager", team_id="T1",
                                           start_date="2024-06-03")])
            assert h.statuses(reply) == ["stored", "stored"], reply

    def setUp(self):
        self.c = self.daemon.client()

    def hire(self, start_date="2026-01-05"):
        """A new staff member for one test; returns the id."""
        RejectedReviewEvents.counter += 1
        sid = "S%d" % self.counter
        self.assertEqual(self.publish(staff_hired(sid, "Person %s" % sid, team_id="T1",
                                                  start_date=start_date)), "stored")
        return sid

    def publish(self, ev):
        """Publishes one event; returns "stored", "duplicate" or "rejected:CODE"."""
        reply = self.c.publish([ev])
        self.assertIs(reply.get("ok"), True, reply)
        return h.statuses(reply)[0]

    def snapshot(self, staff_ids):
        """What a rejected event must not change: stored events (counted and
        listed) and the obligations and absences of the people concerned."""
        status = self.c.status()
        with self.daemon.db() as conn:
            keys = h.stored_event_keys(conn)
        people = {}
        for sid in staff_ids:
            reply = self.c.request({"op": "person", "staff_id": sid})
            if reply.get("ok"):
                people[sid] = (reply["obligations"], reply["absences"])
            else:
                self.assertEqual(reply["error"]["code"], "not_found", reply)
                people[sid] = None
        return status["events"], keys, people

    def assertRejectedUnchanged(self, ev, code, staff_ids=()):
        """ev is rejected with code and a message; nothing is stored or changed."""
        events_before, keys_before, people_before = self.snapshot(staff_ids)
        reply = self.c.publish([ev])
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(len(reply["results"]), 1, reply)
        result = reply["results"][0]
        self.assertEqual(result.get("status"), "rejected", (ev, result))
        self.assertEqual(result["error"].get("code"), code, (ev, result))
        self.assertTrue(result["error"].get("message"), result)
        events_after, keys_after, people_after = self.snapshot(staff_ids)
        self.assertEqual(events_after["stored"], events_before["stored"])
        self.assertEqual(events_after["rejected"]["total"],
                         events_before["rejected"]["total"] + 1)
        self.assertEqual(keys_after, keys_before)
        self.assertNotIn((ev["source"], ev["id"]), keys_after)
        self.assertEqual(people_after, people_before, "a rejected %s changed obligations"
                         % ev["type"])
        return result["error"]["message"]

    def test_unknown_kind(self):
        sid = self.hire()
        for type_, data in (
                ("review.completed", {"staff_id": sid, "kind": "supervison",
                                      "date": "2026-01-05"}),
                ("review.booked", {"staff_id": sid, "kind": "appraisal", "date": "2026-01-09"}),
                ("review.waived", {"staff_id": sid, "kind": "Supervision", "reason": "x"}),
                ("action.assigned", {"action_id": "AK1", "staff_id": sid, "title": "t",
                                     "due_date": "2026-02-01", "kind": "objective"}),
                # A kind that exists, but is not a kind of assigned action.
                ("action.assigned", {"action_id": "AK2", "staff_id": sid, "title": "t",
                                     "due_date": "2026-02-01", "kind": "supervision"})):
            with self.subTest(type=type_, kind=data["kind"]):
                message = self.assertRejectedUnchanged(event(type_, data), "unknown_kind", [sid])
                self.assertIn(data["kind"], message)
        self.assertServing()

    def test_wrong_event_for_the_kind(self):
        sid = self.hire()
        for kind in ("training", "action"):
            with self.subTest(kind=kind):
                self.assertRejectedUnchanged(
                    event("review.completed", {"staff_id": sid, "kind": kind,
                                               "date": "2026-01-05"}), "wrong_event", [sid])
        self.assertServing()

    def test_review_before_the_start_date(self):
        sid = self.hire(start_date="2026-01-05")
        message = self.assertRejectedUnchanged(
            event("review.completed", {"staff_id": sid, "kind": "supervision",
                                       "date": "2026-01-04"}), "bad_date", [sid])
        self.assertIn("2026-01-04", message)
        # The start date itself is fine.
        self.assertEqual(self.publish(event("review.completed", {
            "staff_id": sid, "kind": "supervision", "date": "2026-01-05"})), "stored")
        self.assertServing()

    def test_training_before_the_start_date(self):
        sid = self.hire(start_date="2026-01-05")
        self.assertRejectedUnchanged(
            event("training.completed", {"staff_id": sid, "course": "fire_safety",
                                         "date": "2025-12-31"}), "bad_date", [sid])
        self.assertServing()

    def test_overlapping_absences(self):
        sid = self.hire(start_date="2025-06-02")
        self.assertEqual(self.publish(event("absence.started", {
            "staff_id": sid, "absence_id": "AB1", "kind": "sickness",
            "start_date": "2025-12-01"})), "stored")
        # A second absence while the first is still open.
        for start in ("2025-12-10", "2025-11-20", "2025-12-01"):
            with self.subTest(second_starts=start):
                self.assertRejectedUnchanged(event("absence.started", {
                    "staff_id": sid, "absence_id": "AB2", "kind": "annual_leave",
                    "start_date": start}), "overlapping_absence", [sid])
        # Once the first has ended, one starting inside it still overlaps it.
        self.assertEqual(self.publish(event("absence.ended", {
            "staff_id": sid, "absence_id": "AB1", "end_date": "2025-12-20"})), "stored")
        self.assertRejectedUnchanged(event("absence.started", {
            "staff_id": sid, "absence_id": "AB3", "kind": "sickness",
            "start_date": "2025-12-20"}), "overlapping_absence", [sid])
        # An absence starting before it with no end yet would run into it.
        self.assertRejectedUnchanged(event("absence.started", {
            "staff_id": sid, "absence_id": "AB4", "kind": "sickness",
            "start_date": "2025-11-01"}), "overlapping_absence", [sid])
        # The day after it ended is free.
        self.assertEqual(self.publish(event("absence.started", {
            "staff_id": sid, "absence_id": "AB5", "kind": "sickness",
            "start_date": "2025-12-21"})), "stored")
        # Ending before it started is a bad date.
        self.assertRejectedUnchanged(event("absence.ended", {
            "staff_id": sid, "absence_id": "AB5", "end_date": "2025-12-19"}), "bad_date", [sid])
        self.assertServing()

    def test_unknown_absence(self):
        sid = self.hire()
        self.assertRejectedUnchanged(event("absence.ended", {
            "staff_id": sid, "absence_id": "NO-SUCH", "end_date": "2026-01-05"}),
            "unknown_absence", [sid])
        self.assertServing()

    def test_unknown_action(self):
        sid = self.hire()
        self.assertRejectedUnchanged(event("action.completed", {
            "action_id": "NO-SUCH-ACTION", "date": "2026-01-05"}), "unknown_action", [sid])
        self.assertServing()

    def test_unknown_concern(self):
        sid = self.hire()
        self.assertRejectedUnchanged(event("concern.closed", {
            "concern_id": "NO-SUCH-CONCERN", "date": "2026-01-05"}), "unknown_concern", [sid])
        self.assertServing()

    def test_unknown_course(self):
        sid = self.hire()
        message = self.assertRejectedUnchanged(event("training.completed", {
            "staff_id": sid, "course": "juggling", "date": "2026-01-05"}), "unknown_course", [sid])
        self.assertIn("juggling", message)
        self.assertEqual(self.publish(event("training.completed", {
            "staff_id": sid, "course": "fire_safety", "date": "2026-01-05"})), "stored")
        self.assertServing()

    def test_waived_with_nothing_open(self):
        sid = self.hire()
        # No concern was ever opened about them: no concern step is open.
        self.assertRejectedUnchanged(event("review.waived", {
            "staff_id": sid, "kind": "concern", "reason": "no longer needed"}),
            "nothing_open", [sid])
        # Open a concern, waive its one step; a second waiver has nothing left.
        self.assertEqual(self.publish(event("concern.opened", {
            "concern_id": "C-%s" % sid, "staff_id": sid, "date": "2026-01-05"})), "stored")
        self.assertEqual(self.publish(event("review.waived", {
            "staff_id": sid, "kind": "concern", "reason": "resolved at once"})), "stored")
        self.assertRejectedUnchanged(event("review.waived", {
            "staff_id": sid, "kind": "concern", "reason": "again"}), "nothing_open", [sid])
        self.assertServing()

    def test_unknown_staff(self):
        nobody = "NOBODY-1"
        for type_, data in (
                ("review.completed", {"staff_id": nobody, "kind": "supervision",
                                      "date": "2026-01-05"}),
                ("review.booked", {"staff_id": nobody, "kind": "supervision",
                                   "date": "2026-01-09"}),
                ("review.waived", {"staff_id": nobody, "kind": "supervision", "reason": "x"}),
                ("absence.started", {"staff_id": nobody, "absence_id": "AN1", "kind": "sickness",
                                     "start_date": "2026-01-05"}),
                ("absence.ended", {"staff_id": nobody, "absence_id": "AN1",
                                   "end_date": "2026-01-06"}),
                ("action.assigned", {"action_id": "AN2", "staff_id": nobody, "title": "t",
                                     "due_date": "2026-02-01"}),
                ("training.completed", {"staff_id": nobody, "course": "fire_safety",
                                        "date": "2026-01-05"}),
                ("concern.opened", {"concern_id": "CN1", "staff_id": nobody,
                                    "date": "2026-01-05"})):
            with self.subTest(type=type_):
                message = self.assertRejectedUnchanged(event(type_, data), "unknown_staff",
                                                       [nobody, "M1"])
                self.assertIn(nobody, message)
        self.assertServing()

    def test_rejected_events_can_be_sent_again_once_they_apply(self):
        # A rejection is not remembered as a duplicate: the same event, once it
        # can apply, is stored.
        sid = "LATE-%d" % os.getpid()
        ev = event("review.completed", {"staff_id": sid, "kind": "supervision",
                                        "date": "2026-01-05"})
        self.assertEqual(self.publish(ev), "rejected:unknown_staff")
        self.assertEqual(self.publish(staff_hired(sid, "Lee Late", team_id="T1",
                                                  start_date="2026-01-05")), "stored")
        self.assertEqual(self.publish(ev), "stored")
        self.assertEqual(self.publish(ev), "duplicate")
        self.assertServing()


class ClockOp(unittest.TestCase):
    """The clock op on the real clock and on a test clock."""

    def daemon(self, **kw):
        d = h.Daemon(extra_config=KINDS, **kw)
        self.addCleanup(d.close)
        d.start()
        return d

    def assertError(self, reply, code):
        self.assertIs(reply.get("ok"), False, reply)
        self.assertEqual(reply["error"].get("code"), code, reply)
        self.assertTrue(reply["error"].get("message"), reply)

    def test_real_clock_refuses_to_move(self):
        d = self.daemon()
        c = d.client()
        for request in ({"advance_seconds": 60}, {"set": "2030-01-01T00:00:00Z"},
                        {"advance_seconds": 0}):
            with self.subTest(request=request):
                self.assertError(c.request(dict(request, op="clock")), "no_test_clock")
        # Asking the time works.
        reply = c.request({"op": "clock", "id": "now?"})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(reply["id"], "now?")
        self.assertIs(reply["test_clock"], False)
        now = datetime.datetime.fromisoformat(reply["now"].replace("Z", "+00:00"))
        wall = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - wall).total_seconds()), 300, reply)
        self.assertRegex(reply["today"], r"^\d{4}-\d\d-\d\d$")
        self.assertIn("next_action_at", reply)
        d.stop_clean()

    def test_bad_moves_of_a_test_clock(self):
        d = self.daemon(test_clock=TEST_CLOCK)
        c = d.client()
        reply = c.request({"op": "clock"})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertIs(reply["test_clock"], True)
        start = reply["now"]
        for request in ({"set": "2026-01-05T06:59:59Z"},          # backwards
                        {"set": "2025-01-05T07:00:00Z"},
                        {"set": "next tuesday"},                  # not RFC 3339
                        {"set": "2026-01-06"},
                        {"set": "2026-01-06T09:00:00"},
                        {"set": 1767600000},
                        {"set": None},
                        {"set": "2026-01-06T09:00:00Z", "advance_seconds": 60},  # both
                        {"advance_seconds": -1},
                        {"advance_seconds": 1.5},
                        {"advance_seconds": "60"},
                        {"advance_seconds": None}):
            with self.subTest(request=request):
                self.assertError(c.request(dict(request, op="clock")), "bad_request")
        # None of them moved the clock.
        reply = c.request({"op": "clock"})
        self.assertEqual(reply["now"], start, reply)
        # Good moves: the same time again, then forward.
        reply = c.request({"op": "clock", "set": TEST_CLOCK})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(reply["now"], start)
        reply = c.request({"op": "clock", "advance_seconds": 3600})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertTrue(reply["now"].startswith("2026-01-05T08:00:00"), reply)
        # Backwards from there, even to the start, is refused.
        self.assertError(c.request({"op": "clock", "set": TEST_CLOCK}), "bad_request")
        d.stop_clean()

    def test_test_clock_option_not_a_time(self):
        d = h.Daemon(extra_config=KINDS)
        self.addCleanup(d.close)
        for value in ("notatime", "2026-01-05", "2026-02-30T07:00:00Z", ""):
            with self.subTest(value=value):
                rc, out, err = run_daemon(["--test-clock", value, "-c", d.conf])
                self.assertEqual(rc, 2, out + err)
                self.assertIn("--test-clock", err)
                self.assertIn('"%s"' % value, err)
                self.assertIn("RFC 3339", err)
        # Nothing was started: no database in the state directory.
        self.assertFalse(os.path.exists(d.state_dir) and os.listdir(d.state_dir))


if __name__ == "__main__":
    unittest.main(verbosity=2)
