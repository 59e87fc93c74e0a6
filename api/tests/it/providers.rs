//! The real AI providers (Anthropic, OpenAI-compatible, self-hosted worker) through the real run
//! machinery and a real PostgreSQL, each against an in-test server on 127.0.0.1 that speaks the
//! provider's documented wire format: normal stream, stream cut mid-way, 401, 429 (with one
//! `Retry-After` retry), 500, a silent upstream hitting the idle timeout, and an interrupt
//! mid-stream. Plus: the providers list, history trimming, and the key never leaving the server.

use crate::common::{TestApp, admin_url, app, fresh_database_on};
use crate::runs::{call, create_session, send, user};
use crate::sse::SseReader;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use webedt_contract::names::*;

/// The credential every test configures: distinctive, so a leak is unmistakable.
const KEY: &str = "sk-test-KEY-must-never-leak-7f3a9c";
/// The idle timeout the tests run with.
const IDLE_MS: u64 = 1000;
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// The fake upstream.

#[derive(Clone)]
enum End {
    /// Close the stream (a normal end, or a cut when the terminal events were left out).
    Close,
    /// Keep the connection open and send nothing more.
    Stall,
}

#[derive(Clone)]
enum Reply {
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    Stream {
        chunks: Vec<Vec<u8>>,
        gap: Duration,
        end: End,
    },
    /// Never answer (not even headers).
    Hang,
}

#[derive(Clone, Debug)]
struct Recorded {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone)]
struct Fake {
    base: String,
    script: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Set when a response stream is dropped before it ended: the client went away.
    disconnected: Arc<AtomicBool>,
}

impl Fake {
    async fn start(script: Vec<Reply>) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            base: format!("http://{}", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(script.into())),
            requests: Default::default(),
            disconnected: Default::default(),
        };
        let state = fake.clone();
        let router =
            axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
                let fake = state.clone();
                async move { fake.handle(uri, headers, body).await }
            });
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    async fn handle(&self, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        self.requests.lock().unwrap().push(Recorded {
            at: Instant::now(),
            path: uri.path().to_string(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        if uri.path() == "/interrupt" {
            return Response::new(Body::from("{\"interrupted\":true}"));
        }
        let reply = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().cloned().expect("a scripted reply")
            }
        };
        match reply {
            Reply::Hang => {
                futures::future::pending::<()>().await;
                unreachable!()
            }
            Reply::Status {
                code,
                headers,
                body,
            } => {
                let mut r = Response::builder().status(code);
                for (k, v) in headers {
                    r = r.header(k, v);
                }
                r.header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap()
            }
            Reply::Stream { chunks, gap, end } => {
                struct Guard(Arc<AtomicBool>, bool);
                impl Guard {
                    fn finish(&mut self) {
                        self.1 = true;
                    }
                }
                impl Drop for Guard {
                    fn drop(&mut self) {
                        if !self.1 {
                            self.0.store(true, Ordering::SeqCst);
                        }
                    }
                }
                let guard = Guard(self.disconnected.clone(), false);
                let stream = futures::stream::unfold(
                    (VecDeque::from(chunks), guard, end, true),
                    move |(mut chunks, mut guard, end, first)| async move {
                        if !first {
                            tokio::time::sleep(gap).await;
                        }
                        match chunks.pop_front() {
                            Some(c) => Some((
                                Ok::<_, std::convert::Infallible>(Bytes::from(c)),
                                (chunks, guard, end, false),
                            )),
                            None => match end {
                                End::Close => {
                                    guard.finish();
                                    None
                                }
                                End::Stall => {
                                    futures::future::pending::<()>().await;
                                    None
                                }
                            },
                        }
                    },
                );
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
        }
    }

    fn requests(&self, path_end: &str) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.ends_with(path_end))
            .cloned()
            .collect()
    }
}

fn stream(chunks: Vec<String>) -> Reply {
    Reply::Stream {
        chunks: chunks.into_iter().map(String::into_bytes).collect(),
        gap: Duration::from_millis(5),
        end: End::Close,
    }
}

fn status(code: u16, body: Value) -> Reply {
    Reply::Status {
        code,
        headers: vec![],
        body: body.to_string(),
    }
}

fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn data_line(data: Value) -> String {
    format!("data: {data}\n\n")
}

