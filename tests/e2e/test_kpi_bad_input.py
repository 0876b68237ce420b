#!/usr/bin/python3
"""Bad input about KPIs, through the real daemon and the real client tools:
each gets a clear error, nothing of it is kept, and the daemon stays up.

- kpi.observed events that cannot be counted, published with carehub-pub
  and over the API: rejected with their own code and a message, not stored
  (status counts, the events table), and no figure changes (the kpi op,
  status' kpi counters): unknown_metric, derived_metric, unknown_team (the
  documented choice: refused, not held; once the team exists the same event
  is stored), not_finite (1e999 written raw in the JSON text), bad_field,
  missing_field, out_of_range, future_time, too_old and missing_time; the
  limits themselves (the range's ends, exactly kpi.future_minutes ahead, the
  first day kept) are accepted;
- the kpi op asked for something it cannot answer: unknown_metric,
  unknown_team, or bad_request (a period that is not one of the five, a
  period the metric does not keep, periods or depth out of range or not
  whole, an "at" that is not a date or label, or later than today, a
  malformed team, metric or period);
- carehubctl kpi with bad options: exit 2 and a message naming the option,
  without asking the daemon; the daemon's own refusals exit 1;
- configuration errors found by carehubd -n -c FILE: exit 1 and exactly
  "FILE:LINE: key: reason" for thresholds on the wrong side of the target
  (both directions), an unknown aggregate, an alert_period that is not one of
  the periods, a derived metric of an unknown kind (or counting an unknown
  kind of review), a benchmark with "at" but no "period".

After every batch the daemon still answers status.  The daemon runs on a
test clock: Wednesday 14 January 2026, 10:00 in London (UTC in winter).
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import event, staff_hired, team_changed  # noqa: E402

TEST_CLOCK = "2026-01-14T10:00:00Z"
TODAY = "2026-01-14"

CONFIG = """
timezone = "Europe/London";
kinds = (
    { name = "supervision"; title = "Supervision";
      recurring = { every = "4 weeks"; first = "2 weeks"; }; }
);
kpi = {
    retention_days = 30;
    future_minutes = 60;
    flush_ms = 60000;
};
metrics = (
    { name = "length_of_stay"; title = "Average length of stay"; unit = "days";
      aggregate = "mean"; periods = ["week", "month", "quarter"]; alert_period = "month";
      direction = "lower"; target = 5; warning = 6; critical = 8; hysteresis = 0.25;
      min = 0; max = 365; },
    { name = "incidents"; title = "Incidents reported"; aggregate = "count";
      periods = ["week", "month"]; alert_period = "month";
      direction = "lower"; warning = 5; critical = 10; },
    { name = "supervision_compliance"; title = "Staff whose supervision is up to date";
      derived = "compliance"; kinds = ["supervision"]; periods = ["month"];
      warning = 90; critical = 80; }
);
"""


def observed(metric, team_id, value, time="2026-01-13T09:00:00Z", **kw):
    """A kpi.observed event (value as given: any JSON value)."""
    return event("kpi.observed", {"metric": metric, "team_id": team_id, "value": value},
                 source="carehub-e2e-kpi-bad", time=time, **kw)


run_daemon = h.run_daemon


class ConfigErrors(h.ConfigFileTestCase):
    """carehubd -n -c FILE on KPI settings that are wrong: the exact message, on its line."""

    prefix = "carehub-e2e-kpi-conf-"

    def check(self, text):
        path = self.write(text)
        rc, out, err = run_daemon(["-n", "-c", path])
        return path, rc, out, err

    def assertErrors(self, text, *expected):
        """-n exits 1, and its error lines are exactly expected, each "LINE: key: reason"
        (the file's path is put in front)."""
        path, rc, out, err = self.check(text)
        self.assertEqual(rc, 1, "exit %s (1 expected):\n%s%s" % (rc, out, err))
        self.assertNotIn("configuration OK", out + err)
        got = [x for x in err.splitlines() if x.startswith(path + ":")]
        self.assertEqual(got, ["%s:%s" % (path, e) for e in expected], err)
        # Nothing was started: no database.
        self.assertFalse(os.path.exists(os.path.join(self.dir, "state")))

    def test_a_good_metric_is_accepted(self):
        # The baseline the other tests break one line of.
        path, rc, out, err = self.check('metrics = (\n'
                                        '  { name = "los"; title = "Length of stay";\n'
                                        '    direction = "lower";\n'
                                        '    target = 5;\n'
                                        '    warning = 6;\n'
                                        '    critical = 8; }\n'
                                        ');\n')
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out + err)

    def test_thresholds_on_the_wrong_side_lower_is_better(self):
        self.assertErrors('metrics = (\n'                                   # 4
                          '  { name = "los"; title = "Length of stay";\n'   # 5
                          '    direction = "lower";\n'                      # 6
                          '    target = 5;\n'                               # 7
                          '    warning = 4;\n'                              # 8
                          '    critical = 8; }\n'                           # 9
                          ');\n',
                          '8: metrics.los.warning: warning (4) is better than the target (5) '
                          'for a metric where lower is better; it must be 5 or more')

    def test_thresholds_on_the_wrong_side_higher_is_better(self):
        self.assertErrors('metrics = (\n'                                   # 4
                          '  { name = "comp"; title = "Compliance";\n'      # 5
                          '    direction = "higher";\n'                     # 6
                          '    target = 95;\n'                              # 7
                          '    warning = 90;\n'                             # 8
                          '    critical = 92; }\n'                          # 9
                          ');\n',
                          '9: metrics.comp.critical: critical (92) is better than the warning '
                          '(90) for a metric where higher is better; it must be 90 or less')

    def test_thresholds_all_on_the_wrong_side(self):
        # Higher is better, but every threshold is above the target: two errors.
        self.assertErrors('metrics = (\n'
                          '  { name = "comp"; title = "Compliance"; direction = "higher";\n'  # 5
                          '    target = 5;\n'                                                 # 6
                          '    warning = 6;\n'                                                # 7
                          '    critical = 7; }\n'                                             # 8
                          ');\n',
                          '7: metrics.comp.warning: warning (6) is better than the target (5) '
                          'for a metric where higher is better; it must be 5 or less',
                          '8: metrics.comp.critical: critical (7) is better than the target (5) '
                          'for a metric where higher is better; it must be 5 or less')

    def test_unknown_aggregate(self):
        self.assertErrors('metrics = (\n'
                          '  { name = "los"; title = "Length of stay";\n'   # 5
                          '    aggregate = "average"; }\n'                  # 6
                          ');\n',
                          '6: metrics.los.aggregate: "average" is not a way to combine values '
                          '(write "count", "sum", "mean", "min", "max", "last" or a percentile '
                          'like "p90")')

    def test_alert_period_not_among_the_periods(self):
        self.assertErrors('metrics = (\n'
                          '  { name = "los"; title = "Length of stay";\n'   # 5
                          '    periods = ["month", "quarter"];\n'           # 6
                          '    alert_period = "week"; }\n'                  # 7
                          ');\n',
                          '7: metrics.los.alert_period: "week" is not one of this metric\'s '
                          'periods (month and quarter)')

    def test_derived_metric_of_an_unknown_kind(self):
        self.assertErrors('kinds = ( { name = "supervision"; title = "Supervision";\n'  # 4
                          '            recurring = { every = "4 weeks"; }; } );\n'      # 5
                          'metrics = (\n'                                               # 6
                          '  { name = "sup"; title = "Supervision";\n'                  # 7
                          '    derived = "complience";\n'                               # 8
                          '    kinds = ["supervision"]; }\n'                            # 9
                          ');\n',
                          '8: metrics.sup.derived: "complience" is not something carehubd works '
                          'out (write "compliance", "overdue" or "days_overdue")')

    def test_derived_metric_counting_an_unknown_kind_of_review(self):
        self.assertErrors('kinds = ( { name = "supervision"; title = "Supervision";\n'  # 4
                          '            recurring = { every = "4 weeks"; }; } );\n'      # 5
                          'metrics = (\n'                                               # 6
                          '  { name = "sup"; title = "Supervision";\n'                  # 7
                          '    derived = "compliance";\n'                               # 8
                          '    kinds = ["supervison"]; }\n'                             # 9
                          ');\n',
                          '9: metrics.sup.kinds[1]: "supervison" is not a kind of review (name '
                          'one of the kinds in kinds, or "training")')

    def test_benchmark_at_without_period(self):
        self.assertErrors('metrics = (\n'
                          '  { name = "los"; title = "Length of stay";\n'   # 5
                          '    periods = ["month", "quarter"];\n'           # 6
                          '    benchmarks = (\n'                            # 7
                          '      { name = "national"; value = 5.8;\n'       # 8
                          '        at = "2026-Q1"; }\n'                     # 9
                          '    ); }\n'
                          ');\n',
                          '9: metrics.los.benchmarks[1].at: needs period to say which kind of '
                          'period it names (like period = "quarter"; at = "2026-Q1")')

    def test_every_error_at_once(self):
        self.assertErrors('metrics = (\n'
                          '  { name = "los"; title = "Length of stay";\n'   # 5
                          '    aggregate = "average";\n'                    # 6
                          '    periods = ["month"];\n'                      # 7
                          '    alert_period = "week"; },\n'                 # 8
                          '  { name = "comp"; title = "Compliance";\n'      # 9
                          '    direction = "higher"; target = 95;\n'        # 10
                          '    warning = 96; }\n'                           # 11
                          ');\n',
                          '6: metrics.los.aggregate: "average" is not a way to combine values '
                          '(write "count", "sum", "mean", "min", "max", "last" or a percentile '
                          'like "p90")',
                          '8: metrics.los.alert_period: "week" is not one of this metric\'s '
                          'periods (month)',
                          '11: metrics.comp.warning: warning (96) is better than the target (95) '
                          'for a metric where higher is better; it must be 95 or less')


