#!/usr/bin/env python3
"""The WebEDT benchmark suite. Run it through `bench/run` (which builds release binaries and
starts a throwaway PostgreSQL, exporting DATABASE_URL). Prints a table and writes BENCHMARKS.md.

Every figure stands beside its reference measured in the same run, on the same machine:
  P1 /live requests/s vs a bare axum hello-world               goal >= 0.9x
  P2 authenticated GET /api/sessions vs pgbench -S (64 clients) goal >= 0.5x, p99 <= 20 ms
  P3 idle SSE streams one replica holds, and its RSS            goal 10,000 within 200 MiB
  P4 fan-out: commit on replica A -> delivery on replica B      goal p99 <= 50 ms at 1,000 events/s
  P5 replay of 10,000 stored events                             goal <= 250 ms
  P6 operator vs the test API server: 1,000 WebEDTs             goal <= 10 s, peak RSS <= 64 MiB
  P7 start -> /ready on a migrated database; binary sizes       goal <= 500 ms
  P9 coding-agent tools on a 10,000-file repository (no model): read/edit p99; search and
     list beside rg / rg --files in the same run              goal p99 <= 20 ms; >= 0.5x of rg
  C1 chaos: kill -9 of a replica under 100 streams (the chaos test at CHAOS_STREAMS=100)
Load comes from wrk (Debian package) on the same 2-core machine, so client and server share it.
"""
import json, os, platform, re, resource, socket, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
API = os.path.join(REL, "webedt-api")
HELLO = next((p for p in (os.path.join(REL, "bench-hello"),
                           os.path.join(ROOT, "bench", "hello", "target", "release", "bench-hello"))
              if os.path.exists(p)), "bench-hello")
ADMIN = os.environ["DATABASE_URL"]
SECRET = "bench-secret-0123456789abcdef0123456789"
DURATION = os.environ.get("BENCH_SECONDS", "10")
rows = []


