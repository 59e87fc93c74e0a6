//! Anthropic Messages API, streamed, with tools.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::{Events, Http, Message, Reply, Request, TextSink, ToolCall, parse_input, post};
use crate::protocol::{Secret, WorkerEvent};

const LABEL: &str = "Anthropic";
const API_VERSION: &str = "2023-06-01";

/// The request body: the conversation as alternating user/assistant messages, tool results as
/// `tool_result` blocks of one user message answering every `tool_use` of the turn before.
pub fn body(req: &Request<'_>) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| match m {
            Message::User(t) => json!({"role": "user", "content": t}),
            Message::Assistant { text, calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for c in calls {
                    blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name,
                        "input": c.input.clone().unwrap_or_else(|_| json!({}))}));
                }
                if blocks.is_empty() {
                    blocks.push(json!({"type": "text", "text": "(no answer)"}));
                }
                json!({"role": "assistant", "content": blocks})
            }
            Message::ToolResults(results) => json!({"role": "user", "content": results.iter().map(|r| json!({
                "type": "tool_result", "tool_use_id": r.id, "content": r.content, "is_error": r.is_error
            })).collect::<Vec<_>>()}),
        })
        .collect();
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "stream": true,
        "system": req.system,
        "messages": messages,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
    }
    body
}

enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

pub async fn complete(
    http: &Http,
    key: &Secret,
    base_url: &str,
    req: &Request<'_>,
    sink: &TextSink,
) -> Result<Reply, String> {
    let builder = http
        .client
        .post(format!("{}/v1/messages", base_url.trim_end_matches('/')))
        .header("x-api-key", key.expose())
        .header("anthropic-version", API_VERSION)
        .header("accept", "text/event-stream")
        .json(&body(req));
    let response = post(http, LABEL, builder, Some(key)).await?;
    let mut events = Events::new(http, response);
    let mut reply = Reply::default();
    let mut blocks: BTreeMap<u64, Block> = BTreeMap::new();
    while let Some(event) = events.next(LABEL).await? {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        let index = data["index"].as_u64().unwrap_or(0);
        match kind {
            "message_start" => {
                let u = &data["message"]["usage"];
                reply.usage.input_tokens = [
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ]
                .iter()
                .filter_map(|k| u[*k].as_u64())
                .sum();
                if let Some(n) = u["output_tokens"].as_u64() {
                    reply.usage.output_tokens = n;
                }
            }
            "content_block_start" => {
                let b = &data["content_block"];
                match b["type"].as_str() {
                    Some("text") => {
                        blocks.insert(index, Block::Text);
                        if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                            reply.text.push_str(t);
                            let _ = sink.send(WorkerEvent::Text { text: t.into() }).await;
                        }
                    }
                    Some("tool_use") => {
                        let start = match &b["input"] {
                            Value::Object(m) if !m.is_empty() => b["input"].to_string(),
                            _ => String::new(),
                        };
                        blocks.insert(
                            index,
                            Block::Tool {
                                id: b["id"].as_str().unwrap_or_default().into(),
                                name: b["name"].as_str().unwrap_or_default().into(),
                                json: start,
                            },
                        );
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &data["delta"];
                match (d["type"].as_str(), blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        if let Some(t) = d["text"].as_str().filter(|t| !t.is_empty()) {
                            reply.text.push_str(t);
                            let _ = sink.send(WorkerEvent::Text { text: t.into() }).await;
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(d["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { id, name, json }) = blocks.remove(&index) {
                    reply.calls.push(ToolCall {
                        id,
                        name,
                        input: parse_input(&json),
                    });
                }
            }
            "message_delta" => {
                if let Some(s) = data["delta"]["stop_reason"].as_str() {
                    reply.stop = s.to_string();
                }
                let u = &data["usage"];
                if let Some(n) = u["output_tokens"].as_u64() {
                    reply.usage.output_tokens = n;
                }
                if let Some(n) = u["input_tokens"].as_u64() {
                    reply.usage.input_tokens = n
                        + u["cache_creation_input_tokens"].as_u64().unwrap_or(0)
                        + u["cache_read_input_tokens"].as_u64().unwrap_or(0);
                }
            }
            "message_stop" => return Ok(reply),
            "error" => {
                let e = &data["error"];
                return Err(format!(
                    "{LABEL} stopped with an error ({}): {}",
                    e["type"].as_str().unwrap_or("error"),
                    e["message"].as_str().unwrap_or("unknown error")
                ));
            }
            _ => {}
        }
    }
    Err(format!("{LABEL}'s answer ended before it was complete"))
}