class KpiDaemonTestCase(h.DaemonTestCase):
    """One daemon on the test clock with the metrics above, and the teams

        T0 Head office (manager M1)
         +- T1 Riverside (manager M1)

    with a few good observations, so that figures exist to be left unchanged."""

    daemon_kwargs = {"extra_config": CONFIG, "test_clock": TEST_CLOCK}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with h.Client(cls.daemon.api) as c:
            reply = c.publish([team_changed("T0", "Head office", manager_id="M1"),
                               team_changed("T1", "Riverside", parent_id="T0", manager_id="M1"),
                               staff_hired("M1", "Mo Khan", role="manager", team_id="T0",
                                           start_date="2024-06-03"),
                               observed("length_of_stay", "T1", 4.5),
                               observed("length_of_stay", "T1", 5.5,
                                        time="2025-12-20T12:00:00Z"),
                               observed("incidents", "T0", 1)])
            assert h.statuses(reply) == ["stored"] * 6, reply

    def setUp(self):
        self.c = self.daemon.client()


class RejectedObservations(KpiDaemonTestCase):
    """kpi.observed events that cannot be counted."""

    def figures(self):
        """Every figure the kpi op shows, for every kind of period kept."""
        out = []
        for request in ({"op": "kpi", "periods": 3},
                        {"op": "kpi", "period": "week", "periods": 8},
                        {"op": "kpi", "period": "quarter", "periods": 2}):
            reply = self.c.request(request)
            self.assertIs(reply.get("ok"), True, reply)
            reply.pop("id")
            out.append(reply)
        return out

    def snapshot(self):
        """What a rejected event must not change."""
        # The kpi op first: it has the figures held in memory written, so that the
        # database's figures are complete when they are read.
        figures = self.figures()
        status = self.c.status()
        self.assertIs(status.get("ok"), True, status)
        with self.daemon.db() as conn:
            keys = h.stored_event_keys(conn)
            cells = conn.execute("SELECT metric, period, start_day, team_id, count, sum, min, "
                                 "max, last FROM kpi_cells ORDER BY 1, 2, 3, 4").fetchall()
        return {"stored": status["events"]["stored"]["total"],
                "rejected": status["events"]["rejected"]["total"],
                "observations": status["kpi"]["observations_since_start"],
                "alerts": status["kpi"]["alerts_since_start"],
                "keys": keys, "cells": cells, "figures": figures}

    def publish_raw(self, text):
        """Publishes one request body given as text; returns the reply."""
        rid = h.Client.next_id()
        self.c.send_body('{"op": "publish", "id": "%s", "events": [%s]}' % (rid, text))
        return self.c.recv_for(rid)

    def assertRejectedUnchanged(self, ev, code, raw=None):
        """ev (or the raw text of one event) is rejected with code and a message, and
        nothing is stored or changed; returns the message."""
        before = self.snapshot()
        reply = self.publish_raw(raw) if raw is not None else self.c.publish([ev])
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(len(reply["results"]), 1, reply)
        result = reply["results"][0]
        self.assertEqual(result.get("status"), "rejected", (ev or raw, result))
        self.assertEqual(result["error"].get("code"), code, (ev or raw, result))
        message = result["error"].get("message")
        self.assertTrue(message, result)
        self.assertTrue(message.startswith("kpi.observed: "), message)
        after = self.snapshot()
        self.assertEqual(after["stored"], before["stored"])
        self.assertEqual(after["rejected"], before["rejected"] + 1)
        for key in ("keys", "cells", "observations", "alerts", "figures"):
            self.assertEqual(after[key], before[key], "a rejected event changed %s" % key)
        if ev is not None:
            self.assertNotIn((ev["source"], ev["id"]), after["keys"])
        self.assertServing()
        return message

    def test_unknown_metric(self):
        for name in ("lenght_of_stay", "Length_Of_Stay", "length_of_stay_p90"):
            with self.subTest(metric=name):
                message = self.assertRejectedUnchanged(observed(name, "T1", 5), "unknown_metric")
                self.assertIn('"%s"' % name, message)

    def test_derived_metric(self):
        message = self.assertRejectedUnchanged(
            observed("supervision_compliance", "T1", 95), "derived_metric")
        self.assertIn('"supervision_compliance"', message)
        self.assertIn("review", message)

    def test_unknown_team_is_refused_not_held(self):
        ev = observed("length_of_stay", "T-LATE", 7)
        message = self.assertRejectedUnchanged(ev, "unknown_team")
        self.assertIn('"T-LATE"', message)
        self.assertIn("team.changed", message)
        # Refused, not held: the team's arrival does not bring the value back...
        self.assertEqual(h.statuses(self.c.publish([team_changed("T-LATE", "Late team")])),
                         ["stored"])
        reply = self.c.request({"op": "kpi", "team": "T-LATE", "metric": "length_of_stay",
                                "periods": 1})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual((reply["rows"][0]["value"], reply["rows"][0]["count"]), (None, 0),
                         reply)
        # ...and, not being remembered, the same event (same id) is stored when sent again.
        self.assertEqual(h.statuses(self.c.publish([ev])), ["stored"])
        self.assertEqual(h.statuses(self.c.publish([ev])), ["duplicate"])
        reply = self.c.request({"op": "kpi", "team": "T-LATE", "metric": "length_of_stay",
                                "periods": 1})
        self.assertEqual((reply["rows"][0]["value"], reply["rows"][0]["count"]), (7, 1), reply)
        self.assertServing()

    def test_not_finite(self):
        for raw_value in ("1e999", "-1e999", "1E400"):
            with self.subTest(value=raw_value):
                ev = observed("length_of_stay", "T1", "__VALUE__")
                raw = json.dumps(ev).replace('"__VALUE__"', raw_value)
                self.assertIn(raw_value, raw)
                message = self.assertRejectedUnchanged(None, "not_finite", raw=raw)
                self.assertIn('"value"', message)

    def test_bad_field(self):
        for value in ("5", None, True, [5], {"days": 5}):
            with self.subTest(value=value):
                message = self.assertRejectedUnchanged(observed("length_of_stay", "T1", value),
                                                       "bad_field")
                self.assertIn('"value"', message)

    def test_missing_field(self):
        for field in ("value", "metric", "team_id"):
            with self.subTest(missing=field):
                ev = observed("length_of_stay", "T1", 5)
                del ev["data"][field]
                message = self.assertRejectedUnchanged(ev, "missing_field")
                self.assertIn('"%s"' % field, message)

    def test_out_of_range(self):
        # length_of_stay is declared 0 to 365.
        for value in (-0.5, 365.5, -1e300, 1e300):
            with self.subTest(value=value):
                message = self.assertRejectedUnchanged(
                    observed("length_of_stay", "T1", value), "out_of_range")
                self.assertIn("length_of_stay", message)
                self.assertIn("0 to 365", message)

    def test_future_time(self):
        # kpi.future_minutes is 60: one second past 11:00 is too far ahead.
        for when in ("2026-01-14T11:00:01Z", "2026-01-14T12:00:01+01:00", "2027-01-14T10:00:00Z"):
            with self.subTest(time=when):
                message = self.assertRejectedUnchanged(
                    observed("length_of_stay", "T1", 5, time=when), "future_time")
                self.assertIn("60 minutes", message)

    def test_too_old(self):
        # kpi.retention_days is 30: 15 December 2025 is the first day kept.
        for when in ("2025-12-14T23:59:59Z", "2025-12-15T00:59:59+01:00", "2020-06-01T12:00:00Z"):
            with self.subTest(time=when):
                message = self.assertRejectedUnchanged(
                    observed("length_of_stay", "T1", 5, time=when), "too_old")
                self.assertIn("30 days", message)

    def test_missing_time(self):
        ev = observed("length_of_stay", "T1", 5)
        del ev["time"]
        message = self.assertRejectedUnchanged(ev, "missing_time")
        self.assertIn('"time"', message)

    def test_the_limits_themselves_are_accepted(self):
        # The range's ends, exactly kpi.future_minutes ahead, and the first day kept.
        evs = [observed("incidents", "T1", 0, time="2026-01-14T11:00:00Z"),
               observed("incidents", "T1", 0, time="2025-12-15T00:00:00Z"),
               observed("length_of_stay", "T1", 0, time="2025-12-15T00:00:00Z"),
               observed("length_of_stay", "T1", 365, time="2025-12-15T00:00:00Z")]
        before = self.snapshot()
        reply = self.c.publish(evs)
        self.assertEqual(h.statuses(reply), ["stored"] * 4, reply)
        after = self.snapshot()
        self.assertEqual(after["stored"], before["stored"] + 4)
        self.assertEqual(after["observations"], before["observations"] + 4)
        self.assertServing()

    def test_one_batch_of_everything(self):
        # Each bad event in one request gets its own code; the good one among them is stored.
        bad = [(observed("nope", "T1", 5), "unknown_metric"),
               (observed("supervision_compliance", "T1", 5), "derived_metric"),
               (observed("length_of_stay", "NOBODY", 5), "unknown_team"),
               (observed("length_of_stay", "T1", "5"), "bad_field"),
               (observed("length_of_stay", "T1", 366), "out_of_range"),
               (observed("length_of_stay", "T1", 5, time="2026-01-15T10:00:00Z"), "future_time"),
               (observed("length_of_stay", "T1", 5, time="2025-11-01T10:00:00Z"), "too_old")]
        good = observed("incidents", "T1", 1)
        nofinite = observed("length_of_stay", "T1", "__VALUE__")
        notime = observed("length_of_stay", "T1", 5)
        del notime["time"]
        events = [e for e, _ in bad] + [good, notime]
        body = json.dumps(events)[1:-1] + ", " + json.dumps(nofinite).replace('"__VALUE__"',
                                                                              "1e999")
        before = self.snapshot()
        reply = self.publish_raw(body)
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(h.statuses(reply),
                         ["rejected:%s" % code for _, code in bad]
                         + ["stored", "rejected:missing_time", "rejected:not_finite"])
        after = self.snapshot()
        self.assertEqual(after["stored"], before["stored"] + 1)
        self.assertEqual(after["rejected"], before["rejected"] + len(bad) + 2)
        self.assertEqual(after["observations"], before["observations"] + 1)
        self.assertServing()

    def test_through_carehub_pub(self):
        # The real publishing tool: the rejections are reported and nothing is stored.
        path = os.path.join(self.daemon.workdir, "bad-kpi.jsonl")
        h.write_ndjson(path, [observed("nope", "T1", 5),
                              observed("length_of_stay", "T1", -1),
                              observed("length_of_stay", "NOBODY", 5)])
        before = self.snapshot()
        cp = h.run_pub([path], endpoint=self.daemon.api)
        self.assertEqual(h.pub_summary(cp.stdout), (0, 0, 3), cp.stdout + cp.stderr)
        self.assertNotEqual(cp.returncode, 0, "carehub-pub exits 0 after rejections")
        for code in ("unknown_metric", "out_of_range", "unknown_team"):
            self.assertIn(code, cp.stdout + cp.stderr)
        after = self.snapshot()
        for key in ("stored", "keys", "cells", "observations", "figures"):
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(after["rejected"], before["rejected"] + 3)
        self.assertServing()


