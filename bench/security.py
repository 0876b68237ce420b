#!/usr/bin/python3
"""bench/security.py: a legitimate client's latency while hostile clients
hammer carehubd, with CURVE and without.

For each mode (security.curve true, then false) a fresh carehubd is started
with its API on TCP loopback, and a legitimate client (the admin's key with
CURVE) times --rounds "status" round trips (p50, p99, max), first on a quiet
daemon, then while three kinds of hostile client run in threads:

  - garbage: plain TCP connections sending random bytes (not ZeroMQ);
  - stalled: TCP connections sending half a ZMTP greeting, then nothing,
    five at a time (dropped after limits.handshake_timeout_ms, 1000 here);
  - unknown keys: a ZeroMQ client with a key nobody authorised (without
    CURVE: a client with CURVE keys against the plain daemon), reconnecting
    in a loop.

A figure program, not a test: not part of ctest, it asserts nothing about
speed.  The table is followed by one line of JSON with every figure.

Usage (from the repository root, after a Release build):

  cmake -S . -B /tmp/bench-build -DCMAKE_BUILD_TYPE=Release
  cmake --build /tmp/bench-build -j2
  /usr/bin/python3 bench/security.py --build-dir /tmp/bench-build
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def summary(values):
    return {"p50_ms": round(percentile(values, 50), 3), "p99_ms": round(percentile(values, 99), 3),
            "max_ms": round(max(values), 3), "n": len(values)}


def time_status(client, rounds):
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        reply = client.status()
        out.append((time.perf_counter() - t) * 1000)
        if reply.get("ok") is not True:
            raise SystemExit("status refused: %r" % (reply,))
    return out


class Hostiles:
    """Threads attacking port until stopped; counts each kind's rounds."""

    def __init__(self, h, port, endpoint, curve):
        self.h = h
        self.port = port
        self.endpoint = endpoint
        self.curve = curve
        self.stop = threading.Event()
        self.rounds = {"garbage": 0, "stalled": 0, "unknown_key": 0}
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.garbage, self.stalled, self.unknown)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def garbage(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(os.urandom(512))
                    s.settimeout(2)
                    while s.recv(4096):
                        pass
            except OSError:
                pass
            self.rounds["garbage"] += 1

    def stalled(self):
        while not self.stop.is_set():
            socks = []
            try:
                for _ in range(5):
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    s.sendall(b"\xff\x00\x00\x00")
                    socks.append(s)
                self.stop.wait(0.2)
            except OSError:
                pass
            for s in socks:
                s.close()
            self.rounds["stalled"] += 1

    def unknown(self):
        ctx = zmq.Context()
        while not self.stop.is_set():
            c = self.h.Client(self.endpoint, context=ctx, curve=self.curve)
            c.send({"op": "status"})
            c.sock.poll(100)
            c.close()
            self.rounds["unknown_key"] += 1
        ctx.term()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_mode(h, keygen, curve, rounds):
    d = h.Daemon()
    try:
        keydir = os.path.join(d.workdir, "keys")
        os.makedirs(keydir)
        server = keygen(keydir, "carehubd")
        admin = keygen(keydir, "admin")
        stranger = keygen(keydir, "stranger")
        authorised = os.path.join(d.workdir, "authorised_keys")
        with open(authorised, "w") as f:
            f.write("%s admin admin\n" % admin[0].decode())
        port = free_port()
        d.api = "tcp://127.0.0.1:%d" % port
        extra = ""
        if curve:
            extra = ('security = { curve = true; server_key_file = "%s"; '
                     'authorised_keys = "%s"; };\n'
                     % (os.path.join(keydir, "carehubd.key"), authorised))
            d.client_curve = (server[0],) + admin
        with open(d.conf, "w") as f:
            f.write(h.config_text(d.state_dir, d.api, d.notify,
                                  limits={"handshake_timeout_ms": 1000}, extra=extra))
        d.start()
        client = d.client()
        time_status(client, 100)  # warm up
        quiet = time_status(client, rounds)
        with Hostiles(h, port, d.api, (server[0],) + stranger) as hostiles:
            hostile = time_status(client, rounds)
        d.stop_clean()
        return {"quiet": summary(quiet), "hostile": summary(hostile),
                "hostile_rounds": dict(hostiles.rounds)}
    finally:
        d.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True, help="a (Release) build directory")
    ap.add_argument("--rounds", type=int, default=3000, help="status requests per phase")
    args = ap.parse_args()
    os.environ["CAREHUB_BIN_DIR"] = os.path.abspath(args.build_dir)
    os.environ["CAREHUB_SOURCE_DIR"] = SOURCE_DIR
    sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))
    import harness as h
    from test_security import keygen

    figures = {}
    for curve in (True, False):
        figures["curve" if curve else "plain"] = run_mode(h, keygen, curve, args.rounds)
    print("legitimate client's status round trip (ms), %d requests per phase" % args.rounds)
    print("%-6s %-8s %8s %8s %8s   hostile rounds" % ("mode", "phase", "p50", "p99", "max"))
    for mode, f in figures.items():
        for phase in ("quiet", "hostile"):
            s = f[phase]
            print("%-6s %-8s %8.3f %8.3f %8.3f   %s" % (
                mode, phase, s["p50_ms"], s["p99_ms"], s["max_ms"],
                f["hostile_rounds"] if phase == "hostile" else ""))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
