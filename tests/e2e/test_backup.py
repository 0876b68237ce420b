#!/usr/bin/python3
"""carehubctl backup: a consistent online copy while events keep arriving.

UnderLoad: a daemon on a test clock, with review kinds so that it sends
notifications, is fed a stream of staff events by carehub-pub (in the
background, from a pipe) while carehubctl backup runs again and again, the
clock moving on a day between backups.  Every backup is then checked:

- SQLite finds it sound (integrity_check), and it is a single file in
  rollback-journal mode holding a carehub database of this schema;
- it holds exactly what its reply says: the totals, the last event and
  the last notification, and staff rows that agree with the totals;
- its events are exactly the live database's events up to its last one
  (it is a snapshot, not a mixture of two moments);
- a second carehubd started on a copy of it (its own state_dir and
  endpoints, its test clock where the first one's stood) starts, and its
  status, staff and notifications answers agree with the reply: the last
  person hired in the snapshot is there, the first one hired after it is
  not.

At least one backup must have run while events were being committed: the
daemon stored events after carehubctl started and before the snapshot, and
more after the snapshot before the reply.  The stream stops once that has
been seen (or after a bound), then a final backup is compared table by
table, every row of every table sorted by its key, with the live database
read after a clean stop: identical.

Refusals: bad requests from a raw client, an existing file, an existing
PATH.tmp, a directory that cannot be written, a second backup while one
runs, and carehubctl's usage errors.  No test sleeps: each waits for a
reply or a process exit with a deadline.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import run_ctl, staff_changed, staff_hired, staff_left, team_changed  # noqa: E402

START = "2026-01-05T07:00:00Z"
SOURCE = "carehub-e2e-backup"
WAIT = 120  # seconds: the deadline of every wait
# The stream: at least MIN_EVENTS, at most MAX_EVENTS, stopping once a
# backup has been seen to run while events were committed.
MIN_EVENTS = 3000
MAX_EVENTS = 30000
MIN_BACKUPS = 3  # taken while the stream runs
MAX_BACKUPS = 12
# People hired before the stream starts, so that the database is larger than
# one step of a backup (256 pages, daemon/store.c) and every copy taken under
# load is made in several steps, the writer committing between them.
BASE_STAFF = 3000
STEP_PAGES = 256
DATABASE_NAME = "carehub.db"  # in state_dir (daemon/store.c)

CONFIG = """
# The events are dated 2024: kept whole, so the live database and a copy
# compare byte for byte (retention would empty them between two copies).
retention = { event_days = 0; };
schedule = { send_time = "09:00"; missed_after_days = 14; };
kinds = (
    {
        name = "supervision";
        title = "Supervision";
        applies_to = { roles = ["care_worker"]; };
        recurring = { every = "6 weeks"; first = "4 weeks"; };
        reminders = [14, 3, 0];
        escalation = (
            { after_days = 1; notify = ["manager"]; },
            { after_days = 7; notify = ["manager+1"]; }
        );
        repeat_days = 7;
    }
);
"""


def organisation():
    """A home whose 20 care workers' first supervisions are all overdue on
    the first day, on 20 different days: escalations go out every day."""
    events = [team_changed("T0", "Rosewood", manager_id="B1", source=SOURCE),
              team_changed("T1", "Day team", parent_id="T0", manager_id="M1", source=SOURCE),
              staff_hired("B1", "Grace Okafor", role="registered_manager", team_id="T0",
                          start_date="2020-01-06", source=SOURCE),
              staff_hired("M1", "Ben Smith", role="team_leader", team_id="T1",
                          start_date="2021-03-01", source=SOURCE)]
    for i in range(20):
        events.append(staff_hired("S%02d" % i, "Care worker %d" % i, role="care_worker",
                                  team_id="T1", start_date="2025-11-%02d" % (3 + i),
                                  source=SOURCE))
    return events


def base_staff():
    """Office staff (no reviews apply to them) who make the database larger."""
    return [staff_hired("O%05d" % i, "Office worker %d" % i, role="administrator", team_id="T0",
                        start_date="2024-01-08", email="o%05d@rosewood.example" % i,
                        source=SOURCE) for i in range(BASE_STAFF)]


def load_event(n):
    """The n-th event of the stream: a hire, a change of name, and for every
    third person a leaving date, in turn."""
    person, step = divmod(n, 3)
    staff_id = "L%05d" % person
    if step == 0:
        return staff_hired(staff_id, "Load worker %d" % person, role="care_worker",
                           team_id="T1", start_date="2026-01-05", source=SOURCE)
    if step == 1:
        return staff_changed(staff_id, {"name": "Load worker %d (renamed)" % person},
                             source=SOURCE)
    if person % 3 == 0:
        return staff_left(staff_id, "2026-01-30", source=SOURCE)
    return staff_changed(staff_id, {"email": "l%05d@rosewood.example" % person}, source=SOURCE)


def open_copy(path):
    """A read-only connection that changes nothing beside the file."""
    return sqlite3.connect("file:%s?immutable=1" % path, uri=True)


def table_keys(conn, table):
    """The ORDER BY that sorts a table by its primary key (rowid when it has none)."""
    columns = sorted((r[5], r[1]) for r in conn.execute("PRAGMA table_info(%s)" % table)
                     if r[5] > 0)
    if columns:
        return ", ".join('"%s"' % name for _, name in columns)
    if table == "sqlite_sequence":
        return "name"
    return "rowid"


def dump(conn):
    """Every table, every row, sorted by primary key; and the schema and header values."""
    out = {"schema": conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                  "ORDER BY type, name").fetchall(),
           "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
           "application_id": conn.execute("PRAGMA application_id").fetchone()[0]}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "ORDER BY name")]
    for table in tables:
        out["table " + table] = conn.execute('SELECT * FROM "%s" ORDER BY %s'
                                             % (table, table_keys(conn, table))).fetchall()
    return out


class Feeder:
    """carehub-pub reading the stream from a pipe that a thread fills, so
    that the stream goes on until the test has seen what it needs."""

    def __init__(self, daemon, workdir):
        self.stop = threading.Event()
        self.fed = 0
        self.out_path = os.path.join(workdir, "carehub-pub.out")
        self.err_path = os.path.join(workdir, "carehub-pub.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [h.CAREHUB_PUB, "--batch", "20", "--window", "200"], stdin=subprocess.PIPE,
                stdout=out, stderr=err, env=h.tool_env(daemon.api))
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.writer.start()

    def _write(self):
        try:
            for n in range(MAX_EVENTS):
                if n >= MIN_EVENTS and self.stop.is_set():
                    break
                self.proc.stdin.write((json.dumps(load_event(n)) + "\n").encode())
                self.fed = n + 1
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def running(self):
        return self.proc.poll() is None

    def finish(self):
        """Ends the stream and waits for carehub-pub; returns (status, stdout, stderr)."""
        self.stop.set()
        self.writer.join(WAIT)
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise h.HarnessError("carehub-pub still running %ds after its input ended" % WAIT)
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            out = f.read()
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            err = f.read()
        marker = h.sanitizer_report(err)
        if marker:
            raise h.HarnessError("sanitizer report (%s) from carehub-pub:\n%s" % (marker, err))
        return self.proc.returncode, out, err


class UnderLoad(h.DaemonTestCase):
    daemon_kwargs = {"extra_config": CONFIG, "test_clock": START}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.daemon.client()
        cls.dir = tempfile.mkdtemp(prefix="carehub-e2e-backups-")
        reply = cls.api.publish(organisation())
        if h.statuses(reply) != ["stored"] * len(organisation()):
            raise h.HarnessError("publishing the organisation failed: %r" % (reply,))
        path = os.path.join(cls.dir, "base.jsonl")
        h.write_ndjson(path, base_staff())
        cp = h.run_pub([path], cls.daemon.api, timeout=WAIT)
        if cp.returncode != 0 or h.pub_summary(cp.stdout) != (BASE_STAFF, 0, 0):
            raise h.HarnessError("publishing the office staff failed: %s%s"
                                 % (cp.stdout, cp.stderr))
        cls.now = cls.advance(2 * 3600)  # to 09:00, the send time

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)
        super().tearDownClass()

    @classmethod
    def advance(cls, seconds):
        """Moves the test clock on; the reply comes once all that fell due is sent."""
        reply = cls.api.request({"op": "clock", "advance_seconds": seconds}, timeout=WAIT)
        if reply.get("ok") is not True:
            raise h.HarnessError("moving the clock failed: %r" % (reply,))
        return reply["now"]

    def stored(self):
        return self.daemon.status()["events"]["stored"]["total"]

    def backup(self, name, *extra):
        """carehubctl backup --json; returns the reply."""
        path = os.path.join(self.dir, name)
        cp = run_ctl(["--json", "backup", path] + list(extra), self.daemon.api, timeout=WAIT)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        reply = json.loads(cp.stdout)
        self.assertIs(reply["ok"], True, reply)
        self.assertEqual(reply["path"], path)
        self.assertEqual(reply["bytes"], os.path.getsize(path))
        self.assertFalse(os.path.exists(path + ".tmp"))
        return reply

    # -- checks of one backup

    def check_contents(self, path, reply, live_events):
        """The file is sound and holds what the reply says, as a snapshot."""
        for companion in ("-wal", "-shm", "-journal", ".tmp"):
            self.assertFalse(os.path.exists(path + companion), path + companion)
        with open(path, "rb") as f:
            header = f.read(100)
        self.assertEqual(header[:16], b"SQLite format 3\x00")
        self.assertEqual(header[18:20], b"\x01\x01", "a backup is in rollback-journal mode")
        conn = open_copy(path)
        try:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(conn.execute("PRAGMA application_id").fetchone()[0], 0x43415245)
            self.assertEqual(conn.execute("PRAGMA user_version").fetchone()[0], 4)
            self.assertEqual(conn.execute("PRAGMA page_count").fetchone()[0], reply["pages"])
            counters = conn.execute("SELECT events_stored, events_duplicate, events_rejected, "
                                    "staff_active, staff_left, teams FROM counters").fetchone()
            self.assertEqual(counters, (
                reply["events"]["stored"], reply["events"]["duplicate"],
                reply["events"]["rejected"], reply["staff"]["active"], reply["staff"]["left"],
                reply["teams"]))
            self.assertEqual(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0],
                             reply["events"]["last_seq"])
            self.assertEqual(conn.execute("SELECT count(*) FROM events").fetchone()[0],
                             reply["events"]["stored"])
            self.assertEqual(conn.execute("SELECT coalesce((SELECT seq FROM sqlite_sequence "
                                          "WHERE name = 'notifications'), 0)").fetchone()[0],
                             reply["notifications"]["last_seq"])
            # The staff rows agree with the totals: one transaction, not two halves.
            self.assertEqual(conn.execute("SELECT count(*) FROM staff WHERE left_date IS NULL")
                             .fetchone()[0], reply["staff"]["active"])
            self.assertEqual(conn.execute("SELECT count(*) FROM staff WHERE left_date IS NOT "
                                          "NULL").fetchone()[0], reply["staff"]["left"])
            events = conn.execute("SELECT seq, hash, source, event_id, body FROM events "
                                  "ORDER BY seq").fetchall()
            last_hired = conn.execute(
                "SELECT json_extract(body, '$.data.staff_id'), json_extract(body, '$.data.name') "
                "FROM events WHERE type = 'staff.hired' ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        self.assertEqual(events, [e for e in live_events if e[0] <= reply["events"]["last_seq"]],
                         "the backup's events are the live database's up to its last one")
        return last_hired

    def check_restores(self, path, reply, clock, last_hired, first_hired_after):
        """A second carehubd on a copy of the backup answers as the reply says."""
        workdir = tempfile.mkdtemp(prefix="carehub-e2e-restore-")
        os.makedirs(os.path.join(workdir, "state"))
        shutil.copyfile(path, os.path.join(workdir, "state", DATABASE_NAME))
        restored = h.Daemon(workdir=workdir, extra_config=CONFIG, test_clock=clock)
        try:
            restored.start()
            status = restored.status()
            self.assertEqual(status["events"]["stored"]["total"], reply["events"]["stored"])
            self.assertEqual(status["events"]["duplicate"]["total"],
                             reply["events"]["duplicate"])
            self.assertEqual(status["events"]["rejected"]["total"], reply["events"]["rejected"])
            self.assertEqual(status["staff"], reply["staff"])
            self.assertEqual(status["teams"], reply["teams"])
            self.assertEqual(status["notifications"]["last_seq"],
                             reply["notifications"]["last_seq"])
            with restored.client() as c:
                staff = c.request({"op": "staff", "staff_id": last_hired[0]})
                self.assertIs(staff["ok"], True, staff)
                if first_hired_after is not None:
                    absent = c.request({"op": "staff", "staff_id": first_hired_after})
                    self.assertEqual(absent["error"]["code"], "not_found", absent)
                last_seq = reply["notifications"]["last_seq"]
                listed = c.request({"op": "notifications", "after": max(last_seq - 1, 0)})
                self.assertEqual(listed["last_seq"], last_seq, listed)
                self.assertEqual([n["seq"] for n in listed["notifications"]],
                                 [last_seq] if last_seq else [])
            restored.stop_clean()
        finally:
            restored.close()

    # -- the test

    def test_backups_while_events_arrive(self):
        feeder = Feeder(self.daemon, self.dir)
        taken = []  # (path, reply, clock, stored before, stored after)
        overlapped = False
        try:
            while feeder.running() and len(taken) < MAX_BACKUPS and not (
                    overlapped and len(taken) >= MIN_BACKUPS):
                clock = self.advance(86400)
                before = self.stored()
                name = "during-%02d.db" % len(taken)
                reply = self.backup(name)
                after = self.stored()
                snapshot = reply["events"]["stored"]
                self.assertGreater(reply["pages"], STEP_PAGES, "copied in more than one step")
                overlapped = overlapped or before < snapshot < after
                taken.append((os.path.join(self.dir, name), reply, clock, before, after))
        finally:
            rc, out, err = feeder.finish()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(h.pub_summary(out), (feeder.fed, 0, 0))
        self.assertGreaterEqual(len(taken), MIN_BACKUPS,
                                "carehub-pub finished (%d events) before %d backups were taken"
                                % (feeder.fed, MIN_BACKUPS))
        self.assertTrue(overlapped, "no backup ran while events were committed: %r"
                        % [(t[3], t[1]["events"]["stored"], t[4]) for t in taken])
        self.assertGreater(taken[-1][1]["notifications"]["last_seq"],
                           taken[0][1]["notifications"]["last_seq"])

        # The stream is over: a final backup, then the live database after a clean stop.
        final = self.backup("final.db")
        status = self.daemon.status()
        self.assertEqual(final["events"]["stored"], status["events"]["stored"]["total"])
        self.assertEqual(final["events"]["stored"],
                         len(organisation()) + BASE_STAFF + feeder.fed)
        final_clock = self.now if not taken else taken[-1][2]
        self.daemon.stop_clean()
        live = self.daemon.db()
        try:
            live_dump = dump(live)
            live_events = live.execute("SELECT seq, hash, source, event_id, body FROM events "
                                       "ORDER BY seq").fetchall()
            hired = live.execute("SELECT seq, json_extract(body, '$.data.staff_id') FROM events "
                                 "WHERE type = 'staff.hired' ORDER BY seq").fetchall()
        finally:
            live.close()
        final_conn = open_copy(os.path.join(self.dir, "final.db"))
        try:
            final_dump = dump(final_conn)
        finally:
            final_conn.close()
        self.assertEqual(sorted(final_dump), sorted(live_dump))
        for key in sorted(live_dump):
            self.assertEqual(final_dump[key], live_dump[key], "%s differs" % key)

        for path, reply, clock, _, _ in taken + [(os.path.join(self.dir, "final.db"), final,
                                                  final_clock, 0, 0)]:
            with self.subTest(backup=os.path.basename(path)):
                last_hired = self.check_contents(path, reply, live_events)
                after = [s for seq, s in hired if seq > reply["events"]["last_seq"]]
                self.check_restores(path, reply, clock, last_hired, after[0] if after else None)

        sizes = ", ".join("%s: %d events, %d bytes, %.3f s" % (
            os.path.basename(p), r["events"]["stored"], r["bytes"], r["duration_s"])
            for p, r, _, _, _ in taken + [("final.db", final, None, 0, 0)])
        sys.stderr.write("\nbackups (%d events streamed): %s\n" % (feeder.fed, sizes))


class Refusals(h.DaemonTestCase):
    """What the backup op and carehubctl backup refuse, and why."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = cls.daemon.client()
        cls.dir = tempfile.mkdtemp(prefix="carehub-e2e-backups-")
        events = [team_changed("T1", "Day team", source=SOURCE)] + [
            staff_hired("S%04d" % i, "Worker %d" % i, source=SOURCE) for i in range(2000)]
        for i in range(0, len(events), 500):
            reply = cls.api.publish(events[i:i + 500])
            if set(h.statuses(reply)) != {"stored"}:
                raise h.HarnessError("publishing failed: %r" % (reply,))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)
        super().tearDownClass()

    def path(self, name):
        return os.path.join(self.dir, name)

    def request(self, **fields):
        return self.api.request(dict({"op": "backup"}, **fields), timeout=WAIT)

    def ctl(self, args, rc, cwd=None):
        cp = run_ctl(args, self.daemon.api, timeout=WAIT, cwd=cwd)
        self.assertEqual(cp.returncode, rc, "carehubctl %s:\n%s%s"
                         % (" ".join(args), cp.stdout, cp.stderr))
        return cp

    def test_bad_requests(self):
        for fields, words in [
                ({}, "needs \"path\""),
                ({"path": ""}, "needs \"path\""),
                ({"path": 7}, "needs \"path\""),
                ({"path": "backups/carehub.db"}, "must be absolute"),
                ({"path": "./carehub.db"}, "must be absolute"),
                ({"path": self.dir + "/"}, "names a directory"),
                ({"path": "/" + "x" * 500}, "the most is 500"),
                ({"path": self.path("a.db"), "overwrite": "yes"}, "true or false"),
                ({"path": os.path.join(self.daemon.state_dir, "copy.db")}, "state_dir")]:
            with self.subTest(fields=fields):
                reply = self.request(**fields)
                self.assertError(reply, "bad_request")
                self.assertIn(words, reply["error"]["message"])
        # A NUL cannot reach the op: the envelope refuses \u0000 in any string.
        reply = self.api.raw_request('{"op": "backup", "id": 1, "path": "/tmp/a\\u0000b"}')
        self.assertError(reply, "bad_json")
        self.assertEqual(os.listdir(self.daemon.state_dir).count("copy.db"), 0)
        self.assertServing()

    def test_existing_file_is_kept_unless_overwrite(self):
        path = self.path("existing.db")
        with open(path, "w") as f:
            f.write("not a database\n")
        reply = self.request(path=path)
        self.assertError(reply, "file_exists")
        self.assertIn("overwrite", reply["error"]["message"])
        with open(path) as f:
            self.assertEqual(f.read(), "not a database\n")
        cp = self.ctl(["backup", path], 1)
        self.assertIn("file_exists", cp.stderr)
        self.assertEqual(cp.stdout, "")
        cp = self.ctl(["backup", "--overwrite", path], 0)
        self.assertRegex(cp.stdout, r"^Backup written to %s: .* pages, events up to 2001, "
                         r"notifications up to 0, in [0-9.]+ s\.\n$" % path)
        conn = open_copy(path)
        self.assertEqual(conn.execute("SELECT count(*) FROM staff").fetchone()[0], 2000)
        conn.close()
        # A directory is never replaced, even with overwrite.
        os.mkdir(self.path("a-directory.db"))
        reply = self.request(path=self.path("a-directory.db"), overwrite=True)
        self.assertError(reply, "file_exists")
        self.assertTrue(os.path.isdir(self.path("a-directory.db")))

    def test_existing_temporary_file(self):
        path = self.path("interrupted.db")
        with open(path + ".tmp", "w") as f:
            f.write("left by an interrupted backup\n")
        reply = self.request(path=path)
        self.assertError(reply, "file_exists")
        self.assertIn(path + ".tmp", reply["error"]["message"])
        self.assertFalse(os.path.exists(path))
        with open(path + ".tmp") as f:
            self.assertEqual(f.read(), "left by an interrupted backup\n")
        reply = self.request(path=path, overwrite=True)
        self.assertIs(reply["ok"], True, reply)
        self.assertFalse(os.path.exists(path + ".tmp"))

    def test_directory_that_cannot_be_written(self):
        reply = self.request(path=self.path("missing/carehub.db"))
        self.assertError(reply, "cannot_write")
        self.assertIn("No such file or directory", reply["error"]["message"])
        if os.geteuid() == 0:
            # root writes into any directory whatever its mode; sysfs refuses new files.
            path = "/sys/carehub-e2e-backup.db"
        else:
            locked = self.path("locked")
            os.mkdir(locked, 0o555)
            self.addCleanup(os.chmod, locked, 0o755)
            path = os.path.join(locked, "carehub.db")
        reply = self.request(path=path)
        self.assertError(reply, "cannot_write")
        self.assertIn("Permission denied", reply["error"]["message"])
        self.assertIn("the user carehubd runs as", reply["error"]["message"])
        cp = self.ctl(["backup", path], 1)
        self.assertIn("cannot_write", cp.stderr)
        self.assertFalse(os.path.exists(path))

    def test_one_backup_at_a_time(self):
        # Three requests in one burst: the daemon reads them in one turn of
        # its loop, before the first copy can have finished.
        ids = [self.api.send({"op": "backup", "path": self.path("burst-%d.db" % i)})
               for i in range(3)]
        replies = [self.api.recv_for(i, timeout=WAIT) for i in ids]
        self.assertIs(replies[0]["ok"], True, replies[0])
        refused = [r for r in replies[1:] if r["ok"] is False]
        self.assertTrue(refused, replies)
        for r in refused:
            self.assertError(r, "unavailable")
            self.assertIn("already running", r["error"]["message"])
        # Once it has finished, the next one is taken.
        reply = self.request(path=self.path("after-burst.db"))
        self.assertIs(reply["ok"], True, reply)

    def test_relative_file_is_taken_from_the_current_directory(self):
        cwd = self.path("cwd")
        os.mkdir(cwd)
        cp = self.ctl(["--json", "backup", "relative.db"], 0, cwd=cwd)
        self.assertEqual(json.loads(cp.stdout)["path"], os.path.join(cwd, "relative.db"))
        self.assertTrue(os.path.isfile(os.path.join(cwd, "relative.db")))
        cp = self.ctl(["backup", "./sub/../relative2.db"], 1, cwd=cwd)  # no directory "sub"
        self.assertIn("cannot_write", cp.stderr)

    def test_usage_errors_exit_2(self):
        for args in (["backup"], ["backup", "a.db", "b.db"], ["backup", ""],
                     ["backup", "a.db", "--csv"], ["backup", "a.db", "--days", "3"],
                     ["status", "--overwrite"], ["backup", "a.db", "--no-such-option"]):
            with self.subTest(args=args):
                cp = self.ctl(args, 2, cwd=self.dir)
                self.assertIn("carehubctl", cp.stderr)
        self.assertFalse(os.path.exists(self.path("a.db")))
        cp = self.ctl(["--help"], 0)
        self.assertIn("backup FILE [--overwrite]", cp.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
