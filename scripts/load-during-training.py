#!/usr/bin/env python3
"""Comment-submission latency with and without a training job running.

Starts the release binary on a fresh SQLite database (port 18231, loopback
only), imports the YouTube test split as labelled examples, then posts comments
from 4 client threads: first for a fixed time with nothing else running, then
while a training job (shipped base data + the site's examples) runs. Prints p50,
p90, p99 and max per phase. Usage: scripts/load-during-training.py [SECONDS]
"""
import json, os, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT, TOKEN, THREADS = 18231, "load-test-token-0123456789", 4
BASE = f"http://127.0.0.1:{PORT}"
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def load(label, until):
    latencies, errors, counter = [], [], [0]
    lock = threading.Lock()

    def worker(n):
        while not until():
            with lock:
                counter[0] += 1
                i = counter[0]
            body = {"post_id": f"load-{n}", "author_name": "Load", "author_email": f"{label.replace(' ', '-')}{i}@example.com",
                    "content": f"Load test comment {label} number {i}, nothing to see here."}
            start = time.perf_counter()
            status, _ = call("POST", "/api/v1/comments", body)
            elapsed = time.perf_counter() - start
            with lock:
                (latencies if status == 201 else errors).append(elapsed if status == 201 else status)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not latencies:
        raise SystemExit(f"{label}: no comment accepted; statuses {sorted(set(errors))}")
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    print(f"{label:>16}: {len(latencies):5d} comments, p50 {q(0.5):6.2f} ms, p90 {q(0.9):6.2f} ms, "
          f"p99 {q(0.99):6.2f} ms, max {latencies[-1] * 1000:7.2f} ms, errors {len(errors)}")


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/load.db", REPLYGUARD_BIND=f"127.0.0.1:{PORT}",
               REPLYGUARD_ADMIN_TOKEN=TOKEN, REPLYGUARD_FLOOD_SECONDS="0", REPLYGUARD_RATE_LIMIT_PER_MINUTE="0",
               RUST_LOG="warn")
    server = subprocess.Popen([os.path.join(ROOT, "target/release/replyguard")], env=env)
    try:
        for _ in range(100):
            try:
                if call("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        rows = [json.loads(l) for l in open(os.path.join(ROOT, "tests/data/youtube-test.jsonl"))]
        status, body = call("POST", "/api/v1/admin/training-examples",
                            [{"content": r["text"], "label": r["label"]} for r in rows], TOKEN)
        assert status == 200, body
        deadline = time.time() + SECONDS
        load("idle", lambda: time.time() > deadline)
        status, body = call("POST", "/api/v1/admin/models/train", {"include_base_data": True}, TOKEN)
        assert status == 202, body
        job = body["job_id"]

        def job_status():
            return call("GET", f"/api/v1/admin/jobs/{job}", None, TOKEN)[1]["status"]

        while job_status() == "queued":
            time.sleep(0.05)
        started = time.time()
        load("during training", lambda: job_status() != "running")
        final = call("GET", f"/api/v1/admin/jobs/{job}", None, TOKEN)[1]
        print(f"training job {job}: {final['status']} after about {time.time() - started:.1f} s, "
              f"activated {final['activated']}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
