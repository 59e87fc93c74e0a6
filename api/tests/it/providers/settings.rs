//! Configuration-level behaviour: an error event mid-stream, history trimming, the providers
//! list, and the key never leaving the server (responses, streams, logs).

use super::*;

#[tokio::test]
async fn anthropic_error_event_mid_stream_ends_the_run_with_its_message() {
    let mut wire = Kind::Anthropic.text_stream(&["Hel"], false);
    wire.push(sse(
        "error",
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
    ));
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(Kind::Anthropic, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    assert_eq!(texts(&events), "Hel");
    let m = error_message(&events);
    assert!(m.contains("overloaded") && m.contains("Overloaded"), "{m}");
}

#[tokio::test]
async fn history_sent_to_the_provider_is_trimmed_to_the_configured_budget() {
    let fake = Fake::start(vec![stream(
        Kind::OpenAi.text_stream(&["answer-12ch"], true),
    )])
    .await;
    let run = setup(Kind::OpenAi, &fake, &[(PROVIDER_HISTORY_MAX_CHARS, "40")]).await;
    let long = "x".repeat(100);
    for prompt in [long.as_str(), "second", "third"] {
        let (status, _) = run.turn(prompt).await;
        assert_eq!(status, "completed");
    }
    let reqs = fake.requests("/chat/completions");
    // Third request: the newest turns within 40 characters are [answer, "second", answer] (28);
    // the 100-character first prompt does not fit, and the then leading answer is dropped.
    assert_eq!(
        reqs[2].body["messages"],
        json!([
            {"role":"user","content":"second"},
            {"role":"assistant","content":"answer-12ch"},
            {"role":"user","content":"third"},
        ])
    );
    // Second request: the 100-character prompt does not fit; its answer alone would start with
    // the assistant, so it goes too.
    assert_eq!(
        reqs[1].body["messages"],
        json!([{"role":"user","content":"second"}])
    );
}

#[tokio::test]
async fn providers_lists_only_configured_ones_with_the_default_and_never_a_key() {
    let fake = Fake::start(vec![status(500, json!({}))]).await;
    let app = app()
        .env(ANTHROPIC_API_KEY, KEY)
        .env(ANTHROPIC_BASE_URL, &fake.base)
        .env(ANTHROPIC_MODEL, "claude-haiku-4-5")
        .env(AI_WORKER_URL, &fake.base)
        .env(AI_WORKER_SECRET, KEY)
        .env(DEFAULT_PROVIDER, "worker")
        .spawn()
        .await;
    let token = app.register("list@example.com").await;
    let res = app.call(&token, Method::GET, "/api/providers", None).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(!body.contains(KEY), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"providers":[
            {"id":"anthropic","label":"Anthropic","models":["claude-haiku-4-5"],"default":false},
            {"id":"worker","label":"Self-hosted AI worker","models":["worker"],"default":true},
            {"id":"demo","label":"Demo (built-in, no AI)","models":["demo"],"default":false},
        ]})
    );
    // A run naming an unconfigured provider is refused.
    let session = app.create_session(&token).await;
    let res = app
        .call(
            &token,
            Method::POST,
            &format!("/api/sessions/{session}/send"),
            Some(json!({"message":"hi","provider":"openai"})),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("unknown provider `openai`"), "{body}");
}

