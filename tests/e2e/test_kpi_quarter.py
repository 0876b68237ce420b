#!/usr/bin/python3
"""A quarter of KPI figures for a small group of care homes, through the real
daemon and the real carehub-pub, on the test clock: the acceptance test of
issue 4.

The organisation (timezone Europe/London, weeks start on Monday):

    T0  Hillside Care (the group)      manager M0, role registered_manager
    +-- T1   Oak House                 manager M1, role home_manager; care workers C1, C2
    +-- T2   Elm House                 manager M2, role home_manager
        +-- T21  Elm House nights      manager M21, role team_leader; care workers C3, C4

Line managers follow the teams: M1 and M2 report to M0, M21 to M2.

The clock starts on Thursday 1 January 2026 at 18:00 UTC and moves one day at
a time to Friday 3 April 18:00 UTC.  Each day's events are published with
carehub-pub at 18:00 UTC, before the clock moves on; the move past local
midnight records the derived figures of the day that ended.  So an alert
raised by an observation is written at 18:00 UTC on the day it is
published, and one raised by a derived figure at 18:00 UTC the next day.

Every observation says when it happened in its CloudEvents "time" (10:00 UTC
on the day it is published unless written out), and some are sent weeks
late, out of order, or just either side of a local month or week boundary
(British Summer Time starts on Sunday 29 March 2026, 01:00 UTC).

Every figure, roll-up, red/amber/green state and alert below was worked out
by hand from the configuration and the rules in docs/configuration.md and
docs/protocol.md (the kpi op): a team's figure is made from its own values
and every sub-team's (a mean is the total over the count, never a mean of
means); the alert period's state gets worse as soon as a level is reached
and better only once the figure is `hysteresis` past it; a period with
fewer than min_observations values is "none"; a new month's state starts
unjudged, and a first judgement of green tells nobody.  None of them is
computed by code in this test.
"""

import csv
import datetime
import io
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402

START = "2026-01-01T18:00:00Z"
END = "2026-04-03T18:00:00Z"           # after the last clock step (Fri 3 April)
RESTART_CLOCK = "2026-04-04T18:00:00Z"  # the test clock after the restart
WAIT = 30  # seconds: the deadline of every wait

CONFIG = """
timezone = "Europe/London";
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "4 weeks"; first = "2 weeks"; };
    }
);
kpi = {
    week_starts = "monday";
    alert_roles = ["registered_manager"];
};
metrics = (
    {
        name = "length_of_stay";
        title = "Average length of stay";
        unit = "days";
        aggregate = "mean";
        periods = ["week", "month", "quarter"];
        alert_period = "month";
        direction = "lower";
        target = 5; warning = 6; critical = 8;
        hysteresis = 0.5;
        min_observations = 3;
        min = 0; max = 365;
        benchmarks = (
            { name = "regional"; value = 5.5; },
            { name = "national"; value = 5.8; period = "quarter"; at = "2026-Q1"; }
        );
    },
    {
        name = "call_response_p90";
        title = "Call bell answered within, for 90% of calls";
        unit = "minutes";
        aggregate = "p90";
        periods = ["month", "quarter"];
        direction = "lower";
        target = 10; warning = 15; critical = 20;
        min_observations = 10;
        min = 0; max = 240;
    },
    {
        name = "incidents";
        title = "Incidents reported";
        aggregate = "count";
        periods = ["week", "month", "quarter"];
        alert_period = "month";
        direction = "lower";
        warning = 4; critical = 8;
        alert_roles = ["home_manager"];
    },
    {
        name = "vacancies";
        title = "Vacant posts";
        unit = "posts";
        aggregate = "last";
        periods = ["month", "quarter"];
        direction = "lower";
        target = 0; warning = 3; critical = 6;
        min = 0; max = 100;
    },
    {
        name = "agency_hours";
        title = "Agency staff hours";
        unit = "hours";
        aggregate = "sum";
        periods = ["week", "month", "quarter"];
        alert_period = "month";
    },
    {
        name = "supervision_compliance";
        title = "Staff whose supervision is up to date";
        derived = "compliance";
        kinds = ["supervision"];
        periods = ["month", "quarter"];
        target = 95; warning = 90; critical = 80;
        hysteresis = 1;
        alert_roles = [];
    }
);
"""

METRICS = ["length_of_stay", "call_response_p90", "incidents", "vacancies", "agency_hours",
           "supervision_compliance"]
TEAMS = ["T0", "T1", "T2", "T21"]  # depth first, sub-teams by id: the kpi op's row order


# --------------------------------------------------------------------------
# What is published, day by day (at 18:00 UTC that day).  Each entry is
# (type, data, time); time None means the publishing moment.

def _obs(metric, team, value, at=None):
    return ("kpi.observed", {"metric": metric, "team_id": team, "value": value}, at)


def _los(team, value, at=None):
    return _obs("length_of_stay", team, value, at)


def _supervised(staff, date):
    return ("review.completed", {"staff_id": staff, "kind": "supervision", "date": date}, None)


def _hired(staff, name, role, team):
    return ("staff.hired", {"staff_id": staff, "name": name, "role": role, "team_id": team,
                            "start_date": "2026-01-01"}, None)


def _team(team, name, manager, parent=None):
    data = {"team_id": team, "name": name, "manager_id": manager}
    if parent:
        data["parent_id"] = parent
    return ("team.changed", data, None)


