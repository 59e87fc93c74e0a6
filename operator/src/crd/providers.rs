//! AI providers. API keys only ever travel as `secretKeyRef`s, never as literal values.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use webedt_contract::ProviderLimits;

/// A key of a Secret in the WebEDT's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// AI providers the API can run prompts with.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.anthropic) || has(self.anthropic.apiKeySecretRef)").message("providers.anthropic needs apiKeySecretRef: the Anthropic API requires a key").field_path(".anthropic.apiKeySecretRef"),
    validation = Rule::new("!has(self.default) || self.default != 'anthropic' || has(self.anthropic)").message("providers.default is anthropic but providers.anthropic is not configured").field_path(".default"),
    validation = Rule::new("!has(self.default) || self.default != 'openai' || has(self.openai)").message("providers.default is openai but providers.openai is not configured").field_path(".default")
)]
pub struct ProvidersSpec {
    /// The Anthropic API (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, ANTHROPIC_MODEL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic: Option<ProviderSpec>,
    /// Any OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp, LiteLLM (OPENAI_API_KEY,
    /// OPENAI_BASE_URL, OPENAI_MODEL). Without baseUrl the operator uses
    /// https://api.openai.com/v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai: Option<ProviderSpec>,
    /// A worker the operator does not run (AI_WORKER_URL, AI_WORKER_SECRET). For workers the
    /// operator runs, use spec.worker instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerSpec>,
    /// Provider used when a run names none (DEFAULT_PROVIDER). Unset: the API's own choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = super::drop_null_from_enum)]
    pub default: Option<DefaultProvider>,
    /// Longest wait, in milliseconds, for a connection to a provider
    /// (PROVIDER_CONNECT_TIMEOUT_MS).
    #[serde(default = "d_connect")]
    #[schemars(range(min = 1, max = 600_000))]
    pub connect_timeout_ms: u64,
    /// A provider stream silent for this many milliseconds fails the run
    /// (PROVIDER_IDLE_TIMEOUT_MS).
    #[serde(default = "d_idle")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub idle_timeout_ms: u64,
    /// Characters of earlier conversation sent with a follow-up prompt; the oldest turns are
    /// dropped first. 0 sends follow-ups without history (PROVIDER_HISTORY_MAX_CHARS).
    #[serde(default = "d_history")]
    #[schemars(range(max = 100_000_000))]
    pub history_max_chars: u64,
    /// Runs that would spend the deployment's model keys need the user's own AI key (a
    /// Connections entry); without one they are refused with 403 `user_key_required`. The demo
    /// provider stays open (REQUIRE_USER_KEYS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_user_keys: bool,
}

fn d_connect() -> u64 {
    ProviderLimits::default().connect_timeout_ms
}
fn d_idle() -> u64 {
    ProviderLimits::default().idle_timeout_ms
}
fn d_history() -> u64 {
    ProviderLimits::default().history_max_chars as u64
}

impl Default for ProvidersSpec {
    fn default() -> Self {
        Self {
            anthropic: None,
            openai: None,
            worker: None,
            default: None,
            connect_timeout_ms: d_connect(),
            idle_timeout_ms: d_idle(),
            history_max_chars: d_history(),
            require_user_keys: false,
        }
    }
}

impl ProvidersSpec {
    pub fn limits(&self) -> ProviderLimits {
        ProviderLimits {
            connect_timeout_ms: self.connect_timeout_ms,
            idle_timeout_ms: self.idle_timeout_ms,
            history_max_chars: self.history_max_chars as usize,
        }
    }
}

/// One hosted model API.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.baseUrl) || self.baseUrl.startsWith('https://') || self.baseUrl.startsWith('http://')").message("baseUrl must start with http:// or https://").field_path(".baseUrl")
)]
pub struct ProviderSpec {
    /// Secret key holding the API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
    /// Base URL of the API. Unset: the provider's public endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub base_url: Option<String>,
    /// Default model, e.g. `claude-sonnet-4-5` or `gpt-4.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub model: Option<String>,
}

/// A self-hosted worker that runs prompts.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.url.startsWith('https://') || self.url.startsWith('http://')").message("worker.url must start with http:// or https://").field_path(".url")
)]
pub struct WorkerSpec {
    /// Base URL of the worker, e.g. `http://webedt-worker:8080`.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Secret key holding the bearer secret sent to the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

/// Provider used when a run names none.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DefaultProvider {
    Demo,
    Anthropic,
    Openai,
    Worker,
}

impl DefaultProvider {
    /// The value of DEFAULT_PROVIDER.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demo => "demo",
            Self::Anthropic => "anthropic",
            Self::Openai => "openai",
            Self::Worker => "worker",
        }
    }
}
