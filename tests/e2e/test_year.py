#!/usr/bin/python3
"""A year in the life of a small care home, through the real daemon and the
real carehub-pub, on the test clock.

Rosewood House opens in January 2026 with a registered manager (R1), two
team leaders (L1, L2) and two care workers (C1, C2) in L1's day team.  Over
the year supervisions are held (some on time, one booked, some late), an
agreed action is finished late, training is recorded, C2 is off sick for a
few weeks, C1 moves to L2 in June and C2 leaves in October.

The clock moves one day at a time from Monday 5 January 07:00 UTC to
1 January 2027 07:00 UTC; each day's events are published at 07:00 UTC
(07:00 GMT, 08:00 BST: always before the 09:00 send time).  At the end every
notification is read back through the API and compared with EXPECTED below,
a list written out by hand from the configuration and the rules in
daemon/schedule.h (it is not computed by any code under test).  The PUB
socket, subscribed before the daemon starts, must have carried exactly the
same sequence numbers.
"""

import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

import harness as h  # noqa: E402

LONDON = zoneinfo.ZoneInfo("Europe/London")
START = "2026-01-05T07:00:00Z"     # Monday 5 January 2026, 07:00 GMT
LAST_DAY = datetime.date(2026, 12, 31)

CONFIG = """
timezone = "Europe/London";
schedule = {
    send_time = "09:00";
    working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"];
    # England's bank holidays in 2026
    closures = ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04",
                "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"];
    missed_after_days = 14;
};
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "4 weeks"; };
        reminders = [7, 0];
        escalation = (
            { after_days = 1; notify = ["manager"]; },
            { after_days = 8; notify = ["manager+1"]; }
        );
        repeat_days = 14;
        during_absence = "shift";
    },
    {
        name = "appraisal";
        title = "Annual appraisal";
        recurring = { every = "12 months"; first = "6 months"; };
        reminders = [14];
        escalation = ( { after_days = 7; notify = ["manager"]; } );
    },
    {
        name = "induction";
        title = "Induction check-in";
        milestones = {
            after = "staff.hired";
            steps = (
                { name = "week1"; title = "Week 1 check-in"; at = "1 week"; },
                { name = "week4"; title = "Week 4 check-in"; at = "4 weeks"; }
            );
        };
        reminders = [0];
    },
    {
        name = "return_to_work";
        title = "Return-to-work meeting";
        milestones = {
            after = "absence.ended";
            absence_kinds = ["sickness"];
            steps = ( { name = "meeting"; title = "Return-to-work meeting"; at = "2 days"; } );
        };
        reminders = [0];
        escalation = ( { after_days = 1; notify = ["manager"]; } );
    },
    {
        name = "action";
        title = "Agreed action";
        assigned = true;
        reminders = [3];
        escalation = (
            { after_days = 2; notify = ["manager"]; },
            { after_days = 5; notify = ["role:registered_manager"]; }
        );
    },
    {
        name = "training";
        title = "Training renewal";
        training = true;
        reminders = [30];
    }
);
courses = (
    { name = "safeguarding"; title = "Safeguarding adults"; valid = "1 year"; }
);
"""


# --------------------------------------------------------------------------
# What happens, day by day (each list is published at 07:00 UTC that day).

def _staff(sid, name, role, team, start):
    return ("staff.hired", {"staff_id": sid, "name": name, "role": role, "team_id": team,
                            "start_date": start})


def _done(sid, kind, date, step=None):
    data = {"staff_id": sid, "kind": kind, "date": date}
    if step:
        data["step"] = step
    return ("review.completed", data)