QUARTER = {
    # Thu 1 Jan: the group opens.  Supervision for care workers: first due
    # 2 weeks after the start (Thu 15 Jan), then 4 weeks after each one done.
    "2026-01-01": [
        _hired("M0", "Grace Okafor", "registered_manager", "T0"),
        _hired("M1", "Ian Pryce", "home_manager", "T1"),
        _hired("M2", "Hannah Lee", "home_manager", "T2"),
        _hired("M21", "Tom Reyes", "team_leader", "T21"),
        _hired("C1", "Chloe Baker", "care_worker", "T1"),
        _hired("C2", "Callum Reid", "care_worker", "T1"),
        _hired("C3", "Cara Jones", "care_worker", "T21"),
        _hired("C4", "Dev Patel", "care_worker", "T21"),
        _team("T0", "Hillside Care", "M0"),
        _team("T1", "Oak House", "M1", "T0"),
        _team("T2", "Elm House", "M2", "T0"),
        _team("T21", "Elm House nights", "M21", "T2"),
    ],
    # --- January
    "2026-01-02": [_los("T2", 4), _los("T2", 5), _los("T2", 4), _los("T2", 5),
                   _los("T21", 5), _los("T21", 5), _los("T21", 6), _los("T21", 4)],
    "2026-01-05": [_los("T1", 4), _los("T1", 5), _los("T1", 6)],
    "2026-01-08": [_los("T1", 9)],
    "2026-01-09": [_obs("agency_hours", "T1", 12.5), _obs("agency_hours", "T2", 6)],
    "2026-01-12": [_los("T1", 11)],
    "2026-01-14": [_supervised("C1", "2026-01-14"), _supervised("C2", "2026-01-14"),
                   _supervised("C4", "2026-01-14")],
    "2026-01-15": [_los("T1", 14)],
    "2026-01-16": [_obs("agency_hours", "T1", 8)],
    "2026-01-19": [_los("T1", 6)],
    "2026-01-20": [_supervised("C3", "2026-01-20")],
    "2026-01-22": [_los("T1", 3), _los("T1", 3)],
    "2026-01-23": [_obs("agency_hours", "T21", 3.5)],
    "2026-01-26": [_los("T1", 2), _los("T1", 2), _los("T1", 2)],
    "2026-01-29": [_los("T1", 1)],
    # Sat 31 Jan 23:30 GMT is still January (and the week of Mon 26 Jan);
    # Sun 1 Feb 00:30 GMT is February (same week).
    "2026-01-31": [_los("T1", 5, "2026-01-31T23:30:00Z"),
                   _los("T1", 7, "2026-02-01T00:30:00Z"),
                   _obs("incidents", "T21", 1, "2026-01-31T23:30:00Z")],
    # --- February
    # Sun 1 Feb 23:30 GMT: February, week of Mon 26 Jan; Mon 2 Feb 00:30 GMT:
    # the week of Mon 2 Feb.
    "2026-02-01": [_obs("incidents", "T21", 1, "2026-02-01T23:30:00Z"),
                   _obs("incidents", "T21", 1, "2026-02-02T00:30:00Z")],
    "2026-02-03": [_los("T1", 5), _los("T1", 4)],
    "2026-02-05": [_obs("call_response_p90", "T1", v) for v in (2, 3, 3, 4, 4, 5, 5, 6, 7, 12)],
    "2026-02-06": [_obs("call_response_p90", "T21", v) for v in (1, 2, 2, 3, 3, 3, 4, 8, 9, 11)]
                  + [_obs("agency_hours", "T1", 10)],
    "2026-02-10": [_los("T2", 5), _los("T2", 6), _los("T2", 5),
                   _obs("incidents", "T21", 1),
                   _obs("vacancies", "T1", 2, "2026-02-09T10:00:00Z"),
                   _supervised("C1", "2026-02-10"), _supervised("C4", "2026-02-10")],
    "2026-02-12": [_los("T21", 4), _los("T21", 4), _los("T21", 5), _los("T21", 3),
                   _obs("vacancies", "T2", 1, "2026-02-11T10:00:00Z")],
    "2026-02-14": [_obs("vacancies", "T1", 0, "2026-02-13T10:00:00Z")],
    # Out of order: a count from Fri 6 Feb arrives after the one from Fri 13 Feb.
    "2026-02-16": [_obs("vacancies", "T1", 7, "2026-02-06T10:00:00Z"),
                   _supervised("C3", "2026-02-16")],
    "2026-02-17": [_los("T1", 6), _los("T1", 5), _los("T1", 4), _los("T1", 5)],
    "2026-02-18": [_obs("incidents", "T21", 1)],
    "2026-02-19": [_obs("incidents", "T1", 1)],
    # Late: a January stay at Elm House nights, sent a month later.
    "2026-02-20": [_los("T21", 12, "2026-01-20T10:00:00Z")],
    "2026-02-27": [_obs("agency_hours", "T2", 7.5)],
    # --- March
    # Late and out of order: Elm House nights' vacancy count of Thu 12 Feb.
    "2026-03-03": [_obs("vacancies", "T21", 5, "2026-02-12T10:00:00Z"),
                   _supervised("C2", "2026-03-03")],
    "2026-03-04": [_los("T1", 5), _los("T1", 5), _los("T1", 6)],
    # Late: February agency hours.
    "2026-03-05": [_obs("agency_hours", "T21", 2, "2026-02-27T10:00:00Z")],
    "2026-03-06": [_obs("call_response_p90", "T1", v) for v in (20, 4, 4, 5, 6)],
    "2026-03-09": [_supervised("C1", "2026-03-09"), _supervised("C4", "2026-03-09")],
    "2026-03-11": [_los("T2", 5), _los("T2", 6), _los("T2", 4)],
    "2026-03-13": [_obs("agency_hours", "T1", 4.25)],
    # Late: a February stay at Elm House itself.
    "2026-03-16": [_los("T2", 9, "2026-02-25T10:00:00Z"), _supervised("C3", "2026-03-16")],
    "2026-03-18": [_los("T21", 6), _los("T21", 5), _los("T21", 6), _los("T21", 5)],
    "2026-03-20": [_obs("vacancies", "T1", 1)],
    # Sun 29 Mar, British Summer Time: 22:30 UTC is 23:30 on Sunday (week of
    # Mon 23 Mar); 23:30 UTC is 00:30 on Monday 30 Mar (the next week).
    "2026-03-29": [_obs("incidents", "T21", 1, "2026-03-29T22:30:00Z"),
                   _obs("incidents", "T21", 1, "2026-03-29T23:30:00Z")],
    # Tue 31 Mar: 22:30 UTC is 23:30 BST, still March; 23:30 UTC is 00:30 BST
    # on Wed 1 April: April, the second quarter.
    "2026-03-31": [_los("T1", 4, "2026-03-31T22:30:00Z"),
                   _los("T1", 9, "2026-03-31T23:30:00Z"),
                   _obs("incidents", "T21", 1, "2026-03-31T22:30:00Z"),
                   _obs("incidents", "T21", 1, "2026-03-31T23:30:00Z"),
                   _supervised("C2", "2026-03-31")],
}
LAST_PUBLISH_DAY = "2026-04-02"  # the loop's last day: the clock ends on Fri 3 Apr 18:00 UTC

# 50 length_of_stay + 25 call_response_p90 + 10 incidents + 6 vacancies + 8 agency_hours
OBSERVATIONS = 99


