#!/usr/bin/env python3
"""Hand measurements for the runs issue (the benchmark-suite issue turns these into a suite).

Usage: bench/sse_by_hand.py BASE_URL DATABASE_URL [STREAMS]
  - replay: stores 10,000 events in one session and times a full SSE replay (no active run, so the
    stream closes after the last event);
  - idle streams: opens STREAMS (default 10000) `/api/sessions/updates` streams and reports the
    server's RSS (by the pid listening on BASE_URL's port).
Needs: psql on PATH, a running webedt-api at BASE_URL using DATABASE_URL.
"""
import json, os, re, resource, socket, subprocess, sys, time, urllib.request

base, db = sys.argv[1], sys.argv[2]
streams = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
host, port = re.match(r"http://([^:/]+):(\d+)", base).groups()
port = int(port)

def req(method, path, body=None, token=None):
    r = urllib.request.Request(base + path, method=method,
                               data=json.dumps(body).encode() if body is not None else None,
                               headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(r) as res:
        return res.headers, res.read()

email = f"bench{int(time.time()*1000)}@example.com"
h, _ = req("POST", "/api/auth/register", {"email": email, "password": "password 123"})
token = re.search(r"webedt_session=([^;]+)", h["set-cookie"]).group(1)
_, body = req("POST", "/api/sessions", {}, token)
sid = json.loads(body)["id"]
subprocess.run(["psql", "-q", db, "-c",
    f"INSERT INTO events (chat_session_id, seq, type, data) SELECT '{sid}', g, 'assistant_message', "
    f"jsonb_build_object('text', 'delta number ' || g) FROM generate_series(1, 10000) g; "
    f"UPDATE chat_sessions SET last_seq = 10000 WHERE id = '{sid}';"], check=True)

def replay():
    t = time.perf_counter()
    r = urllib.request.Request(f"{base}/api/sessions/{sid}/events/stream", headers={"authorization": f"Bearer {token}"})
    n = 0
    with urllib.request.urlopen(r) as res:
        for line in res:
            if line.startswith(b"id: "):
                n += 1
    return time.perf_counter() - t, n

replay()  # warm
times = []
for _ in range(5):
    dt, n = replay()
    assert n == 10000, n
    times.append(dt)
print(f"replay of 10,000 stored events: best {min(times)*1000:.0f} ms, median {sorted(times)[2]*1000:.0f} ms")

pid = subprocess.run(["sh", "-c", f"ss -ltnp 'sport = :{port}' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2"],
                     capture_output=True, text=True).stdout.strip()
def rss():
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024
print(f"server pid {pid}, RSS before streams: {rss():.1f} MiB")
resource.setrlimit(resource.RLIMIT_NOFILE, (streams + 1000, streams + 1000))
socks = []
t = time.perf_counter()
request = (f"GET /api/sessions/updates HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
           "Accept: text/event-stream\r\n\r\n").encode()
for i in range(streams):
    s = socket.create_connection((host, port))
    s.sendall(request)
    socks.append(s)
ok = 0
for s in socks:
    s.settimeout(10)
    if b"200 OK" in s.recv(4096):
        ok += 1
print(f"{ok} idle SSE streams open after {time.perf_counter()-t:.1f} s; server RSS {rss():.1f} MiB")
_, metrics = req("GET", "/metrics")
m = re.search(rb"webedt_sse_streams_open (\d+)", metrics)
print("webedt_sse_streams_open", m.group(1).decode() if m else "?")
for s in socks:
    s.close()