LIFE = {
    # The home opens: the registered manager and two team leaders start.
    "2026-01-05": [
        _staff("R1", "Rita Mensah", "registered_manager", "T0", "2026-01-05"),
        _staff("L1", "Leon Hart", "team_leader", "T0", "2026-01-05"),
        _staff("L2", "Lena Novak", "team_leader", "T0", "2026-01-05"),
        ("team.changed", {"team_id": "T0", "name": "Rosewood House", "manager_id": "R1"}),
        ("team.changed", {"team_id": "T1", "name": "Day team", "parent_id": "T0",
                          "manager_id": "L1"}),
    ],
    "2026-01-07": [("training.completed",
                    {"staff_id": "L1", "course": "safeguarding", "date": "2026-01-07"})],
    "2026-01-12": [_staff("C1", "Chloe Baker", "care_worker", "T1", "2026-01-12")],
    "2026-01-19": [_staff("C2", "Callum Reid", "care_worker", "T1", "2026-01-19")],
    "2026-01-20": [("training.completed",
                    {"staff_id": "C1", "course": "safeguarding", "date": "2026-01-20"})],
    # C2's week 1 check-in happens early, before its due day (Mon 26 Jan).
    "2026-01-23": [_done("C2", "induction", "2026-01-23", "week1")],
    "2026-02-02": [("training.completed",
                    {"staff_id": "C2", "course": "safeguarding", "date": "2026-02-02"})],
    # C1's first supervision, early (due Mon 9 Feb).
    "2026-02-05": [_done("C1", "supervision", "2026-02-05")],
    # C2's first supervision (due Mon 16 Feb) is booked for Fri 13 Feb.
    "2026-02-10": [("review.booked",
                    {"staff_id": "C2", "kind": "supervision", "date": "2026-02-13"})],
    # ... and recorded on the Monday after, dated the Friday it took place.
    "2026-02-16": [_done("C2", "supervision", "2026-02-13")],
    "2026-02-17": [_done("C2", "induction", "2026-02-16", "week4")],
    "2026-03-16": [("action.assigned",
                    {"action_id": "A1", "staff_id": "C1",
                     "title": "Finish the medication competency workbook",
                     "due_date": "2026-04-02"})],
    "2026-03-20": [_done("C1", "supervision", "2026-03-19")],
    "2026-03-30": [_done("C2", "supervision", "2026-03-27")],
    "2026-04-08": [("action.completed", {"action_id": "A1", "date": "2026-04-08"})],
    # C2 off sick from Mon 13 Apr to Thu 7 May, both days included (25 days); back Fri 8 May.
    "2026-04-13": [("absence.started", {"staff_id": "C2", "absence_id": "ABS1",
                                        "kind": "sickness", "start_date": "2026-04-13"})],
    "2026-05-07": [("absence.ended", {"staff_id": "C2", "absence_id": "ABS1",
                                      "end_date": "2026-05-07"})],
    "2026-05-13": [_done("C2", "return_to_work", "2026-05-12", "meeting")],
    # C1's supervision due Thu 30 Apr finally happens, four weeks late.
    "2026-05-27": [_done("C1", "supervision", "2026-05-27")],
    # C1 moves to L2.
    "2026-06-01": [("staff.changed", {"staff_id": "C1", "manager_id": "L2"})],
    "2026-06-02": [_done("C2", "supervision", "2026-06-01")],
    "2026-07-02": [_done("L1", "appraisal", "2026-07-02")],
    "2026-07-09": [_done("C1", "supervision", "2026-07-08"),
                   _done("C1", "appraisal", "2026-07-09")],
    "2026-07-10": [_done("C2", "supervision", "2026-07-10")],
    "2026-07-15": [_done("L2", "appraisal", "2026-07-15")],
    "2026-08-11": [_done("C2", "appraisal", "2026-08-11")],
    "2026-08-17": [_done("C1", "supervision", "2026-08-17")],
    "2026-08-20": [_done("C2", "supervision", "2026-08-20")],
    "2026-09-25": [_done("C1", "supervision", "2026-09-25")],
    "2026-09-30": [_done("C2", "supervision", "2026-09-30")],
    # C2 leaves: their next supervision (due Wed 11 Nov) is cancelled.
    "2026-10-30": [("staff.left", {"staff_id": "C2", "leave_date": "2026-10-30"})],
    "2026-11-16": [_done("C1", "supervision", "2026-11-16")],
}


