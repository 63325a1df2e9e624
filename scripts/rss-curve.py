#!/usr/bin/env python3
"""Resident memory of the release binary under a stream of writes and reads.

Starts target/release/replyguard on a fresh SQLite file (or DATABASE_URL, if
set, on a database of your choosing), loopback only, then sends WRITES comment
posts and READS public reads (a page of the post's approved comments) from
THREADS client threads over keep-alive connections, the writes spread evenly
among the reads, and prints the server's RSS (VmRSS) every STEP requests, and
the failures by status. Environment
variables given on the command line (e.g. MALLOC_ARENA_MAX=2) reach the server,
so allocator and cache settings can be compared run against run.

Usage: scripts/rss-curve.py [WRITES] [READS] [THREADS]   (default 40000 70000 8)
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRITES = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000
READS = int(sys.argv[2]) if len(sys.argv) > 2 else 70_000
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
STEP = 10_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    port = free_port()
    tmp = tempfile.mkdtemp()
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite://{tmp}/rss.db")
    env.update(
        REPLYGUARD_BIND=f"127.0.0.1:{port}",
        REPLYGUARD_FLOOD_SECONDS="0",
        REPLYGUARD_RATE_LIMIT_PER_MINUTE="0",
        REPLYGUARD_MODERATION="auto",
        RUST_LOG="warn",
    )
    server = subprocess.Popen([os.path.join(ROOT, "target/release/replyguard"), "serve"], env=env)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/readyz")
                break
            except OSError:
                time.sleep(0.1)
        total = WRITES + READS
        # Writes spread evenly among the reads.
        plan = ["w" if (i + 1) * WRITES // total != i * WRITES // total else "r" for i in range(total)]
        counter = [0]
        failures = {}
        lock = threading.Lock()
        samples = [(0, rss_mb(server.pid))]

        def worker(n):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    i = counter[0]
                    if i >= total:
                        return
                    counter[0] += 1
                    if i and i % STEP == 0:
                        samples.append((i, rss_mb(server.pid)))
                kind = plan[i]
                try:
                    if kind == "w":
                        body = json.dumps({
                            "post_id": f"post-{i % 50}", "author_name": "Load",
                            "author_email": f"load{i}@example.com",
                            "content": f"Memory curve comment number {i}, thread {n}.",
                        })
                        conn.request("POST", "/api/v1/comments", body, {"Content-Type": "application/json"})
                    else:
                        conn.request("GET", f"/api/v1/posts/post-{i % 50}/comments?limit=20")
                    res = conn.getresponse()
                    res.read()
                    if res.status >= 400:
                        with lock:
                            failures[res.status] = failures.get(res.status, 0) + 1
                except (OSError, http.client.HTTPException):
                    with lock:
                        failures["connection"] = failures.get("connection", 0) + 1
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        started = time.time()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        samples.append((total, rss_mb(server.pid)))
        took = time.time() - started
        settings = " ".join(f"{k}={os.environ[k]}" for k in ("MALLOC_ARENA_MAX", "DATABASE_URL") if k in os.environ)
        print(f"# {WRITES} writes + {READS} reads, {THREADS} threads, {took:.0f} s, "
              f"failed: {failures or 'none'}; {settings or 'defaults'}")
        print("requests  rss_mb")
        for n, mb in samples:
            print(f"{n:>8}  {mb:6.1f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