// ---------------------------------------------------------------------------------------------
// Each provider's wire format.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Anthropic,
    OpenAi,
    Worker,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Anthropic => "anthropic",
            Kind::OpenAi => "openai",
            Kind::Worker => "worker",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Anthropic => "/v1/messages",
            Kind::OpenAi => "/v1/chat/completions",
            Kind::Worker => "/execute",
        }
    }

    fn env(self, fake: &Fake) -> Vec<(&'static str, String)> {
        match self {
            Kind::Anthropic => vec![
                (ANTHROPIC_API_KEY, KEY.into()),
                (ANTHROPIC_BASE_URL, fake.base.clone()),
            ],
            Kind::OpenAi => vec![
                (OPENAI_API_KEY, KEY.into()),
                (OPENAI_BASE_URL, format!("{}/v1", fake.base)),
            ],
            Kind::Worker => vec![
                (AI_WORKER_URL, fake.base.clone()),
                (AI_WORKER_SECRET, KEY.into()),
            ],
        }
    }

    /// A stream of `texts`; with `complete`, the provider's terminal events too.
    fn text_stream(self, texts: &[&str], complete: bool) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Kind::Anthropic => {
                out.push(sse(
                    "message_start",
                    json!({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}),
                ));
                out.push(sse(
                    "content_block_start",
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                ));
                for t in texts {
                    out.push(sse(
                        "content_block_delta",
                        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":t}}),
                    ));
                }
                if complete {
                    out.push(sse(
                        "content_block_stop",
                        json!({"type":"content_block_stop","index":0}),
                    ));
                    out.push(sse(
                        "message_delta",
                        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}),
                    ));
                    out.push(sse("message_stop", json!({"type":"message_stop"})));
                }
            }
            Kind::OpenAi => {
                let chunk = |delta: Value, finish: Value| {
                    data_line(
                        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":delta,"finish_reason":finish}]}),
                    )
                };
                out.push(chunk(json!({"role":"assistant","content":""}), Value::Null));
                for t in texts {
                    out.push(chunk(json!({"content":t}), Value::Null));
                }
                if complete {
                    out.push(chunk(json!({}), json!("stop")));
                    out.push("data: [DONE]\n\n".into());
                }
            }
            Kind::Worker => {
                for t in texts {
                    out.push(sse(
                        "assistant_message",
                        json!({"type":"assistant_message","text":t}),
                    ));
                }
                if complete {
                    out.push(sse(
                        "result",
                        json!({"type":"result","costUsd":0.001,"durationMs":5,"usage":{"inputTokens":10,"outputTokens":5}}),
                    ));
                }
            }
        }
        out
    }

    /// An error answer whose body (like some real ones) echoes the key.
    fn error_body(self, message: &str) -> Value {
        let message = format!("{message} (key {KEY})");
        match self {
            Kind::Anthropic => {
                json!({"type":"error","error":{"type":"api_error","message":message}})
            }
            Kind::OpenAi => {
                json!({"error":{"message":message,"type":"server_error","code":null}})
            }
            Kind::Worker => json!({"error": message}),
        }
    }

    fn credential_var(self) -> &'static str {
        match self {
            Kind::Anthropic => ANTHROPIC_API_KEY,
            Kind::OpenAi => OPENAI_API_KEY,
            Kind::Worker => AI_WORKER_SECRET,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving runs.

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
    let token = user(&app, &format!("{}@example.com", kind.id())).await;
    let session = create_session(&app, &token).await;
    Run {
        app,
        token,
        session,
    }
}

