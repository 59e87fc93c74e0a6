//! Fake model upstreams written from the Anthropic Messages and OpenAI chat-completions docs:
//! scripted streamed answers, and the requests they received.

use crate::common::*;
use futures::StreamExt;

/// Ends a scripted answer that stops mid-stream and never finishes.
pub const STALL: &str = "\u{0}stall";

#[derive(Clone, Default)]
pub struct Upstream {
    /// Scripted response bodies, one per request (the last repeats).
    pub script: Arc<Vec<String>>,
    pub requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

pub async fn fake_upstream(script: Vec<String>) -> (String, Upstream) {
    let up = Upstream {
        script: Arc::new(script),
        requests: Default::default(),
    };
    let state = up.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let state = state.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let n = {
                let mut r = state.requests.lock().unwrap();
                r.push((headers, v));
                r.len() - 1
            };
            let script = state.script[n.min(state.script.len() - 1)].clone();
            let body = match script.strip_suffix(STALL) {
                // Sent, then the answer goes silent with the connection open.
                Some(sent) => {
                    let sent = sent.to_string();
                    axum::body::Body::from_stream(
                        futures::stream::once(async move { Ok::<_, std::io::Error>(sent) })
                            .chain(futures::stream::pending()),
                    )
                }
                None => axum::body::Body::from(script),
            };
            ([("content-type", "text/event-stream")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), up)
}

pub fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// An Anthropic streamed message: optional text, then tool_use blocks whose input JSON is sent
/// in the given fragments (split anywhere, as the API does).
pub fn anthropic(text: &str, tools: &[(&str, &str, &[&str])]) -> String {
    let mut s = sse(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null, "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    );
    let mut i = 0;
    if !text.is_empty() {
        s += &sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        );
        s += &sse("ping", json!({"type": "ping"}));
        s += &sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        );
        s += &sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        );
        i = 1;
    }
    for (id, name, fragments) in tools {
        s += &sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        );
        for f in fragments.iter() {
            s += &sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": f}}),
            );
        }
        s += &sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        );
        i += 1;
    }
    let stop = if tools.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    s += &sse(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 42}}),
    );
    s += &sse("message_stop", json!({"type": "message_stop"}));
    s
}

/// An OpenAI chat-completions stream: text, then tool calls with arguments in fragments.
pub fn openai(text: &str, calls: &[(&str, &str, &[&str])]) -> String {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut s = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    if !text.is_empty() {
        s += &chunk(json!({"content": text}), Value::Null);
    }
    for (i, (id, name, fragments)) in calls.iter().enumerate() {
        s += &chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            Value::Null,
        );
        for f in fragments.iter() {
            s += &chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": f}}]}),
                Value::Null,
            );
        }
    }
    s += &chunk(
        json!({}),
        json!(if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }),
    );
    s += &format!(
        "data: {}\n\n",
        json!({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}})
    );
    s += "data: [DONE]\n\n";
    s
}

pub fn provider(kind: ProviderKind, base: &str, key: &str) -> ProviderSpec {
    ProviderSpec {
        kind,
        model: Some("test-model".into()),
        api_key: Some(Secret::new(key)),
        base_url: Some(base.into()),
    }
}
