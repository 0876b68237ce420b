#!/usr/bin/python3
"""The client tools against the real daemon: carehub-pub (summary, exit
statuses, rejection lines, stdin, a daemon restart mid-stream) and carehubctl
(human and --json output, exit statuses), and a small organisation checked
through staff chains, team listings and reports."""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import (filler_event, pub_summary, run_ctl, run_pub, staff_changed,  # noqa: E402
                     staff_hired, staff_left, team_changed, write_ndjson)

REJECTION = re.compile(r"^(?P<file>.*):(?P<line>\d+): (?P<code>[a-z_]+): (?P<message>.+)$")


def rejections(stderr):
    """[(file, line, code)] of carehub-pub's rejection lines."""
    out = []
    for text in stderr.splitlines():
        m = REJECTION.match(text)
        if m:
            out.append((m["file"], int(m["line"]), m["code"]))
    return out


class TempDirMixin:
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="carehub-e2e-files-")
        self.addCleanup(shutil.rmtree, d, True)
        return d


class Pub(TempDirMixin, h.DaemonTestCase):
    """carehub-pub."""

    def test_all_stored_then_all_duplicate(self):
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, [filler_event(i) for i in range(25)])
        cp = run_pub([path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (25, 0, 0))
        # Duplicates are not rejections: exit 0 again.
        cp = run_pub(["-e", self.daemon.api, path])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (0, 25, 0))
        self.assertServing()

    def test_small_batches_and_window(self):
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, [filler_event(i) for i in range(103)])
        cp = run_pub(["--batch", "7", "--window", "20", path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (103, 0, 0))
        self.assertServing()

    def test_rejections_ndjson(self):
        bad_type = filler_event(1)
        bad_type["type"] = "staff.promoted"
        bad_date = staff_hired("PUB-D1", "Dee", start_date="2023-02-29")
        lines = [json.dumps(filler_event(0)),          # 1 stored
                 "",                                   # 2 blank
                 json.dumps(bad_type),                 # 3 unknown_type
                 json.dumps(filler_event(2)),          # 4 stored
                 "this is not json",                   # 5 bad_json
                 json.dumps(bad_date),                 # 6 bad_date
                 json.dumps(filler_event(3))]          # 7 stored
        path = os.path.join(self.tmpdir(), "mixed.ndjson")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        cp = run_pub([path], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (3, 0, 3))
        self.assertEqual(sorted(rejections(cp.stderr)),
                         [(path, 3, "unknown_type"), (path, 5, "bad_json"),
                          (path, 6, "bad_date")], cp.stderr)
        self.assertServing()

    def test_rejections_pretty_printed_array(self):
        events = [filler_event(i) for i in range(6)]
        events[1]["specversion"] = "0.3"
        del events[4]["data"]["name"]
        text = json.dumps(events, indent=2)
        # Each element starts on a line holding only "  {".
        starts = [n + 1 for n, line in enumerate(text.splitlines()) if line == "  {"]
        self.assertEqual(len(starts), 6)
        # Then a second value in the same file: one more bad event, pretty-printed.
        extra = staff_left("PUB-NOBODY", "2025-01-01")
        extra_line = len(text.splitlines()) + 1
        text += "\n" + json.dumps(extra, indent=4) + "\n"
        path = os.path.join(self.tmpdir(), "pretty.json")
        with open(path, "w") as f:
            f.write(text)
        cp = run_pub([path], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (4, 0, 3))
        self.assertEqual(sorted(rejections(cp.stderr)),
                         [(path, starts[1], "bad_specversion"), (path, starts[4], "missing_field"),
                          (path, extra_line, "unknown_staff")], cp.stderr)
        self.assertServing()

    def test_several_files_name_their_own_lines(self):
        d = self.tmpdir()
        bad = filler_event(0)
        bad["id"] = ""
        a, b = os.path.join(d, "a.ndjson"), os.path.join(d, "b.ndjson")
        write_ndjson(a, [filler_event(1), bad])
        write_ndjson(b, [bad, filler_event(2), filler_event(3)])
        cp = run_pub([a, b], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (3, 0, 2))
        self.assertEqual(sorted(rejections(cp.stderr)),
                         sorted([(a, 2, "bad_attribute"), (b, 1, "bad_attribute")]), cp.stderr)
        self.assertServing()

    def test_stdin(self):
        bad = filler_event(0)
        bad["time"] = "noon"
        text = "\n".join(json.dumps(e) for e in (filler_event(1), filler_event(2), bad)) + "\n"
        cp = run_pub([], self.daemon.api, input=text)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (2, 0, 1))
        rej = rejections(cp.stderr)
        self.assertEqual([(line, code) for _, line, code in rej], [(3, "bad_time")], cp.stderr)
        # Nothing rejected: exit 0, also from a JSON array on stdin.
        cp = run_pub([], self.daemon.api, input=json.dumps([filler_event(4), filler_event(5)]))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (2, 0, 0))
        self.assertServing()

    def test_endpoint_option_overrides_environment(self):
        path = os.path.join(self.tmpdir(), "one.ndjson")
        write_ndjson(path, [filler_event(1)])
        cp = run_pub(["-e", self.daemon.api, "--timeout", "20", path],
                     "ipc:///nonexistent/carehub.sock")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (1, 0, 0))

    def test_usage_errors_exit_2(self):
        path = os.path.join(self.tmpdir(), "one.ndjson")
        write_ndjson(path, [filler_event(1)])
        cp = run_pub([path])  # no -e and no CAREHUB_ENDPOINT
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertTrue(cp.stderr.strip(), "a message says why")
        cp = run_pub(["--no-such-option", path], self.daemon.api)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        cp = run_pub(["--batch", "zero", path], self.daemon.api)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertServing()

    def test_timeout_without_a_daemon_exits_2(self):
        path = os.path.join(self.tmpdir(), "one.ndjson")
        write_ndjson(path, [filler_event(1)])
        started = time.monotonic()
        cp = run_pub(["--timeout", "1", path], "ipc://%s/nobody.sock" % self.tmpdir(),
                     timeout=30)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertLess(time.monotonic() - started, 30)


