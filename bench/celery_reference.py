"""The reference for bench/queue.sh: a Celery 5 worker (one process, two threads) whose job
writes one row to PostgreSQL, on the same Redis and PostgreSQL as Troupe.

Run by the harness as `python celery_reference.py burst N` or `... steady N RATE`; prints one
JSON line: enqueue rate, jobs/s from the first enqueue to the last write, and the end-to-end
(enqueue → row written) p50/p99 in ms. BENCH_REDIS_URL, BENCH_POSTGRES_URL and BENCH_QUEUE name
the servers and a queue of its own.
"""

import json
import os
import subprocess
import sys
import threading
import time

import psycopg
from celery import Celery

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = os.environ["BENCH_POSTGRES_URL"]
QUEUE = os.environ.get("BENCH_QUEUE", "celery-bench")

app = Celery("celery_reference", broker=REDIS)
app.conf.update(
    task_default_queue=QUEUE,
    # Acknowledge after the job, as Troupe settles a job only once it has run.
    task_acks_late=True,
    worker_prefetch_multiplier=4,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)

_local = threading.local()


def connection():
    if not hasattr(_local, "conn"):
        _local.conn = psycopg.connect(POSTGRES, autocommit=True)
    return _local.conn


@app.task(name="record")
def record(job, enqueued_at):
    connection().execute(
        "INSERT INTO celery_jobs (job, enqueued_at, done_at) VALUES (%s, %s, clock_timestamp())",
        (job, enqueued_at),
    )


def quantile(values, q):
    values = sorted(values)
    return values[round((len(values) - 1) * q)] if values else 0.0


def wait_for(conn, n, limit_s=600):
    deadline = time.time() + limit_s
    while time.time() < deadline:
        (done,) = conn.execute("SELECT COUNT(*) FROM celery_jobs").fetchone()
        if done >= n:
            return
        time.sleep(0.05)
    raise SystemExit(f"celery: only {done} of {n} jobs done in {limit_s} s")


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    rate = float(sys.argv[3]) if mode == "steady" else 0.0
    conn = psycopg.connect(POSTGRES, autocommit=True)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS celery_jobs (job INT PRIMARY KEY, enqueued_at DOUBLE PRECISION, done_at TIMESTAMPTZ)"
    )
    conn.execute("TRUNCATE celery_jobs")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_reference", "worker", "--pool=threads",
         "--concurrency=2", "-Q", QUEUE, "--loglevel=WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=os.path.dirname(os.path.abspath(__file__)),
        stdout=subprocess.DEVNULL,
    )
    try:
        # Warm up: the worker is consuming once a job round-trips.
        record.delay(-1, time.time())
        wait_for(conn, 1, 60)
        conn.execute("TRUNCATE celery_jobs")
        started = time.time()
        for job in range(n):
            if rate:
                pause = started + job / rate - time.time()
                if pause > 0:
                    time.sleep(pause)
            record.delay(job, time.time())
        enqueued = time.time() - started
        wait_for(conn, n)
        rows = conn.execute(
            "SELECT enqueued_at, EXTRACT(EPOCH FROM done_at)::float8 FROM celery_jobs"
        ).fetchall()
    finally:
        worker.terminate()
        worker.wait(30)
    e2e = [(done - enq) * 1000.0 for enq, done in rows]
    last = max(done for _, done in rows)
    print(json.dumps({
        "enqueue_per_s": n / enqueued,
        "jobs_per_s": n / (last - started),
        "p50_ms": quantile(e2e, 0.5),
        "p99_ms": quantile(e2e, 0.99),
    }))


if __name__ == "__main__":
    main()
