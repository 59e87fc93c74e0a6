//! Failures, the same for every provider: a stream cut mid-way, 401/403, 429 with and without
//! a successful retry, 500, a silent upstream, an interrupt mid-stream, an unreachable or mute
//! upstream.

use super::*;

async fn cut_mid_stream(kind: Kind) {
    let fake = Fake::start(vec![stream(kind.text_stream(&["Hel", "lo"], false))]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    assert_eq!(texts(&events), "Hello", "the partial answer is kept");
    let m = error_message(&events);
    assert!(m.contains("ended before it was complete"), "{m}");
}

async fn unauthorized(kind: Kind) {
    let fake = Fake::start(vec![status(401, kind.error_body("invalid credentials"))]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    assert_eq!(types(&events), ["user_message", "run_started", "error"]);
    let m = error_message(&events);
    assert!(m.contains("HTTP 401"), "{m}");
    assert!(m.contains(kind.credential_var()), "names the setting: {m}");
    assert_eq!(fake.requests(kind.path()).len(), 1, "a 401 is not retried");
}

async fn forbidden(kind: Kind) {
    let fake = Fake::start(vec![status(403, kind.error_body("not allowed"))]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    let m = error_message(&events);
    assert!(m.contains("HTTP 403"), "{m}");
    assert!(m.contains(kind.credential_var()), "names the setting: {m}");
}

async fn rate_limited_then_ok(kind: Kind) {
    let fake = Fake::start(vec![
        Reply::Status {
            code: 429,
            headers: vec![("retry-after", "1".into())],
            body: kind.error_body("slow down").to_string(),
        },
        stream(kind.text_stream(&["after ", "waiting"], true)),
    ])
    .await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "completed", "{events:#?}");
    assert_eq!(texts(&events), "after waiting");
    let reqs = fake.requests(kind.path());
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was respected: {waited:?}"
    );
}

async fn rate_limited_twice(kind: Kind) {
    let limited = Reply::Status {
        code: 429,
        headers: vec![("retry-after", "1".into())],
        body: kind.error_body("slow down").to_string(),
    };
    let fake = Fake::start(vec![limited]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    let m = error_message(&events);
    assert!(
        m.contains("HTTP 429") && m.contains("try again later"),
        "{m}"
    );
    assert_eq!(fake.requests(kind.path()).len(), 2, "retried exactly once");
}

async fn server_error(kind: Kind) {
    let fake = Fake::start(vec![status(500, kind.error_body("internal boom"))]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    let m = error_message(&events);
    assert!(m.contains("HTTP 500") && m.contains("internal boom"), "{m}");
    assert!(
        m.contains("[redacted]"),
        "the echoed key is scrubbed, not dropped silently: {m}"
    );
}

async fn silent_mid_stream(kind: Kind) {
    let fake = Fake::start(vec![Reply::Stream {
        chunks: kind
            .text_stream(&["partial"], false)
            .into_iter()
            .map(String::into_bytes)
            .collect(),
        gap: Duration::from_millis(5),
        end: End::Stall,
    }])
    .await;
    let run = setup(kind, &fake, &[]).await;
    let asked = Instant::now();
    let (status, events) = run.turn("hi").await;
    let took = asked.elapsed();
    assert_eq!(status, "error");
    assert_eq!(texts(&events), "partial");
    let m = error_message(&events);
    assert!(m.contains("sent nothing for 1 s"), "{m}");
    assert!(
        took >= Duration::from_millis(IDLE_MS - 50),
        "not before the idle timeout: {took:?}"
    );
    assert!(
        took < Duration::from_millis(IDLE_MS) + Duration::from_secs(5),
        "soon after the idle timeout: {took:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fake.disconnected.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the upstream request was not closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn interrupted_mid_stream(kind: Kind) {
    let many: Vec<String> = (0..400).map(|i| format!("{i} ")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let fake = Fake::start(vec![Reply::Stream {
        chunks: kind
            .text_stream(&many, true)
            .into_iter()
            .map(String::into_bytes)
            .collect(),
        gap: Duration::from_millis(50),
        end: End::Close,
    }])
    .await;
    let run = setup(kind, &fake, &[]).await;
    assert_eq!(
        run.app
            .send(&run.token, &run.session, "long job")
            .await
            .status(),
        202
    );
    let deadline = Instant::now() + WAIT;
    while texts(&run.events().await).len() < 6 {
        assert!(Instant::now() < deadline, "the stream never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = run
        .app
        .call(
            &run.token,
            Method::POST,
            &format!("/api/sessions/{}/interrupt", run.session),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), 202);
    let s = run.wait_finished().await;
    assert_eq!(s["status"], "interrupted");
    let events = run.events().await;
    assert_eq!(last(&events)["type"], "interrupted");
    let deltas = types(&events)
        .iter()
        .filter(|t| **t == "assistant_message")
        .count();
    assert!(deltas < 100, "stopped early: {deltas} of 400 deltas");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fake.disconnected.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the upstream request was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if kind == Kind::Worker {
        let deadline = Instant::now() + Duration::from_secs(5);
        while fake.requests("/interrupt").is_empty() {
            assert!(Instant::now() < deadline, "the worker was not told to stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let req = &fake.requests("/interrupt")[0];
        assert_eq!(req.body, json!({ "chatSessionId": run.session }));
        assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    }
}

async fn unreachable(kind: Kind) {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let fake = Fake {
        base,
        script: Default::default(),
        requests: Default::default(),
        disconnected: Default::default(),
    };
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    let m = error_message(&events);
    assert!(m.starts_with("Could not connect to"), "{m}");
    assert!(m.contains("127.0.0.1"), "says where: {m}");
}

async fn no_answer_at_all(kind: Kind) {
    let fake = Fake::start(vec![Reply::Hang]).await;
    let run = setup(kind, &fake, &[]).await;
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "error");
    let m = error_message(&events);
    assert!(m.contains("did not start answering within 1 s"), "{m}");
}

macro_rules! for_each_provider {
    ($($case:ident),* $(,)?) => {
        mod anthropic {
            $(#[tokio::test] async fn $case() { super::$case(super::Kind::Anthropic).await })*
        }
        mod openai {
            $(#[tokio::test] async fn $case() { super::$case(super::Kind::OpenAi).await })*
        }
        mod worker {
            $(#[tokio::test] async fn $case() { super::$case(super::Kind::Worker).await })*
        }
    };
}

for_each_provider!(
    cut_mid_stream,
    unauthorized,
    forbidden,
    rate_limited_then_ok,
    rate_limited_twice,
    server_error,
    silent_mid_stream,
    interrupted_mid_stream,
    unreachable,
    no_answer_at_all,
);
