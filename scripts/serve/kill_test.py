#!/usr/bin/env python3
"""SIGKILL the server at random moments during a stream of uploads; every upload that got a 202 (or 200) must end
with exactly one committed result (docs/RELIABILITY.md).

    python3 scripts/serve/kill_test.py BINARY [--uploads 100] [--kills 20] [--port 18181] [--seed 1]

Uploads are small PNGs (flat colours, unique bytes each), so the test measures the queue, not the detector.
Standard library only."""
import argparse, json, os, random, signal, sqlite3, struct, subprocess, sys, tempfile, threading, time, urllib.request, zlib


def png(seed, width=640, height=480):
    """A noise PNG whose bytes depend on seed (big enough that uploads and analyses take a moment)."""
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + rng.randbytes(3 * width) for _ in range(height))
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
    process = subprocess.Popen([binary, "serve", "--data", data, "--port", str(port), "--queue-limit", "1000"],
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
    state = {"server": start(args.binary, data, args.port, log), "kills": 0}
    lock = threading.Lock()
    acknowledged, refused, lost_connection = {}, 0, 0
    finished = threading.Event()

    def killer():
        # SIGKILL at random moments while uploads stream in and jobs run, then start a new server on the same data.
        while state["kills"] < args.kills:
            time.sleep(rng.uniform(0.2, 2.5))
            with lock:
                state["server"].send_signal(signal.SIGKILL)
                state["server"].wait()
                state["kills"] += 1
                state["server"] = start(args.binary, data, args.port, log)

    thread = threading.Thread(target=killer)
    thread.start()
    i = 0
    while i < args.uploads:
        try:
            status, body = upload(args.port, png(i), f"u{i}.png")
        except Exception:
            lost_connection += 1   # not acknowledged: the client retries the same file
            time.sleep(0.2)
            continue
        if status in (200, 202):
            acknowledged[body["id"]] = i
        else:
            refused += 1
        i += 1
    finished.set()
    thread.join()
    server, kills = state["server"], state["kills"]
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
