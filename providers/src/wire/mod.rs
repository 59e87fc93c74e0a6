//! The model wire formats, once: a neutral conversation ([`Message`], with tool calls and their
//! results) rendered into each provider's request body, and a decoder per format that turns its
//! streamed answer into [`WireEvent`]s. The API's chat providers and the worker's agent loop both
//! build on these; only the transport and what happens to each event differ.

pub mod anthropic;
pub mod openai;

use serde_json::Value;

/// A tool call as the model sent it. `input` is `Err(raw text)` when it was not a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Result<Value, String>,
}

impl ToolCall {
    /// The input as a JSON value; a malformed one as the string the model sent.
    pub fn input_value(&self) -> Value {
        match &self.input {
            Ok(v) => v.clone(),
            Err(raw) => Value::String(raw.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub id: String,
    pub content: String,
    pub is_error: bool,
}

/// An image of a prompt: its media type (`image/png`, `image/jpeg`, `image/gif` or
/// `image/webp`, read from its bytes) and the bytes. `Debug` shows the size, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub media_type: &'static str,
    pub data: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}, {} bytes)", self.media_type, self.data.len())
    }
}

impl Image {
    /// The bytes in standard base64, as both formats carry them.
    pub fn base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.data)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    /// A user turn with images: Anthropic `image` blocks, OpenAI `image_url` data URLs.
    UserImages {
        text: String,
        images: Vec<Image>,
    },
    Assistant {
        text: String,
        calls: Vec<ToolCall>,
    },
    ToolResults(Vec<ToolResult>),
}

impl Message {
    /// Its size in characters of text, for trimming a conversation before the context limit.
    pub fn chars(&self) -> usize {
        match self {
            Message::User(t) => t.len(),
            // Images are bounded by count, not by this budget.
            Message::UserImages { text, .. } => text.len(),
            Message::Assistant { text, calls } => {
                text.len()
                    + calls
                        .iter()
                        .map(|c| {
                            c.name.len()
                                + c.input
                                    .as_ref()
                                    .map(|v| v.to_string().len())
                                    .unwrap_or_else(|r| r.len())
                        })
                        .sum::<usize>()
            }
            Message::ToolResults(r) => r.iter().map(|r| r.content.len()).sum(),
        }
    }
}

/// A tool offered to the model: its name, what it does, and its input as a JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

/// One request, in neutral form.
pub struct Request<'a> {
    pub model: &'a str,
    /// Instructions before the conversation; `None` sends none.
    pub system: Option<&'a str>,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
    /// Upper bound of the answer in tokens; `None`: the format's default (Anthropic requires one).
    pub max_tokens: Option<u32>,
}

/// What a streamed answer says, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum WireEvent {
    Text(String),
    /// A complete tool call for the caller to run.
    ToolCall(ToolCall),
    /// A tool the provider ran itself (Anthropic's server tools, e.g. web search).
    ServerToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
}

/// Token counts as the formats report them (cumulative: the latest report wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    pub input: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub output: u64,
}

impl TokenUsage {
    /// Every input token, whether cached or not.
    pub fn total_input(&self) -> u64 {
        self.input + self.cache_write + self.cache_read
    }
}

/// Parses a tool call's accumulated argument text: empty means `{}`; anything but a JSON
/// object is kept raw so the model can be told what was wrong.
pub fn parse_input(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_input_is_an_object_or_kept_raw() {
        assert_eq!(parse_input("  "), Ok(json!({})));
        assert_eq!(parse_input(r#"{"a":1}"#), Ok(json!({"a": 1})));
        assert_eq!(parse_input("[1]"), Err("[1]".into()));
        assert_eq!(parse_input(r#"{"a":"#), Err(r#"{"a":"#.into()));
    }
}