def psql(db, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", db, "-c", sql], check=True, stdout=subprocess.DEVNULL)


def database(name):
    psql(ADMIN, f"DROP DATABASE IF EXISTS {name}")
    psql(ADMIN, f"CREATE DATABASE {name}")
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(base, within=30):
    t = time.time()
    while time.time() - t < within:
        try:
            with urllib.request.urlopen(base + "/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{base} never became ready")


# One benchmark user holds every stream and run (P3: 10,000 streams; P4: 13 runs at once), and
# P3 needs more connections than the default cap: raise the per-user limits and the connection
# cap here. Each limit stays on; the defaults are for real users.
BENCH_STREAMS = int(os.environ.get("BENCH_STREAMS", "10000"))
BENCH_LIMITS = dict(LIMIT_STREAMS_PER_USER=BENCH_STREAMS + 1000, HTTP_MAX_CONNECTIONS=BENCH_STREAMS + 5000,
                    LIMIT_RUNS_PER_USER=100000, LIMIT_RUNS_PER_MINUTE=100000)


def start_api(db, replica, **env):
    port = free_port()
    e = dict(os.environ, DATABASE_URL=db, SESSION_SECRET=SECRET, HOST="127.0.0.1", PORT=str(port),
             CONTAINER_ID=replica, LOG_FORMAT="json", RUST_LOG="warn",
             **{k: str(v) for k, v in {**BENCH_LIMITS, **env}.items()})
    p = subprocess.Popen([API], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base)
    return p, base


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def wrk(url, conns=64, headers=(), script=None):
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{DURATION}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def ms(pct):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms(50), ms(99), int(non2xx.group(1)) if non2xx else 0


def http(method, url, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    r = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                               headers=headers)
    with urllib.request.urlopen(r) as res:
        return res.headers, res.read()


# The session cookie's name, read from its one definition (contract/src/names.rs). The servers
# here run with Secure cookies (DATABASE_URL is set), so it carries the `__Host-` prefix.
_NAMES = open(os.path.join(ROOT, "contract/src/names.rs")).read()
COOKIE = (re.search(r'SECURE_COOKIE_PREFIX: &str = "([^"]*)"', _NAMES).group(1)
          + re.search(r'SESSION_COOKIE: &str = "([^"]*)"', _NAMES).group(1))


def register(base, email):
    h, _ = http("POST", base + "/api/auth/register", {"email": email, "password": "password 123"})
    return re.search(re.escape(COOKIE) + r"=([^;]+)", h["set-cookie"]).group(1)


def row(name, value, reference, goal, ok):
    rows.append((name, value, reference, goal, "met" if ok else "MISSED"))
    print(f"{name}: {value} | {reference} | goal {goal} | {'met' if ok else 'MISSED'}", flush=True)


def p1():
    db = database("bench_p1")
    api, base = start_api(db, "p1")
    hello_port = free_port()
    hello = subprocess.Popen([HELLO, f"127.0.0.1:{hello_port}"])
    time.sleep(0.5)
    best_api = best_hello = 0
    for _ in range(2):  # alternate, keep the best of each, so background noise hits both alike
        best_api = max(best_api, wrk(base + "/live")[0])
        best_hello = max(best_hello, wrk(f"http://127.0.0.1:{hello_port}/live")[0])
    api.terminate(); hello.terminate(); api.wait(); hello.wait()
    ratio = best_api / best_hello
    row("P1 /live", f"{best_api:,.0f} req/s", f"hello-world {best_hello:,.0f} req/s ({ratio:.3f}x)", ">= 0.9x", ratio >= 0.9)


def p2():
    db = database("bench_p2")
    # A pool sized for this machine (PostgreSQL's rule of thumb: about two connections per core):
    # with 32, wrk's 64 connections kept 32 backends runnable on 2 cores and p99 doubled
    # (29 ms vs 15 ms at pool 8, same throughput).
    pool = 2 * (os.cpu_count() or 2) + 4
    api, base = start_api(db, "p2", DB_POOL_MAX=pool)
    token = register(base, "p2@example.com")
    for i in range(20):
        http("POST", base + "/api/sessions", {"title": f"session {i}"}, token)
    rps, p50, p99, bad = wrk(base + "/api/sessions", headers=[f"Authorization: Bearer {token}"])
    api.terminate(); api.wait()
    pg = database("bench_pgbench")
    subprocess.run(["pgbench", "-q", "-i", "-s", "10", pg], check=True, capture_output=True)
    out = subprocess.run(["pgbench", "-S", "-c", "64", "-j", "2", "-T", DURATION, pg], capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    ratio = rps / tps
    row(f"P2 GET /api/sessions (auth, 20 rows, DB_POOL_MAX={pool})", f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {bad} errors",
        f"pgbench -S {tps:,.0f} TPS ({ratio:.3f}x)", ">= 0.5x, p99 <= 20 ms", ratio >= 0.5 and p99 <= 20 and bad == 0)


def p3_p5():
    db = database("bench_p3")
    api, base = start_api(db, "p3")
    token = register(base, "p3@example.com")
    _, body = http("POST", base + "/api/sessions", {}, token)
    sid = json.loads(body)["id"]
    psql(db, f"INSERT INTO events (chat_session_id, seq, type, data) SELECT '{sid}', g, 'assistant_message', "
             f"jsonb_build_object('text', 'delta number ' || g) FROM generate_series(1, 10000) g; "
             f"UPDATE chat_sessions SET last_seq = 10000 WHERE id = '{sid}';")

    def replay():
        t = time.perf_counter()
        r = urllib.request.Request(f"{base}/api/sessions/{sid}/events/stream", headers={"authorization": f"Bearer {token}"})
        n = 0
        with urllib.request.urlopen(r) as res:
            for line in res:
                n += line.startswith(b"id: ")
        assert n == 10000, n
        return (time.perf_counter() - t) * 1000

    replay()
    times = sorted(replay() for _ in range(5))
    row("P5 replay of 10,000 events", f"median {times[2]:.0f} ms (best {times[0]:.0f})", "5 runs, SSE to a Python client",
        "<= 250 ms", times[2] <= 250)

    streams = int(os.environ.get("BENCH_STREAMS", "10000"))
    before = rss_mib(api.pid)
    resource.setrlimit(resource.RLIMIT_NOFILE, (streams + 2000, streams + 2000))
    req = (f"GET /api/sessions/updates HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
    port = int(base.rsplit(":", 1)[1])
    socks = []
    for _ in range(streams):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
    ok = 0
    for s in socks:
        s.settimeout(30)
        ok += b" 200 " in s.recv(4096)
    time.sleep(1)
    after = rss_mib(api.pid)
    row("P3 idle SSE streams", f"{ok:,} open, RSS {after:.0f} MiB ({(after - before) * 1024 / max(ok, 1):.1f} KiB/stream)",
        f"RSS before {before:.0f} MiB", "10,000 within 200 MiB", ok >= 10000 and after <= 200)
    for s in socks:
        s.close()
    api.terminate(); api.wait()


def p4():
    db = database("bench_p4")
    # Each demo run appends an event every ~10 ms plus the insert's own time (~2-3 ms under
    # load), so ~75-80 events/s per run: 13 runs make the 1,000 events/s the goal is stated at.
    runs = int(os.environ.get("BENCH_P4_RUNS", "13"))
    env = dict(DEMO_EVENT_COUNT=600, DEMO_EVENT_DELAY_MS=10)
    a, base_a = start_api(db, "p4-a", **env)
    b, base_b = start_api(db, "p4-b", **env)
    token = register(base_a, "p4@example.com")
    sessions = []
    for _ in range(runs):
        _, body = http("POST", base_a + "/api/sessions", {}, token)
        sessions.append(json.loads(body)["id"])
    # Subscribers on B, opened before the runs start (raw sockets, drained by a thread).
    import threading
    port_b = int(base_b.rsplit(":", 1)[1])
    received = [0]
    def reader(sid):
        s = socket.create_connection(("127.0.0.1", port_b))
        # Connection: close, so the socket ends when the stream does (after the terminal event).
        s.sendall(f"GET /api/sessions/{sid}/events/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  f"Authorization: Bearer {token}\r\n\r\n".encode())
        while True:
            data = s.recv(65536)
            if not data:
                return
            received[0] += data.count(b"\nid: ") + data.startswith(b"id: ")
    # Mark the sessions as running first so B's streams stay open until the runs start.
    t0 = time.time()
    for sid in sessions:
        http("POST", f"{base_a}/api/sessions/{sid}/send", {"message": "fan out"}, token)
    threads = [threading.Thread(target=reader, args=(sid,), daemon=True) for sid in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.time() - t0
    _, metrics = http("GET", base_b + "/metrics")
    a.terminate(); b.terminate(); a.wait(); b.wait()
    buckets = [(float(m.group(1)), float(m.group(2))) for m in
               re.finditer(rb'webedt_event_delivery_lag_seconds_bucket\{le="([^"+]+)"\} (\d+)', metrics)]
    count = float(re.search(rb"webedt_event_delivery_lag_seconds_count (\d+)", metrics).group(1))
    p99 = next((le for le, c in buckets if c >= 0.99 * count), float("inf"))
    p50 = next((le for le, c in buckets if c >= 0.5 * count), float("inf"))
    total = runs * (600 + 4)
    rate = total / elapsed
    row("P4 fan-out A -> B", f"p50 <= {p50 * 1000:g} ms, p99 <= {p99 * 1000:g} ms (histogram bucket bounds), {count:,.0f} live deliveries",
        f"{rate:,.0f} events/s committed on A ({runs} runs)", "p99 <= 50 ms at 1,000 events/s", p99 <= 0.05 and rate >= 900)


def p6():
    out = subprocess.run(
        ["cargo", "test", "--release", "-q", "-p", "webedt-operator", "--test", "it", "--", "--ignored", "--nocapture", "process::rss"],
        cwd=ROOT, capture_output=True, text=True,
        env=dict(os.environ, WEBEDT_BENCH_OBJECTS=os.environ.get("BENCH_OBJECTS", "1000"),
                 WEBEDT_OPERATOR_BIN=os.path.join(REL, "webedt-operator")))
    m = re.search(r"BENCH objects=(\d+) converged_ms=(\d+) rss_kb=(\d+) hwm_kb=(\d+) requests=(\d+)", out.stdout)
    if not m:
        print(out.stdout[-3000:], out.stderr[-3000:])
        row("P6 operator", "failed to run", "", "<= 10 s, <= 64 MiB", False)
        return
    n, ms, rss, hwm, reqs = map(int, m.groups())
    row(f"P6 operator, {n} WebEDTs", f"Ready in {ms / 1000:.1f} s, peak RSS {hwm / 1024:.0f} MiB (now {rss / 1024:.0f})",
        f"{reqs:,} API requests ({reqs / n:.1f} per object)", "<= 10 s, <= 64 MiB", ms <= 10000 and hwm / 1024 <= 64)


def p7():
    db = database("bench_p7")
    p, _ = start_api(db, "p7-migrate")  # migrates
    p.terminate(); p.wait()
    times = []
    for _ in range(5):
        port = free_port()
        e = dict(os.environ, DATABASE_URL=db, SESSION_SECRET=SECRET, HOST="127.0.0.1", PORT=str(port), RUST_LOG="warn",
                 **{k: str(v) for k, v in BENCH_LIMITS.items()})
        t = time.perf_counter()
        proc = subprocess.Popen([API], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(f"http://127.0.0.1:{port}")
        times.append((time.perf_counter() - t) * 1000)
        proc.terminate(); proc.wait()
    times.sort()
    sizes = ", ".join(f"{b} {os.path.getsize(os.path.join(REL, b)) / 2**20:.1f} MiB" for b in ("webedt-api", "webedt-operator"))
    row("P7 start -> /ready (migrated DB)", f"median {times[2]:.0f} ms (best {times[0]:.0f})", sizes, "<= 500 ms", times[2] <= 500)


def p9():
    if subprocess.run(["which", "rg"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "ripgrep"], check=True)
    out = subprocess.run(["cargo", "run", "--release", "-q", "-p", "webedt-worker", "--example", "bench_tools"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ok_rw = max(r["read_p99_ms"], r["edit_p99_ms"]) <= 20
    row("P9 agent read / edit tool calls, 10,000 files",
        f"read p99 {r['read_p99_ms']:.2f} ms, edit p99 {r['edit_p99_ms']:.2f} ms", "1,000 calls each", "p99 <= 20 ms", ok_rw)
    row("P9 agent search (whole tree, 1 match) / list (1,000 files)",
        f"{r['search_ms']:.1f} ms ({r['search_vs_rg']:.2f}x of rg) / {r['list_1000_ms']:.2f} ms ({r['list_vs_rg']:.2f}x)",
        f"rg {r['rg_search_ms']:.1f} ms / rg --files {r['rg_files_1000_ms']:.2f} ms", ">= 0.5x of rg",
        r["search_vs_rg"] >= 0.5 and r["list_vs_rg"] >= 0.5)


def c1():
    n = os.environ.get("BENCH_CHAOS_STREAMS", "100")
    t = time.time()
    test = "kill_9_of_a_replica_loses_no_event_and_its_runs_are_ended_once"
    out = subprocess.run(["cargo", "test", "--release", "-q", "-p", "webedt-api", "--test", "chaos", "--", "--exact", test],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, CHAOS_STREAMS=n))
    ok = out.returncode == 0 and "1 passed" in out.stdout
    if not ok:
        print(out.stdout[-3000:], out.stderr[-3000:])
    row(f"C1 kill -9 of 1 of 3 replicas, {n} streams",
        "every client got the stored sequence, contiguous, no duplicate; lost runs ended once" if ok else "FAILED",
        f"{time.time() - t:.0f} s incl. test build", "nothing lost", ok)


ALL = ["p1", "p2", "p3", "p4", "p6", "p7", "p9", "c1"]
NOTES = "## Reading the figures"


def main():
    only = sys.argv[1:] or ALL
    for name in only:
        {"p1": p1, "p2": p2, "p3": p3_p5, "p5": p3_p5, "p4": p4, "p6": p6, "p7": p7, "p9": p9, "c1": c1}[name]()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 2**20
    lines = [
        "# Benchmarks", "",
        f"Measured by `bench/run` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB, {platform.platform()}. Load generators run on the same machine as the servers.", "",
        "| Figure | Measured | Reference (same run) | Goal | |", "|---|---|---|---|---|",
    ] + [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    if set(only) >= set(ALL):
        # The table is regenerated; the hand-written section that reads it is kept.
        path = os.path.join(ROOT, "BENCHMARKS.md")
        old = open(path).read() if os.path.exists(path) else ""
        notes = old[old.index(NOTES):] if NOTES in old else ""
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n\n" + notes)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