# --------------------------------------------------------------------------
# Every alert of the quarter, worked out by hand, in the order they are sent.
#
# (created_at, metric, team, period, level, recipient)
#
# Recipients: the team's manager, then for each role of the metric's
# alert_roles (kpi.alert_roles, registered_manager, unless the metric names
# its own) the nearest holder up the management chain from that manager (the
# manager themself when they hold it), else everyone with the role.
#   registered_manager:  T0 -> M0;  T1 -> M1, M0;  T2 -> M2, M0;  T21 -> M21, M0
#   incidents (home_manager):  T21 -> M21, M2;  T2 -> M2 (holds it);
#       T0 -> M0, then nobody above M0: every home_manager, M1 and M2
#   supervision_compliance (alert_roles = []): the manager only
#
# length_of_stay (mean; lower; amber from 6, red from 8, hysteresis 0.5, at
# least 3 values), January.  Before Thu 8 Jan: T2 own 4,5,4,5 (18/4) and T21
# 5,5,6,4 (20/4) on Fri 2 Jan, T1 4,5,6 (15/3) on Mon 5 Jan: every roll-up
# green (T0 53/11 = 4.82), first judgements of green, which tell nobody.
EXPECTED_ALERTS = [
    # Thu 8 Jan, T1 + 9: 24/4 = 6.0 -> amber.  (T0 62/12 = 5.17 green.)
    ("2026-01-08T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 1, "M1"),
    ("2026-01-08T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 1, "M0"),
    #   Mon 12 Jan, T1 + 11: 35/5 = 7.0, still amber: no repeat.  (T0 73/13 = 5.62.)
    # Thu 15 Jan, T1 + 14: 49/6 = 8.17 -> red; T0 87/14 = 6.21 -> amber.
    ("2026-01-15T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 2, "M1"),
    ("2026-01-15T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 2, "M0"),
    ("2026-01-15T18:00:00.000Z", "length_of_stay", "T0", "2026-01", 1, "M0"),
    # supervision_compliance (derived; higher; amber below 90, red below 80):
    # C1, C2, C4 were supervised on Wed 14 Jan (next due Wed 11 Feb); C3's,
    # due Thu 15 Jan, is overdue at the end of Fri 16 Jan, recorded on Sat 17
    # Jan 18:00 UTC.  T21: C3 0, C4 100 -> 50%; T2 (nobody of its own) 50%;
    # T0 (0 + 100 + 100 + 100) / 4 = 75%; all red (T1: 100%, still green).
    ("2026-01-17T18:00:00.000Z", "supervision_compliance", "T0", "2026-01", 2, "M0"),
    ("2026-01-17T18:00:00.000Z", "supervision_compliance", "T2", "2026-01", 2, "M2"),
    ("2026-01-17T18:00:00.000Z", "supervision_compliance", "T21", "2026-01", 2, "M21"),
    #   Mon 19 Jan, T1 + 6: 55/7 = 7.86, below 8 but not 0.5 below it: still
    #   red, no alert (the hysteresis band).  (T0 93/15 = 6.2, amber.)
    # C3 supervised Tue 20 Jan (next due Tue 17 Feb): everyone at 100% at the
    # end of that day, recorded Wed 21 Jan 18:00 UTC.
    ("2026-01-21T18:00:00.000Z", "supervision_compliance", "T0", "2026-01", 0, "M0"),
    ("2026-01-21T18:00:00.000Z", "supervision_compliance", "T2", "2026-01", 0, "M2"),
    ("2026-01-21T18:00:00.000Z", "supervision_compliance", "T21", "2026-01", 0, "M21"),
    # Thu 22 Jan, T1 + 3: 58/8 = 7.25, 0.5 below red -> amber (+ 3: 61/9 = 6.78
    # amber).  T0 96/16 = 6.0 then 99/17 = 5.82: amber (band 5.5 to 6).
    ("2026-01-22T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 1, "M1"),
    ("2026-01-22T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 1, "M0"),
    # Mon 26 Jan, T1 + 2, 2, 2: 63/10 = 6.3, 65/11 = 5.91, 67/12 = 5.58: below
    # 6 but not 0.5 below it, so T1 stays amber (no alert).  T0 101/18 = 5.61
    # (band), then 103/19 = 5.42 -> green, then 105/20 = 5.25.
    ("2026-01-26T18:00:00.000Z", "length_of_stay", "T0", "2026-01", 0, "M0"),
    # Thu 29 Jan, T1 + 1: 68/13 = 5.23 -> green.  (T0 106/21 = 5.05.)
    ("2026-01-29T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 0, "M1"),
    ("2026-01-29T18:00:00.000Z", "length_of_stay", "T1", "2026-01", 0, "M0"),
    #   Sat 31 Jan, T1 + 5 at 23:30 GMT (January): 73/14 = 5.21, green.
    # C2's supervision due Wed 11 Feb is not done: overdue at the end of Thu 12
    # Feb, recorded Fri 13 Feb 18:00 UTC.  February's states were green since
    # the record of Sun 1 Feb.  T1 (0 + 100) / 2 = 50% red; T0 75% red.
    ("2026-02-13T18:00:00.000Z", "supervision_compliance", "T0", "2026-02", 2, "M0"),
    ("2026-02-13T18:00:00.000Z", "supervision_compliance", "T1", "2026-02", 2, "M1"),
    # incidents (count; amber from 4): T21's February incidents, at Sun 1 Feb
    # 23:30, Mon 2 Feb 00:30, Tue 10 Feb and Wed 18 Feb: the fourth makes T21,
    # T2 and T0 (T1 has none yet) amber, at once, team first.
    ("2026-02-18T18:00:00.000Z", "incidents", "T21", "2026-02", 1, "M21"),
    ("2026-02-18T18:00:00.000Z", "incidents", "T21", "2026-02", 1, "M2"),
    ("2026-02-18T18:00:00.000Z", "incidents", "T2", "2026-02", 1, "M2"),
    ("2026-02-18T18:00:00.000Z", "incidents", "T0", "2026-02", 1, "M0"),
    ("2026-02-18T18:00:00.000Z", "incidents", "T0", "2026-02", 1, "M1"),
    ("2026-02-18T18:00:00.000Z", "incidents", "T0", "2026-02", 1, "M2"),
    #   Thu 19 Feb, T1's first incident: T0 5, still amber (no repeat); T1 1,
    #   a first judgement of green.
    # Fri 20 Feb, late: T21's stay of Tue 20 Jan (12 days) lands in January:
    # T21 January 20/4 + 12 = 32/5 = 6.4 -> amber, about 2026-01.  T2 January
    # 38/8 + 12 = 50/9 = 5.56 and T0 111/22 + 12 = 123/23 = 5.35: green.
    ("2026-02-20T18:00:00.000Z", "length_of_stay", "T21", "2026-01", 1, "M21"),
    ("2026-02-20T18:00:00.000Z", "length_of_stay", "T21", "2026-01", 1, "M0"),
    # March starts unjudged.  C2 still overdue at the end of Sun 1 Mar
    # (recorded Mon 2 Mar 18:00 UTC): a first judgement of red, which is told.
    ("2026-03-02T18:00:00.000Z", "supervision_compliance", "T0", "2026-03", 2, "M0"),
    ("2026-03-02T18:00:00.000Z", "supervision_compliance", "T1", "2026-03", 2, "M1"),
    # vacancies (last; amber from 3): Tue 3 Mar, late, T21's count of Thu 12
    # Feb (5).  T21 February: 5 -> amber.  T2 February: the latest by time of
    # T2's own 1 (Wed 11 Feb) and T21's 5 (Thu 12 Feb) is 5 -> amber.  T0
    # February stays T1's 0 of Fri 13 Feb, the latest of all: green.
    ("2026-03-03T18:00:00.000Z", "vacancies", "T21", "2026-02", 1, "M21"),
    ("2026-03-03T18:00:00.000Z", "vacancies", "T21", "2026-02", 1, "M0"),
    ("2026-03-03T18:00:00.000Z", "vacancies", "T2", "2026-02", 1, "M2"),
    ("2026-03-03T18:00:00.000Z", "vacancies", "T2", "2026-02", 1, "M0"),
    # C2 supervised Tue 3 Mar (next due Tue 31 Mar): 100% at the end of the
    # day, recorded Wed 4 Mar 18:00 UTC; 100 is more than 1 above 80 and 90.
    ("2026-03-04T18:00:00.000Z", "supervision_compliance", "T0", "2026-03", 0, "M0"),
    ("2026-03-04T18:00:00.000Z", "supervision_compliance", "T1", "2026-03", 0, "M1"),
    # Nothing after: every other state change is a first judgement of green
    # (or "none", too few values), and C2's supervision due Tue 31 Mar is done
    # that day (next due Tue 28 Apr), so April's compliance stays green.
]
# One alert per state change, told to one or more people.
ALERTS = 24


# --------------------------------------------------------------------------
# The figures, worked out by hand.  For each request of the kpi op,
# {team: ([(label, value, count, status), ...oldest first], trend)}.
# value None: no figure (null).  P(x): a percentile, whose exact value x the
# daemon's sketch gives within 1% (docs/configuration.md: "within 1%").

class P:
    def __init__(self, exact):
        self.exact = exact

    def __repr__(self):
        return "~%g" % self.exact


LOS_MONTHS = {
    # Asked with no "at" on Fri 3 April: the 4 months up to April.
    # T1 January: 4+5+6+9+11+14+6+3+3+2+2+2+1 = 68 over 13, + 5 (Sat 31 Jan
    #   23:30 GMT) = 73/14 = 5.214286; state green since Thu 29 Jan.
    # T1 February: 7 (Sun 1 Feb 00:30 GMT) + 5 + 4 + 6 + 5 + 4 + 5 = 36/7 = 5.142857.
    # T1 March: 5 + 5 + 6 + 4 (Tue 31 Mar 23:30 BST) = 20/4 = 5.0.
    # T1 April: 9 (Wed 1 Apr 00:30 BST): 1 value, fewer than 3: none.
    "T1": ([("2026-01", 5.214286, 14, "green"), ("2026-02", 5.142857, 7, "green"),
            ("2026-03", 5.0, 4, "green"), ("2026-04", 9.0, 1, "none")], "up"),
    # T21 January: 5+5+6+4 + 12 (late) = 32/5 = 6.4, amber since Fri 20 Feb.
    # T21 February: 4+4+5+3 = 16/4 = 4.0.  March: 6+5+6+5 = 22/4 = 5.5.
    "T21": ([("2026-01", 6.4, 5, "amber"), ("2026-02", 4.0, 4, "green"),
             ("2026-03", 5.5, 4, "green"), ("2026-04", None, 0, "none")], "none"),
    # T2 = T2's own + T21's.  January: 18/4 + 32/5 = 50/9 = 5.555556.
    # February: own 5+6+5 + 9 (late, Wed 25 Feb) = 25/4, + T21 16/4 = 41/8 = 5.125.
    # March: own 5+6+4 = 15/3, + T21 22/4 = 37/7 = 5.285714.
    "T2": ([("2026-01", 5.555556, 9, "green"), ("2026-02", 5.125, 8, "green"),
            ("2026-03", 5.285714, 7, "green"), ("2026-04", None, 0, "none")], "none"),
    # T0 = T1 + T2.  January: 73/14 + 50/9 = 123/23 = 5.347826.
    # February: 36/7 + 41/8 = 77/15 = 5.133333.  March: 20/4 + 37/7 = 57/11 = 5.181818.
    # April: T1's 9 alone.  Trend: 9 after 5.18, up.
    "T0": ([("2026-01", 5.347826, 23, "green"), ("2026-02", 5.133333, 15, "green"),
            ("2026-03", 5.181818, 11, "green"), ("2026-04", 9.0, 1, "none")], "up"),
}

LOS_QUARTERS = {
    # at 2026-Q2, 2 quarters.  Q1 = the three months above added up:
    # T1 73+36+20 = 129 over 14+7+4 = 25: 5.16.  Q2: the 9 of 1 April.
    # The quarter is not the alert period: its status is the figure against
    # the levels as it stands (below 6: green).
    "T1": ([("2026-Q1", 5.16, 25, "green"), ("2026-Q2", 9.0, 1, "none")], "up"),
    # T21 32+16+22 = 70 over 5+4+4 = 13: 5.384615.
    "T21": ([("2026-Q1", 5.384615, 13, "green"), ("2026-Q2", None, 0, "none")], "none"),
    # T2 50+41+37 = 128 over 9+8+7 = 24: 5.333333.
    "T2": ([("2026-Q1", 5.333333, 24, "green"), ("2026-Q2", None, 0, "none")], "none"),
    # T0 123+77+57 = 257 over 23+15+11 = 49: 5.244898.
    "T0": ([("2026-Q1", 5.244898, 49, "green"), ("2026-Q2", 9.0, 1, "none")], "up"),
}
# regional for every period; national only for 2026-Q1 (period + at).
LOS_BENCHMARKS = {"2026-01": {"regional": 5.5}, "2026-02": {"regional": 5.5},
                  "2026-03": {"regional": 5.5}, "2026-04": {"regional": 5.5},
                  "2026-Q1": {"regional": 5.5, "national": 5.8},
                  "2026-Q2": {"regional": 5.5}}

LOS_WEEKS_JAN = {
    # at 2026-02-01 (a Sunday: the week of Mon 26 Jan), 2 weeks.  Weekly
    # status: the figure against the levels, no hysteresis.
    # T1, week of Mon 19 Jan: 6 + 3 + 3 = 12/3 = 4.0.  Week of Mon 26 Jan:
    # 2+2+2 + 1 + 5 (Sat 31 Jan) + 7 (Sun 1 Feb 00:30 GMT) = 19/6 = 3.166667,
    # a week across two months.
    "T1": ([("2026-01-19", 4.0, 3, "green"), ("2026-01-26", 3.166667, 6, "green")], "down"),
    # T21: only the late stay of Tue 20 Jan (12), in the week of 19 Jan.
    "T21": ([("2026-01-19", 12.0, 1, "none"), ("2026-01-26", None, 0, "none")], "none"),
    "T2": ([("2026-01-19", 12.0, 1, "none"), ("2026-01-26", None, 0, "none")], "none"),
    # T0, week of 19 Jan: 12 (T1) + 12 (T21) = 24/4 = 6.0: amber.
    "T0": ([("2026-01-19", 6.0, 4, "amber"), ("2026-01-26", 3.166667, 6, "green")], "down"),
}

LOS_WEEKS_MAR = {
    # at 2026-03-30, 2 weeks: T1's 4 (Tue 31 Mar 23:30 BST) and 9 (Wed 1 Apr
    # 00:30 BST) are both in the week of Mon 30 Mar: 13/2 = 6.5, fewer than 3
    # values: none.  The week of Mon 23 Mar has nothing.
    "T1": ([("2026-03-23", None, 0, "none"), ("2026-03-30", 6.5, 2, "none")], "none"),
    "T21": ([("2026-03-23", None, 0, "none"), ("2026-03-30", None, 0, "none")], "none"),
    "T2": ([("2026-03-23", None, 0, "none"), ("2026-03-30", None, 0, "none")], "none"),
    "T0": ([("2026-03-23", None, 0, "none"), ("2026-03-30", 6.5, 2, "none")], "none"),
}

P90_MONTHS = {
    # at 2026-03, 2 months.  p90 = the value of rank floor(0.9 (n - 1)) from 0
    # in ascending order.
    # T1 February: 2,3,3,4,4,5,5,6,7,12: n 10, rank 8 -> 7.  March: 20,4,4,5,6:
    # n 5, rank 3 of 4,4,5,6,20 -> 6, but fewer than 10 values: none.
    "T1": ([("2026-02", P(7), 10, "green"), ("2026-03", P(6), 5, "none")], "down"),
    # T21 February: 1,2,2,3,3,3,4,8,9,11: rank 8 -> 9.
    "T21": ([("2026-02", P(9), 10, "green"), ("2026-03", None, 0, "none")], "none"),
    "T2": ([("2026-02", P(9), 10, "green"), ("2026-03", None, 0, "none")], "none"),
    # T0 February, both merged: 1, 2x3, 3x5, 4x3, 5x2, 6, 7, 8, 9, 11, 12: n 20,
    # rank floor(17.1) = 17 -> 9 (ranks 0 .. 16 are 1 .. 8).  March: T1's.
    "T0": ([("2026-02", P(9), 20, "green"), ("2026-03", P(6), 5, "none")], "down"),
}

P90_QUARTER = {
    # 2026-Q1, 1 quarter.
    # T1: 15 values 2, 3x2, 4x4, 5x3, 6x2, 7, 12, 20: rank floor(0.9 x 14) = 12 -> 7.
    "T1": ([("2026-Q1", P(7), 15, "green")], "none"),
    "T21": ([("2026-Q1", P(9), 10, "green")], "none"),
    "T2": ([("2026-Q1", P(9), 10, "green")], "none"),
    # T0: 25 values 1, 2x3, 3x5, 4x5, 5x3, 6x2, 7, 8, 9, 11, 12, 20: rank
    # floor(0.9 x 24) = 21; ranks 0 .. 20 are 1 .. 8, rank 21 is 9.
    "T0": ([("2026-Q1", P(9), 25, "green")], "none"),
}

INCIDENT_MONTHS = {
    # at 2026-04, 4 months.  Amber from 4, red from 8.
    # T21: January: Sat 31 Jan 23:30 GMT.  February: Sun 1 Feb 23:30, Mon 2
    # Feb 00:30, Tue 10 Feb, Wed 18 Feb = 4, amber.  March: Sun 29 Mar 22:30
    # and 23:30 UTC, Tue 31 Mar 22:30 UTC = 3.  April: Tue 31 Mar 23:30 UTC
    # (00:30 BST on 1 April) = 1.
    "T21": ([("2026-01", 1.0, 1, "green"), ("2026-02", 4.0, 4, "amber"),
             ("2026-03", 3.0, 3, "green"), ("2026-04", 1.0, 1, "green")], "down"),
    "T1": ([("2026-01", None, 0, "none"), ("2026-02", 1.0, 1, "green"),
            ("2026-03", None, 0, "none"), ("2026-04", None, 0, "none")], "none"),
    "T2": ([("2026-01", 1.0, 1, "green"), ("2026-02", 4.0, 4, "amber"),
            ("2026-03", 3.0, 3, "green"), ("2026-04", 1.0, 1, "green")], "down"),
    # T0 February: 4 + T1's 1 = 5, amber.
    "T0": ([("2026-01", 1.0, 1, "green"), ("2026-02", 5.0, 5, "amber"),
            ("2026-03", 3.0, 3, "green"), ("2026-04", 1.0, 1, "green")], "down"),
}

INCIDENT_QUARTER = {
    # 2026-Q1: T21 1 + 4 + 3 = 8, red (as it stands: 8 is the red level).
    "T21": ([("2026-Q1", 8.0, 8, "red")], "none"),
    "T1": ([("2026-Q1", 1.0, 1, "green")], "none"),
    "T2": ([("2026-Q1", 8.0, 8, "red")], "none"),
    "T0": ([("2026-Q1", 9.0, 9, "red")], "none"),
}

INCIDENT_WEEKS = {
    # T21 only (team T21).  at 2026-02-02, 2 weeks: Sat 31 Jan 23:30 GMT and
    # Sun 1 Feb 23:30 GMT are in the week of Mon 26 Jan (2); Mon 2 Feb 00:30
    # GMT in the next (1).
    "2026-02-02": {"T21": ([("2026-01-26", 2.0, 2, "green"), ("2026-02-02", 1.0, 1, "green")],
                           "down")},
    # at 2026-03-30, 2 weeks: Sun 29 Mar 22:30 UTC is 23:30 BST on Sunday (week
    # of 23 Mar); Sun 29 Mar 23:30 UTC, Tue 31 Mar 22:30 and 23:30 UTC are in
    # the week of Mon 30 Mar (3).
    "2026-03-30": {"T21": ([("2026-03-23", 1.0, 1, "green"), ("2026-03-30", 3.0, 3, "green")],
                           "up")},
}

VACANCY_MONTHS = {
    # at 2026-03, 2 months.  The value with the latest time, not the latest to
    # arrive.  Amber from 3.
    # T1 February: 2 (Mon 9 Feb), 0 (Fri 13 Feb), then 7 (Fri 6 Feb, sent
    # Mon 16 Feb): the latest time is Fri 13 Feb -> 0.  March: 1.
    "T1": ([("2026-02", 0.0, 3, "green"), ("2026-03", 1.0, 1, "green")], "up"),
    # T21 February: 5 (Thu 12 Feb, sent Tue 3 Mar): amber.
    "T21": ([("2026-02", 5.0, 1, "amber"), ("2026-03", None, 0, "none")], "none"),
    # T2 February: own 1 (Wed 11 Feb) and T21's 5 (Thu 12 Feb): 5, amber.
    "T2": ([("2026-02", 5.0, 2, "amber"), ("2026-03", None, 0, "none")], "none"),
    # T0 February: T1's 0 of Fri 13 Feb is the latest of all five.
    "T0": ([("2026-02", 0.0, 5, "green"), ("2026-03", 1.0, 1, "green")], "up"),
}

VACANCY_QUARTER = {
    # 2026-Q1: the latest time in the quarter.  T1 and T0: Fri 20 Mar (1).
    "T1": ([("2026-Q1", 1.0, 4, "green")], "none"),
    "T21": ([("2026-Q1", 5.0, 1, "amber")], "none"),
    "T2": ([("2026-Q1", 5.0, 2, "amber")], "none"),
    "T0": ([("2026-Q1", 1.0, 6, "green")], "none"),
}

AGENCY_MONTHS = {
    # at 2026-03, 3 months.  Sums.  No levels: green whenever there is a figure.
    # T1: January 12.5 + 8 = 20.5; February 10; March 4.25.
    "T1": ([("2026-01", 20.5, 2, "green"), ("2026-02", 10.0, 1, "green"),
            ("2026-03", 4.25, 1, "green")], "down"),
    # T21: January 3.5; February 2 (Fri 27 Feb, sent Thu 5 Mar).
    "T21": ([("2026-01", 3.5, 1, "green"), ("2026-02", 2.0, 1, "green"),
             ("2026-03", None, 0, "none")], "none"),
    # T2: January own 6 + 3.5 = 9.5; February own 7.5 + 2 = 9.5.
    "T2": ([("2026-01", 9.5, 2, "green"), ("2026-02", 9.5, 2, "green"),
            ("2026-03", None, 0, "none")], "none"),
    # T0: January 20.5 + 9.5 = 30 (4 values); February 10 + 9.5 = 19.5 (3
    # values); March 4.25.
    "T0": ([("2026-01", 30.0, 4, "green"), ("2026-02", 19.5, 3, "green"),
            ("2026-03", 4.25, 1, "green")], "down"),
}

AGENCY_QUARTER = {
    # T1 20.5 + 10 + 4.25 = 34.75; T21 3.5 + 2 = 5.5; T2 9.5 + 9.5 = 19;
    # T0 34.75 + 19 = 53.75.
    "T1": ([("2026-Q1", 34.75, 4, "green")], "none"),
    "T21": ([("2026-Q1", 5.5, 2, "green")], "none"),
    "T2": ([("2026-Q1", 19.0, 4, "green")], "none"),
    "T0": ([("2026-Q1", 53.75, 8, "green")], "none"),
}

AGENCY_WEEKS = {
    # team T1, at 2026-01-12, 2 weeks: Fri 9 Jan in the week of Mon 5 Jan,
    # Fri 16 Jan in the week of Mon 12 Jan.
    "T1": ([("2026-01-05", 12.5, 1, "green"), ("2026-01-12", 8.0, 1, "green")], "down"),
}

COMPLIANCE_MONTHS = {
    # Asked with no "at" on Fri 3 April: 4 months.  Past months: the figure
    # recorded for their last day; April: live.  Count: staff it applies to.
    # January (Sat 31 Jan): everyone's next supervision due in February: 100%.
    # February (Sat 28 Feb): C2 overdue since Thu 12 Feb: T1 50%, T0 75%, red.
    # March (Tue 31 Mar): C2 done that day; nobody overdue.  April: nobody.
    "T1": ([("2026-01", 100.0, 2, "green"), ("2026-02", 50.0, 2, "red"),
            ("2026-03", 100.0, 2, "green"), ("2026-04", 100.0, 2, "green")], "flat"),
    "T21": ([("2026-01", 100.0, 2, "green"), ("2026-02", 100.0, 2, "green"),
             ("2026-03", 100.0, 2, "green"), ("2026-04", 100.0, 2, "green")], "flat"),
    "T2": ([("2026-01", 100.0, 2, "green"), ("2026-02", 100.0, 2, "green"),
            ("2026-03", 100.0, 2, "green"), ("2026-04", 100.0, 2, "green")], "flat"),
    "T0": ([("2026-01", 100.0, 4, "green"), ("2026-02", 75.0, 4, "red"),
            ("2026-03", 100.0, 4, "green"), ("2026-04", 100.0, 4, "green")], "flat"),
}

COMPLIANCE_QUARTER = {
    # 2026-Q1: as recorded for Tue 31 Mar: 100% everywhere.
    "T1": ([("2026-Q1", 100.0, 2, "green")], "none"),
    "T21": ([("2026-Q1", 100.0, 2, "green")], "none"),
    "T2": ([("2026-Q1", 100.0, 2, "green")], "none"),
    "T0": ([("2026-Q1", 100.0, 4, "green")], "none"),
}

# Figures looked at on the evening a day's events were published, before
# the clock moves on: the running figure and the state alerts follow.
CHECKPOINTS = {
    # Sat 17 Jan, live (today's figure for the current month): C3's
    # supervision due Thu 15 Jan is overdue.  T21 (0 + 100) / 2 = 50%, T2 the
    # same, T0 (100 + 100 + 0 + 100) / 4 = 75%: red; T1 100%.
    "2026-01-17": [({"metric": "supervision_compliance", "periods": 1}, {
        "T0": ([("2026-01", 75.0, 4, "red")], "none"),
        "T1": ([("2026-01", 100.0, 2, "green")], "none"),
        "T2": ([("2026-01", 50.0, 2, "red")], "none"),
        "T21": ([("2026-01", 50.0, 2, "red")], "none"),
    })],
    # Mon 19 Jan: T1 55/7 = 7.857143, under 8 but inside the hysteresis band
    # (7.5 to 8): still red.
    "2026-01-19": [({"team": "T1", "metric": "length_of_stay", "periods": 1}, {
        "T1": ([("2026-01", 7.857143, 7, "red")], "none"),
    })],
    # Mon 26 Jan: T1 67/12 = 5.583333, under 6 but inside the band (5.5 to 6):
    # still amber.  T0 105/20 = 5.25: green since the second 2.  T2 38/8 =
    # 4.75, T21 20/4 = 5.0.
    "2026-01-26": [({"metric": "length_of_stay", "periods": 1}, {
        "T0": ([("2026-01", 5.25, 20, "green")], "none"),
        "T1": ([("2026-01", 5.583333, 12, "amber")], "none"),
        "T2": ([("2026-01", 4.75, 8, "green")], "none"),
        "T21": ([("2026-01", 5.0, 4, "green")], "none"),
    })],
    # Thu 19 Feb, the evening before the late January stay arrives: T21's
    # January is 20/4 = 5.0, green; T1's February vacancies already ignore the
    # count of Fri 6 Feb that came after the one of Fri 13 Feb.
    "2026-02-19": [
        ({"team": "T21", "metric": "length_of_stay", "at": "2026-01", "periods": 1},
         {"T21": ([("2026-01", 5.0, 4, "green")], "none")}),
        ({"team": "T1", "metric": "vacancies", "periods": 1},
         {"T1": ([("2026-02", 0.0, 3, "green")], "none")}),
    ],
}

# (request fields, expected figures): every kpi question the test asks, before
# and after the restart.
QUESTIONS = [
    ({"metric": "length_of_stay", "periods": 4}, LOS_MONTHS),
    ({"metric": "length_of_stay", "period": "quarter", "at": "2026-Q2", "periods": 2},
     LOS_QUARTERS),
    ({"metric": "length_of_stay", "period": "week", "at": "2026-02-01", "periods": 2},
     LOS_WEEKS_JAN),
    ({"metric": "length_of_stay", "period": "week", "at": "2026-03-30", "periods": 2},
     LOS_WEEKS_MAR),
    ({"metric": "call_response_p90", "at": "2026-03", "periods": 2}, P90_MONTHS),
    ({"metric": "call_response_p90", "period": "quarter", "at": "2026-Q1", "periods": 1},
     P90_QUARTER),
    ({"metric": "incidents", "at": "2026-04", "periods": 4}, INCIDENT_MONTHS),
    ({"metric": "incidents", "period": "quarter", "at": "2026-Q1", "periods": 1},
     INCIDENT_QUARTER),
    ({"team": "T21", "metric": "incidents", "period": "week", "at": "2026-02-02", "periods": 2},
     INCIDENT_WEEKS["2026-02-02"]),
    ({"team": "T21", "metric": "incidents", "period": "week", "at": "2026-03-30", "periods": 2},
     INCIDENT_WEEKS["2026-03-30"]),
    ({"metric": "vacancies", "at": "2026-03", "periods": 2}, VACANCY_MONTHS),
    ({"metric": "vacancies", "period": "quarter", "at": "2026-Q1", "periods": 1},
     VACANCY_QUARTER),
    ({"metric": "agency_hours", "at": "2026-03", "periods": 3}, AGENCY_MONTHS),
    ({"metric": "agency_hours", "period": "quarter", "at": "2026-Q1", "periods": 1},
     AGENCY_QUARTER),
    ({"team": "T1", "metric": "agency_hours", "period": "week", "at": "2026-01-12",
      "periods": 2}, AGENCY_WEEKS),
    ({"metric": "supervision_compliance", "periods": 4}, COMPLIANCE_MONTHS),
    ({"metric": "supervision_compliance", "period": "quarter", "at": "2026-Q1", "periods": 1},
     COMPLIANCE_QUARTER),
]

TEAM_INFO = {  # team -> (name, parent, level in the whole tree)
    "T0": ("Hillside Care", None, 0),
    "T1": ("Oak House", "T0", 1),
    "T2": ("Elm House", "T0", 1),
    "T21": ("Elm House nights", "T2", 2),
}


def days(first, last):
    """Every day from first to last, both included, as YYYY-MM-DD."""
    day = datetime.date.fromisoformat(first)
    while day <= datetime.date.fromisoformat(last):
        yield day.isoformat()
        day += datetime.timedelta(days=1)


class KpiQuarter(unittest.TestCase):

    def kpi(self, fields):
        reply = self.client.request(dict({"op": "kpi"}, **fields))
        self.assertIs(reply.get("ok"), True, (fields, reply))
        return reply

    def assertFigures(self, fields, expected, reply=None, when="", teams=None):
        """The reply to a kpi question holds exactly the expected teams, in
        tree order, with the expected figures.  teams: as TEAM_INFO."""
        teams = teams or TEAM_INFO
        reply = reply or self.kpi(fields)
        rows = reply["rows"]
        where = "%s %s" % (when, json.dumps(fields))
        order = [t for t in sorted(teams, key=TEAMS.index) if t in expected]
        self.assertEqual([r["team_id"] for r in rows], order, where)
        for row in rows:
            team = row["team_id"]
            want, trend = expected[team]
            self.assertEqual(row["metric"], fields["metric"], where)
            got = [(p["label"], p["value"], p["count"], p["status"]) for p in row["periods"]]
            msg = "%s team %s:\n got      %r\n expected %r" % (where, team, got, want)
            self.assertEqual(len(got), len(want), msg)
            for (label, value, count, status), (wlabel, wvalue, wcount, wstatus) in zip(got, want):
                self.assertEqual((label, count, status), (wlabel, wcount, wstatus), msg)
                if wvalue is None:
                    self.assertIsNone(value, msg)
                elif isinstance(wvalue, P):
                    self.assertIsNotNone(value, msg)
                    # The sketch's documented bound: within 1% of the exact percentile.
                    self.assertLessEqual(abs(value - wvalue.exact), 0.01 * wvalue.exact + 1e-12,
                                         msg)
                else:
                    self.assertIsNotNone(value, msg)
                    self.assertAlmostEqual(value, wvalue, delta=5e-7, msg=msg)
            self.assertEqual(row["trend"], trend, msg)
            # The row repeats its latest period.
            last = row["periods"][-1]
            self.assertEqual((row["value"], row["count"], row["status"], row["benchmarks"]),
                             (last["value"], last["count"], last["status"], last["benchmarks"]),
                             where)
            name, parent, level = teams[team]
            self.assertEqual((row["team_name"], row.get("parent_id")), (name, parent), where)
            top = fields.get("team")
            self.assertEqual(row["level"], level - (teams[top][2] if top else 0), where)
            if fields["metric"] == "length_of_stay":
                self.assertEqual([p["benchmarks"] for p in row["periods"]],
                                 [LOS_BENCHMARKS.get(p["label"], {"regional": 5.5})
                                  for p in row["periods"]], where)
            else:
                self.assertEqual([p["benchmarks"] for p in row["periods"]],
                                 [{}] * len(row["periods"]), where)
        return reply

    def notifications(self):
        notes, after = [], 0
        while True:
            reply = self.client.request({"op": "notifications", "after": after, "limit": 20})
            self.assertIs(reply.get("ok"), True, reply)
            if not reply["notifications"]:
                return notes, reply["last_seq"]
            notes += reply["notifications"]
            after = notes[-1]["seq"]

    def drain_pub(self, timeout_ms=0):
        while self.sub.poll(timeout_ms):
            frames = self.sub.recv_multipart()
            self.assertEqual(len(frames), 2, frames)
            self.pub_messages.append((frames[0].decode(), json.loads(frames[1])))
            timeout_ms = 0

    def advance_day(self):
        reply = self.client.request({"op": "clock", "advance_seconds": 86400})
        self.assertIs(reply.get("ok"), True, reply)
        return reply

    def test_a_quarter_of_kpis(self):
        started = time.monotonic()
        daemon = h.Daemon(extra_config=CONFIG, test_clock=START)
        self.addCleanup(daemon.close)
        workdir = tempfile.mkdtemp(prefix="carehub-e2e-kpi-")
        self.addCleanup(shutil.rmtree, workdir, True)

        # Subscribe to every alert before the daemon binds.
        ctx = zmq.Context.instance()
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"alert.")
        monitor = self.sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.sub.connect(daemon.notify)
        self.addCleanup(self.sub.close, 0)
        self.addCleanup(monitor.close, 0)
        self.addCleanup(self.sub.disable_monitor)
        self.pub_messages = []

        daemon.start()
        self.assertTrue(monitor.poll(int(h.START_TIMEOUT * 1000)),
                        "the SUB socket never connected to %s" % daemon.notify)
        self.client = daemon.client()

        # ---- The quarter, a day at a time.
        n = 0
        for day in days("2026-01-01", LAST_PUBLISH_DAY):
            stamp = day + "T18:00:00Z"
            now = self.client.request({"op": "clock"})
            self.assertEqual(now["now"], day + "T18:00:00.000Z", now)
            entries = QUARTER.get(day)
            if entries:
                lines = []
                for type_, data, at in entries:
                    n += 1
                    at = at or (stamp if type_ != "kpi.observed" else day + "T10:00:00Z")
                    lines.append(h.event(type_, data, source="hillside-hr",
                                         id_="kpi-%03d" % n, time=at))
                path = os.path.join(workdir, "%s.ndjson" % day)
                h.write_ndjson(path, lines)
                cp = h.run_pub([path], daemon.api)
                self.assertEqual(cp.returncode, 0, "%s: %s%s" % (day, cp.stdout, cp.stderr))
                self.assertEqual(h.pub_summary(cp.stdout), (len(lines), 0, 0),
                                 "%s: %s%s" % (day, cp.stdout, cp.stderr))
            for fields, expected in CHECKPOINTS.get(day, []):
                self.assertFigures(fields, expected, when=day + " evening:")
            self.advance_day()
            self.drain_pub()
        now = self.client.request({"op": "clock"})
        self.assertEqual((now["now"], now["today"]), ("2026-04-03T18:00:00.000Z", "2026-04-03"))
        self.assertTrue(daemon.running(), daemon.run_stderr()[-3000:])

        # ---- The alerts, through the API.
        notes, last_seq = self.notifications()
        self.assertEqual([x["seq"] for x in notes], list(range(1, len(notes) + 1)))
        self.assertEqual(last_seq, len(notes))
        got = []
        for x in notes:
            self.assertEqual(x["type"], "alert", x)
            self.assertEqual(x["planned_at"], x["created_at"], x)
            # due: the period's first day
            self.assertEqual(x["due"], x["step"] + "-01", x)
            self.assertEqual(x["days_overdue"], 0, x)
            self.assertTrue(x["text"], x)
            got.append((x["created_at"], x["kind"], x["item"], x["step"], x["level"],
                        x["recipient_id"]))
        with self.subTest("an alert's staff_id is null (docs/protocol.md, notifications)"):
            self.assertEqual([x["staff_id"] for x in notes], [None] * len(notes))
        self.assertEqual(got, EXPECTED_ALERTS,
                         "\ngot:\n  %s\nexpected:\n  %s"
                         % ("\n  ".join(map(repr, got)), "\n  ".join(map(repr, EXPECTED_ALERTS))))
        # The text says what happened, in plain words.
        first = notes[0]["text"]
        self.assertIn("Average length of stay for Oak House is now AMBER for 2026-01", first)
        self.assertIn("6 days from 4 observations", first)
        green = [x["text"] for x in notes if x["level"] == 0 and x["kind"] == "length_of_stay"]
        self.assertTrue(green and "back to GREEN" in green[0], green)

        # ---- The same alerts on the PUB socket, topic alert.<team_id>.
        end = time.monotonic() + WAIT
        while len(self.pub_messages) < len(notes) and time.monotonic() < end:
            self.drain_pub(100)
        self.assertEqual([b["seq"] for _, b in self.pub_messages], [x["seq"] for x in notes],
                         "PUB seqs differ from the API's")
        for (topic, body), x in zip(self.pub_messages, notes):
            self.assertEqual(topic, "alert.%s" % x["item"], body)
            self.assertEqual((body["type"], body["recipient_id"], body["kind"], body["level"],
                              body["team_id"], body["metric"], body["period"]),
                             ("alert", x["recipient_id"], x["kind"], x["level"], x["item"],
                              x["kind"], x["step"]), body)

        status = self.client.status()
        self.assertEqual(status["kpi"]["observations_since_start"], OBSERVATIONS, status)
        self.assertEqual(status["kpi"]["alerts_since_start"], ALERTS, status)
        self.assertEqual(status["notifications"]["last_seq"], len(EXPECTED_ALERTS), status)

        # ---- The figures.
        before = []
        for fields, expected in QUESTIONS:
            reply = self.assertFigures(fields, expected, when="Fri 3 Apr:")
            self.assertEqual(reply["today"], "2026-04-03")
            before.append(reply["rows"])

        # The whole tree, every metric, each by its alert period: teams depth
        # first, metrics in the order of the configuration.
        reply = self.kpi({"periods": 1})
        self.assertEqual([(r["team_id"], r["metric"], r["period"]) for r in reply["rows"]],
                         [(t, m, "month") for t in TEAMS for m in METRICS])
        row = reply["rows"][0]
        self.assertEqual((row["title"], row["unit"], row["aggregate"], row["direction"],
                          row["derived"], row["target"], row["warning"], row["critical"]),
                         ("Average length of stay", "days", "mean", "lower", False, 5, 6, 8))
        compliance = reply["rows"][5]
        self.assertEqual((compliance["metric"], compliance["unit"], compliance["aggregate"],
                          compliance["direction"], compliance["derived"]),
                         ("supervision_compliance", "%", "mean", "higher", True))
        # One team and what is below it; depth 0: the team alone.
        reply = self.kpi({"team": "T2", "metric": "length_of_stay", "periods": 1})
        self.assertEqual([(r["team_id"], r["level"]) for r in reply["rows"]],
                         [("T2", 0), ("T21", 1)])
        reply = self.kpi({"team": "T2", "metric": "length_of_stay", "periods": 1, "depth": 0})
        self.assertEqual([r["team_id"] for r in reply["rows"]], ["T2"])

        # ---- carehubctl kpi --json and --csv show the same.
        fields = {"metric": "length_of_stay", "period": "quarter", "at": "2026-Q2", "periods": 2}
        cp = h.run_ctl(["kpi", "--metric", "length_of_stay", "--period", "quarter",
                        "--at", "2026-Q2", "--periods", "2", "--json"], daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        ctl = json.loads(cp.stdout)
        self.assertFigures(fields, LOS_QUARTERS, reply=ctl, when="carehubctl --json:")
        self.assertEqual(ctl["rows"], before[1])

        cp = h.run_ctl(["kpi", "--team", "T2", "--metric", "length_of_stay", "--at", "2026-03",
                        "--periods", "3", "--csv"], daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        table = list(csv.DictReader(io.StringIO(cp.stdout)))
        got = [(r["team_id"], r["label"], r["value"], r["count"], r["status"],
                r["benchmark_regional"]) for r in table]
        # T2 and T21, January to March, from LOS_MONTHS; values written exactly
        # (the shortest text that reads back as the same double).
        self.assertEqual([(t, l, c, s, b) for t, l, _, c, s, b in got], [
            ("T2", "2026-01", "9", "green", "5.5"),
            ("T2", "2026-02", "8", "green", "5.5"),
            ("T2", "2026-03", "7", "green", "5.5"),
            ("T21", "2026-01", "5", "amber", "5.5"),
            ("T21", "2026-02", "4", "green", "5.5"),
            ("T21", "2026-03", "4", "green", "5.5"),
        ])
        for (_, _, value, _, _, _), want in zip(got, [50 / 9, 5.125, 37 / 7, 6.4, 4, 5.5]):
            self.assertAlmostEqual(float(value), want, delta=5e-7)
        self.assertEqual(got[1][2], "5.125")  # exact
        self.assertEqual(got[3][2], "6.4")

        # ---- A restart on the same state, a day later: the same figures, no
        # alert again.
        self.client.close()
        daemon.stop_clean()
        daemon.test_clock = RESTART_CLOCK
        daemon.restart()
        self.assertEqual(daemon.runs, 2)
        self.client = daemon.client()
        after = []
        for fields, expected in QUESTIONS:
            reply = self.assertFigures(fields, expected, when="after the restart:")
            self.assertEqual(reply["today"], "2026-04-04")
            after.append(reply["rows"])
        self.assertEqual(after, before)
        # Two more days (Fri 3, Sat 4 and Sun 5 Apr recorded): still nobody
        # overdue (C1's and C4's next supervisions are due Mon 6 Apr), so
        # April's compliance stays green and nobody is told anything.
        self.advance_day()
        self.advance_day()
        notes_after, last_seq_after = self.notifications()
        self.assertEqual(last_seq_after, len(EXPECTED_ALERTS))
        self.assertEqual(notes_after, notes)
        self.drain_pub()
        self.assertEqual(len(self.pub_messages), len(EXPECTED_ALERTS), self.pub_messages[-3:])
        status = self.client.status()
        self.assertEqual(status["kpi"]["alerts_since_start"], 0, status)
        self.assertFigures(QUESTIONS[-2][0], COMPLIANCE_MONTHS, when="Mon 6 Apr:")

        self.client.close()
        daemon.stop_clean()
        print("kpi_quarter: %d alerts checked, %.1fs" % (len(notes), time.monotonic() - started),
              file=sys.stderr)

    def test_a_month_that_ended_while_stopped(self):
        """docs/kpi.md, Derived figures: "each past period keeps its figure as
        it was at its end".  Here the daemon is stopped before the end of
        January and started again in February, with nothing sent meanwhile:
        January's figure must still be the one of Sat 31 January, not the
        last one recorded before the stop."""
        daemon = h.Daemon(extra_config=CONFIG, test_clock="2026-01-20T18:00:00Z")
        self.addCleanup(daemon.close)
        daemon.start()
        client = daemon.client()
        stamp = "2026-01-20T18:00:00Z"
        # C1 started Thu 15 Jan: first supervision due Thu 29 Jan.
        reply = client.publish([
            h.staff_hired("M1", "Ian Pryce", role="home_manager", team_id="T1",
                          start_date="2026-01-15", time=stamp),
            h.staff_hired("C1", "Chloe Baker", role="care_worker", team_id="T1",
                          start_date="2026-01-15", time=stamp),
            h.team_changed("T1", "Oak House", manager_id="M1", time=stamp),
        ])
        self.assertEqual(h.statuses(reply), ["stored"] * 3, reply)
        # Wed 21 Jan: Tue 20 Jan recorded, C1 not overdue yet: 100%.
        reply = client.request({"op": "clock", "advance_seconds": 86400})
        self.assertIs(reply.get("ok"), True, reply)
        fields = {"metric": "supervision_compliance", "at": "2026-01", "periods": 1}
        reply = client.request(dict({"op": "kpi"}, **fields))
        periods = reply["rows"][0]["periods"]
        self.assertEqual([(p["label"], p["value"], p["count"]) for p in periods],
                         [("2026-01", 100, 1)], reply)
        client.close()
        daemon.stop_clean()

        # Started again on Mon 2 Feb.  At the end of Sat 31 Jan C1's
        # supervision (due Thu 29 Jan) was overdue: January is 0/1 = 0%, red.
        daemon.test_clock = "2026-02-02T18:00:00Z"
        daemon.restart()
        client = daemon.client()
        self.assertFigures(fields, {"T1": ([("2026-01", 0.0, 1, "red")], "none")},
                           reply=client.request(dict({"op": "kpi"}, **fields)),
                           when="January, ended while the daemon was stopped:",
                           teams={"T1": ("Oak House", None, 0)})
        client.close()
        daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
