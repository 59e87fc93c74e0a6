//! Anthropic's Messages API with `stream: true`.
//!
//! Request: the conversation as alternating user/assistant messages; an assistant turn's tool
//! calls as `tool_use` blocks and their results as `tool_result` blocks of the user message
//! after it; tools as `{name, description, input_schema}`.
//!
//! Answer: SSE events `message_start` (input usage), `content_block_start` (a `text` or
//! `tool_use` block), `content_block_delta` (`text_delta`, or `input_json_delta` pieces of a tool
//! call's input), `content_block_stop`, `message_delta` (stop reason, cumulative output usage),
//! `message_stop` (the end), `ping`, and `error` (a failure mid-stream).

use serde_json::{Value, json};
use std::collections::HashMap;

use super::{Message, Request, TokenUsage, ToolCall, WireEvent, parse_input};

pub const API_VERSION: &str = "2023-06-01";
/// The answer's length limit when the request names none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 8192;

/// The JSON body of `POST {base}/v1/messages`.
pub fn body(req: &Request<'_>) -> Value {
    let messages: Vec<Value> = req.messages.iter().map(message).collect();
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "stream": true,
        "messages": messages,
    });
    if let Some(system) = req.system.filter(|s| !s.is_empty()) {
        body["system"] = json!(system);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
    }
    body
}

fn message(m: &Message) -> Value {
    match m {
        Message::User(t) => json!({"role": "user", "content": t}),
        // Images first, then the text (the order Anthropic's docs recommend).
        Message::UserImages { text, images } => {
            let mut blocks: Vec<Value> = images
                .iter()
                .map(|i| {
                    json!({"type": "image", "source": {
                        "type": "base64", "media_type": i.media_type, "data": i.base64()
                    }})
                })
                .collect();
            if !text.is_empty() {
                blocks.push(json!({"type": "text", "text": text}));
            }
            json!({"role": "user", "content": blocks})
        }
        Message::Assistant { text, calls } if calls.is_empty() => {
            // The API refuses an empty turn (a run that failed before its first word).
            let text = if text.is_empty() { "(no answer)" } else { text };
            json!({"role": "assistant", "content": text})
        }
        Message::Assistant { text, calls } => {
            let mut blocks = Vec::new();
            if !text.is_empty() {
                blocks.push(json!({"type": "text", "text": text}));
            }
            for c in calls {
                // A malformed call is replayed as `{}`: its text went back in the result.
                blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name,
                    "input": c.input.clone().unwrap_or_else(|_| json!({}))}));
            }
            json!({"role": "assistant", "content": blocks})
        }
        Message::ToolResults(results) => {
            json!({"role": "user", "content": results.iter().map(|r| json!({
            "type": "tool_result", "tool_use_id": r.id, "content": r.content, "is_error": r.is_error
        })).collect::<Vec<_>>()})
        }
    }
}

/// A tool call whose input arrives as JSON text in pieces.
struct PendingTool {
    id: String,
    name: String,
    json: String,
    start_input: Value,
}

/// Turns the answer's SSE events into [`WireEvent`]s.
#[derive(Default)]
pub struct Decoder {
    pub usage: TokenUsage,
    /// `end_turn`, `tool_use`, `max_tokens`…, once `message_delta` said it.
    pub stop_reason: Option<String>,
    /// `message_stop` arrived: the answer is complete.
    pub finished: bool,
    tools: HashMap<u64, PendingTool>,
}

