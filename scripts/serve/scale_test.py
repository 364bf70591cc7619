#!/usr/bin/env python3
"""Two workers on one PostgreSQL queue process JOBS jobs; one worker is SIGKILLed midway. Every job must end done
with exactly one committed result; the killed worker's job is taken over when its lease expires (docs/SCALE.md).

    python3 scripts/serve/scale_test.py BINARY [--queue URL] [--jobs 200]

URL defaults to $FORENSIGHT_TEST_POSTGRES (bash scripts/setup/postgres.sh). Needs psql."""
import argparse, json, os, random, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from kill_test import png  # noqa: E402


def psql(url, sql):
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--queue", default=os.environ.get("FORENSIGHT_TEST_POSTGRES"))
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    if not args.queue:
        sys.exit("no queue: pass --queue or export FORENSIGHT_TEST_POSTGRES=$(bash scripts/setup/postgres.sh)")
    data = tempfile.mkdtemp(prefix="forensight-scale-")
    source = os.path.join(data, "archive")
    os.makedirs(source)
    salt = random.randrange(1 << 30)   # new bytes each run: nothing is answered from an earlier run's analyses
    for i in range(args.jobs):
        with open(os.path.join(source, f"f{i:04d}.png"), "wb") as f:
            f.write(png(salt + i, 320, 240))
    t = time.monotonic()
    out = subprocess.run([args.binary, "enqueue", source, "--queue", args.queue, "--data", data], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    ids = [line.split()[0] for line in out if " queued " in line]
    enqueue_s = time.monotonic() - t
    quoted = ",".join(f"'{id}'" for id in ids)
    log = open(os.path.join(data, "workers.log"), "ab")
    workers = [subprocess.Popen([args.binary, "worker", "--queue", args.queue, "--data", data], stdout=log, stderr=log) for _ in range(2)]
    t = time.monotonic()
    killed_at = None
    while time.monotonic() - t < 1800:
        done = int(psql(args.queue, f"SELECT count(*) FROM analyses WHERE id IN ({quoted}) AND status IN ('done', 'failed')"))
        if killed_at is None and done >= len(ids) // 2:
            workers[0].send_signal(signal.SIGKILL)   # mid-analysis, most likely: it never stops between jobs
            workers[0].wait()
            killed_at = done
        if done == len(ids):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - t
    for w in workers[1:]:
        w.send_signal(signal.SIGTERM)
        w.wait()
    rows = psql(args.queue, f"SELECT status, (result IS NOT NULL), attempts FROM analyses WHERE id IN ({quoted})").split("\n")
    rows = [r.split("|") for r in rows if r]
    print(json.dumps({"jobs": len(ids), "enqueue_s": round(enqueue_s, 1), "killed_after_done": killed_at,
                      "done_with_result": sum(1 for s, r, _ in rows if s == "done" and r == "t"),
                      "failed": sum(1 for s, _, _ in rows if s == "failed"),
                      "missing": len(ids) - len(rows), "taken_over": sum(1 for _, _, a in rows if int(a) > 1),
                      "seconds": round(elapsed, 1), "data": data}))
    ok = len(rows) == len(ids) == args.jobs and all(s == "done" and r == "t" for s, r, _ in rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
