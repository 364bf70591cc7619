#!/usr/bin/env python3
"""Upload-to-verdict time of `forensight serve` against `forensight detect` on the same clip (docs/BENCHMARKS.md),
and 32 concurrent uploads (accepted or told to retry, all finished, server RSS alone and with its analysis children).

    python3 scripts/serve/latency.py BINARY CLIP [--runs 3] [--concurrent 32] [--port 18282]

Each upload is a copy of CLIP with different metadata (ffmpeg -c copy), so no upload is answered from the
deduplicated result of another. Standard library plus ffmpeg."""
import argparse, json, os, subprocess, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from kill_test import get, start  # noqa: E402


def upload(port, path):
    boundary = "latency-boundary"
    data = open(path, "rb").read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\"\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/analyses", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as error:
        return error.code, None, error.headers.get("Retry-After")


def wait_done(port, id, poll=0.1):
    while True:
        state = get(port, f"/api/v1/analyses/{id}")
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(poll)


def copy(clip, folder, n):
    out = os.path.join(folder, f"copy{n}.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", clip, "-c", "copy", "-metadata", f"comment=run{n}-{time.time()}", out], check=True)
    return out


def rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    """The live descendants of pid (the analysis children and the decoders they start)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in open(f"/proc/{pid}/task/{task}/children").read().split():
                found += [int(child)] + children(int(child))
    except OSError:
        pass
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("clip")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--queue", type=int, default=64)
    parser.add_argument("--port", type=int, default=18282)
    parser.add_argument("--in-process", action="store_true", help="serve --in-process: analyses on a thread of the server (no child)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="forensight-latency-")
    log = open(os.path.join(folder, "server.log"), "ab")
    server = start(args.binary, os.path.join(folder, "data"), args.port, log) if args.queue == 64 and not args.in_process else None
    if server is None:
        server = subprocess.Popen([args.binary, "serve", "--data", os.path.join(folder, "data"), "--port", str(args.port),
                                   "--queue-limit", str(args.queue)] + (["--in-process"] if args.in_process else []), stdout=log, stderr=log)
        time.sleep(5)
    detect_s, serve_s = [], []
    for run in range(args.runs):
        path = copy(args.clip, folder, run)
        t = time.monotonic()
        subprocess.run([args.binary, "detect", path, "--json"], check=True, capture_output=True)
        detect_s.append(time.monotonic() - t)
        path = copy(args.clip, folder, 100 + run)
        t = time.monotonic()
        status, body, _ = upload(args.port, path)
        assert status == 202, status
        state = wait_done(args.port, body["id"])
        serve_s.append(time.monotonic() - t)
        assert state["status"] == "done", state
    copies = [copy(args.clip, folder, 1000 + n) for n in range(args.concurrent)]
    answers, peak, peak_total = [], [0], [0]
    stop = threading.Event()

    def sample():
        # The server alone, and the server with its analysis children (and their decoders).
        while not stop.is_set():
            own = rss_kb(server.pid)
            peak[0] = max(peak[0], own)
            peak_total[0] = max(peak_total[0], own + sum(rss_kb(c) for c in children(server.pid)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=lambda p=p: answers.append(upload(args.port, p))) for p in copies]
    t = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a[1]["id"] for a in answers if a[0] == 202]
    retry = [a for a in answers if a[0] == 503 and a[2]]
    finals = [wait_done(args.port, id, poll=1)["status"] for id in accepted]
    drain = time.monotonic() - t
    stop.set()
    sampler.join()
    server.terminate()
    server.wait()
    print(json.dumps({"detect_s": [round(x, 2) for x in detect_s], "serve_upload_to_verdict_s": [round(x, 2) for x in serve_s],
                      "ratio_median": round(sorted(serve_s)[len(serve_s) // 2] / sorted(detect_s)[len(detect_s) // 2], 3),
                      "concurrent": args.concurrent, "accepted": len(accepted), "told_to_retry": len(retry),
                      "other": len(answers) - len(accepted) - len(retry), "accepted_done": finals.count("done"),
                      "drain_s": round(drain, 1), "peak_rss_mb": round(peak[0] / 1024, 1),
                      "peak_rss_with_children_mb": round(peak_total[0] / 1024, 1)}))


if __name__ == "__main__":
    main()
