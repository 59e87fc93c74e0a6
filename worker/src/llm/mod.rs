//! Model clients with tool use: Anthropic Messages and OpenAI-compatible chat completions, plus
//! the scripted demo. The wire formats (request bodies, streamed-answer decoders) and the HTTP
//! plumbing are the providers crate's, shared with the API's chat runs; this module turns a
//! decoded answer into one [`Reply`] of the agent loop, streaming its text as it arrives.

pub mod anthropic;
pub mod demo;
pub mod openai;

pub use webedt_providers::Http;
pub use webedt_providers::wire::{Message, Request, ToolCall, ToolResult, ToolSpec, WireEvent};

use tokio::sync::mpsc;

use crate::protocol::{Secret, Usage, WorkerEvent};

/// One model answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    pub text: String,
    pub calls: Vec<ToolCall>,
    /// The wire format's stop reason (`end_turn`, `tool_use`, `stop`, `tool_calls`, `length`…).
    pub stop: String,
    pub usage: Usage,
}

impl Reply {
    /// Adds a decoded piece of the answer; text also goes to the client as it arrives.
    async fn take(&mut self, event: WireEvent, sink: &TextSink) {
        match event {
            WireEvent::Text(t) => {
                self.text.push_str(&t);
                let _ = sink.send(WorkerEvent::Text { text: t }).await;
            }
            WireEvent::ToolCall(call) => self.calls.push(call),
            // Tools the provider runs itself are not offered to the agent.
            WireEvent::ServerToolResult { .. } => {}
        }
    }
}

/// The worker's HTTP client: the providers' one, with its timeouts.
pub fn http(connect: std::time::Duration, idle: std::time::Duration) -> Http {
    Http::with_timeouts(
        connect,
        idle,
        concat!("webedt-worker/", env!("CARGO_PKG_VERSION")),
    )
}

/// The client for a base URL the run brought (the user's own provider): checked like every host
/// a user names (HTTPS, public addresses, unless allowlisted) and pinned to the checked addresses.
pub async fn http_for_user_base_url(
    outbound: &webedt_providers::outbound::Outbound,
    base_url: &str,
    connect: std::time::Duration,
    idle: std::time::Duration,
) -> Result<Http, String> {
    let url = url::Url::parse(base_url)
        .map_err(|_| "the provider's base URL is not a URL".to_string())?;
    let vetted = outbound
        .vet(&url)
        .await
        .map_err(|e| format!("the provider's base URL: {e}"))?;
    Ok(Http::pinned_with_timeouts(
        connect,
        idle,
        concat!("webedt-worker/", env!("CARGO_PKG_VERSION")),
        &vetted,
    ))
}

pub enum Client {
    Anthropic {
        http: Http,
        key: Secret,
        base_url: String,
    },
    OpenAi {
        http: Http,
        key: Option<Secret>,
        base_url: String,
    },
    Demo(demo::Demo),
}

/// Where streamed text goes as it arrives.
pub type TextSink = mpsc::Sender<WorkerEvent>;

impl Client {
    pub fn label(&self) -> &'static str {
        match self {
            Client::Anthropic { .. } => anthropic::LABEL,
            Client::OpenAi { .. } => openai::LABEL,
            Client::Demo(_) => "The demo",
        }
    }

    pub async fn complete(&self, req: &Request<'_>, text: &TextSink) -> Result<Reply, String> {
        match self {
            Client::Anthropic {
                http,
                key,
                base_url,
            } => anthropic::complete(http, key, base_url, req, text).await,
            Client::OpenAi {
                http,
                key,
                base_url,
            } => openai::complete(http, key.as_ref(), base_url, req, text).await,
            Client::Demo(d) => d.complete(req, text).await,
        }
    }
}