def sized_event(n, size, source="carehub-e2e-limits"):
    """A team.changed of about size bytes (a longer name); valid while the name
    stays within the daemon's 256 bytes."""
    ev = filler_event(n, source=source)
    ev["data"]["name"] += " " + "x" * max(0, size - len(json.dumps(ev)) - 1)
    return ev


class PubSmallBatchLimit(TempDirMixin, h.DaemonTestCase):
    """carehub-pub against a daemon whose max_batch_events is below --batch."""

    daemon_kwargs = {"limits": {"max_batch_events": 10}}

    def test_batches_are_split_until_the_daemon_takes_them(self):
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, [filler_event(i) for i in range(95)])
        cp = run_pub(["--batch", "100", path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (95, 0, 0))
        self.assertEqual(rejections(cp.stderr), [], cp.stderr)
        self.assertServing()

    def test_a_long_stream_pays_for_the_limit_once(self):
        # One request in flight at a time: 100 events are refused, then 50,
        # 25 and 13 (15 requests in all); the 7 that worked is the batch from
        # then on, so the other 900 events cost no refusal.
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, [filler_event(i) for i in range(1000)])
        before = self.daemon.status()["requests_refused"]
        cp = run_pub(["--batch", "100", "--window", "100", path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (1000, 0, 0))
        self.assertLessEqual(self.daemon.status()["requests_refused"] - before, 15)


class PubSmallMessageLimit(TempDirMixin, h.DaemonTestCase):
    """carehub-pub against a daemon whose max_message_bytes is below its requests.
    A request over 2 * 2048 + 65536 bytes makes the daemon drop the connection."""

    daemon_kwargs = {"limits": {"max_message_bytes": 2048}}

    def test_requests_are_split_until_they_fit(self):
        events = [sized_event(i, 300) for i in range(50)]
        self.assertTrue(all(abs(len(json.dumps(e)) - 300) < 10 for e in events))
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, events)
        cp = run_pub(["--batch", "50", path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (50, 0, 0))
        self.assertEqual(rejections(cp.stderr), [], cp.stderr)
        self.assertServing()

    def test_a_long_stream_pays_for_the_limit_once(self):
        # One request in flight at a time: about 15,000 bytes are refused, then
        # 7,500, 3,750 and the halves that are still over 2,048 (9 requests);
        # from then on a request holds at most a half that worked, so the
        # other 450 events cost few refusals or none (9 per 50 without this).
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, [sized_event(i, 300) for i in range(500)])
        before = self.daemon.status()["requests_refused"]
        cp = run_pub(["--batch", "50", "--window", "50", path], self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (500, 0, 0))
        self.assertLessEqual(self.daemon.status()["requests_refused"] - before, 12)

    def publish_with_one_large(self, size, timeout):
        """20 events of about 300 bytes with one at line 11 whose name alone is
        size bytes; returns (CompletedProcess, path, seconds taken)."""
        events = [sized_event(i, 300) for i in range(20)]
        large = sized_event(99, 300)
        large["data"]["name"] = "x" * size
        events.insert(10, large)
        path = os.path.join(self.tmpdir(), "events.ndjson")
        write_ndjson(path, events)
        started = time.monotonic()
        cp = run_pub(["--timeout", str(timeout), path], self.daemon.api, timeout=timeout * 2)
        return cp, path, time.monotonic() - started

    def test_an_event_over_the_limit_alone_is_rejected(self):
        cp, path, _ = self.publish_with_one_large(3000, 30)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (20, 0, 1))
        self.assertEqual(rejections(cp.stderr), [(path, 11, "message_too_large")], cp.stderr)
        self.assertServing()

    def test_an_event_that_drops_the_connection_is_rejected(self):
        # About 200 KB: far over 2 * 2048 + 65536, so the daemon never replies.
        cp, path, seconds = self.publish_with_one_large(200 * 1024, 30)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(pub_summary(cp.stdout), (20, 0, 1))
        self.assertEqual(rejections(cp.stderr), [(path, 11, "message_too_large")], cp.stderr)
        self.assertIn("dropped the connection", cp.stderr)
        self.assertLess(seconds, 15, "far less than --timeout 30")
        self.assertServing()


