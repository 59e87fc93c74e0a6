//! OpenAI-compatible chat completions, streamed, with tools (OpenAI, Ollama, vLLM, llama.cpp).

use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::{Events, Http, Message, Reply, Request, TextSink, ToolCall, parse_input, post};
use crate::protocol::{Secret, WorkerEvent};

const LABEL: &str = "The OpenAI-compatible server";

pub fn body(req: &Request<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": req.system})];
    for m in req.messages {
        match m {
            Message::User(t) => messages.push(json!({"role": "user", "content": t})),
            Message::Assistant { text, calls } => {
                let mut msg = json!({"role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {
                            "name": c.name,
                            // A malformed call is replayed as `{}`: its text went back in the result.
                            "arguments": c.input.as_ref().map(|v| v.to_string()).unwrap_or_else(|_| "{}".into())
                        }}))
                        .collect();
                }
                messages.push(msg);
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
        "max_tokens": req.max_tokens,
        "messages": messages,
    });
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
struct Pending {
    id: String,
    name: String,
    arguments: String,
}

pub async fn complete(
    http: &Http,
    key: Option<&Secret>,
    base_url: &str,
    req: &Request<'_>,
    sink: &TextSink,
) -> Result<Reply, String> {
    let mut builder = http
        .client
        .post(format!(
            "{}/chat/completions",
            base_url.trim_end_matches('/')
        ))
        .header("accept", "text/event-stream")
        .json(&body(req));
    if let Some(k) = key {
        builder = builder.bearer_auth(k.expose());
    }
    let response = post(http, LABEL, builder, key).await?;
    let mut events = Events::new(http, response);
    let mut reply = Reply::default();
    let mut calls: BTreeMap<u64, Pending> = BTreeMap::new();
    let mut done = false;
    while let Some(event) = events.next(LABEL).await? {
        if event.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(format!(
                "{LABEL} stopped with an error: {}",
                e["message"].as_str().unwrap_or("unknown error")
            ));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            reply.usage.input_tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
            reply.usage.output_tokens = u["completion_tokens"].as_u64().unwrap_or(0);
        }
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            reply.text.push_str(t);
            let _ = sink.send(WorkerEvent::Text { text: t.into() }).await;
        }
        if let Some(list) = delta["tool_calls"].as_array() {
            for (pos, c) in list.iter().enumerate() {
                let index = c["index"].as_u64().unwrap_or(pos as u64);
                let p = calls.entry(index).or_default();
                if let Some(id) = c["id"].as_str().filter(|s| !s.is_empty()) {
                    p.id = id.into();
                }
                if let Some(n) = c["function"]["name"].as_str().filter(|s| !s.is_empty()) {
                    p.name = n.into();
                }
                if let Some(a) = c["function"]["arguments"].as_str() {
                    p.arguments.push_str(a);
                }
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            reply.stop = f.to_string();
        }
    }
    if !done && reply.stop.is_empty() {
        return Err(format!("{LABEL}'s answer ended before it was complete"));
    }
    for (i, (_, p)) in calls.into_iter().enumerate() {
        reply.calls.push(ToolCall {
            // Some servers send no id: one is made up, unique within the answer.
            id: if p.id.is_empty() {
                format!("call_{i}")
            } else {
                p.id
            },
            name: p.name,
            input: parse_input(&p.arguments),
        });
    }
    Ok(reply)
}
