#!/usr/bin/env python3
"""Sends malformed requests to a running `forensight serve` (truncated multipart, wrong types, huge headers, bad ids,
path traversal, junk methods) and checks that each gets a 4xx and that the server keeps serving (docs/RELIABILITY.md).

    python3 scripts/serve/malformed_test.py [--port 8080] [--rounds 10]

Standard library only; raw sockets, so requests can be broken in ways HTTP clients refuse to send."""
import argparse, json, random, socket, sys, urllib.request


def raw(port, payload, timeout=10):
    """Sends bytes, returns the status code of the answer (0 when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    line = data.split(b"\r\n", 1)[0].split(b" ")
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def request(method, path, headers=(), body=b""):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def cases(rng):
    b = "bnd"
    part = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n").encode()
    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(64))
    mp = [("Content-Type", f"multipart/form-data; boundary={b}")]
    yield "truncated multipart", request("POST", "/api/v1/analyses", mp, part + png[:20])
    yield "no closing boundary", request("POST", "/api/v1/analyses", mp, part + png + b"\r\n--bnd")
    yield "no file part", request("POST", "/api/v1/analyses", mp, f"--{b}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--{b}--\r\n".encode())
    yield "garbage body", request("POST", "/api/v1/analyses", mp, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000))))
    yield "text as video", request("POST", "/api/v1/analyses", mp, part + b"just text, not a video" + f"\r\n--{b}--\r\n".encode())
    yield "json body", request("POST", "/api/v1/analyses", [("Content-Type", "application/json")], b"{\"file\": 1}")
    yield "no content type", request("POST", "/api/v1/analyses", [], png)
    yield "empty boundary", request("POST", "/api/v1/analyses", [("Content-Type", "multipart/form-data; boundary=")], part)
    yield "boundary too long", request("POST", "/api/v1/analyses", [("Content-Type", "multipart/form-data; boundary=" + "a" * 300)], part)
    yield "content-length lie", request("POST", "/api/v1/analyses", mp + [("Content-Length", "999999999999")], part)
    yield "huge header", request("GET", "/api/v1/analyses", [("X-Big", "a" * 200_000)])
    yield "many headers", request("GET", "/api/v1/analyses", [(f"X-H{i}", "v") for i in range(3000)])
    for bad in ["abc", "../../etc/passwd", "..%2F..%2Fjobs.sqlite", "%2e%2e%2f%2e%2e%2f", "A" * 32, "0" * 31 + "g",
                "0" * 33, "%00", "0" * 32 + "%00", "%2F" * 5, "..", "0" * 32 + "/../../x"]:
        yield f"bad id {bad[:20]}", request("GET", f"/api/v1/analyses/{bad}")
        yield f"bad id delete {bad[:20]}", request("DELETE", f"/api/v1/analyses/{bad}")
        yield f"bad id page {bad[:20]}", request("GET", f"/analyses/{bad}")
    yield "artifact traversal", request("GET", "/api/v1/analyses/" + "0" * 32 + "/artifacts/..%2F..%2Fjobs.sqlite")
    yield "unknown analysis", request("GET", "/api/v1/analyses/" + "0" * 32)
    yield "bad page", request("GET", "/api/v1/analyses?page=-3")
    yield "bad per_page", request("GET", "/api/v1/analyses?per_page=99999")
    yield "unknown route", request("GET", "/etc/passwd")
    yield "method", request("PUT", "/api/v1/analyses/" + "0" * 32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(0)
    total, bad = 0, []
    for _ in range(args.rounds):
        for name, payload in cases(rng):
            status = raw(args.port, payload)
            total += 1
            if not 400 <= status < 500:
                bad.append((name, status))
    with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=10) as response:
        healthy = response.status == 200
    print(json.dumps({"requests": total, "not_4xx": len(bad), "examples": bad[:10], "still_serving": healthy}))
    sys.exit(0 if healthy and not bad else 1)


if __name__ == "__main__":
    main()