impl Decoder {
    /// One SSE event: `kind` is its `type` (or SSE event name), `data` its JSON. An `error` event
    /// becomes `Err` with a message for the user.
    pub fn on_event(&mut self, kind: &str, data: &Value) -> Result<Vec<WireEvent>, String> {
        let index = data["index"].as_u64().unwrap_or(0);
        Ok(match kind {
            "message_start" => {
                update(&mut self.usage, &data["message"]["usage"]);
                vec![]
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block["type"].as_str() {
                    Some("text") => text(block["text"].as_str()),
                    Some("tool_use" | "server_tool_use") => {
                        self.tools.insert(
                            index,
                            PendingTool {
                                id: block["id"].as_str().unwrap_or_default().into(),
                                name: block["name"].as_str().unwrap_or_default().into(),
                                json: String::new(),
                                start_input: block["input"].clone(),
                            },
                        );
                        vec![]
                    }
                    // Results of Anthropic-run tools (e.g. web search) arrive whole.
                    Some(t) if t.ends_with("_tool_result") => vec![WireEvent::ServerToolResult {
                        tool_use_id: block["tool_use_id"].as_str().unwrap_or_default().into(),
                        content: match &block["content"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                        is_error: block["content"]["type"]
                            .as_str()
                            .is_some_and(|t| t.ends_with("_error")),
                    }],
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => text(delta["text"].as_str()),
                    Some("input_json_delta") => {
                        if let Some(tool) = self.tools.get_mut(&index) {
                            tool.json
                                .push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                        vec![]
                    }
                    // Thinking, signatures, citations: not shown.
                    _ => vec![],
                }
            }
            "content_block_stop" => match self.tools.remove(&index) {
                None => vec![],
                Some(tool) => {
                    let input = match (tool.json.trim().is_empty(), tool.start_input) {
                        // The whole input came with the block's start.
                        (true, v @ Value::Object(_)) => Ok(v),
                        _ => parse_input(&tool.json),
                    };
                    vec![WireEvent::ToolCall(ToolCall {
                        id: tool.id,
                        name: tool.name,
                        input,
                    })]
                }
            },
            "message_delta" => {
                if let Some(s) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(s.to_string());
                }
                update(&mut self.usage, &data["usage"]);
                vec![]
            }
            "message_stop" => {
                self.finished = true;
                vec![]
            }
            "error" => {
                let e = &data["error"];
                let what = e["message"].as_str().unwrap_or("unknown error");
                let kind = e["type"].as_str().unwrap_or("error");
                return Err(match kind {
                    "overloaded_error" => format!(
                        "Anthropic is overloaded and stopped the answer ({what}); try again later. The partial answer is kept."
                    ),
                    _ => format!(
                        "Anthropic stopped the answer with an error ({kind}: {what}). The partial answer is kept."
                    ),
                });
            }
            // `ping` and anything newer.
            _ => vec![],
        })
    }
}

fn update(usage: &mut TokenUsage, u: &Value) {
    let set = |field: &str, slot: &mut u64| {
        if let Some(n) = u[field].as_u64() {
            *slot = n;
        }
    };
    set("input_tokens", &mut usage.input);
    set("cache_creation_input_tokens", &mut usage.cache_write);
    set("cache_read_input_tokens", &mut usage.cache_read);
    set("output_tokens", &mut usage.output);
}

fn text(t: Option<&str>) -> Vec<WireEvent> {
    match t {
        Some(t) if !t.is_empty() => vec![WireEvent::Text(t.to_string())],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ToolResult, ToolSpec};

    #[test]
    fn tool_turns_become_tool_use_and_tool_result_blocks() {
        let messages = [
            Message::User("fix it".into()),
            Message::Assistant {
                text: String::new(),
                calls: vec![ToolCall {
                    id: "t1".into(),
                    name: "read_file".into(),
                    input: Err("{oops".into()),
                }],
            },
            Message::ToolResults(vec![ToolResult {
                id: "t1".into(),
                content: "bad input".into(),
                is_error: true,
            }]),
        ];
        let tools = [ToolSpec {
            name: "read_file",
            description: "reads",
            input_schema: json!({"type": "object"}),
        }];
        let b = body(&Request {
            model: "m",
            system: Some("be brief"),
            messages: &messages,
            tools: &tools,
            max_tokens: None,
        });
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(b["messages"][1]["content"][0]["input"], json!({}));
        assert_eq!(b["messages"][2]["content"][0]["tool_use_id"], "t1");
        assert_eq!(b["messages"][2]["content"][0]["is_error"], true);
    }

    #[test]
    fn streamed_tool_input_is_assembled_and_usage_is_cumulative() {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let events = [
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 5}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "edit", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"pa"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "th\":\"a\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
            json!({"type": "message_stop"}),
        ];
        for e in &events {
            out.extend(d.on_event(e["type"].as_str().unwrap(), e).unwrap());
        }
        assert_eq!(
            out,
            vec![
                WireEvent::Text("Hi".into()),
                WireEvent::ToolCall(ToolCall {
                    id: "t".into(),
                    name: "edit".into(),
                    input: Ok(json!({"path": "a"}))
                })
            ]
        );
        assert!(d.finished);
        assert_eq!(d.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!((d.usage.total_input(), d.usage.output), (15, 7));
    }

    #[test]
    fn an_error_event_is_a_message_for_the_user() {
        let e = json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}});
        let err = Decoder::default().on_event("error", &e).unwrap_err();
        assert!(err.contains("overloaded") && err.contains("busy"), "{err}");
    }
}