impl Run {
    async fn get(&self, path: &str) -> Value {
        let res = call(&self.app, &self.token, Method::GET, path, None).await;
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
        let res = send(&self.app, &self.token, &self.session, message).await;
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

// ---------------------------------------------------------------------------------------------
// Normal streams, one per provider, in each one's full wire format; then a follow-up whose
// request carries the conversation as turns.

#[tokio::test]
async fn anthropic_stream_is_stored_as_our_events_and_follow_ups_carry_the_conversation() {
    let kind = Kind::Anthropic;
    // One event is cut in two chunks inside the two bytes of `ö`.
    let split = sse(
        "content_block_delta",
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" wörld"}}),
    );
    let cut = split.find('ö').unwrap() + 1;
    let wire: Vec<Vec<u8>> = vec![
        sse("message_start", json!({"type":"message_start","message":{"id":"msg_01XFD","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}})).into_bytes(),
        sse("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})).into_bytes(),
        b"event: ping\ndata: {\"type\": \"ping\"}\n\n".to_vec(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})).into_bytes(),
        split.as_bytes()[..cut].to_vec(),
        split.as_bytes()[cut..].to_vec(),
        sse("content_block_stop", json!({"type":"content_block_stop","index":0})).into_bytes(),
        sse("content_block_start", json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"read_file","input":{}}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\": \"src/"}})).into_bytes(),
        sse("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"main.rs\"}"}})).into_bytes(),
        sse("content_block_stop", json!({"type":"content_block_stop","index":1})).into_bytes(),
        sse("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}})).into_bytes(),
        sse("message_stop", json!({"type":"message_stop"})).into_bytes(),
    ];
    let reply = Reply::Stream {
        chunks: wire,
        gap: Duration::from_millis(5),
        end: End::Close,
    };
    let fake = Fake::start(vec![reply]).await;
    let run = setup(kind, &fake, &[]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["provider"], "anthropic");
    assert_eq!(events[1]["data"]["model"], "claude-sonnet-4-5");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"toolu_01","name":"read_file","input":{"path":"src/main.rs"}})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    // claude-sonnet-4-5: $3 / $15 per million tokens.
    let cost = done["costUsd"].as_f64().unwrap();
    assert!(
        (cost - (25.0 * 3.0 + 40.0 * 15.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert!(done["durationMs"].is_u64());

    let req = &fake.requests("/v1/messages")[0];
    assert_eq!(req.headers["x-api-key"], KEY);
    assert_eq!(req.headers["anthropic-version"], "2023-06-01");
    assert_eq!(req.body["model"], "claude-sonnet-4-5");
    assert_eq!(req.body["stream"], true);
    assert!(req.body["max_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        req.body["messages"],
        json!([{"role":"user","content":"Read main.rs please"}])
    );

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/v1/messages")[1];
    assert_eq!(
        req.body["messages"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
            {"role":"user","content":"And now?"},
        ])
    );
}

#[tokio::test]
async fn openai_stream_is_stored_as_our_events_and_follow_ups_carry_the_conversation() {
    let kind = Kind::OpenAi;
    let chunk = |delta: Value, finish: Value| {
        data_line(
            json!({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}]}),
        )
    };
    let wire = vec![
        chunk(json!({"role":"assistant","content":""}), Value::Null),
        chunk(json!({"content":"Hello"}), Value::Null),
        chunk(json!({"content":" wörld"}), Value::Null),
        chunk(
            json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"read_file","arguments":""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls":[{"index":0,"function":{"arguments":"\"src/main.rs\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        data_line(
            json!({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":40,"total_tokens":65}}),
        ),
        "data: [DONE]\n\n".into(),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[(OPENAI_MODEL, "llama3.1")]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["model"], "llama3.1");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"call_1","name":"read_file","input":{"path":"src/main.rs"}})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    assert_eq!(
        done["costUsd"],
        Value::Null,
        "prices of compatible servers are unknown"
    );

    let req = &fake.requests("/v1/chat/completions")[0];
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.body["model"], "llama3.1");
    assert_eq!(req.body["stream"], true);
    assert_eq!(
        req.body["messages"],
        json!([{"role":"user","content":"Read main.rs please"}])
    );

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/v1/chat/completions")[1];
    assert_eq!(
        req.body["messages"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
            {"role":"user","content":"And now?"},
        ])
    );
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let fake = Fake::start(vec![stream(Kind::OpenAi.text_stream(&["ok"], true))]).await;
    let app = app()
        .env(OPENAI_BASE_URL, format!("{}/v1", fake.base))
        .spawn()
        .await;
    let token = user(&app, "ollama@example.com").await;
    let session = create_session(&app, &token).await;
    let run = Run {
        app,
        token,
        session,
    };
    let (status, events) = run.turn("hi").await;
    assert_eq!(status, "completed", "{events:#?}");
    assert_eq!(texts(&events), "ok");
    let req = &fake.requests("/v1/chat/completions")[0];
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.body["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn worker_stream_is_stored_as_our_events_and_follow_ups_resume_with_history() {
    let kind = Kind::Worker;
    let wire = vec![
        sse(
            "session_created",
            json!({"type":"session_created","chatSessionId":"x"}),
        ),
        ": keep-alive\n\n".to_string(),
        sse(
            "assistant_message",
            json!({"type":"assistant_message","text":"Hello"}),
        ),
        sse(
            "assistant_message",
            json!({"type":"assistant_message","message":{"role":"assistant","content":[
                {"type":"text","text":" wörld"},
                {"type":"tool_use","id":"toolu_1","name":"read_file","input":{"path":"src/main.rs"}}
            ]}}),
        ),
        sse(
            "tool_result",
            json!({"type":"tool_result","toolUseId":"toolu_1","content":"fn main() {}","isError":false}),
        ),
        // No `event:` line: the type comes from the data.
        data_line(
            json!({"type":"tool_use","id":"toolu_2","name":"bash","input":{"command":"cargo test"}}),
        ),
        data_line(
            json!({"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"1 failed"}],"is_error":true}),
        ),
        sse(
            "title_generation",
            json!({"type":"title_generation","title":"Main"}),
        ),
        sse(
            "result",
            json!({"type":"result","costUsd":0.0123,"durationMs":850,"turns":2,"usage":{"inputTokens":25,"outputTokens":40}}),
        ),
    ];
    let fake = Fake::start(vec![stream(wire)]).await;
    let run = setup(kind, &fake, &[]).await;

    let (status, events) = run.turn("Read main.rs please").await;
    transcript(kind, &events);
    assert_eq!(status, "completed");
    assert_eq!(
        types(&events),
        [
            "user_message",
            "run_started",
            "assistant_message",
            "assistant_message",
            "tool_use",
            "tool_result",
            "tool_use",
            "tool_result",
            "completed"
        ]
    );
    assert_eq!(events[1]["data"]["model"], "worker");
    assert_eq!(texts(&events), "Hello wörld");
    assert_eq!(
        events[4]["data"],
        json!({"id":"toolu_1","name":"read_file","input":{"path":"src/main.rs"}})
    );
    assert_eq!(
        events[5]["data"],
        json!({"toolUseId":"toolu_1","content":"fn main() {}","isError":false})
    );
    assert_eq!(
        events[7]["data"],
        json!({"toolUseId":"toolu_2","content":"1 failed","isError":true})
    );
    let done = &last(&events)["data"];
    assert_eq!(done["usage"], json!({"inputTokens":25,"outputTokens":40}));
    assert_eq!(done["costUsd"], 0.0123);
    let s = run.get(&format!("/api/sessions/{}", run.session)).await;
    assert!(s.to_string().contains("0.0123"), "session total cost: {s}");

    let req = &fake.requests("/execute")[0];
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.body["type"], "execute");
    assert_eq!(req.body["chatSessionId"], run.session.as_str());
    assert_eq!(req.body["prompt"], "Read main.rs please");
    assert_eq!(req.body["history"], json!([]));

    let (status, _) = run.turn("And now?").await;
    assert_eq!(status, "completed");
    let req = &fake.requests("/execute")[1];
    assert_eq!(req.body["type"], "resume");
    assert_eq!(req.body["prompt"], "And now?");
    assert_eq!(
        req.body["history"],
        json!([
            {"role":"user","content":"Read main.rs please"},
            {"role":"assistant","content":"Hello wörld"},
        ])
    );
    assert!(
        fake.requests("/interrupt").is_empty(),
        "a finished run is not interrupted"
    );
}

// ---------------------------------------------------------------------------------------------
// Failures, the same for every provider.

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
        send(&run.app, &run.token, &run.session, "long job")
            .await
            .status(),
        202
    );
    let deadline = Instant::now() + WAIT;
    while texts(&run.events().await).len() < 6 {
        assert!(Instant::now() < deadline, "the stream never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = call(
        &run.app,
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

// ---------------------------------------------------------------------------------------------
// Configuration-level behaviour.

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
    let token = user(&app, "list@example.com").await;
    let res = call(&app, &token, Method::GET, "/api/providers", None).await;
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
    let session = create_session(&app, &token).await;
    let res = call(
        &app,
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
    let token = user(&app, "leak@example.com").await;
    let session = create_session(&app, &token).await;
    let run = Run {
        app,
        token,
        session,
    };
    let mut seen = Vec::new();
    for provider in ["anthropic", "openai", "worker"] {
        let res = call(
            &run.app,
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
    let res = call(
        &run.app,
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
        let res = call(&run.app, &run.token, Method::GET, &path, None).await;
        seen.push(format!("{path}: {}", res.text().await.unwrap()));
    }
    let res = call(
        &run.app,
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
    let res = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email":"logs@example.com","password":"password 123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = cookie["webedt_session=".len()..]
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
