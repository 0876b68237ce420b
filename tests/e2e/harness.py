"""End-to-end test harness: runs the real carehubd and drives it.

Every test in tests/e2e starts the real daemon built by CMake in a fresh
temporary state directory, talks to it over its real ZeroMQ API socket (a
DEALER socket, as any client would) and runs the real client tools.

Nothing here sleeps for a fixed time: every wait is for a specific event (a
reply, a process exit, a socket disconnect) with a deadline, and a missed
deadline fails the test with a message saying what was awaited.

Paths come from the environment, set by tests/e2e/e2e.cmake:
  CAREHUB_BIN_DIR     the build directory holding carehubd, carehub-pub, carehubctl
  CAREHUB_SOURCE_DIR  the repository root (for conf/carehubd.conf)
Both default to the layout of a checkout built into ./build.

Run under /usr/bin/python3 (Debian's, which has python3-zmq).
"""

import ctypes
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest
import uuid

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CAREHUB_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("CAREHUB_BIN_DIR") or os.path.join(SOURCE_DIR, "build")
CAREHUBD = os.path.join(BIN_DIR, "carehubd")
CAREHUB_PUB = os.path.join(BIN_DIR, "carehub-pub")
CAREHUBCTL = os.path.join(BIN_DIR, "carehubctl")
EXAMPLE_CONF = os.path.join(SOURCE_DIR, "conf", "carehubd.conf")

# Sanitizer reports that must never appear in a daemon's or a client's stderr.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",  # UBSan
    "AddressSanitizer:DEADLYSIGNAL",
)

