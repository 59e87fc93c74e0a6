//! What the three network providers share: one HTTP client with the configured connect
//! timeout, a send that honours one `Retry-After` on 429, an SSE body reader with an idle
//! timeout, failure messages a user understands (never carrying a key), and the task-backed
//! stream whose drop aborts the upstream request.

use futures::Stream;
use reqwest::header::HeaderValue;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

use super::sse::{SseEvent, SseParser};
use super::{ProviderError, ProviderEvent, ProviderStream};

/// Longest `Retry-After` we wait for (once) before retrying a 429.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// Most of an error response read to find its message.
const ERROR_BODY_MAX: usize = 16 * 1024;

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

/// Who a request goes to, for messages: its name, the variable holding its credential, and the
/// credential itself (scrubbed from anything upstream says).
pub struct Target {
    pub label: &'static str,
    pub credential_var: &'static str,
    pub secret: Option<String>,
}

impl Http {
    pub fn new(limits: &webedt_contract::ProviderLimits) -> Self {
        Self::with_timeouts(
            Duration::from_millis(limits.connect_timeout_ms),
            Duration::from_millis(limits.idle_timeout_ms),
            concat!("webedt-api/", env!("CARGO_PKG_VERSION")),
        )
    }

    /// `connect_timeout` bounds the TCP/TLS connect, `idle_timeout` the wait for the answer to
    /// start and every silence in it.
    pub fn with_timeouts(
        connect_timeout: Duration,
        idle_timeout: Duration,
        user_agent: &'static str,
    ) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(user_agent)
            .build()
            .expect("the HTTP client builds with static settings");
        Self {
            client,
            connect_timeout,
            idle_timeout,
        }
    }

    /// For a base URL a user supplied, checked by the SSRF guard: reaches its host only at the
    /// vetted addresses, follows no redirect and ignores proxy variables.
    pub fn pinned(
        limits: &webedt_contract::ProviderLimits,
        vetted: &crate::outbound::Vetted,
    ) -> Self {
        Self::pinned_with_timeouts(
            Duration::from_millis(limits.connect_timeout_ms),
            Duration::from_millis(limits.idle_timeout_ms),
            concat!("webedt-api/", env!("CARGO_PKG_VERSION")),
            vetted,
        )
    }

    /// [`Http::pinned`] with explicit timeouts and user agent (the worker's).
    pub fn pinned_with_timeouts(
        connect_timeout: Duration,
        idle_timeout: Duration,
        user_agent: &'static str,
        vetted: &crate::outbound::Vetted,
    ) -> Self {
        Self {
            client: vetted
                .pinned_builder()
                .connect_timeout(connect_timeout)
                .user_agent(user_agent)
                .build()
                .expect("the HTTP client builds with static settings"),
            connect_timeout,
            idle_timeout,
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request built by `make` and returns the successful response. A 429 with a
    /// `Retry-After` of at most [`RETRY_AFTER_CAP`] is retried once after that delay; every other
    /// failure becomes a message for the user.
    pub async fn send(
        &self,
        target: &Target,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut retried = false;
        loop {
            let response = match tokio::time::timeout(self.idle_timeout, make().send()).await {
                Err(_) => {
                    tracing::warn!(provider = target.label, "provider did not answer in time");
                    return Err(ProviderError(format!(
                        "{} did not start answering within {}; the request was abandoned \
                         (limit: PROVIDER_IDLE_TIMEOUT_MS).",
                        target.label,
                        secs(self.idle_timeout)
                    )));
                }
                Ok(Err(e)) => return Err(self.transport_error(target, &e)),
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retry_after = retry_after(response.headers());
            let detail = error_detail(response, self.idle_timeout, target).await;
            tracing::warn!(
                provider = target.label,
                status = status.as_u16(),
                retried,
                "provider refused the request"
            );
            if status.as_u16() == 429
                && !retried
                && let Some(wait) = retry_after.filter(|w| *w <= RETRY_AFTER_CAP)
            {
                retried = true;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(status_error(target, status, retry_after, retried, detail));
        }
    }

    fn transport_error(&self, target: &Target, e: &reqwest::Error) -> ProviderError {
        let at = e.url().map(shown_url).unwrap_or_default();
        tracing::warn!(provider = target.label, url = %at, error = %cause(e), "provider unreachable");
        if e.is_connect() && e.is_timeout() {
            ProviderError(format!(
                "Could not connect to {} at {at} within {} (limit: PROVIDER_CONNECT_TIMEOUT_MS).",
                target.label,
                secs(self.connect_timeout)
            ))
        } else if e.is_connect() {
            ProviderError(format!(
                "Could not connect to {} at {at}: {}.",
                target.label,
                cause(e)
            ))
        } else {
            ProviderError(format!(
                "The request to {} at {at} failed: {}.",
                target.label,
                cause(e)
            ))
        }
    }

    /// POSTs `body` as JSON asking for an event stream (with [`Http::send`]'s retry and
    /// messages) and returns the stream's events.
    pub async fn post_events(
        &self,
        target: &Target,
        url: &str,
        headers: &[(&'static str, HeaderValue)],
        body: &serde_json::Value,
    ) -> Result<SseBody, ProviderError> {
        let response = self
            .send(target, || {
                let mut r = self
                    .client
                    .post(url)
                    .header("accept", "text/event-stream")
                    .json(body);
                for (name, value) in headers {
                    r = r.header(*name, value.clone());
                }
                r
            })
            .await?;
        Ok(self.events(target.label, response))
    }

    /// Reads `response` as a stream of SSE events.
    pub fn events(&self, label: &'static str, response: reqwest::Response) -> SseBody {
        SseBody {
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::new(),
            pending: Default::default(),
            idle: self.idle_timeout,
            label,
        }
    }
}

pub struct SseBody {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SseEvent>,
    idle: Duration,
    label: &'static str,
}

impl SseBody {
    /// The next event; `Ok(None)` when the upstream closed the stream (the provider decides
    /// whether that was too early).
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        use futures::StreamExt;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_) => {
                    tracing::warn!(provider = self.label, "provider stream went silent");
                    return Err(ProviderError(format!(
                        "{} sent nothing for {} in the middle of its answer; the request was \
                         abandoned (limit: PROVIDER_IDLE_TIMEOUT_MS). The partial answer is kept.",
                        self.label,
                        secs(self.idle)
                    )));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    tracing::warn!(provider = self.label, error = %cause(&e), "provider stream broke");
                    return Err(ProviderError(format!(
                        "The connection to {} broke in the middle of its answer ({}). The partial \
                         answer is kept.",
                        self.label,
                        cause(&e)
                    )));
                }
                Ok(Some(Ok(chunk))) => self.pending.extend(self.parser.push(&chunk)),
            }
        }
    }
}

/// The message for a stream that ended before the provider's final event.
pub fn truncated(label: &str) -> ProviderError {
    tracing::warn!(provider = label, "provider stream ended early");
    ProviderError(format!(
        "{label}'s answer ended before it was complete (the connection was closed mid-stream). \
         The partial answer is kept."
    ))
}

fn status_error(
    target: &Target,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    retried: bool,
    detail: Option<String>,
) -> ProviderError {
    let label = target.label;
    let code = status.as_u16();
    let detail_suffix = detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let message = match code {
        401 => format!(
            "{label} rejected the credentials (HTTP 401). Check {}.",
            target.credential_var
        ),
        403 => format!(
            "{label} refused access (HTTP 403): the credentials in {} are not allowed to do this.",
            target.credential_var
        ),
        429 => match (retried, retry_after) {
            (true, _) => format!(
                "{label} is still rate-limiting requests (HTTP 429) after one retry; try again later."
            ),
            (false, Some(w)) => format!(
                "{label} is rate-limiting requests (HTTP 429) and asks to wait {}; try again then.",
                secs(w)
            ),
            (false, None) => {
                format!("{label} is rate-limiting requests (HTTP 429); try again in a moment.")
            }
        },
        500..=599 => {
            format!("{label} had a server error (HTTP {code}{detail_suffix}); try again later.")
        }
        _ => format!("{label} rejected the request (HTTP {code}{detail_suffix})."),
    };
    ProviderError(message)
}

/// The upstream's own explanation, from a JSON error body (`error.message`, `error`, `message`)
/// or its text, shortened and with the credential scrubbed.
async fn error_detail(
    response: reqwest::Response,
    within: Duration,
    target: &Target,
) -> Option<String> {
    use futures::StreamExt;
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_BODY_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(within.min(Duration::from_secs(5)), read).await;
    let text = String::from_utf8_lossy(&body).to_string();
    let message = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => [
            &v["error"]["message"],
            &v["error"],
            &v["message"],
            &v["detail"],
        ]
        .into_iter()
        .find_map(|m| m.as_str().map(str::to_string))
        .unwrap_or_default(),
        Err(_) => text,
    };
    let mut message: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(secret) = target.secret.as_deref().filter(|s| !s.is_empty()) {
        message = message.replace(secret, "[redacted]");
    }
    if message.chars().count() > 300 {
        message = message.chars().take(300).collect::<String>() + "…";
    }
    (!message.is_empty()).then_some(message)
}