# --------------------------------------------------------------------------
# Every notification of the year, worked out by hand.
#
# (local date it goes out, type, recipient, about whom, kind, item, step,
#  level, due date)
#
# Rules used (daemon/schedule.h): reminders go out `lead` days before the
# target date (the due date, or the booked date when earlier), moved to the
# working day before when that is a weekend or bank holiday; escalation
# step n goes out after_days[n] days after the target, on the working day
# before when that is not a working day unless that would be on or before
# the due day itself, then on the next working day; the last step repeats
# every repeat_days; when two actions of one obligation fall on one day only
# the later goes out.  Reminders go to the line manager; "manager+1" is the
# line manager's own manager.  R1 has no manager, so R1's own inductions and
# appraisal go to nobody (recorded as missed, no notification).

EXPECTED = [
    # --- January
    ("2026-01-12", "reminder", "R1", "L1", "induction", None, "week1", 0, "2026-01-12"),
    #   L1 started Mon 5 Jan: week 1 check-in due Mon 12 Jan, reminder that day, to R1
    ("2026-01-12", "reminder", "R1", "L2", "induction", None, "week1", 0, "2026-01-12"),
    #   same for L2
    ("2026-01-19", "reminder", "L1", "C1", "induction", None, "week1", 0, "2026-01-19"),
    #   C1 started Mon 12 Jan: week 1 check-in due Mon 19 Jan, to L1 (manager of team T1)
    #   (C2's week 1 check-in, due Mon 26 Jan, was done on Fri 23 Jan: no reminder)
    # --- February
    ("2026-02-02", "reminder", "R1", "L1", "induction", None, "week4", 0, "2026-02-02"),
    #   L1's week 4 check-in due Mon 2 Feb
    ("2026-02-02", "reminder", "R1", "L2", "induction", None, "week4", 0, "2026-02-02"),
    #   L2's week 4 check-in due Mon 2 Feb
    ("2026-02-02", "reminder", "L1", "C1", "supervision", None, None, 0, "2026-02-09"),
    #   C1's first supervision due Mon 9 Feb (start + 4 weeks): 7-day reminder Mon 2 Feb
    #   (done Thu 5 Feb, so no reminder on the day itself)
    ("2026-02-09", "reminder", "L1", "C1", "induction", None, "week4", 0, "2026-02-09"),
    #   C1's week 4 check-in due Mon 9 Feb
    ("2026-02-09", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-02-16"),
    #   C2's first supervision due Mon 16 Feb: 7-day reminder Mon 9 Feb
    ("2026-02-13", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-02-16"),
    #   booked (on Tue 10 Feb) for Fri 13 Feb: the on-the-day reminder moves to the
    #   booked day.  Recorded Mon 16 Feb 07:00, before the escalation that would have
    #   gone out at 09:00 that Monday (Sat 14 Feb -> not on/before the day -> Mon).
    ("2026-02-16", "reminder", "L1", "C2", "induction", None, "week4", 0, "2026-02-16"),
    #   C2's week 4 check-in due Mon 16 Feb (recorded the next day)
    # --- March
    ("2026-03-12", "reminder", "L1", "C1", "supervision", None, None, 0, "2026-03-19"),
    #   C1's second supervision: done Thu 5 Feb + 6 weeks = Thu 19 Mar; 7-day reminder Thu 12 Mar
    ("2026-03-19", "reminder", "L1", "C1", "supervision", None, None, 0, "2026-03-19"),
    #   on the day (recorded Fri 20 Mar at 07:00, before the Fri 09:00 escalation)
    ("2026-03-20", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-03-27"),
    #   C2's second supervision: Fri 13 Feb + 6 weeks = Fri 27 Mar; 7-day reminder Fri 20 Mar
    ("2026-03-27", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-03-27"),
    #   on the day (recorded Mon 30 Mar at 07:00; the escalation for Sat 28 Mar would
    #   have gone out Mon 30 Mar 09:00)
    ("2026-03-30", "reminder", "L1", "C1", "action", "A1", None, 0, "2026-04-02"),
    #   action A1 due Thu 2 Apr: 3-day reminder Mon 30 Mar, to C1's line manager L1
    # --- April
    ("2026-04-07", "escalation", "R1", "C1", "action", "A1", None, 2, "2026-04-02"),
    #   A1 late.  Step 1 (2 days) is Sat 4 Apr -> working day before is Thu 2 Apr (Good
    #   Friday is closed), the due day itself, so the next working day: Tue 7 Apr (Easter
    #   Monday closed).  Step 2 (5 days) is Tue 7 Apr too: only the later goes out, to
    #   role:registered_manager = R1, level 2.  Done Wed 8 Apr.
    ("2026-04-23", "reminder", "L1", "C1", "supervision", None, None, 0, "2026-04-30"),
    #   C1's third supervision: Thu 19 Mar + 6 weeks = Thu 30 Apr; 7-day reminder Thu 23 Apr
    #   (C2's third, due Fri 8 May, is paused by the sickness from Mon 13 Apr before its
    #   7-day reminder on Fri 1 May)
    ("2026-04-30", "reminder", "L1", "C1", "supervision", None, None, 0, "2026-04-30"),
    #   on the day
    # --- May
    ("2026-05-01", "escalation", "L1", "C1", "supervision", None, None, 1, "2026-04-30"),
    #   not done: 1 day late, Fri 1 May, to the manager L1
    ("2026-05-08", "escalation", "R1", "C1", "supervision", None, None, 2, "2026-04-30"),
    #   8 days late, Fri 8 May, to manager+1: L1's manager R1
    ("2026-05-08", "reminder", "L1", "C2", "return_to_work", "ABS1", "meeting", 0,
     "2026-05-10"),
    #   C2 back: the absence's last day was Thu 7 May, so back Fri 8 May; meeting due 2 days
    #   later, Sun 10 May; the on-the-day reminder moves to the working day before, Fri 8 May
    ("2026-05-11", "escalation", "L1", "C2", "return_to_work", "ABS1", "meeting", 1,
     "2026-05-10"),
    #   not held: 1 day late is Mon 11 May, a working day, to L1.  Held Tue 12 May.
    ("2026-05-22", "escalation", "R1", "C1", "supervision", None, None, 2, "2026-04-30"),
    #   C1's supervision still not done: the last step repeats 14 days later, Fri 22 May
    #   (done Wed 27 May, before the next repeat on Fri 5 Jun)
    ("2026-05-26", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-06-02"),
    #   C2's third supervision, due Fri 8 May, shifted by the 25 days of absence (13 Apr
    #   to 7 May, both included) to Tue 2 Jun; 7-day reminder Tue 26 May (recorded as done
    #   on Tue 2 Jun at 07:00, before the on-the-day reminder at 09:00: none that day)
    # --- June (C1 moves to L2 on Mon 1 Jun)
    ("2026-06-19", "reminder", "R1", "L1", "appraisal", None, None, 0, "2026-07-05"),
    #   L1 started Mon 5 Jan: first appraisal 6 months later, Sun 5 Jul; 14-day reminder
    #   Sun 21 Jun -> Fri 19 Jun, to R1 (done Thu 2 Jul)
    ("2026-06-19", "reminder", "R1", "L2", "appraisal", None, None, 0, "2026-07-05"),
    #   same for L2
    ("2026-06-26", "reminder", "L2", "C1", "appraisal", None, None, 0, "2026-07-12"),
    #   C1 started Mon 12 Jan: appraisal Sun 12 Jul; 14-day reminder Sun 28 Jun -> Fri 26 Jun,
    #   to C1's new manager L2 (done Thu 9 Jul)
    # --- July
    ("2026-07-01", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-07-08"),
    #   C1's fourth supervision: Wed 27 May + 6 weeks = Wed 8 Jul; 7-day reminder Wed 1 Jul, to L2
    ("2026-07-06", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-07-13"),
    #   C2's fourth: Mon 1 Jun + 6 weeks = Mon 13 Jul; 7-day reminder Mon 6 Jul
    #   (done Fri 10 Jul: no reminder on the day)
    ("2026-07-08", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-07-08"),
    #   C1's on the day (recorded Thu 9 Jul 07:00, before the escalation at 09:00)
    ("2026-07-10", "escalation", "R1", "L2", "appraisal", None, None, 1, "2026-07-05"),
    #   L2's appraisal not done: 7 days late is Sun 12 Jul -> Fri 10 Jul (after the due
    #   day), to L2's manager R1 (done Wed 15 Jul)
    ("2026-07-30", "reminder", "L1", "C2", "appraisal", None, None, 0, "2026-08-13"),
    #   C2 started Mon 19 Jan: appraisal Sun 19 Jul, shifted 25 days by the absence to
    #   Thu 13 Aug; 14-day reminder Thu 30 Jul (done Tue 11 Aug)
    # --- August
    ("2026-08-12", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-08-19"),
    #   C1's fifth: Wed 8 Jul + 6 weeks = Wed 19 Aug; 7-day reminder Wed 12 Aug (done Mon 17 Aug)
    ("2026-08-14", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-08-21"),
    #   C2's fifth: Fri 10 Jul + 6 weeks = Fri 21 Aug; 7-day reminder Fri 14 Aug (done Thu 20 Aug)
    # --- September
    ("2026-09-21", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-09-28"),
    #   C1's sixth: Mon 17 Aug + 6 weeks = Mon 28 Sep; 7-day reminder Mon 21 Sep (done Fri 25 Sep)
    ("2026-09-24", "reminder", "L1", "C2", "supervision", None, None, 0, "2026-10-01"),
    #   C2's sixth: Thu 20 Aug + 6 weeks = Thu 1 Oct; 7-day reminder Thu 24 Sep (done Wed 30 Sep)
    #   (C2's seventh, due Wed 11 Nov, 7-day reminder Wed 4 Nov: cancelled when C2 left
    #   on Fri 30 Oct)
    # --- October
    ("2026-10-30", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-11-06"),
    #   C1's seventh: Fri 25 Sep + 6 weeks = Fri 6 Nov; 7-day reminder Fri 30 Oct
    # --- November
    ("2026-11-06", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-11-06"),
    #   on the day
    ("2026-11-09", "escalation", "L2", "C1", "supervision", None, None, 1, "2026-11-06"),
    #   not done: 1 day late is Sat 7 Nov; the working day before is the due day itself,
    #   so the next working day, Mon 9 Nov, to L2
    ("2026-11-13", "escalation", "R1", "C1", "supervision", None, None, 2, "2026-11-06"),
    #   8 days late is Sat 14 Nov -> Fri 13 Nov, to manager+1: L2's manager R1
    #   (done Mon 16 Nov)
    # --- December
    ("2026-12-08", "reminder", "R1", "L1", "training", "safeguarding", None, 0, "2027-01-07"),
    #   L1's safeguarding done Wed 7 Jan 2026, valid 1 year: renewal Thu 7 Jan 2027;
    #   30-day reminder Tue 8 Dec
    ("2026-12-21", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-12-28"),
    #   C1's eighth: Mon 16 Nov + 6 weeks = Mon 28 Dec; 7-day reminder Mon 21 Dec
    ("2026-12-21", "reminder", "L2", "C1", "training", "safeguarding", None, 0, "2027-01-20"),
    #   C1's safeguarding done Tue 20 Jan 2026: renewal Wed 20 Jan 2027; 30-day reminder
    #   Mon 21 Dec, to L2
    ("2026-12-24", "reminder", "L2", "C1", "supervision", None, None, 0, "2026-12-28"),
    #   on-the-day reminder: Mon 28 Dec is a bank holiday, as are Fri 25 Dec and the
    #   weekend between -> Thu 24 Dec
    ("2026-12-29", "escalation", "L2", "C1", "supervision", None, None, 1, "2026-12-28"),
    #   not done: 1 day late, Tue 29 Dec, to L2 (8 days late is in 2027)
]

# R1's own reminders and escalations have nobody to go to (R1 is the top of the
# chain): induction week 1 and week 4 reminders, the appraisal reminder (Fri 19
# Jun) and its escalation (Fri 10 Jul).
EXPECTED_MISSED = 4


def day_range(first, last):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Year(unittest.TestCase):

    def test_a_year_of_reminders_and_escalations(self):
        started = time.monotonic()
        daemon = h.Daemon(extra_config=CONFIG, test_clock=START)
        self.addCleanup(daemon.close)
        workdir = tempfile.mkdtemp(prefix="carehub-e2e-year-")
        self.addCleanup(shutil.rmtree, workdir, True)

        # Subscribe before the daemon binds: ZeroMQ connects as soon as it does.
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        monitor = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        sub.connect(daemon.notify)
        self.addCleanup(sub.close, 0)
        self.addCleanup(monitor.close, 0)
        self.addCleanup(sub.disable_monitor)

        daemon.start()
        self.assertTrue(monitor.poll(int(h.START_TIMEOUT * 1000)),
                        "the SUB socket never connected to %s" % daemon.notify)

        pub_messages = []  # (topic, body)

        def drain_pub(timeout_ms=0):
            while sub.poll(timeout_ms):
                frames = sub.recv_multipart()
                self.assertEqual(len(frames), 2, frames)
                pub_messages.append((frames[0].decode(), json.loads(frames[1])))
                timeout_ms = 0

        client = daemon.client()
        now = parse_utc(START)
        n = 0
        for day in day_range(datetime.date(2026, 1, 5), LAST_DAY):
            self.assertEqual(now, datetime.datetime(day.year, day.month, day.day, 7,
                                                    tzinfo=datetime.timezone.utc))
            events = LIFE.get(day.isoformat())
            if events:
                stamp = rfc3339(now)
                lines = []
                for type_, data in events:
                    n += 1
                    lines.append(h.event(type_, data, source="rosewood-hr",
                                         id_="year-%03d" % n, time=stamp))
                path = os.path.join(workdir, "%s.ndjson" % day.isoformat())
                h.write_ndjson(path, lines)
                cp = h.run_pub([path], daemon.api)
                self.assertEqual(cp.returncode, 0, "%s: %s" % (day, cp.stderr))
                self.assertEqual(h.pub_summary(cp.stdout), (len(lines), 0, 0),
                                 "%s: %s%s" % (day, cp.stdout, cp.stderr))
            reply = client.request({"op": "clock", "advance_seconds": 86400})
            self.assertIs(reply.get("ok"), True, reply)
            now += datetime.timedelta(days=1)
            self.assertEqual(parse_utc(reply["now"]), now, reply)
            self.assertEqual(reply["today"], (day + datetime.timedelta(days=1)).isoformat())
            drain_pub()
        self.assertEqual(rfc3339(now), "2027-01-01T07:00:00Z")
        self.assertTrue(daemon.running(), daemon.run_stderr()[-3000:])

        # Every notification, through the API, in pages.
        notes = []
        after = 0
        while True:
            reply = client.request({"op": "notifications", "after": after, "limit": 10})
            self.assertIs(reply.get("ok"), True, reply)
            page = reply["notifications"]
            if not page:
                break
            notes += page
            after = page[-1]["seq"]
        last_seq = reply["last_seq"]

        seqs = [x["seq"] for x in notes]
        self.assertEqual(seqs, list(range(1, len(notes) + 1)), "seq is not 1..N")
        self.assertEqual(last_seq, len(notes))

        got = []
        for x in notes:
            planned = parse_utc(x["planned_at"]).astimezone(LONDON)
            # Every one at 09:00 on the organisation's clock (08:00 UTC in summer).
            self.assertEqual((planned.hour, planned.minute, planned.second), (9, 0, 0), x)
            # Sent when its moment came: at the first clock step at or after it.
            created = parse_utc(x["created_at"])
            self.assertTrue(datetime.timedelta(0) <= created - planned
                            < datetime.timedelta(days=1), x)
            got.append((planned.date().isoformat(), x["type"], x["recipient_id"], x["staff_id"],
                        x["kind"], x["item"], x["step"], x["level"], x["due"]))
        # In order of time.
        self.assertEqual([g[0] for g in got], sorted(g[0] for g in got))

        self.assertEqual(len(set(got)), len(got),
                         "duplicates: %r" % [g for g in got if got.count(g) > 1])
        self.assertEqual(len(set(EXPECTED)), len(EXPECTED))
        missing = [e for e in EXPECTED if e not in got]
        unexpected = [g for g in got if g not in EXPECTED]
        self.assertEqual((missing, unexpected), ([], []),
                         "\nmissing (expected, not sent):\n  %s\nunexpected (sent, not expected):"
                         "\n  %s" % ("\n  ".join(map(repr, missing)),
                                     "\n  ".join(map(repr, unexpected))))
        self.assertEqual(sorted(got), sorted(EXPECTED))

        # Escalations carry how late they are on the day they are written (this
        # test's clock moves 07:00 to 07:00, so each is written the morning after
        # its 09:00); reminders 0.
        for x in notes:
            target = min(x["due"], x["booked"] or x["due"])
            written = parse_utc(x["created_at"]).astimezone(LONDON).date()
            if x["type"] == "escalation":
                self.assertEqual(x["days_overdue"],
                                 (written - datetime.date.fromisoformat(target)).days, x)
            else:
                self.assertEqual(x["days_overdue"], 0, x)
        # The one booked supervision says so.
        booked = [x for x in notes if x["booked"]]
        self.assertEqual([(x["staff_id"], x["booked"], x["planned_at"]) for x in booked],
                         [("C2", "2026-02-13", "2026-02-13T09:00:00.000Z")])

        status = client.status()
        self.assertEqual(status["notifications"]["last_seq"], len(notes), status)
        self.assertEqual(status["notifications"]["missed"]["total"], EXPECTED_MISSED, status)

        # C2 left on Fri 30 Oct: nothing of theirs is still open or paused.
        person = client.request({"op": "person", "staff_id": "C2"})
        self.assertIs(person.get("ok"), True, person)
        self.assertEqual(person["staff"]["left_date"], "2026-10-30")
        still = [o for o in person["obligations"] if o["state"] in ("open", "paused")]
        self.assertEqual(still, [])
        cancelled = sorted((o["kind"], o["due"]) for o in person["obligations"]
                           if o["state"] == "cancelled")
        # The seventh supervision (Wed 30 Sep + 6 weeks), the next appraisal
        # (Tue 11 Aug + 12 months) and the safeguarding renewal (Tue 2 Feb 2027,
        # shifted 25 days by the absence).
        self.assertEqual(cancelled, [("appraisal", "2027-08-11"),
                                     ("supervision", "2026-11-11"),
                                     ("training", "2027-02-27")])
        for o in person["obligations"]:
            if o["state"] == "cancelled":
                self.assertEqual(o["reason"], "left on 2026-10-30", o)

        # On Fri 1 Jan 2027, what is still overdue in the organisation: the
        # induction check-ins nobody recorded (R1's, L1's, L2's and C1's), R1's
        # appraisal (nobody above R1 to chase it) and C1's supervision due Mon 28
        # Dec.  Nothing of C2's (left); A1 and the other appraisals were done.
        reply = client.request({"op": "overdue"})
        self.assertIs(reply.get("ok"), True, reply)
        self.assertEqual(reply["today"], "2027-01-01")
        self.assertEqual(sorted((o["staff_id"], o["kind"], o["step"], o["due"])
                                for o in reply["obligations"]), [
            ("C1", "induction", "week1", "2026-01-19"),
            ("C1", "induction", "week4", "2026-02-09"),
            ("C1", "supervision", None, "2026-12-28"),
            ("L1", "induction", "week1", "2026-01-12"),
            ("L1", "induction", "week4", "2026-02-02"),
            ("L2", "induction", "week1", "2026-01-12"),
            ("L2", "induction", "week4", "2026-02-02"),
            ("R1", "appraisal", None, "2026-07-05"),
            ("R1", "induction", "week1", "2026-01-12"),
            ("R1", "induction", "week4", "2026-02-02"),
        ])

        # The PUB socket carried every one of them, in order, with the same
        # topic and fields.
        end = time.monotonic() + h.REPLY_TIMEOUT
        while len(pub_messages) < len(notes) and time.monotonic() < end:
            drain_pub(100)
        self.assertEqual([b["seq"] for _, b in pub_messages], seqs,
                         "PUB seqs differ from the API's")
        for (topic, body), x in zip(pub_messages, notes):
            self.assertEqual(topic, "%s.%s" % (x["type"], x["recipient_id"]))
            self.assertEqual((body["type"], body["recipient_id"], body["kind"], body["level"]),
                             (x["type"], x["recipient_id"], x["kind"], x["level"]))

        client.close()
        daemon.stop_clean()
        print("year: %d notifications, %d missed, %.1fs"
              % (len(notes), EXPECTED_MISSED, time.monotonic() - started), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