START_TIMEOUT = float(os.environ.get("CAREHUB_E2E_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("CAREHUB_E2E_STOP_TIMEOUT", "30"))
REPLY_TIMEOUT = float(os.environ.get("CAREHUB_E2E_REPLY_TIMEOUT", "20"))


class HarnessError(AssertionError):
    """A deadline passed or the daemon misbehaved in a way the harness noticed."""


# inotify(7) through the C library: Python's standard library has no binding.
_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x2, 0x8, 0x80, 0x100
_libc = ctypes.CDLL(None, use_errno=True)


class Watch:
    """Wakes a waiter when a file in directory is written or created, or when
    one of procs (Popen objects) exits: the events that log lines and state
    files are waited for, so a wait blocks on them instead of polling.

    Make the watch before checking the condition; a change between the check
    and wait() is queued by the kernel, so none is missed."""

    def __init__(self, directory, procs=()):
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
        if _libc.inotify_add_watch(self.fd, os.fsencode(directory), mask) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "inotify_add_watch %s" % directory)
        self.pidfds = []
        for proc in procs:
            if proc is not None and proc.poll() is None:
                try:
                    self.pidfds.append(os.pidfd_open(proc.pid))
                except ProcessLookupError:
                    pass  # gone already: the caller's check sees it

    def wait(self, timeout):
        """Blocks until a change, an exit, or timeout seconds; drains the events."""
        ready, _, _ = select.select([self.fd] + self.pidfds, [], [], max(timeout, 0))
        for fd in ready:
            if fd == self.fd:
                try:
                    while os.read(self.fd, 65536):
                        pass
                except BlockingIOError:
                    pass
            else:  # an exit is reported once: the caller's check sees it from now on
                self.pidfds.remove(fd)
                os.close(fd)

    def close(self):
        for fd in [self.fd] + self.pidfds:
            os.close(fd)
        self.pidfds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_until(what, condition, directory, procs=(), timeout=30):
    """Waits until condition() is true, waking on every change in directory
    and on the exit of procs; raises HarnessError naming what when timeout
    seconds pass first.  condition() may raise to fail early."""
    end = time.monotonic() + timeout
    with Watch(directory, procs) as watch:
        while not condition():
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError("%s did not happen within %ss" % (what, timeout))
            watch.wait(left)


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


def tool_env(endpoint=None, extra=None):
    """Environment for a child process: sanitizers set to fail loudly, and
    CAREHUB_ENDPOINT set to endpoint (or removed when endpoint is None)."""
    env = dict(os.environ)
    env.pop("CAREHUB_ENDPOINT", None)
    # Not under systemd: the daemon must log with timestamps to stderr.
    env.pop("JOURNAL_STREAM", None)
    env.pop("INVOCATION_ID", None)
    asan = env.get("ASAN_OPTIONS", "")
    # LeakSanitizer works in this environment (checked: a leaking test program
    # exits 1 with a report), so a leak at exit fails the clean-stop checks.
    env["ASAN_OPTIONS"] = ":".join(
        x for x in ("detect_leaks=1", "abort_on_error=0", asan) if x)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if endpoint is not None:
        env["CAREHUB_ENDPOINT"] = endpoint
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------
# Events


def run_daemon(args, timeout=30):
    """Runs carehubd with args (such as -n -c FILE) to completion, failing on a sanitizer
    report; returns (exit status, stdout, stderr)."""
    try:
        cp = subprocess.run([CAREHUBD] + args, capture_output=True, text=True,
                            timeout=timeout, env=tool_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HarnessError("carehubd %s still running after %ds" % (" ".join(args), timeout))
    marker = sanitizer_report(cp.stdout + cp.stderr)
    if marker:
        raise HarnessError("sanitizer report (%s):\n%s" % (marker, cp.stderr[-4000:]))
    return cp.returncode, cp.stdout, cp.stderr


class ConfigFileTestCase(unittest.TestCase):
    """A test that writes configuration files into a directory of its own."""

    prefix = "carehub-e2e-conf-"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.prefix)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def minimal(self):
        """The three keys every configuration needs: lines 1 to 3."""
        return ('state_dir = "%s/state";\n'
                'api = { endpoint = "ipc://%s/api.sock"; };\n'
                'notify = { endpoint = "ipc://%s/notify.sock"; };\n' % ((self.dir,) * 3))

    def write_file(self, text, name="carehubd.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write(self, text):
        """A configuration: the three required keys (lines 1-3), then text (from line 4)."""
        return self.write_file(self.minimal() + text)


def new_id():
    return str(uuid.uuid4())


def event(type_, data, source="carehub-e2e", id_=None, **attributes):
    """A CloudEvents 1.0 structured event."""
    ev = {"specversion": "1.0", "id": id_ or new_id(), "source": source, "type": type_,
          "time": "2024-01-08T09:00:00Z", "data": data}
    ev.update(attributes)
    return ev


def team_changed(team_id, name, parent_id=None, manager_id=None, **kw):
    data = {"team_id": team_id, "name": name}
    if parent_id is not None:
        data["parent_id"] = parent_id
    if manager_id is not None:
        data["manager_id"] = manager_id
    return event("team.changed", data, **kw)


def staff_hired(staff_id, name, role="carer", team_id="T1", start_date="2024-01-08",
                manager_id=None, email=None, registration=None, **kw):
    data = {"staff_id": staff_id, "name": name, "role": role, "team_id": team_id,
            "start_date": start_date}
    if manager_id is not None:
        data["manager_id"] = manager_id
    if email is not None:
        data["email"] = email
    if registration is not None:
        data["registration"] = registration
    return event("staff.hired", data, **kw)


def staff_changed(staff_id, fields, **kw):
    data = {"staff_id": staff_id}
    data.update(fields)
    return event("staff.changed", data, **kw)


def staff_left(staff_id, leave_date, **kw):
    return event("staff.left", {"staff_id": staff_id, "leave_date": leave_date}, **kw)


def filler_event(n, source="carehub-e2e-load"):
    """A small valid event with a unique id (about 300 bytes, like HR systems
    send): a team.changed for one of a handful of teams."""
    return team_changed("LOAD%d" % (n % 8), "Load team %d" % (n % 8),
                        source=source, id_=new_id())


# --------------------------------------------------------------------------
# API client


class Client:
    """A DEALER client of the API socket.

    With delimiter=True (the default) requests go out as ["", body] and
    replies are expected as ["", body]; with delimiter=False as [body].
    Replies are matched to requests by their "id"; replies that arrive while
    waiting for another one are kept for later.
    """

    _counter = 0

    def __init__(self, endpoint, delimiter=True, context=None, socket_type=zmq.DEALER,
                 curve=None):
        """curve: (server public key, client public key, client secret key),
        Z85 bytes, for a daemon with security.curve; None: plain."""
        self.context = context or zmq.Context.instance()
        self.sock = self.context.socket(socket_type)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = curve
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.delimiter = delimiter
        self.pending = {}  # json-encoded id -> reply

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @classmethod
    def next_id(cls):
        cls._counter += 1
        return "r%d" % cls._counter

    def send_frames(self, frames):
        """Sends raw frames (a list of bytes) exactly as given."""
        self.sock.send_multipart(frames)

    def send_body(self, body):
        """Sends one body (bytes or str) in this client's envelope shape."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_frames([b"", body] if self.delimiter else [body])

    def send(self, request):
        """Sends a request object, giving it an id if it has none; returns the id."""
        if "id" not in request:
            request = dict(request, id=self.next_id())
        self.send_body(json.dumps(request))
        return request["id"]

    def recv_frames(self, timeout=REPLY_TIMEOUT):
        """The next message's frames, or raises HarnessError at the deadline."""
        if not self.sock.poll(int(timeout * 1000)):
            raise HarnessError("no reply from %s within %.1fs" % (self.endpoint, timeout))
        return self.sock.recv_multipart()

    def recv(self, timeout=REPLY_TIMEOUT):
        """The next reply, parsed; checks the envelope shape."""
        frames = self.recv_frames(timeout)
        if self.delimiter:
            if len(frames) != 2 or frames[0] != b"":
                raise HarnessError("reply frames %r are not ['', body]" % (frames,))
        elif len(frames) != 1:
            raise HarnessError("reply frames %r are not [body]" % (frames,))
        try:
            return json.loads(frames[-1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise HarnessError("reply is not JSON (%s): %r" % (e, frames[-1][:200]))

    def recv_for(self, request_id, timeout=REPLY_TIMEOUT):
        """Waits for the reply whose id is request_id."""
        key = json.dumps(request_id)
        end = time.monotonic() + timeout
        while key not in self.pending:
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError("no reply with id %s within %.1fs" % (key, timeout))
            reply = self.recv(left)
            self.pending[json.dumps(reply.get("id"))] = reply
        return self.pending.pop(key)

    def request(self, request, timeout=REPLY_TIMEOUT):
        return self.recv_for(self.send(request), timeout)

    def raw_request(self, body, timeout=REPLY_TIMEOUT):
        """Sends a raw body and returns the next reply, whatever its id."""
        self.send_body(body)
        return self.recv(timeout)

    def status(self, timeout=REPLY_TIMEOUT):
        return self.request({"op": "status"}, timeout)

    def publish(self, events, timeout=REPLY_TIMEOUT):
        """Publishes events in one request; returns the reply."""
        return self.request({"op": "publish", "events": list(events)}, timeout)


def statuses(reply):
    """The per-event outcomes of a publish reply: a list of "stored",
    "duplicate" or "rejected:CODE"."""
    out = []
    for r in reply["results"]:
        if r.get("status") == "rejected":
            out.append("rejected:%s" % r.get("error", {}).get("code"))
        else:
            out.append(r.get("status"))
    return out


def wait_disconnect(monitor, timeout):
    """Waits on a socket monitor for EVENT_DISCONNECTED; True when seen."""
    from zmq.utils.monitor import recv_monitor_message
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0 or not monitor.poll(int(left * 1000)):
            return False
        msg = recv_monitor_message(monitor)
        if msg["event"] == zmq.EVENT_DISCONNECTED:
            return True


# --------------------------------------------------------------------------
# Configuration


def config_text(state_dir, api, notify, limits=None, commit=None, extra=""):
    """A carehubd.conf in libconfig syntax."""
    def group(name, values):
        if not values:
            return ""
        items = " ".join("%s = %s;" % (k, json.dumps(v)) for k, v in values.items())
        return "%s = { %s };\n" % (name, items)
    return ('state_dir = "%s";\n'
            'api = { endpoint = "%s"; };\n'
            'notify = { endpoint = "%s"; };\n' % (state_dir, api, notify)
            + group("limits", limits) + group("commit", commit) + extra)


# --------------------------------------------------------------------------
# The daemon


class Daemon:
    """The real carehubd in a fresh temporary directory.

    Layout of the directory: carehubd.conf, state/ (the state_dir),
    api.sock and notify.sock, and stderr.log (every run's stderr, appended).
    """

    def __init__(self, limits=None, commit=None, extra_config="", asan_options=None,
                 workdir=None, keep=False, state_dir=None, env=None, test_clock=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="carehub-e2e-")
        # The harness creates the default state_dir; one given here is left as it is.
        self.create_state_dir = state_dir is None
        self.state_dir = state_dir or os.path.join(self.workdir, "state")
        self.api = "ipc://%s/api.sock" % self.workdir
        self.notify = "ipc://%s/notify.sock" % self.workdir
        self.conf = os.path.join(self.workdir, "carehubd.conf")
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self.asan_options = asan_options
        self.extra_env = env or {}
        # An RFC 3339 time: the daemon runs on a test clock starting there
        # (--test-clock); set self.test_clock before a restart to go on from
        # where the test has moved it.
        self.test_clock = test_clock
        self.keep = keep or bool(os.environ.get("CAREHUB_E2E_KEEP"))
        self.proc = None
        self.runs = 0
        self._clients = []
        self._stderr_offset = 0
        # (server public, client public, client secret) for wait_ready(),
        # status() and client() when the daemon runs with security.curve.
        self.client_curve = None
        with open(self.conf, "w") as f:
            f.write(config_text(self.state_dir, self.api, self.notify, limits, commit,
                                extra_config))

    # -- process control

    def start(self, wait=True, timeout=START_TIMEOUT):
        """Starts carehubd -c; with wait, returns once it answers status."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if self.create_state_dir:
            os.makedirs(self.state_dir, exist_ok=True)
        env = tool_env()
        if self.asan_options:
            # Later flags override earlier ones in ASAN_OPTIONS.
            env["ASAN_OPTIONS"] += ":" + self.asan_options
        env.update(self.extra_env)
        self._stderr_offset = os.path.getsize(self.stderr_path) if os.path.exists(
            self.stderr_path) else 0
        with open(self.stderr_path, "ab") as err:
            argv = [CAREHUBD, "-c", self.conf]
            if self.test_clock:
                argv += ["--test-clock", self.test_clock]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=env, close_fds=True)
        self.runs += 1
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until the daemon answers a status request (sent once; ZeroMQ
        delivers it as soon as the daemon binds), failing early if it exits."""
        end = time.monotonic() + timeout
        with Client(self.api, curve=self.client_curve) as c:
            rid = c.send({"op": "status"})
            while True:
                if self.proc.poll() is not None:
                    raise HarnessError("carehubd exited with %s before answering status:\n%s"
                                       % (self.proc.returncode, self.run_stderr()))
                left = end - time.monotonic()
                if left <= 0:
                    raise HarnessError("carehubd did not answer status within %.0fs:\n%s"
                                       % (timeout, self.run_stderr()))
                if c.sock.poll(int(min(left, 0.2) * 1000)):
                    reply = c.recv()
                    if reply.get("id") == rid and reply.get("ok") is True:
                        return reply
                    raise HarnessError("first status reply is not ok: %r" % (reply,))

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then waits for the exit; returns the exit status."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HarnessError("carehubd did not exit within %.0fs of SIGTERM:\n%s"
                               % (timeout, self.run_stderr()))

    def stop_clean(self, timeout=STOP_TIMEOUT):
        """SIGTERM; fails unless the daemon exits 0 with no sanitizer report."""
        rc = self.stop(timeout)
        text = self.run_stderr()
        if rc != 0:
            raise HarnessError("carehubd exited %s after SIGTERM (0 expected):\n%s"
                               % (rc, text[-6000:]))
        marker = sanitizer_report(text)
        if marker:
            raise HarnessError("sanitizer report (%s) in carehubd stderr:\n%s"
                               % (marker, text[-6000:]))
        return rc

    def kill(self):
        """SIGKILL and reap."""
        if self.running():
            self.proc.kill()
        self.proc.wait()

    def restart(self, wait=True):
        """Starts again on the same state directory (after stop or kill)."""
        if self.running():
            raise HarnessError("restart while running")
        return self.start(wait)

    def close(self):
        for c in self._clients:
            c.close()
        self._clients = []
        if self.running():
            self.kill()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- observation

    def stderr(self):
        """All stderr written by every run of this daemon."""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def run_stderr(self):
        """Stderr of the current (or last) run only."""
        with open(self.stderr_path, "rb") as f:
            f.seek(self._stderr_offset)
            return f.read().decode("utf-8", "replace")

    def backtraces(self):
        """Every thread's backtrace of the running daemon (gdb), for the
        failure message of a hang; empty when gdb is missing or fails."""
        gdb = shutil.which("gdb")
        if not gdb or not self.running():
            return ""
        try:
            cp = subprocess.run([gdb, "-p", str(self.pid), "-batch", "-nx",
                                 "-ex", "thread apply all bt 25"],
                                capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return "(gdb timed out)"
        return "\n".join(x for x in cp.stdout.splitlines()
                         if x.startswith(("Thread", "#")))

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise HarnessError("no VmRSS for pid %d" % self.pid)

    def client(self, **kw):
        """A DEALER client on the API socket, closed with the daemon."""
        kw.setdefault("curve", self.client_curve)
        c = Client(self.api, **kw)
        self._clients.append(c)
        return c

    def status(self):
        with Client(self.api, curve=self.client_curve) as c:
            reply = c.status()
        if reply.get("ok") is not True:
            raise HarnessError("status failed: %r" % (reply,))
        return reply

    def db_path(self):
        """The daemon's SQLite database: the one file in state_dir that starts
        with the SQLite header."""
        found = []
        for name in sorted(os.listdir(self.state_dir)):
            path = os.path.join(self.state_dir, name)
            if name.endswith(("-wal", "-shm", "-journal")) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    found.append(path)
        if len(found) != 1:
            raise HarnessError("expected one SQLite database in %s, found %r (%r)"
                               % (self.state_dir, found, os.listdir(self.state_dir)))
        return found[0]

    def db(self):
        """A read-only connection to the database (use while the daemon runs or
        after a clean stop)."""
        return sqlite3.connect("file:%s?mode=ro" % self.db_path(), uri=True, timeout=30)


# --------------------------------------------------------------------------
# Database inspection.  Stored events are rows of the "events" table, one per
# event, keyed for de-duplication by (source, event_id) (schema version 1).


def events_table(conn):
    """(table, source column, id column) of the table holding stored events;
    fails clearly if the schema no longer has them."""
    cols = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    if "source" not in cols or "event_id" not in cols:
        raise HarnessError("the events table has no (source, event_id) columns: %r" % cols)
    return ("events", "source", "event_id")


def stored_event_keys(conn):
    """A dict (source, id) -> number of rows, over every stored event."""
    table, src, idc = events_table(conn)
    return {(s, i): n for s, i, n in conn.execute(
        "SELECT %s, %s, count(*) FROM %s GROUP BY 1, 2" % (src, idc, table))}


# --------------------------------------------------------------------------
# Client tools


def run_tool(path, args, endpoint=None, input=None, timeout=60, extra_env=None, cwd=None):
    """Runs a client tool to completion; returns CompletedProcess (text).
    A tool still running at the deadline fails the test."""
    try:
        cp = subprocess.run([path] + list(args), input=input, capture_output=True, text=True,
                            timeout=timeout, env=tool_env(endpoint, extra_env), cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise HarnessError("%s %s still running after %.0fs; stderr: %s"
                           % (os.path.basename(path), " ".join(args), timeout,
                              (e.stderr or b"")[-2000:]))
    marker = sanitizer_report(cp.stderr)
    if marker:
        raise HarnessError("sanitizer report (%s) from %s:\n%s"
                           % (marker, os.path.basename(path), cp.stderr[-6000:]))
    return cp


def run_pub(args, endpoint=None, **kw):
    return run_tool(CAREHUB_PUB, args, endpoint, **kw)


def run_ctl(args, endpoint=None, **kw):
    return run_tool(CAREHUBCTL, args, endpoint, **kw)


def start_tool(path, args, endpoint=None, workdir=None, extra_env=None):
    """Starts a client tool in the background, stdout and stderr to files in
    workdir; returns (Popen, stdout path, stderr path)."""
    workdir = workdir or tempfile.mkdtemp(prefix="carehub-e2e-tool-")
    base = os.path.join(workdir, os.path.basename(path))
    out, err = base + ".out", base + ".err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([path] + list(args), stdin=subprocess.DEVNULL, stdout=o,
                                stderr=e, env=tool_env(endpoint, extra_env))
    return proc, out, err


SUMMARY_RE = re.compile(r"stored (\d+), duplicate (\d+), rejected (\d+)")


def pub_summary(stdout):
    """(stored, duplicate, rejected) from carehub-pub's summary line."""
    m = SUMMARY_RE.search(stdout)
    if not m:
        raise HarnessError("no summary line 'stored N, duplicate N, rejected N' in %r"
                           % stdout[-500:])
    return tuple(int(x) for x in m.groups())


def write_ndjson(path, events):
    with open(path, "w") as f:
        for ev in events:
            f.write(json.dumps(ev) + "\n")


# --------------------------------------------------------------------------
# unittest base


class DaemonTestCase(unittest.TestCase):
    """One daemon shared by the tests of a class (start-up under ASan is not
    free); tearDownClass fails the class unless it stops cleanly."""

    daemon_kwargs = {}

    @classmethod
    def setUpClass(cls):
        for path in (CAREHUBD, CAREHUB_PUB, CAREHUBCTL):
            if not os.access(path, os.X_OK):
                raise HarnessError("%s is not built" % path)
        cls.daemon = Daemon(**cls.daemon_kwargs)
        try:
            cls.daemon.start()
        except Exception:
            cls.daemon.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.daemon.running():
                cls.daemon.stop_clean()
        finally:
            cls.daemon.close()

    def assertServing(self, daemon=None):
        """The daemon is alive and answers status."""
        daemon = daemon or self.daemon
        self.assertTrue(daemon.running(), "carehubd died:\n%s" % daemon.run_stderr()[-3000:])
        reply = daemon.status()
        self.assertIs(reply["ok"], True)
        return reply

    def assertError(self, reply, code, request_id="__any__"):
        """reply is an error envelope with the given code and a message."""
        self.assertIs(reply.get("ok"), False, reply)
        self.assertIsInstance(reply.get("error"), dict, reply)
        self.assertEqual(reply["error"].get("code"), code, reply)
        self.assertIsInstance(reply["error"].get("message"), str, reply)
        self.assertTrue(reply["error"]["message"], reply)
        if request_id != "__any__":
            self.assertEqual(reply.get("id"), request_id, reply)

    def assertRejected(self, result, code):
        self.assertEqual(result.get("status"), "rejected", result)
        self.assertEqual(result.get("error", {}).get("code"), code, result)
        self.assertTrue(result["error"].get("message"), result)