/// `Retry-After` as seconds (decimals tolerated) or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(s) = value.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// A credential as a header value, marked sensitive so no debug output shows it.
pub fn secret_header(
    value: &str,
    var: &'static str,
    prefix: &str,
) -> Result<HeaderValue, ProviderError> {
    let mut v = HeaderValue::from_str(&format!("{prefix}{value}")).map_err(|_| {
        ProviderError(format!(
            "{var} contains characters that cannot be sent in an HTTP header; fix the setting."
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Scheme, host and port only: never user info, path or query.
fn shown_url(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        _ => url.scheme().to_string(),
    }
}

/// The innermost cause of a transport error (e.g. "Connection refused (os error 111)").
fn cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    if text.is_empty() {
        "unknown error".into()
    } else {
        text
    }
}

pub fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Sends events from the provider's task to the run.
pub struct Emit(mpsc::Sender<Result<ProviderEvent, ProviderError>>);

impl Emit {
    /// Waits while the run is busy storing; if the run is gone the task is being aborted anyway.
    pub async fn send(&self, event: ProviderEvent) {
        let _ = self.0.send(Ok(event)).await;
    }
}

/// Runs `work` as a task feeding a stream. Dropping the stream aborts the task (and with it the
/// upstream request); `on_drop` then runs too, e.g. to tell a worker to stop.
pub fn task_stream<Fut>(
    work: impl FnOnce(Emit) -> Fut,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
) -> ProviderStream
where
    Fut: Future<Output = Result<(), ProviderError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(32);
    let fut = work(Emit(tx.clone()));
    let task = tokio::spawn(async move {
        if let Err(e) = fut.await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Box::pin(TaskStream {
        rx,
        task: task.abort_handle(),
        on_drop,
    })
}

struct TaskStream {
    rx: mpsc::Receiver<Result<ProviderEvent, ProviderError>>,
    task: tokio::task::AbortHandle,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl Stream for TaskStream {
    type Item = Result<ProviderEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for TaskStream {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(f) = self.on_drop.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a past date: now");
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn status_messages_name_the_setting_and_never_the_key() {
        let t = Target {
            label: "Anthropic",
            credential_var: "ANTHROPIC_API_KEY",
            secret: Some("sk-secret".into()),
        };
        let m = status_error(&t, reqwest::StatusCode::UNAUTHORIZED, None, false, None).0;
        assert_eq!(
            m,
            "Anthropic rejected the credentials (HTTP 401). Check ANTHROPIC_API_KEY."
        );
        let m = status_error(
            &t,
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(1)),
            true,
            None,
        )
        .0;
        assert_eq!(
            m,
            "Anthropic is still rate-limiting requests (HTTP 429) after one retry; try again later."
        );
        let m = status_error(
            &t,
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            None,
            false,
            None,
        )
        .0;
        assert_eq!(
            m,
            "Anthropic is rate-limiting requests (HTTP 429); try again in a moment."
        );
        let m = status_error(
            &t,
            reqwest::StatusCode::BAD_GATEWAY,
            None,
            false,
            Some("upstream down".into()),
        )
        .0;
        assert_eq!(
            m,
            "Anthropic had a server error (HTTP 502: upstream down); try again later."
        );
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(secs(Duration::from_secs(120)), "120 s");
    }
}
