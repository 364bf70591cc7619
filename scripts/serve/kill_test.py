#!/usr/bin/env python3
"""SIGKILL the server at random moments during a stream of uploads; every upload that got a 202 (or 200) must end
with exactly one committed result (docs/RELIABILITY.md).

    python3 scripts/serve/kill_test.py BINARY [--uploads 100] [--kills 20] [--port 18181] [--seed 1]

Uploads are small PNGs (flat colours, unique bytes each), so the test measures the queue, not the detector.
Standard library only."""
import argparse, json, os, random, signal, sqlite3, struct, subprocess, sys, tempfile, time, urllib.request, zlib


def png(seed, width=64, height=48):
    """A flat-colour PNG whose bytes depend on seed."""
    raw = b"".join(b"\x00" + bytes(((seed * 7) % 256, (seed * 13) % 256, seed // 256 % 256)) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(port, data, name):
    boundary = "kill-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/analyses", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return json.loads(response.read())


def start(binary, data, port, log):
    process = subprocess.Popen([binary, "serve", "--data", data, "--port", str(port), "--queue", "1000"],
                               stdout=log, stderr=log)
    for _ in range(600):
        try:
            get(port, "/healthz")
            return process
        except Exception:
            if process.poll() is not None:
                sys.exit(f"server exited with {process.returncode}")
            time.sleep(0.1)
    sys.exit("server did not answer /healthz")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--port", type=int, default=18181)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data = tempfile.mkdtemp(prefix="forensight-kill-")
    log = open(os.path.join(data, "server.log"), "ab")
    kill_at = sorted(rng.sample(range(1, args.uploads), args.kills))
    server = start(args.binary, data, args.port, log)
    acknowledged, refused, lost_connection, kills = {}, 0, 0, 0
    for i in range(args.uploads):
        if kills < len(kill_at) and i == kill_at[kills]:
            time.sleep(rng.uniform(0, 0.5))   # mid-analysis, mid-upload or idle
            server.send_signal(signal.SIGKILL)
            server.wait()
            kills += 1
            server = start(args.binary, data, args.port, log)
        try:
            status, body = upload(args.port, png(i), f"u{i}.png")
        except Exception:
            lost_connection += 1
            continue
        if status in (200, 202):
            acknowledged[body["id"]] = i
        else:
            refused += 1
    # Let the last server finish the queue.
    deadline = time.time() + 1800
    while time.time() < deadline:
        states = [get(args.port, f"/api/v1/analyses/{id}")["status"] for id in acknowledged]
        if all(s in ("done", "failed") for s in states):
            break
        time.sleep(1)
    server.send_signal(signal.SIGTERM)
    server.wait()
    db = sqlite3.connect(os.path.join(data, "jobs.sqlite"))
    rows = {id: (status, result, attempts) for id, status, result, attempts in
            db.execute("SELECT id, status, result, attempts FROM analyses")}
    missing = [id for id in acknowledged if id not in rows]
    unfinished = [id for id in acknowledged if id in rows and rows[id][0] != "done"]
    without_result = [id for id in acknowledged if id in rows and rows[id][0] == "done" and not rows[id][1]]
    rerun = sum(1 for id in acknowledged if id in rows and rows[id][2] > 1)
    print(json.dumps({"uploads": args.uploads, "kills": kills, "acknowledged": len(acknowledged), "refused": refused,
                      "connection_lost": lost_connection, "missing": len(missing), "not_done": len(unfinished),
                      "done_without_result": len(without_result), "jobs_run_more_than_once": rerun, "data": data}))
    sys.exit(1 if missing or unfinished or without_result else 0)


if __name__ == "__main__":
    main()