class KpiOpErrors(KpiDaemonTestCase):
    """The kpi op asked for something it cannot answer."""

    def assertKpiError(self, request, code, *in_message):
        reply = self.c.request(dict(request, op="kpi"))
        # The request and what came back (the start of it: a whole reply is long).
        said = "%r -> %.300s" % (request, json.dumps(reply))
        self.assertIs(reply.get("ok"), False, said)
        self.assertEqual(reply["error"].get("code"), code, said)
        message = reply["error"].get("message")
        self.assertTrue(message, reply)
        for part in in_message:
            self.assertIn(part, message)
        return message

    def assertKpiOk(self, request):
        reply = self.c.request(dict(request, op="kpi"))
        self.assertIs(reply.get("ok"), True, (request, reply))
        return reply

    def test_unknown_metric(self):
        self.assertKpiError({"metric": "lenght_of_stay"}, "unknown_metric", '"lenght_of_stay"')
        self.assertServing()

    def test_unknown_team(self):
        self.assertKpiError({"team": "T404"}, "unknown_team", '"T404"')
        self.assertKpiError({"team": "t1"}, "unknown_team", '"t1"')
        self.assertServing()

    def test_period_not_one_of_the_five(self):
        for period in ("fortnight", "Month", "months", ""):
            with self.subTest(period=period):
                self.assertKpiError({"period": period}, "bad_request", '"period"', "day", "week",
                                    "month", "quarter", "year")
        self.assertServing()

    def test_period_the_metric_does_not_keep(self):
        for metric, period in (("length_of_stay", "day"), ("length_of_stay", "year"),
                               ("incidents", "quarter"), ("supervision_compliance", "week")):
            with self.subTest(metric=metric, period=period):
                self.assertKpiError({"metric": metric, "period": period}, "bad_request",
                                    '"%s"' % metric, period)
        # Without a metric, a period some metrics do not keep lists the others.
        reply = self.assertKpiOk({"period": "quarter", "periods": 1})
        self.assertEqual({r["metric"] for r in reply["rows"]}, {"length_of_stay"})
        self.assertServing()

    def test_periods_out_of_range(self):
        for periods in (0, 61, 2.5, -1, "6", None, True, "1e999"):
            with self.subTest(periods=periods):
                if periods == "1e999":
                    # Written raw: JSON has no infinity, but this reads as one.
                    rid = h.Client.next_id()
                    self.c.send_body('{"op": "kpi", "id": "%s", "periods": 1e999}' % rid)
                    reply = self.c.recv_for(rid)
                    self.assertEqual(reply["error"]["code"], "bad_request", reply)
                    self.assertIn('"periods"', reply["error"]["message"])
                    continue
                self.assertKpiError({"periods": periods}, "bad_request", '"periods"', "1", "60")
        for periods in (1, 60):
            reply = self.assertKpiOk({"periods": periods, "team": "T1", "metric": "incidents"})
            self.assertEqual(len(reply["rows"][0]["periods"]), periods)
        self.assertServing()

    def test_depth_out_of_range(self):
        for depth in (-1, 65, 1.5, "0", None):
            with self.subTest(depth=depth):
                self.assertKpiError({"depth": depth}, "bad_request", '"depth"', "0", "64")
        reply = self.assertKpiOk({"depth": 0, "metric": "incidents"})
        self.assertEqual([r["team_id"] for r in reply["rows"]], ["T0"])
        self.assertServing()

    def test_at_not_a_date_or_label(self):
        for at in ("2026-13", "2026-02-30", "2026-Q5", "yesterday", "26-01", "2026-1", "",
                   "2026-01-14T10:00:00Z"):
            with self.subTest(at=at):
                self.assertKpiError({"at": at}, "bad_request", '"at"')
        self.assertKpiOk({"at": "2026-01", "period": "month"})
        self.assertKpiOk({"at": "2025-12-31"})
        self.assertServing()

    def test_at_later_than_today(self):
        # docs/protocol.md: a period after today is allowed: it has no figures yet.
        self.assertKpiOk({"at": "2026-01-15"})  # tomorrow: still this month
        for request in ({"at": "2026-02", "period": "month"},
                        {"at": "2026-Q2", "period": "quarter"}):
            with self.subTest(request=request):
                reply = self.assertKpiOk(dict(request, metric="length_of_stay", team="T1"))
                latest = reply["rows"][0]["periods"][-1]
                self.assertIsNone(latest["value"])
                self.assertEqual(latest["count"], 0)
        self.assertKpiOk({"at": TODAY})
        self.assertServing()

    def test_malformed_fields(self):
        # docs/protocol.md: bad_request when team (1 to 128 bytes) or metric is malformed,
        # or period is not one of the five; not the whole organisation as if they had been
        # left out, nor "there is no team \"\"".
        for request in ({"team": 5}, {"team": ""}, {"team": "x" * 129}, {"metric": 5},
                        {"metric": ""}, {"period": 5}, {"at": 2026}):
            with self.subTest(request=request):
                self.assertKpiError(request, "bad_request")
        self.assertServing()


