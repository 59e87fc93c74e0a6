//! Coalescing of text deltas: many deltas are stored as few events, streamed live and replayed
//! identically from any Last-Event-ID, and any other event (a tool call, an interrupt, the end)
//! stores the pending text first.

use crate::common::{TestApp, app, fresh_database};
use crate::support::sse::{Frame, SseReader};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

const WAIT: Duration = Duration::from_secs(60);

async fn stored(app: &TestApp, token: &str, session: &str) -> Vec<Value> {
    let res = app
        .call(
            token,
            reqwest::Method::GET,
            &format!("/api/sessions/{session}/events?limit=5000"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let events = res.json::<Value>().await.unwrap()["events"]
        .as_array()
        .unwrap()
        .clone();
    assert!(events.len() < 5000, "one page holds them all");
    events
}

/// `(seq, event kind, data)` of stored events, to compare with what a stream delivered.
fn stored_triples(events: &[Value]) -> Vec<(i64, String, Value)> {
    events
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap().to_string();
            (e["seq"].as_i64().unwrap(), kind, e["data"].clone())
        })
        .collect()
}

/// `(seq, event kind, data)` of SSE frames.
fn frame_triples(frames: &[Frame]) -> Vec<(i64, String, Value)> {
    frames
        .iter()
        .map(|f| (f.id.unwrap(), f.event.clone(), f.json()))
        .collect()
}

async fn stream_from(app: &TestApp, token: &str, session: &str, last: i64) -> Vec<Frame> {
    let res = app
        .client
        .get(app.url(&format!("/api/sessions/{session}/events/stream")))
        .bearer_auth(token)
        .header("last-event-id", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    SseReader::new(res).collect(WAIT).await
}

fn text_of<'a>(events: impl Iterator<Item = (&'a str, Value)>) -> String {
    events
        .filter(|(kind, _)| *kind == "assistant_message")
        .map(|(_, data)| data["text"].as_str().unwrap().to_string())
        .collect()
}

/// The demo script's text is complete and in order: its opening, every numbered step exactly
/// once and in sequence, and its closing code block.
fn assert_complete_demo_text(text: &str, min_words: usize) {
    assert!(
        text.starts_with("This is the **demo provider**"),
        "{text:.80}"
    );
    assert!(
        text.ends_with("hello from the demo\");\n}\n```\n"),
        "{text}"
    );
    let mut at = 0;
    let mut step = 1;
    while let Some(found) = text[at..].find(&format!("Demo step {step} done. ")) {
        at += found + 1;
        step += 1;
    }
    assert!(
        step > 100,
        "numbered steps present in order (found {})",
        step - 1
    );
    assert!(
        !text.contains(&format!("Demo step {step} done. ")),
        "no step out of order"
    );
    for s in 1..step {
        assert_eq!(
            text.matches(&format!("Demo step {s} done. ")).count(),
            1,
            "step {s} exactly once"
        );
    }
    assert!(text.split_whitespace().count() >= min_words);
}

#[tokio::test]
async fn a_thousand_deltas_arrive_complete_are_stored_as_few_events_and_replay_identically() {
    let db = fresh_database().await;
    let env = [
        (DEMO_EVENT_COUNT, "1000"),
        (DEMO_EVENT_DELAY_MS, "1"),
        (EVENT_TEXT_COALESCE_MS, "50"),
    ];
    let mut a = app().database(&db);
    let mut b = app().database(&db);
    for (k, v) in env {
        a = a.env(k, v);
        b = b.env(k, v);
    }
    let (a, b) = (a.spawn().await, b.spawn().await);
    let token = a.register("coalesce@example.com").await;
    let id = a.create_session(&token).await;
    assert_eq!(a.send(&token, &id, "a long answer").await.status(), 202);
    // Follow live on the replica that does not run it (a stream closes when no run is active, so
    // it starts right after the send; it replays what was stored meanwhile, then follows).
    let live = stream_from(&b, &token, &id, 0).await;
    assert_eq!(live.last().unwrap().event, "completed");

    let stored = stored(&a, &token, &id).await;
    let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as i64).collect::<Vec<_>>(),
        "gap-free"
    );
    let texts = stored
        .iter()
        .filter(|e| e["type"] == "assistant_message")
        .count();
    eprintln!("1000 deltas stored as {texts} text events");
    assert!(
        (2..=250).contains(&texts),
        "far fewer events than deltas: {texts}"
    );
    let stored_text = text_of(
        stored
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["data"].clone())),
    );
    assert_complete_demo_text(&stored_text, 1000);

    // Live saw exactly what is stored, in order.
    let live_pairs = frame_triples(&live);
    let stored_pairs = stored_triples(&stored);
    assert_eq!(live_pairs, stored_pairs);

    // The text before the tool call is stored before it: order across kinds is kept.
    let tool = stored
        .iter()
        .position(|e| e["type"] == "tool_use")
        .expect("the demo calls a tool half-way");
    assert_eq!(stored[tool - 1]["type"], "assistant_message");
    let before = text_of(
        stored[..tool]
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["data"].clone())),
    );
    assert!(stored_text.starts_with(&before) && before.len() > stored_text.len() / 3);

    // Replays from every Last-Event-ID, on either replica, are exactly the stored tail.
    for last in 0..stored.len() as i64 {
        let on = if last % 2 == 0 { &a } else { &b };
        let frames = stream_from(on, &token, &id, last).await;
        assert_eq!(
            frame_triples(&frames),
            stored_pairs[last as usize..],
            "from {last}"
        );
    }
}

