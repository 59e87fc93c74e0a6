//! OpenAI-compatible chat completions with `stream: true` (OpenAI, Ollama, vLLM, llama.cpp,
//! LiteLLM).
//!
//! Request: a `system` message, then the conversation; an assistant turn's tool calls as
//! `tool_calls` and each result as a `tool` message; tools as `{type: function, function}`.
//!
//! Answer: `data: {…"choices":[{"delta":{"content":"…"}}]…}` lines, tool calls as
//! `delta.tool_calls[]` pieces keyed by `index`, a `finish_reason`, usage in a last chunk when
//! `stream_options.include_usage` is honoured, an `{"error":{…}}` chunk on failure mid-stream,
//! and `data: [DONE]`.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::{Message, Request, TokenUsage, ToolCall, WireEvent, parse_input};

/// The JSON body of `POST {base}/chat/completions`.
pub fn body(req: &Request<'_>) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = req.system.filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in req.messages {
        match m {
            Message::User(t) => messages.push(json!({"role": "user", "content": t})),
            Message::UserImages { text, images } => {
                let mut parts = Vec::new();
                if !text.is_empty() {
                    parts.push(json!({"type": "text", "text": text}));
                }
                for i in images {
                    let url = format!("data:{};base64,{}", i.media_type, i.base64());
                    parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                }
                messages.push(json!({"role": "user", "content": parts}));
            }
            Message::Assistant { text, calls } if calls.is_empty() => {
                messages.push(json!({"role": "assistant", "content": text}));
            }
            Message::Assistant { text, calls } => {
                let content = if text.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                };
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {
                        "name": c.name,
                        // A malformed call is replayed as `{}`: its text went back in the result.
                        "arguments": c.input.as_ref().map(|v| v.to_string()).unwrap_or_else(|_| "{}".into())
                    }}))
                    .collect();
                messages
                    .push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
            }
            Message::ToolResults(results) => {
                for r in results {
                    // No `is_error` in this format: the error is said in the text.
                    let content = if r.is_error {
                        format!("error: {}", r.content)
                    } else {
                        r.content.clone()
                    };
                    messages
                        .push(json!({"role": "tool", "tool_call_id": r.id, "content": content}));
                }
            }
        }
    }
    let mut body = json!({
        "model": req.model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if let Some(n) = req.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.input_schema}})
            })
            .collect();
    }
    body
}

#[derive(Default)]
struct PendingTool {
    id: String,
    name: String,
    arguments: String,
}

/// Turns the answer's `data:` lines into [`WireEvent`]s.
#[derive(Default)]
pub struct Decoder {
    pub usage: TokenUsage,
    /// `stop`, `tool_calls`, `length`…, once a choice said it.
    pub finish_reason: Option<String>,
    /// `[DONE]` arrived.
    pub done: bool,
    tools: BTreeMap<u64, PendingTool>,
    /// Tool calls handed out so far, for ids of servers that send none.
    calls_seen: usize,
}

impl Decoder {
    /// One `data:` line. An error chunk becomes `Err` with a message for the user.
    pub fn on_data(&mut self, data: &str) -> Result<Vec<WireEvent>, String> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(self.flush_tools());
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Ok(vec![]);
        };
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            let what = e["message"]
                .as_str()
                .or(e.as_str())
                .unwrap_or("unknown error");
            return Err(format!(
                "The OpenAI-compatible server stopped the answer with an error ({what}). The partial answer is kept."
            ));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage.input = u["prompt_tokens"].as_u64().unwrap_or(0);
            self.usage.output = u["completion_tokens"].as_u64().unwrap_or(0);
        }
        let mut out = Vec::new();
        let Some(choice) = chunk["choices"].get(0) else {
            return Ok(out);
        };
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(WireEvent::Text(t.to_string()));
        }
        for (pos, call) in delta["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call["index"].as_u64().unwrap_or(pos as u64);
            let tool = self.tools.entry(index).or_default();
            if let Some(id) = call["id"].as_str().filter(|s| !s.is_empty()) {
                tool.id = id.to_string();
            }
            // Names come whole (llama.cpp repeats them in every piece): the last one wins.
            if let Some(name) = call["function"]["name"].as_str().filter(|s| !s.is_empty()) {
                tool.name = name.to_string();
            }
            if let Some(args) = call["function"]["arguments"].as_str() {
                tool.arguments.push_str(args);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
            out.extend(self.flush_tools());
        }
        Ok(out)
    }

    /// The stream closed: whether the answer was complete (some servers close without
    /// `[DONE]` after a finished answer), with any tool calls still pending.
    pub fn finish(&mut self) -> (bool, Vec<WireEvent>) {
        (
            self.done || self.finish_reason.is_some(),
            self.flush_tools(),
        )
    }

    fn flush_tools(&mut self) -> Vec<WireEvent> {
        std::mem::take(&mut self.tools)
            .into_values()
            .map(|t| {
                let n = self.calls_seen;
                self.calls_seen += 1;
                WireEvent::ToolCall(ToolCall {
                    // Some servers send no id: one is made up, unique within the answer.
                    id: if t.id.is_empty() {
                        format!("call_{n}")
                    } else {
                        t.id
                    },
                    name: t.name,
                    input: parse_input(&t.arguments),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_of_parallel_calls_are_joined_by_index() {
        let mut d = Decoder::default();
        let lines = [
            r#"{"choices":[{"delta":{"content":"ok"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"read","arguments":"{\"pa"}},{"index":1,"function":{"name":"list","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":\"x\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        ];
        let mut out = Vec::new();
        for l in lines {
            out.extend(d.on_data(l).unwrap());
        }
        out.extend(d.on_data("[DONE]").unwrap());
        assert_eq!(out[0], WireEvent::Text("ok".into()));
        assert_eq!(
            out[1],
            WireEvent::ToolCall(ToolCall {
                id: "a".into(),
                name: "read".into(),
                input: Ok(json!({"path": "x"}))
            })
        );
        assert_eq!(
            out[2],
            WireEvent::ToolCall(ToolCall {
                id: "call_1".into(),
                name: "list".into(),
                input: Ok(json!({}))
            })
        );
        assert_eq!(out.len(), 3);
        assert_eq!((d.usage.input, d.usage.output), (3, 4));
        assert!(d.finish().0);
    }

    #[test]
    fn a_stream_closed_before_any_finish_is_incomplete() {
        let mut d = Decoder::default();
        d.on_data(r#"{"choices":[{"delta":{"content":"par"}}]}"#)
            .unwrap();
        assert!(!d.finish().0);
        let err = d.on_data(r#"{"error":{"message":"boom"}}"#).unwrap_err();
        assert!(err.contains("boom"));
    }
}
