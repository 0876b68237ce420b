#!/usr/bin/python3
"""Bad input on the API socket: every kind gets its own stable error code, and
the daemon keeps serving afterwards (each test ends with a status request).

One daemon serves the whole class; limits are small so that size and batch
limits are cheap to reach.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402
from harness import (staff_changed, staff_hired, staff_left, statuses, team_changed,  # noqa: E402
                     event, new_id)

MAX_MESSAGE = 65536
MAX_BATCH = 100


def uniq(prefix):
    """A staff or team id unique to one test, so tests do not share records."""
    return "%s-%s" % (prefix, new_id()[:8])


class BadRequests(h.DaemonTestCase):
    """Whole requests that are wrong: the reply is an error envelope."""

    daemon_kwargs = {"limits": {"max_message_bytes": MAX_MESSAGE,
                                "max_batch_events": MAX_BATCH}}

    def setUp(self):
        self.c = self.daemon.client()

    def test_malformed_json(self):
        for body in ('{"op": "status", "id": 1', '{"op": status}', "{,}", "nonsense", "",
                     '{"op": "status", "id": 1} trailing'):
            with self.subTest(body=body):
                reply = self.c.raw_request(body)
                self.assertError(reply, "bad_json")
                self.assertIsNone(reply.get("id"), reply)
        self.assertServing()

    def test_nul_character_in_a_string(self):
        # cJSON would cut both ids at the NUL: they must not be taken for one event.
        events = [h.staff_hired("NUL1", "Ann Lee", id_="evt\u0000-one"),
                  h.staff_hired("NUL2", "Bob Ray", id_="evt\u0000-two")]
        reply = self.c.raw_request(json.dumps({"op": "publish", "id": 7, "events": events}))
        self.assertError(reply, "bad_json")
        self.assertIn("\\u0000", reply["error"]["message"])
        # A backslash followed by the text u0000 is an ordinary string.
        ok = h.staff_hired("NUL3", "Cy Dee", id_="evt\\u0000-three")
        self.assertEqual(h.statuses(self.c.publish([ok])), ["stored"])
        self.assertServing()

    def test_reports_lists_someone_found_two_ways_once(self):
        # RX is a member of RTA (run by RM) and manages RTA's sub-team RTB: the
        # walk meets RX both as a member and as a sub-team's manager.
        events = [h.team_changed("RTA", "Ward A", manager_id="RM"),
                  h.team_changed("RTB", "Ward A nights", parent_id="RTA", manager_id="RX"),
                  h.staff_hired("RM", "Rae Moss", team_id="RTA"),
                  h.staff_hired("RX", "Rex Hale", team_id="RTA"),
                  h.staff_hired("RY", "Rye Lund", team_id="RTB")]
        self.assertEqual(h.statuses(self.c.publish(events)), ["stored"] * 5)
        reply = self.c.request({"op": "reports", "manager_id": "RM"})
        self.assertEqual([x["staff_id"] for x in reply["reports"]], ["RX"])
        reply = self.c.request({"op": "reports", "manager_id": "RX"})
        self.assertEqual([x["staff_id"] for x in reply["reports"]], ["RY"])
        self.assertServing()

    def test_not_an_object(self):
        for body in ("[1]", '"x"', "42", "null", "true", "[]",
                     '[{"op": "status", "id": 1}]'):
            with self.subTest(body=body):
                self.assertError(self.c.raw_request(body), "not_object")
        self.assertServing()

    def test_unknown_op(self):
        reply = self.c.request({"op": "frobnicate", "id": "u1"})
        self.assertError(reply, "unknown_op", request_id="u1")
        self.assertServing()

    def test_missing_op_is_bad_request(self):
        reply = self.c.request({"id": "m1", "events": []})
        self.assertError(reply, "bad_request", request_id="m1")
        self.assertServing()

    def test_id_is_echoed_whatever_its_type(self):
        for rid in (7, "seven", [1, "two"], {"k": None}, None, 1.5):
            with self.subTest(id=rid):
                self.c.send_body(json.dumps({"op": "status", "id": rid}))
                reply = self.c.recv()
                self.assertIs(reply["ok"], True, reply)
                self.assertEqual(reply["id"], rid)
        self.assertServing()

    def test_publish_without_events_is_bad_request(self):
        for req in ({"op": "publish"}, {"op": "publish", "events": {}},
                    {"op": "publish", "events": "x"}, {"op": "publish", "event": 3}):
            with self.subTest(request=req):
                reply = self.c.request(dict(req, id="b"))
                # {"event": 3} may also be read as one event that is not an object.
                if req.get("event") == 3 and reply.get("ok"):
                    self.assertEqual(statuses(reply), ["rejected:not_object"])
                else:
                    self.assertError(reply, "bad_request", request_id="b")
        self.assertServing()

    def test_empty_batch(self):
        reply = self.c.request({"op": "publish", "id": "e", "events": []})
        self.assertError(reply, "empty_batch", request_id="e")
        self.assertServing()

    def test_batch_too_large(self):
        events = [h.filler_event(i) for i in range(MAX_BATCH + 1)]
        reply = self.c.request({"op": "publish", "id": "big", "events": events})
        self.assertError(reply, "batch_too_large", request_id="big")
        # Nothing of a refused batch is stored: the same events fit in two batches.
        ok = self.c.publish(events[:MAX_BATCH])
        self.assertEqual(statuses(ok), ["stored"] * MAX_BATCH)
        self.assertEqual(statuses(self.c.publish(events[MAX_BATCH:])), ["stored"])
        self.assertServing()

    def test_invalid_utf8(self):
        for raw in (b'{"op": "status", "id": "\xff"}',
                    b'{"op": "status", "id": "\xc0\xaf"}',          # overlong "/"
                    b'{"op": "status", "id": "\xed\xa0\x80"}',      # UTF-16 surrogate
                    b'{"op": "status", "id": "\xf4\x90\x80\x80"}',  # above U+10FFFF
                    b'{"op": "status", "id": "abc\xe2\x82"}',       # truncated sequence
                    b'{"op": "publish", "events": [{"specversion": "1.0", "id": "\xfe"}]}'):
            with self.subTest(raw=raw):
                self.assertError(self.c.raw_request(raw), "bad_utf8")
        # Valid multi-byte UTF-8 is of course fine.
        reply = self.c.raw_request('{"op": "status", "id": "Zoë — 日本 🙂"}'.encode("utf-8"))
        self.assertIs(reply["ok"], True, reply)
        self.assertEqual(reply["id"], "Zoë — 日本 🙂")
        self.assertServing()

    def test_message_over_the_limit(self):
        pad = "x" * (2 * MAX_MESSAGE)
        self.c.send_body(json.dumps({"op": "status", "id": "large", "pad": pad}))
        self.assertError(self.c.recv(), "message_too_large")
        # Just under the limit is served.
        under = json.dumps({"op": "status", "id": "under", "pad": ""})
        under = json.dumps({"op": "status", "id": "under",
                            "pad": "y" * (MAX_MESSAGE - len(under) - 16)})
        self.assertLessEqual(len(under), MAX_MESSAGE)
        reply = self.c.raw_request(under)
        self.assertIs(reply["ok"], True, reply)
        self.assertEqual(reply["id"], "under")
        # The same connection goes on working.
        self.assertIs(self.c.status()["ok"], True)
        self.assertServing()

    def test_unexpected_number_of_frames(self):
        body = json.dumps({"op": "status", "id": "f"}).encode()
        for frames in ([b"", body, body], [b"", body, b"extra", b"more"], [body, body],
                       [b"", b"", body]):
            with self.subTest(frames=frames):
                self.c.send_frames(frames)
                got = self.c.recv_frames()
                self.assertError(json.loads(got[-1]), "bad_frames")
        self.assertServing()

    def test_bare_body_without_delimiter_gets_bare_reply(self):
        bare = self.daemon.client(delimiter=False)
        reply = bare.status()
        self.assertIs(reply["ok"], True, reply)
        self.assertServing()


class BadEvents(h.DaemonTestCase):
    """Events that are wrong: the request succeeds, the event is rejected with
    its code, and the other events of its batch are unaffected."""

    def setUp(self):
        self.c = self.daemon.client()

    def rejected_alone(self, ev, code):
        """Publishes ev between two good events; asserts only ev is rejected."""
        before, after = h.filler_event(1), h.filler_event(2)
        reply = self.c.publish([before, ev, after])
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(len(reply["results"]), 3, reply)
        self.assertEqual(reply["results"][0], {"status": "stored"})
        self.assertRejected(reply["results"][1], code)
        self.assertEqual(reply["results"][2], {"status": "stored"})

    def good_hire(self, **kw):
        return staff_hired(uniq("S"), "Ann Lee", **kw)

    def test_event_not_an_object(self):
        for value in (1, "x", None, [1], True):
            with self.subTest(value=value):
                self.rejected_alone(value, "not_object")
        self.assertServing()

    def test_single_event_form(self):
        reply = self.c.request({"op": "publish", "id": "one", "event": self.good_hire()})
        self.assertIs(reply["ok"], True, reply)
        self.assertEqual(statuses(reply), ["stored"])
        reply = self.c.request({"op": "publish", "id": "one-bad", "event": {"x": 1}})
        self.assertIs(reply["ok"], True, reply)
        self.assertEqual(len(reply["results"]), 1)
        self.assertRejected(reply["results"][0], "missing_attribute")
        self.assertServing()

    def test_missing_attributes(self):
        for attr in ("specversion", "id", "source", "type", "data"):
            with self.subTest(attribute=attr):
                ev = self.good_hire()
                del ev[attr]
                self.rejected_alone(ev, "missing_attribute")
        self.assertServing()

    def test_empty_or_wrongly_typed_attributes(self):
        for attr, value in (("id", ""), ("source", ""), ("type", ""), ("id", 42),
                            ("source", None), ("id", "i" * 257), ("source", "s" * 257),
                            ("data", "not an object"), ("data", [1])):
            with self.subTest(attribute=attr, value=str(value)[:20]):
                ev = self.good_hire()
                ev[attr] = value
                self.rejected_alone(ev, "bad_attribute")
        self.assertServing()

    def test_longest_id_and_source_are_accepted(self):
        ev = self.good_hire(id_="i" * 256, source="s" * 256)
        self.assertEqual(statuses(self.c.publish([ev])), ["stored"])
        self.assertServing()

    def test_wrong_specversion(self):
        for value in ("0.3", "1", "1.0.0", "2.0"):
            with self.subTest(specversion=value):
                self.rejected_alone(self.good_hire(specversion=value), "bad_specversion")
        self.assertServing()

    def test_unknown_type(self):
        for value in ("staff.fired", "com.example.thing", "Staff.Hired", "team.changed "):
            with self.subTest(type=value):
                ev = self.good_hire()
                ev["type"] = value
                self.rejected_alone(ev, "unknown_type")
        self.assertServing()

    # Well-formed examples of the review-obligation events, about nobody the
    # daemon knows, with their required fields and their date fields.
    REVIEW_EVENTS = {
        "absence.started": ({"staff_id": "NOBODY", "absence_id": "A1", "kind": "sickness",
                             "start_date": "2024-02-01"},
                            ("staff_id", "absence_id", "kind", "start_date"), ("start_date",)),
        "absence.ended": ({"staff_id": "NOBODY", "absence_id": "A1", "end_date": "2024-02-09"},
                          ("staff_id", "absence_id", "end_date"), ("end_date",)),
        "review.booked": ({"staff_id": "NOBODY", "kind": "supervision", "date": "2024-03-01"},
                          ("staff_id", "kind", "date"), ("date",)),
        "review.completed": ({"staff_id": "NOBODY", "kind": "supervision",
                              "date": "2024-03-01"},
                             ("staff_id", "kind", "date"), ("date",)),
        "review.waived": ({"staff_id": "NOBODY", "kind": "supervision", "reason": "left"},
                          ("staff_id", "kind", "reason"), ()),
        "action.assigned": ({"action_id": "X1", "staff_id": "NOBODY", "title": "t",
                             "due_date": "2024-04-01"},
                            ("action_id", "staff_id", "title", "due_date"), ("due_date",)),
        "action.completed": ({"action_id": "NOBODY-X1", "date": "2024-04-01"},
                             ("action_id", "date"), ("date",)),
        "training.completed": ({"staff_id": "NOBODY", "course": "fire", "date": "2024-04-01"},
                               ("staff_id", "course", "date"), ("date",)),
        "concern.opened": ({"concern_id": "C1", "staff_id": "NOBODY", "date": "2024-04-01"},
                           ("concern_id", "staff_id", "date"), ("date",)),
        "concern.closed": ({"concern_id": "NOBODY-C1", "date": "2024-05-01"},
                           ("concern_id", "date"), ("date",)),
    }

    def test_kpi_observed_is_checked(self):
        # This daemon's configuration has no metrics: every observation names an unknown one.
        self.rejected_alone(event("kpi.observed", {"metric": "sickness_rate", "team_id": "T1",
                                                   "value": 3.5}, time="2024-04-01T00:00:00Z"),
                            "unknown_metric")
        self.rejected_alone(event("kpi.observed", {}, time="2024-04-01T00:00:00Z"),
                            "missing_field")
        untimed = event("kpi.observed", {"metric": "sickness_rate", "team_id": "T1",
                                         "value": 3.5})
        del untimed["time"]
        self.rejected_alone(untimed, "missing_time")
        self.assertServing()

    def test_review_events_are_handled(self):
        # Well-formed, but about a staff member, action or concern nobody sent.
        expected = {"action.completed": "unknown_action", "concern.closed": "unknown_concern"}
        for type_, (data, _, _) in self.REVIEW_EVENTS.items():
            with self.subTest(type=type_):
                self.rejected_alone(event(type_, dict(data)),
                                    expected.get(type_, "unknown_staff"))
        self.assertServing()

    def test_review_events_validate_their_data(self):
        for type_, (data, required, dates) in self.REVIEW_EVENTS.items():
            for field in required:
                with self.subTest(type=type_, missing=field):
                    ev = event(type_, dict(data))
                    del ev["data"][field]
                    self.rejected_alone(ev, "missing_field")
                with self.subTest(type=type_, number=field):
                    self.rejected_alone(event(type_, dict(data, **{field: 7})), "bad_field")
                if field not in dates:
                    with self.subTest(type=type_, empty=field):
                        self.rejected_alone(event(type_, dict(data, **{field: ""})),
                                            "bad_field")
            for field in dates:
                for value in ("2023-02-29", "2024-04-31", "01/04/2024", "2024-04-01T09:00:00Z"):
                    with self.subTest(type=type_, date=field, value=value):
                        self.rejected_alone(event(type_, dict(data, **{field: value})),
                                            "bad_date")
            with self.subTest(type=type_, data="not an object"):
                self.rejected_alone(event(type_, [data]), "bad_attribute")
        self.assertServing()

    def test_bad_time(self):
        for value in ("yesterday", "2024-01-08", "2024-01-08T09:00", "2024-01-08T09:00:00",
                      "2023-02-29T09:00:00Z", "2024-01-08T25:00:00Z", "2024-13-01T00:00:00Z",
                      "2024-01-08T09:61:00Z", 1704704400, ""):
            with self.subTest(time=value):
                self.rejected_alone(self.good_hire(time=value), "bad_time")
        for value in ("2024-01-08T09:00:00Z", "2024-01-08T09:00:00.123456+01:00",
                      "2024-02-29t09:00:00z", "2016-12-31T23:59:60Z"):
            with self.subTest(good_time=value):
                self.assertEqual(statuses(self.c.publish([self.good_hire(time=value)])),
                                 ["stored"])
        no_time = self.good_hire()
        del no_time["time"]
        self.assertEqual(statuses(self.c.publish([no_time])), ["stored"])
        self.assertServing()

    def test_missing_fields_in_data(self):
        for field in ("staff_id", "name", "role", "team_id", "start_date"):
            with self.subTest(type="staff.hired", field=field):
                ev = self.good_hire()
                del ev["data"][field]
                self.rejected_alone(ev, "missing_field")
        for field in ("team_id", "name"):
            with self.subTest(type="team.changed", field=field):
                ev = team_changed(uniq("T"), "Ward 7")
                del ev["data"][field]
                self.rejected_alone(ev, "missing_field")
        hire = self.good_hire()
        self.assertEqual(statuses(self.c.publish([hire])), ["stored"])
        sid = hire["data"]["staff_id"]
        ev = staff_left(sid, "2025-01-01")
        del ev["data"]["leave_date"]
        self.rejected_alone(ev, "missing_field")
        ev = staff_changed(sid, {"role": "nurse"})
        del ev["data"]["staff_id"]
        self.rejected_alone(ev, "missing_field")
        reg = self.good_hire(registration={"body": "NMC", "number": "12A3456E"})
        self.rejected_alone(reg, "missing_field")
        self.assertServing()

    def test_wrongly_typed_fields_in_data(self):
        cases = [("name", 42), ("role", ["carer"]), ("team_id", {"id": "T1"}), ("staff_id", 7),
                 ("staff_id", ""), ("staff_id", "s" * 129), ("manager_id", 3),
                 ("email", "not-an-address"), ("registration", "NMC 12A3456E"),
                 ("start_date", 20240108), ("name", "line\nbreak")]
        for field, value in cases:
            with self.subTest(field=field, value=str(value)[:20]):
                ev = self.good_hire()
                ev["data"][field] = value
                self.rejected_alone(ev, "bad_field")
        ev = team_changed(uniq("T"), "Ward 7")
        ev["data"]["parent_id"] = 12
        self.rejected_alone(ev, "bad_field")
        self.assertServing()

    def test_impossible_dates(self):
        for value in ("2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-32",
                      "2024-01-00"):
            with self.subTest(start_date=value):
                self.rejected_alone(self.good_hire(start_date=value), "bad_date")
        self.rejected_alone(self.good_hire(registration={
            "body": "NMC", "number": "1", "renewal_date": "2027-02-30"}), "bad_date")
        hire = self.good_hire()
        self.assertEqual(statuses(self.c.publish([hire])), ["stored"])
        self.rejected_alone(staff_left(hire["data"]["staff_id"], "2025-02-29"), "bad_date")
        # A real 29 February is a date.
        self.assertEqual(statuses(self.c.publish([self.good_hire(start_date="2024-02-29")])),
                         ["stored"])
        self.assertServing()

    def test_unknown_staff(self):
        ghost = uniq("GHOST")
        self.rejected_alone(staff_changed(ghost, {"role": "nurse"}), "unknown_staff")
        self.rejected_alone(staff_left(ghost, "2025-01-01"), "unknown_staff")
        reply = self.c.request({"op": "staff", "staff_id": ghost})
        self.assertError(reply, "not_found")
        self.assertServing()

    def test_self_managed(self):
        sid = uniq("S")
        self.rejected_alone(staff_hired(sid, "Self Boss", manager_id=sid), "self_managed")
        self.assertServing()

    def test_management_cycle_explicit(self):
        a, b, c = uniq("A"), uniq("B"), uniq("C")
        team = uniq("T")
        reply = self.c.publish([staff_hired(a, "Amy", team_id=team),
                                staff_hired(b, "Ben", team_id=team, manager_id=a),
                                staff_hired(c, "Cat", team_id=team, manager_id=b)])
        self.assertEqual(statuses(reply), ["stored"] * 3)
        # B manages A while A manages B: a two-step cycle.
        self.rejected_alone(staff_changed(a, {"manager_id": b}), "management_cycle")
        # C manages A while A -> B -> C: a three-step cycle.
        self.rejected_alone(staff_changed(a, {"manager_id": c}), "management_cycle")
        # The rejected changes left A without a manager.
        reply = self.c.request({"op": "staff", "staff_id": a})
        self.assertIs(reply["ok"], True, reply)
        self.assertIsNone(reply["staff"]["manager_id"], reply)
        self.assertEqual(reply["chain"], [])
        self.assertServing()

    def test_management_cycle_through_a_team_manager(self):
        # A is in team TA, which has no manager yet; B (in TB) is managed by A.
        # Making B the manager of TA would make B A's line manager: a cycle.
        a, b, ta, tb = uniq("A"), uniq("B"), uniq("TA"), uniq("TB")
        reply = self.c.publish([staff_hired(a, "Amy", team_id=ta),
                                staff_hired(b, "Ben", team_id=tb, manager_id=a)])
        self.assertEqual(statuses(reply), ["stored"] * 2)
        self.rejected_alone(team_changed(ta, "Team A", manager_id=b), "management_cycle")
        # The other way round: team TC is managed by X; X is managed explicitly by
        # Y; hiring Y into TC with no manager of their own gives Y the line
        # manager X, and X -> Y -> X is a cycle.
        x, y, tc, td = uniq("X"), uniq("Y"), uniq("TC"), uniq("TD")
        reply = self.c.publish([team_changed(tc, "Team C", manager_id=x),
                                staff_hired(x, "Xena", team_id=td, manager_id=y)])
        self.assertEqual(statuses(reply), ["stored"] * 2)
        self.rejected_alone(staff_hired(y, "Yan", team_id=tc), "management_cycle")
        self.assertServing()

    def test_team_manager_in_own_team_is_not_a_cycle(self):
        m, t = uniq("M"), uniq("T")
        reply = self.c.publish([team_changed(t, "Solo", manager_id=m),
                                staff_hired(m, "Mo", team_id=t)])
        self.assertEqual(statuses(reply), ["stored"] * 2)
        reply = self.c.request({"op": "staff", "staff_id": m})
        self.assertIsNone(reply["staff"]["manager_id"], reply)
        self.assertServing()

    def test_team_cycle(self):
        t1, t2, t3, t4, t5 = (uniq("T") for _ in range(5))
        self.rejected_alone(team_changed(t1, "Loop", parent_id=t1), "team_cycle")
        reply = self.c.publish([team_changed(t1, "One", parent_id=t2),
                                team_changed(t3, "Three", parent_id=t4),
                                team_changed(t4, "Four", parent_id=t5)])
        self.assertEqual(statuses(reply), ["stored"] * 3)
        self.rejected_alone(team_changed(t2, "Two", parent_id=t1), "team_cycle")
        self.rejected_alone(team_changed(t5, "Five", parent_id=t3), "team_cycle")
        # T2 is still unknown apart from being T1's parent; naming it without a
        # parent is fine.
        self.assertEqual(statuses(self.c.publish([team_changed(t2, "Two")])), ["stored"])
        self.assertServing()


class Outcomes(h.DaemonTestCase):
    """Stored, duplicate and rejected results, in order, and across a restart."""

    def setUp(self):
        self.c = self.daemon.client()

    def test_rejected_event_does_not_reject_the_others(self):
        good1, good2 = h.filler_event(10), h.filler_event(11)
        bad = h.filler_event(12)
        bad["specversion"] = "0.3"
        reply = self.c.publish([good1, bad, good2])
        self.assertEqual(statuses(reply), ["stored", "rejected:bad_specversion", "stored"])
        # Both good events are really stored: publishing them again says so.
        self.assertEqual(statuses(self.c.publish([good1, good2])), ["duplicate", "duplicate"])
        # The rejected one was not stored: once fixed, the same source and id store.
        bad["specversion"] = "1.0"
        self.assertEqual(statuses(self.c.publish([bad])), ["stored"])
        self.assertServing()

    def test_duplicates(self):
        ev = h.filler_event(20)
        self.assertEqual(statuses(self.c.publish([ev, ev])), ["stored", "duplicate"])
        self.assertEqual(statuses(self.c.publish([ev])), ["duplicate"])
        # A duplicate is the same (source, id), whatever the body says.
        changed = dict(ev, data={"team_id": "LOAD0", "name": "Another name"})
        self.assertEqual(statuses(self.c.publish([changed])), ["duplicate"])
        # The same id from another source is another event.
        other = dict(ev, source="another-system")
        self.assertEqual(statuses(self.c.publish([other])), ["stored"])
        self.assertServing()

    def test_duplicates_after_restart_and_counters(self):
        events = [h.filler_event(i) for i in range(5)]
        bad = h.filler_event(99)
        bad["type"] = "no.such.type"
        before = self.daemon.status()["events"]
        reply = self.c.publish(events + [events[0], bad])
        self.assertEqual(statuses(reply), ["stored"] * 5 + ["duplicate", "rejected:unknown_type"])
        after = self.daemon.status()["events"]
        for kind, n in (("stored", 5), ("duplicate", 1), ("rejected", 1)):
            for span in ("since_start", "total"):
                self.assertEqual(after[kind][span], before[kind][span] + n, (kind, span, after))
        self.daemon.stop_clean()
        self.daemon.restart()
        restarted = self.daemon.status()["events"]
        for kind in ("stored", "duplicate", "rejected"):
            self.assertEqual(restarted[kind]["total"], after[kind]["total"], (kind, restarted))
            self.assertEqual(restarted[kind]["since_start"], 0, (kind, restarted))
        c = self.daemon.client()
        self.assertEqual(statuses(c.publish(events)), ["duplicate"] * 5)
        self.assertServing()


class HugeMessages(h.DaemonTestCase):
    """Messages far over the limit: a reply or a dropped connection, never
    unbounded memory.  ASan's quarantine is switched off for this daemon so
    that freed buffers are returned and the RSS measures what is kept."""

    daemon_kwargs = {"limits": {"max_message_bytes": MAX_MESSAGE},
                     "asan_options": "quarantine_size_mb=0"}

    HUGE = 8 << 20

    def send_huge(self, payload):
        """Sends payload on a fresh connection; waits for an error reply or for
        the daemon to drop the connection.  Returns "reply" or "dropped"."""
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        try:
            sock.connect(self.daemon.api)
            sock.send_multipart([b"", payload])
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            poller.register(monitor, zmq.POLLIN)
            events = dict(poller.poll(30000))
            if sock in events:
                frames = sock.recv_multipart()
                self.assertError(json.loads(frames[-1]), "message_too_large")
                return "reply"
            self.assertIn(monitor, events, "neither a reply nor a disconnect within 30s")
            return "dropped"
        finally:
            sock.disable_monitor()
            monitor.close(0)
            sock.close(0)

    def test_memory_stays_flat(self):
        payload = b'{"op": "status", "id": "huge", "pad": "' + b"z" * self.HUGE + b'"}'
        seen = set()
        for _ in range(4):  # warm up whatever buffers the daemon keeps for reuse
            seen.add(self.send_huge(payload))
        self.assertServing()
        baseline = self.daemon.rss_kb()
        for _ in range(30):
            seen.add(self.send_huge(payload))
        self.assertServing()
        grown = self.daemon.rss_kb() - baseline
        print("huge messages: %s; RSS %d kB -> %+d kB" % (sorted(seen), baseline, grown),
              file=sys.stderr)
        self.assertLess(grown, 6 * 1024, "RSS grew by %d kB over 30 messages of %d MB"
                        % (grown, self.HUGE >> 20))


if __name__ == "__main__":
    unittest.main(verbosity=2)