class CtlKpiUsage(KpiDaemonTestCase):
    """carehubctl kpi with options it cannot use: exit 2, a message naming the option,
    nothing on stdout."""

    def ctl(self, *args):
        return h.run_ctl(list(args), endpoint=self.daemon.api)

    def assertUsageError(self, args, *in_message):
        cp = self.ctl(*args)
        self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
        self.assertEqual(cp.stdout, "", args)
        self.assertTrue(cp.stderr.startswith("carehubctl: "), cp.stderr)
        for part in in_message:
            self.assertIn(part, cp.stderr)
        return cp.stderr

    def test_good_options_work(self):
        # The baseline: the same options, well formed, are answered.
        cp = self.ctl("--json", "kpi", "--team", "T0", "--metric", "length_of_stay",
                      "--period", "month", "--periods", "3", "--depth", "1", "--at", "2026-01")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        reply = json.loads(cp.stdout)
        self.assertEqual([r["team_id"] for r in reply["rows"]], ["T0", "T1"])
        cp = self.ctl("kpi", "--csv", "--period", "week", "--periods", "1")
        self.assertEqual(cp.returncode, 0, cp.stderr)

    def test_period(self):
        for period in ("fortnight", "Month", ""):
            with self.subTest(period=period):
                self.assertUsageError(["kpi", "--period", period], "--period",
                                      '"%s"' % period, "day, week, month, quarter or year")

    def test_periods(self):
        for periods in ("0", "61", "2.5", "-1", "six", ""):
            with self.subTest(periods=periods):
                self.assertUsageError(["kpi", "--periods", periods], "--periods",
                                      '"%s"' % periods, "1 to 60")

    def test_depth(self):
        for depth in ("-1", "65", "x", "1.5"):
            with self.subTest(depth=depth):
                self.assertUsageError(["kpi", "--depth", depth], "--depth", '"%s"' % depth,
                                      "0 to 64")

    def test_at(self):
        for at in ("2026-13", "2026-02-30", "2026-Q5", "tomorrow", ""):
            with self.subTest(at=at):
                self.assertUsageError(["kpi", "--at", at], "--at", '"%s"' % at)
        # A label of another kind than --period.
        self.assertUsageError(["kpi", "--period", "month", "--at", "2026-Q1"], "--period month",
                              "--at", '"2026-Q1"')
        self.assertUsageError(["kpi", "--period", "week", "--at", "2026-01"], "--period week",
                              "--at")

    def test_two_output_formats(self):
        for args in (["--json", "kpi", "--csv"], ["kpi", "--csv", "--json"],
                     ["kpi", "--csv", "--prometheus"], ["--json", "kpi", "--prometheus"]):
            with self.subTest(args=args):
                self.assertUsageError(args, "--json, --csv and --prometheus", "not two")

    def test_options_of_other_commands_and_arguments(self):
        self.assertUsageError(["kpi", "--days", "3"], "--days", "kpi")
        self.assertUsageError(["status", "--metric", "incidents"], "--metric", "status")
        self.assertUsageError(["kpi", "T1"], "too many arguments", "kpi")
        self.assertUsageError(["kpi", "--team", ""], "--team")
        self.assertUsageError(["kpi", "--metric", ""], "--metric")

    def test_refusals_of_the_daemon_exit_1(self):
        for args, code in ((["kpi", "--metric", "nope"], "unknown_metric"),
                           (["kpi", "--team", "T404"], "unknown_team"),
                           (["kpi", "--metric", "length_of_stay", "--period", "day"],
                            "bad_request")):
            with self.subTest(args=args):
                cp = self.ctl(*args)
                self.assertEqual(cp.returncode, 1, (cp.stdout, cp.stderr))
                self.assertIn(code, cp.stderr)
        self.assertServing()


if __name__ == "__main__":
    unittest.main(verbosity=2)
