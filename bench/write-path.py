#!/usr/bin/env python3
"""Write-path cost of live runs: PostgreSQL commits per second and WAL bytes per delivered
character while N demo runs stream at once (issue 22). Run it through `bench/write-path`, which
starts a throwaway PostgreSQL and exports DATABASE_URL.

  bench/write-path [--api PATH] [--runs 100] [--deltas 200] [--delay-ms 50] [--coalesce-ms 40]

One replica serves the runs; the figures are cluster-wide deltas of pg_current_wal_lsn() and
pg_stat_database.xact_commit between the first send and the last run's end, so they include
everything the API did meanwhile (heartbeats, session updates, NOTIFY) — which is the point.
"""
import argparse, json, os, socket, subprocess, threading, time, urllib.request

ADMIN = os.environ["DATABASE_URL"]
SECRET = "bench-secret-0123456789abcdef0123456789"


def psql(db, sql):
    out = subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", db, "-c", sql], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(base, method, path, token=None, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers), (json.loads(r.read() or b"null"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default=os.path.join("target", "debug", "webedt-api"))
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--deltas", type=int, default=200)
    ap.add_argument("--delay-ms", type=int, default=50)
    ap.add_argument("--coalesce-ms", type=int, default=40)
    a = ap.parse_args()

    name = f"wp_{os.getpid()}_{a.coalesce_ms}"
    psql(ADMIN, f"CREATE DATABASE {name}")
    db = ADMIN.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db, SESSION_SECRET=SECRET, HOST="127.0.0.1", PORT=str(port),
               CONTAINER_ID="bench", LOG_FORMAT="json", RUST_LOG="warn", DB_POOL_MAX="40",
               DEMO_EVENT_COUNT=str(a.deltas), DEMO_EVENT_DELAY_MS=str(a.delay_ms),
               EVENT_TEXT_COALESCE_MS=str(a.coalesce_ms))
    api = subprocess.Popen([a.api], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if call(base, "GET", "/ready")[0] == 200:
                    break
            except Exception:
                time.sleep(0.05)
        status, headers, _ = call(base, "POST", "/api/auth/register", body={
            "email": "bench@example.com", "password": "password 123"})
        token = headers["set-cookie"].split("webedt_session=")[1].split(";")[0]
        sessions = [call(base, "POST", "/api/sessions", token, {})[2]["id"] for _ in range(a.runs)]

        def stats():
            lsn = psql(ADMIN, "SELECT pg_current_wal_lsn() - '0/0'")
            commits = psql(ADMIN, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{name}'")
            return int(float(lsn)), int(commits)

        time.sleep(1.5)  # let backends flush their statistics
        lsn0, commits0 = stats()
        t0 = time.time()
        threads = [threading.Thread(target=call, args=(base, "POST", f"/api/sessions/{s}/send", token,
                                                       {"message": "measure the write path"}))
                   for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        while int(psql(db, "SELECT count(*) FROM active_runs")) > 0:
            time.sleep(0.05)
        elapsed = time.time() - t0
        time.sleep(1.5)
        lsn1, commits1 = stats()
        chars = int(psql(db, "SELECT coalesce(sum(length(data->>'text')), 0) FROM events "
                             "WHERE type = 'assistant_message'"))
        texts = int(psql(db, "SELECT count(*) FROM events WHERE type = 'assistant_message'"))
        ended = psql(db, "SELECT string_agg(status || ':' || n, ' ') FROM "
                         "(SELECT status, count(*) n FROM chat_sessions GROUP BY 1) s")
        commits = commits1 - commits0
        wal = lsn1 - lsn0
        result = {
            "runs": a.runs, "deltasPerRun": a.deltas, "delayMs": a.delay_ms,
            "coalesceMs": a.coalesce_ms, "api": a.api, "seconds": round(elapsed, 2),
            "sessions": ended, "textEvents": texts, "deliveredChars": chars,
            "commits": commits, "commitsPerSecond": round(commits / elapsed, 1),
            "walBytes": wal, "walBytesPerChar": round(wal / max(chars, 1), 1),
        }
        print(json.dumps(result))
    finally:
        api.terminate()
        api.wait()


if __name__ == "__main__":
    main()