#[tokio::test]
async fn an_interrupt_stores_the_pending_text_before_the_interrupted_event() {
    // A 1 s window and a run interrupted well before it ends: without the flush at the
    // interrupt, the text streamed since the last window would be lost.
    let a = app()
        .env(DEMO_EVENT_COUNT, "400")
        .env(DEMO_EVENT_DELAY_MS, "5")
        .env(EVENT_TEXT_COALESCE_MS, "1000")
        .spawn()
        .await;
    let token = a.register("flush@example.com").await;
    let id = a.create_session(&token).await;
    assert_eq!(a.send(&token, &id, "stop me").await.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = a
        .call(
            &token,
            reqwest::Method::POST,
            &format!("/api/sessions/{id}/interrupt"),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), 202);
    let deadline = Instant::now() + WAIT;
    let events = loop {
        let events = stored(&a, &token, &id).await;
        if events.last().is_some_and(|e| e["type"] == "interrupted") {
            break events;
        }
        assert!(Instant::now() < deadline, "not interrupted: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let n = events.len();
    let interrupted = &events[n - 1];
    let flushed = &events[n - 2];
    assert_eq!(flushed["type"], "assistant_message", "{events:?}");
    // Stored in the interrupt's own transaction (same transaction time), i.e. by the flush.
    assert_eq!(flushed["createdAt"], interrupted["createdAt"]);
    let text = text_of(
        events
            .iter()
            .map(|e| (e["type"].as_str().unwrap(), e["data"].clone())),
    );
    assert!(text.starts_with("This is the **demo provider**"), "{text}");
    assert!(
        !text.contains("hello from the demo"),
        "stopped before the end"
    );
    // Replaying gives the same text.
    let frames = stream_from(&a, &token, &id, 0).await;
    let replayed = text_of(frames.iter().map(|f| (f.event.as_str(), f.json())));
    assert_eq!(replayed, text);
}

/// The value of an unlabelled counter or histogram `_count` in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

#[tokio::test]
async fn concurrent_runs_share_commits_and_every_session_stays_complete_and_in_order() {
    // Group commit: sixteen runs on one replica, every delta its own append (no coalescing
    // window), so appends queue and are written many to a transaction. Each session must still
    // get its whole text, gap-free and in order, stored and live on the other replica.
    const RUNS: usize = 16;
    let db = fresh_database().await;
    let env = [
        (DEMO_EVENT_COUNT, "1000"),
        (DEMO_EVENT_DELAY_MS, "0"),
        (EVENT_TEXT_COALESCE_MS, "0"),
        (LIMIT_RUNS_PER_USER, "32"),
        (LIMIT_RUNS_PER_MINUTE, "100"),
        (LIMIT_STREAMS_PER_USER, "100"),
    ];
    let (mut a, mut b) = (app().database(&db), app().database(&db));
    for (k, v) in env {
        a = a.env(k, v);
        b = b.env(k, v);
    }
    let (a, b) = (a.spawn().await, b.spawn().await);
    let token = a.register("group-commit@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..RUNS {
        ids.push(a.create_session(&token).await);
    }
    let live = futures::future::join_all(ids.iter().map(|id| {
        let (a, b, token) = (&a, &b, &token);
        async move {
            assert_eq!(a.send(token, id, "go").await.status(), 202);
            stream_from(b, token, id, 0).await
        }
    }))
    .await;

    for (id, live) in ids.iter().zip(live) {
        assert_eq!(live.last().unwrap().event, "completed", "{id}");
        let stored = stored(&a, &token, id).await;
        let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=stored.len() as i64).collect::<Vec<_>>(),
            "gap-free"
        );
        let text = text_of(
            stored
                .iter()
                .map(|e| (e["type"].as_str().unwrap(), e["data"].clone())),
        );
        assert_complete_demo_text(&text, 1000);
        assert_eq!(
            frame_triples(&live),
            stored_triples(&stored),
            "live on the other replica = stored, {id}"
        );
    }

    let metrics = a.get("/metrics").await.text().await.unwrap();
    let appends = metric(&metrics, "webedt_event_insert_duration_seconds_count");
    let batches = metric(&metrics, "webedt_event_insert_batches_total");
    eprintln!("{appends} appends in {batches} transactions");
    assert!(appends >= (RUNS * 100) as f64, "{appends} appends");
    assert!(
        batches < appends / 2.0,
        "appends share transactions: {batches} for {appends}"
    );
}
