//! The real AI providers (Anthropic, OpenAI-compatible, self-hosted worker) through the real run
//! machinery and a real PostgreSQL, each against an in-test server on 127.0.0.1 that speaks the
//! provider's documented wire format: normal stream, stream cut mid-way, 401, 429 (with one
//! `Retry-After` retry), 500, a silent upstream hitting the idle timeout, and an interrupt
//! mid-stream. Plus: the providers list, history trimming, and the key never leaving the server.
//!
//! Here: the run driver the tests share. `fake.rs` is the upstream, `wire.rs` each provider's
//! format; the tests are in `streams.rs`, `failures.rs` and `settings.rs`.

use crate::common::{TestApp, admin_url, app, fresh_database_on};
use crate::support::sse::SseReader;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

/// The credential every test configures: distinctive, so a leak is unmistakable.
const KEY: &str = "sk-test-KEY-must-never-leak-7f3a9c";
/// The idle timeout the tests run with.
const IDLE_MS: u64 = 1000;
const WAIT: Duration = Duration::from_secs(20);

mod failures;
mod fake;
mod images;
mod own_key;
mod search;
mod settings;
mod streams;
mod wire;

use fake::{End, Fake, Reply, data_line, sse, status, stream};
use wire::Kind;

struct Run {
    app: TestApp,
    token: String,
    session: String,
}

async fn setup(kind: Kind, fake: &Fake, extra: &[(&'static str, &str)]) -> Run {
    let mut b = app()
        .env(DEFAULT_PROVIDER, kind.id())
        .env(PROVIDER_IDLE_TIMEOUT_MS, IDLE_MS)
        .env(PROVIDER_CONNECT_TIMEOUT_MS, 1000);
    for (k, v) in kind.env(fake) {
        b = b.env(k, v);
    }
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let app = b.spawn().await;
    let token = app.register(&format!("{}@example.com", kind.id())).await;
    let session = app.create_session(&token).await;
    Run {
        app,
        token,
        session,
    }
}

impl Run {
    async fn get(&self, path: &str) -> Value {
        let res = self.app.call(&self.token, Method::GET, path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    async fn events(&self) -> Vec<Value> {
        self.get(&format!("/api/sessions/{}/events", self.session))
            .await["events"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn wait_finished(&self) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.get(&format!("/api/sessions/{}", self.session)).await;
            if s["status"] != "running" {
                return s;
            }
            assert!(Instant::now() < deadline, "still running: {s}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `message`, waits for the run to end; its status and its stored events (from its
    /// `user_message` on), each as `{type, data}`.
    async fn turn(&self, message: &str) -> (String, Vec<Value>) {
        let res = self.app.send(&self.token, &self.session, message).await;
        assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
        let s = self.wait_finished().await;
        let events = self.events().await;
        let start = events
            .iter()
            .rposition(|e| e["type"] == "user_message")
            .unwrap();
        let run: Vec<Value> = events[start..]
            .iter()
            .map(|e| json!({ "type": e["type"], "data": e["data"] }))
            .collect();
        (s["status"].as_str().unwrap().to_string(), run)
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn texts(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect()
}

fn last(events: &[Value]) -> &Value {
    events.last().unwrap()
}

fn error_message(events: &[Value]) -> String {
    let end = last(events);
    assert_eq!(end["type"], "error", "{events:#?}");
    let m = end["data"]["message"].as_str().unwrap().to_string();
    assert!(!m.contains(KEY), "the key leaked into an event: {m}");
    m
}

fn transcript(kind: Kind, events: &[Value]) {
    eprintln!(
        "--- {} transcript (stored events) ---\n{}",
        kind.id(),
        serde_json::to_string_pretty(events).unwrap()
    );
}
