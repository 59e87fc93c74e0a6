//! Each provider's documented wire format, as the fake upstream speaks it: the settings that
//! point a replica at the fake, a text stream (complete or cut), an error body.

use super::KEY;
use super::fake::{Fake, data_line, sse};
use serde_json::{Value, json};
use webedt_contract::names::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    Anthropic,
    OpenAi,
    Worker,
}

impl Kind {
    pub(super) fn id(self) -> &'static str {
        match self {
            Kind::Anthropic => "anthropic",
            Kind::OpenAi => "openai",
            Kind::Worker => "worker",
        }
    }

    pub(super) fn path(self) -> &'static str {
        match self {
            Kind::Anthropic => "/v1/messages",
            Kind::OpenAi => "/v1/chat/completions",
            Kind::Worker => "/execute",
        }
    }

    pub(super) fn env(self, fake: &Fake) -> Vec<(&'static str, String)> {
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
    pub(super) fn text_stream(self, texts: &[&str], complete: bool) -> Vec<String> {
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
    pub(super) fn error_body(self, message: &str) -> Value {
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

    pub(super) fn credential_var(self) -> &'static str {
        match self {
            Kind::Anthropic => ANTHROPIC_API_KEY,
            Kind::OpenAi => OPENAI_API_KEY,
            Kind::Worker => AI_WORKER_SECRET,
        }
    }
}