class PubAcrossRestart(TempDirMixin, h.DaemonTestCase):
    """carehub-pub keeps going when the daemon is killed and restarted."""

    N = int(os.environ.get("CAREHUB_E2E_RESTART_EVENTS", "20000"))

    def test_kill_and_restart_mid_stream(self):
        d = self.tmpdir()
        events = [filler_event(i, source="restart-test") for i in range(self.N)]
        path = os.path.join(d, "load.ndjson")
        write_ndjson(path, events)
        proc, out, err = h.start_tool(h.CAREHUB_PUB,
                                      ["--batch", "100", "--window", "1000", "--timeout", "60",
                                       path], self.daemon.api, workdir=d)
        try:
            # Wait until part of the stream is stored, then kill -9.
            end = time.monotonic() + 120
            with self.daemon.client() as c:
                while c.status()["events"]["stored"]["since_start"] < self.N // 10:
                    self.assertIsNone(proc.poll(), "carehub-pub ended early")
                    self.assertLess(time.monotonic(), end, "no progress")
            self.assertIsNone(proc.poll(), "carehub-pub finished before the kill; raise N")
            self.daemon.kill()
            self.daemon.restart()
            rc = proc.wait(180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(out) as f:
            stdout = f.read()
        with open(err) as f:
            stderr = f.read()
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIsNone(h.sanitizer_report(stderr), stderr)
        stored, duplicate, rejected = pub_summary(stdout)
        print("carehub-pub across kill -9: stored %d, duplicate %d" % (stored, duplicate),
              file=sys.stderr)
        self.assertEqual(rejected, 0, stderr)
        self.assertEqual(stored + duplicate, self.N, stdout)
        self.daemon.stop_clean()
        with self.daemon.db() as conn:
            keys = h.stored_event_keys(conn)
        mine = {k: n for k, n in keys.items() if k[0] == "restart-test"}
        self.assertEqual(len(mine), self.N, "every event stored")
        self.assertEqual(set(mine.values()), {1}, "no event stored twice")
        self.daemon.restart()
        self.assertServing()


# --------------------------------------------------------------------------
# A small organisation.
#
#   ORG  "Sunrise Care"   manager DIR
#   WARD "Ward 7"         parent ORG, manager MGR
#   NIGHT "Night shift"   parent WARD, no manager
#   POOL                  never described by team.changed; PAT is in it
#
#   DIR  in ORG, no manager of their own (ORG's manager is DIR; no parent)
#   MGR  in WARD, no explicit manager: WARD's manager is MGR, so ORG's: DIR (team)
#   SEN  in WARD, managed by MGR (explicit)
#   C1, C2 in WARD, managed by SEN (explicit): chain SEN, MGR, DIR
#   N1, N2 in NIGHT: NIGHT has no manager, so WARD's: MGR (team)
#   ADM  in ORG: DIR (team)
#   LFT  in WARD, managed by SEN, then left
#   EXT  in ORG, managed by AGENCY9, whom carehub has never heard of
#   PAT  in POOL: no manager anywhere

NAMES = {"DIR": "Dana Director", "MGR": "Mark Manager", "SEN": "Sally Senior",
         "C1": "Carl Carer", "C2": "Cora Carer", "N1": "Nina Night", "N2": "Ned Night",
         "ADM": "Alan Admin", "LFT": "Lena Leaver", "EXT": "Eve External", "PAT": "Pat Pool"}


def organisation():
    staff = [
        staff_hired("DIR", NAMES["DIR"], role="director", team_id="ORG"),
        staff_hired("MGR", NAMES["MGR"], role="ward manager", team_id="WARD"),
        staff_hired("SEN", NAMES["SEN"], role="senior carer", team_id="WARD", manager_id="MGR",
                    registration={"body": "NMC", "number": "12A3456E",
                                  "renewal_date": "2027-03-31"}),
        staff_hired("C1", NAMES["C1"], team_id="WARD", manager_id="SEN",
                    email="carl@example.org"),
        staff_hired("C2", NAMES["C2"], team_id="WARD", manager_id="SEN"),
        staff_hired("N1", NAMES["N1"], team_id="NIGHT"),
        staff_hired("N2", NAMES["N2"], team_id="NIGHT"),
        staff_hired("ADM", NAMES["ADM"], role="administrator", team_id="ORG"),
        staff_hired("LFT", NAMES["LFT"], team_id="WARD", manager_id="SEN"),
        staff_hired("EXT", NAMES["EXT"], role="agency nurse", team_id="ORG",
                    manager_id="AGENCY9"),
        staff_hired("PAT", NAMES["PAT"], role="bank carer", team_id="POOL"),
    ]
    # Teams after the staff: links are made when the teams arrive.
    teams = [
        team_changed("NIGHT", "Night shift", parent_id="WARD"),
        team_changed("WARD", "Ward 7", parent_id="ORG", manager_id="MGR"),
        team_changed("ORG", "Sunrise Care", manager_id="DIR"),
    ]
    later = [
        staff_left("LFT", "2025-06-30"),
        staff_changed("C2", {"role": "senior carer", "email": "cora@example.org"}),
    ]
    return staff + teams + later


class Organisation(TempDirMixin, h.DaemonTestCase):
    """Published with carehub-pub, read back with carehubctl."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = tempfile.mkdtemp(prefix="carehub-e2e-org-")
        try:
            path = os.path.join(d, "org.ndjson")
            write_ndjson(path, organisation())
            # One event per batch so that the later changes follow the hires.
            cp = run_pub(["--batch", "1", path], cls.daemon.api)
        finally:
            shutil.rmtree(d, True)
        if cp.returncode != 0 or pub_summary(cp.stdout) != (16, 0, 0):
            raise h.HarnessError("publishing the organisation failed (%d):\n%s%s"
                                 % (cp.returncode, cp.stdout, cp.stderr))

    def ctl_json(self, *args):
        cp = run_ctl(["--json"] + list(args), self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        try:
            return json.loads(cp.stdout)
        except ValueError as e:
            self.fail("carehubctl --json %s: not JSON (%s):\n%s" % (" ".join(args), e, cp.stdout))

    def ctl_text(self, *args):
        cp = run_ctl(list(args), self.daemon.api)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp.stdout

    # -- status

    def test_status_json(self):
        s = self.ctl_json("status")
        for key in ("version", "uptime_s", "started_at", "events", "staff", "teams",
                    "database_bytes", "queue"):
            self.assertIn(key, s)
        self.assertEqual(s["version"], "0.1.0")
        for kind in ("stored", "duplicate", "rejected"):
            for span in ("since_start", "total"):
                self.assertIsInstance(s["events"][kind][span], int, (kind, span))
        self.assertEqual(s["events"]["stored"]["total"], 16)
        self.assertEqual(s["staff"], {"active": 10, "left": 1})
        self.assertEqual(s["teams"], 3)
        self.assertGreater(s["database_bytes"], 0)
        self.assertEqual(set(s["queue"]), {"waiting_events", "in_flight_events"})
        self.assertRegex(s["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

    def test_status_text(self):
        status = self.ctl_json("status")
        text = self.ctl_text("status")
        self.assertIn("carehubd 0.1.0", text)
        stored = status["events"]["stored"]
        self.assertRegex(text, r"\n\s*Stored\s+%d\s+%d\s*\n" % (stored["since_start"],
                                                                    stored["total"]))
        self.assertRegex(text, r"\nTransactions\s+%d\n" % status["transactions"])
        self.assertRegex(text, r"\nRequests refused\s+\d+\n")

    # -- staff

    def test_staff_chain_three_deep(self):
        r = self.ctl_json("staff", "C1")
        s = r["staff"]
        self.assertEqual((s["staff_id"], s["name"], s["role"], s["team_id"]),
                         ("C1", NAMES["C1"], "carer", "WARD"))
        self.assertEqual((s["manager_id"], s["manager_via"]), ("SEN", "explicit"))
        self.assertEqual(s["email"], "carl@example.org")
        self.assertEqual(s["start_date"], "2024-01-08")
        self.assertEqual(s["status"], "active")
        self.assertIsNone(s["left_date"])
        self.assertIsNone(s["registration"])
        self.assertEqual([m["staff_id"] for m in r["chain"]], ["SEN", "MGR", "DIR"])
        self.assertEqual([m["name"] for m in r["chain"]],
                         [NAMES["SEN"], NAMES["MGR"], NAMES["DIR"]])
        self.assertTrue(all(m["known"] is True for m in r["chain"]), r["chain"])
        text = self.ctl_text("staff", "C1")
        for name in (NAMES["C1"], NAMES["SEN"], NAMES["MGR"], NAMES["DIR"]):
            self.assertIn(name, text)

    def test_manager_inherited_from_the_team(self):
        r = self.ctl_json("staff", "MGR")
        # MGR manages WARD, so their line manager is the parent team's manager.
        self.assertEqual((r["staff"]["manager_id"], r["staff"]["manager_via"]), ("DIR", "team"))
        self.assertEqual([m["staff_id"] for m in r["chain"]], ["DIR"])
        r = self.ctl_json("staff", "N1")
        # NIGHT has no manager: WARD's manager.
        self.assertEqual((r["staff"]["manager_id"], r["staff"]["manager_via"]), ("MGR", "team"))
        self.assertEqual([m["staff_id"] for m in r["chain"]], ["MGR", "DIR"])
        r = self.ctl_json("staff", "DIR")
        self.assertIsNone(r["staff"]["manager_id"])
        self.assertIsNone(r["staff"]["manager_via"])
        self.assertEqual(r["chain"], [])

    def test_unknown_manager_in_chain(self):
        r = self.ctl_json("staff", "EXT")
        self.assertEqual(r["staff"]["manager_id"], "AGENCY9")
        self.assertEqual(len(r["chain"]), 1, r["chain"])
        self.assertEqual(r["chain"][0]["staff_id"], "AGENCY9")
        self.assertIs(r["chain"][0]["known"], False)

    def test_registration_left_and_changed(self):
        s = self.ctl_json("staff", "SEN")["staff"]
        self.assertEqual(s["registration"], {"body": "NMC", "number": "12A3456E",
                                             "renewal_date": "2027-03-31"})
        s = self.ctl_json("staff", "LFT")["staff"]
        self.assertEqual((s["status"], s["left_date"]), ("left", "2025-06-30"))
        s = self.ctl_json("staff", "C2")["staff"]
        self.assertEqual((s["role"], s["email"], s["manager_id"]),
                         ("senior carer", "cora@example.org", "SEN"))

    def test_unknown_staff_is_not_found(self):
        cp = run_ctl(["staff", "NOBODY"], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("not_found", cp.stdout + cp.stderr)
        cp = run_ctl(["--json", "staff", "NOBODY"], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("not_found", cp.stdout + cp.stderr)

    # -- teams

    def test_team_members_and_sub_teams(self):
        r = self.ctl_json("team", "WARD")
        t = r["team"]
        self.assertEqual((t["team_id"], t["name"], t["parent_id"], t["manager_id"], t["known"]),
                         ("WARD", "Ward 7", "ORG", "MGR", True))
        self.assertEqual(sorted(m["staff_id"] for m in r["members"]), ["C1", "C2", "MGR", "SEN"])
        by_id = {m["staff_id"]: m for m in r["members"]}
        self.assertEqual(by_id["C1"]["name"], NAMES["C1"])
        self.assertEqual(by_id["C1"]["manager_id"], "SEN")
        self.assertEqual(by_id["SEN"]["role"], "senior carer")
        self.assertEqual([(s["team_id"], s["name"]) for s in r["sub_teams"]],
                         [("NIGHT", "Night shift")])
        text = self.ctl_text("team", "WARD")
        for word in ("Ward 7", NAMES["MGR"], NAMES["SEN"], NAMES["C1"], NAMES["C2"],
                     "Night shift"):
            self.assertIn(word, text)
        self.assertNotIn(NAMES["LFT"], text)

    def test_json_has_the_fields_of_the_spec(self):
        r = self.ctl_json("staff", "C1")
        self.assertEqual((r["ok"], r["id"] is not None), (True, True))
        self.assertEqual(set(r["staff"]), {"staff_id", "name", "role", "team_id", "start_date",
                                           "email", "manager_id", "manager_via", "left_date",
                                           "status", "registration"})
        for m in r["chain"]:
            self.assertEqual(set(m), {"staff_id", "name", "role", "team_id", "known"})
        chain = self.ctl_json("staff", "EXT")["chain"]
        self.assertLessEqual({"staff_id", "known"}, set(chain[0]))
        r = self.ctl_json("team", "WARD")
        self.assertLessEqual({"team", "members", "sub_teams"}, set(r))
        for m in r["members"]:
            self.assertEqual(set(m), {"staff_id", "name", "role", "manager_id", "manager_via"})
        for t in r["sub_teams"]:
            self.assertEqual(set(t), {"team_id", "name", "manager_id"})
        r = self.ctl_json("reports", "SEN")
        self.assertEqual(set(r["manager"]), {"staff_id", "name", "known"})
        for x in r["reports"]:
            self.assertEqual(set(x), {"staff_id", "name", "role", "team_id", "via"})

    def test_member_lists_show_the_line_manager(self):
        # A member's manager_id is their line manager, the same as the staff
        # look-up gives, including one inherited from the team.
        for team in ("WARD", "NIGHT", "ORG"):
            for m in self.ctl_json("team", team)["members"]:
                with self.subTest(team=team, staff=m["staff_id"]):
                    line_manager = self.ctl_json("staff", m["staff_id"])["staff"]["manager_id"]
                    self.assertEqual(m["manager_id"], line_manager)

    def test_team_objects_have_every_field(self):
        for team in ("WARD", "POOL"):
            with self.subTest(team=team):
                t = self.ctl_json("team", team)["team"]
                self.assertEqual(set(t), {"team_id", "name", "parent_id", "manager_id", "known"})
        t = self.ctl_json("team", "POOL")["team"]
        self.assertEqual((t.get("name", "absent"), t.get("parent_id", "absent"),
                          t.get("manager_id", "absent")), (None, None, None))

    def test_top_team_and_leaf_team(self):
        r = self.ctl_json("team", "ORG")
        self.assertIsNone(r["team"]["parent_id"])
        self.assertEqual(sorted(m["staff_id"] for m in r["members"]), ["ADM", "DIR", "EXT"])
        self.assertEqual([s["team_id"] for s in r["sub_teams"]], ["WARD"])
        r = self.ctl_json("team", "NIGHT")
        self.assertIsNone(r["team"]["manager_id"])
        self.assertEqual(sorted(m["staff_id"] for m in r["members"]), ["N1", "N2"])
        self.assertEqual(r["sub_teams"], [])

    def test_team_known_only_from_its_members(self):
        r = self.ctl_json("team", "POOL")
        self.assertIs(r["team"]["known"], False)
        self.assertEqual([m["staff_id"] for m in r["members"]], ["PAT"])
        r = self.ctl_json("staff", "PAT")
        self.assertIsNone(r["staff"]["manager_id"])

    def test_unknown_team_is_not_found(self):
        cp = run_ctl(["team", "NO-SUCH-TEAM"], self.daemon.api)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("not_found", cp.stdout + cp.stderr)

    # -- reports

    def test_reports(self):
        def reports(manager):
            r = self.ctl_json("reports", manager)
            self.assertEqual(r["manager"]["staff_id"], manager)
            got = {x["staff_id"]: x["via"] for x in r["reports"]}
            self.assertEqual(len(got), len(r["reports"]), "someone listed twice: %r" % r)
            return r, got

        r, got = reports("MGR")
        self.assertEqual(got, {"SEN": "explicit", "N1": "team", "N2": "team"})
        self.assertEqual((r["manager"]["name"], r["manager"]["known"]), (NAMES["MGR"], True))
        _, got = reports("DIR")
        self.assertEqual(got, {"MGR": "team", "ADM": "team"})
        r, got = reports("SEN")
        self.assertEqual(got, {"C1": "explicit", "C2": "explicit"})  # not LFT, who left
        entry = [x for x in r["reports"] if x["staff_id"] == "C1"][0]
        self.assertEqual((entry["name"], entry["role"], entry["team_id"]),
                         (NAMES["C1"], "carer", "WARD"))
        r, got = reports("C1")
        self.assertEqual(got, {})
        r, got = reports("AGENCY9")
        self.assertIs(r["manager"]["known"], False)
        self.assertEqual(got, {"EXT": "explicit"})
        text = self.ctl_text("reports", "MGR")
        for name in (NAMES["SEN"], NAMES["N1"], NAMES["N2"]):
            self.assertIn(name, text)
        self.assertNotIn(NAMES["C1"], text)

    # -- exit statuses

    def test_usage_errors_exit_2(self):
        for args in (["--no-such-option", "status"], ["frobnicate"], ["staff"], []):
            with self.subTest(args=args):
                cp = run_ctl(args, self.daemon.api)
                self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        cp = run_ctl(["status"])  # no endpoint anywhere
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertTrue(cp.stderr.strip(), "a message says why")

    def test_no_daemon_exits_2(self):
        started = time.monotonic()
        cp = run_ctl(["--timeout", "1", "status"], "ipc://%s/nobody.sock" % self.tmpdir(),
                     timeout=30)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertLess(time.monotonic() - started, 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