/// Every response a user can get about runs that used the key (each provider, failing and
/// succeeding), none of which may contain it.
#[tokio::test]
async fn the_key_never_appears_in_any_api_response() {
    let anthropic = Fake::start(vec![status(401, Kind::Anthropic.error_body("bad key"))]).await;
    let openai = Fake::start(vec![status(500, Kind::OpenAi.error_body("boom"))]).await;
    let worker = Fake::start(vec![stream(Kind::Worker.text_stream(&["fine"], true))]).await;
    let mut b = app();
    for (k, v) in Kind::Anthropic
        .env(&anthropic)
        .into_iter()
        .chain(Kind::OpenAi.env(&openai))
        .chain(Kind::Worker.env(&worker))
    {
        b = b.env(k, v);
    }
    let app = b.spawn().await;
    let token = app.register("leak@example.com").await;
    let session = app.create_session(&token).await;
    let run = Run {
        app,
        token,
        session,
    };
    let mut seen = Vec::new();
    for provider in ["anthropic", "openai", "worker"] {
        let res = run
            .app
            .call(
                &run.token,
                Method::POST,
                &format!("/api/sessions/{}/send", run.session),
                Some(json!({"message":"hi","provider":provider})),
            )
            .await;
        assert_eq!(res.status(), 202);
        seen.push(res.text().await.unwrap());
        run.wait_finished().await;
    }
    // execute-remote answers with the run's SSE stream.
    let res = run
        .app
        .call(
            &run.token,
            Method::POST,
            "/api/execute-remote",
            Some(json!({"userRequest":"again","provider":"anthropic"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let frames = SseReader::new(res).collect(WAIT).await;
    assert!(frames.iter().any(|f| f.event == "error"));
    seen.extend(frames.into_iter().map(|f| f.data));
    for path in [
        "/api/providers".to_string(),
        "/api/sessions".to_string(),
        format!("/api/sessions/{}", run.session),
        format!("/api/sessions/{}/events", run.session),
        "/api/auth/session".to_string(),
        "/health".to_string(),
        "/health/status".to_string(),
        "/metrics".to_string(),
    ] {
        let res = run.app.call(&run.token, Method::GET, &path, None).await;
        seen.push(format!("{path}: {}", res.text().await.unwrap()));
    }
    let res = run
        .app
        .call(
            &run.token,
            Method::GET,
            &format!("/api/sessions/{}/events/stream", run.session),
            None,
        )
        .await;
    let last_seq = run.events().await.last().unwrap()["seq"].as_i64().unwrap();
    let mut reader = SseReader::new(res);
    while let Some(f) = reader.next(WAIT).await {
        let end = f.id == Some(last_seq);
        seen.push(f.data);
        if end {
            break;
        }
    }
    let all = seen.join("\n");
    assert!(all.contains("HTTP 401") && all.contains("HTTP 500") && all.contains("fine"));
    assert!(!all.contains(KEY), "the key leaked:\n{all}");
}

/// The real binary, logging JSON at debug level, runs a failing (401) and a successful run with
/// a distinctive key: its whole output never contains the key.
#[tokio::test]
async fn the_key_never_appears_in_the_logs() {
    use tokio::io::AsyncReadExt;
    let fake = Fake::start(vec![
        status(401, Kind::Anthropic.error_body("bad key")),
        stream(Kind::Anthropic.text_stream(&["fine"], true)),
    ])
    .await;
    let db = fresh_database_on(&admin_url()).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(DATABASE_URL, &db)
        .env(SESSION_SECRET, crate::common::SECRET)
        .env(HOST, "127.0.0.1")
        .env(PORT, "0")
        .env(LOG_FORMAT, "json")
        .env("RUST_LOG", "debug")
        .env(COOKIE_SECURE, "false")
        .env(LB_DRAIN_DELAY_MS, "0")
        .env(ANTHROPIC_API_KEY, KEY)
        .env(ANTHROPIC_BASE_URL, &fake.base)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start webedt-api");
    let output = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    let pipes: [Box<dyn tokio::io::AsyncRead + Unpin + Send>; 2] = [
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for mut pipe in pipes {
        let output = output.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                output
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }));
    }
    // The address from the "listening" line.
    let deadline = Instant::now() + WAIT;
    let addr = loop {
        let found = output.lock().unwrap().lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let text = v.to_string();
            text.contains("listening").then(|| {
                let i = text.find("127.0.0.1:").unwrap();
                text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect::<String>()
            })
        });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no listening line: {}",
            output.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    // "listening" comes before the migrations finish: wait until the schema is current, as a
    // load balancer would.
    let deadline = Instant::now() + WAIT;
    while client
        .get(format!("{base}/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email":"logs@example.com","password":"password 123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = cookie[webedt_contract::names::SESSION_COOKIE.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let res = client
        .post(format!("{base}/api/sessions"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let session = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in ["error", "completed"] {
        let res = client
            .post(format!("{base}/api/sessions/{session}/send"))
            .bearer_auth(&token)
            .json(&json!({"message":"hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let deadline = Instant::now() + WAIT;
        loop {
            let s: Value = client
                .get(format!("{base}/api/sessions/{session}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if s["status"] != "running" {
                assert_eq!(s["status"], expected, "{s}");
                break;
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    // SIGTERM, then everything it wrote.
    let pid = child.id().unwrap() as i32;
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    let logs = output.lock().unwrap().clone();
    assert!(
        logs.contains("provider refused the request"),
        "the 401 was logged (so the check below looked at real logs): {logs}"
    );
    assert!(
        logs.lines().count() > 10,
        "debug logging was on: {}",
        logs.lines().count()
    );
    assert!(!logs.contains(KEY), "the key leaked into the logs:\n{logs}");
}
