//! The kinds of event a session's log holds: one enum, used by the writer ([`super::append`]
//! stores its `type` and `data`) and by the OpenAPI document (the event schema is this enum's).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use webedt_providers::Changes;

/// One event of a session's log, as stored and streamed: `type` names the kind, `data` is its
/// payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// The prompt that started a run (with the ids of its images, if any).
    UserMessage(Prompt),
    /// A run began (provider and model it uses; a code session's working branch).
    RunStarted(RunStarted),
    /// Assistant text (consecutive deltas may be coalesced into one event).
    AssistantMessage(Text),
    /// The model called a tool.
    ToolUse(ToolUse),
    /// A tool's answer.
    ToolResult(ToolResult),
    /// A coding run's report after a push: branch, files changed, the diff.
    Changes(ChangesData),
    /// Terminal: the run finished.
    Completed(Completed),
    /// Terminal: the run was stopped.
    Interrupted(Interrupted),
    /// Terminal: the run failed (or was declared lost).
    Error(Failed),
}

/// One server-sent event of a session's stream (`streamEvents`, `resumeEvents`,
/// `executeRemote`): the stored event's seq, type and data.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventFrame {
    /// The event's seq: send it as `Last-Event-ID` to resume after it.
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    /// The event's `type` (one of the `Event` kinds).
    event: String,
    /// The event's `data`, as JSON (see `Event`).
    data: String,
}

/// One server-sent event of `streamSessionUpdates`: `session` with a `SessionChange` as its
/// data, or `resync` (data `{}`) when changes may have been missed.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SessionUpdateFrame {
    #[schema(pattern = "^(session|resync)$")]
    event: String,
    /// A `SessionChange` as JSON, or `{}`.
    data: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prompt {
    pub text: String,
    /// Images sent with the prompt (`getImage` serves each); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<uuid::Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Text {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStarted {
    pub provider: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_branch: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    /// The tool's arguments, as the model sent them.
    pub input: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    pub tool_use_id: String,
    pub content: String,
    pub is_error: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Completed {
    pub duration_ms: u64,
    /// `null` when the provider's prices are unknown.
    pub cost_usd: Option<f64>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Interrupted {
    pub message: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    pub message: String,
    /// Absent when the run was declared lost by another replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// A changes report as stored: the providers crate's [`Changes`], documented as [`ChangesReport`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct ChangesData(pub Changes);

impl utoipa::PartialSchema for ChangesData {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ChangesReport::schema()
    }
}

impl ToSchema for ChangesData {
    fn name() -> std::borrow::Cow<'static, str> {
        ChangesReport::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        ChangesReport::schemas(schemas)
    }
}

// The document's view of [`Changes`] (defined by the providers crate, shared with the worker);
// `changes_report_matches_the_providers_type` keeps the two in step.
#[derive(ToSchema)]
#[schema(description = "A coding run's report after a push")]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ChangesReport {
    /// The working branch the run pushed.
    branch: String,
    base_branch: String,
    /// Where the branch left the base.
    base_commit: String,
    /// The pushed tip; `null` when the branch is not on the remote (yet).
    head_commit: Option<String>,
    files: Vec<FileChangeReport>,
    /// Unified diff `baseCommit..headCommit`, cut at 256 KiB.
    diff: String,
    /// The diff or the file list was cut.
    truncated: bool,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FileChangeReport {
    path: String,
    /// `added`, `modified`, `deleted` or `renamed`.
    status: String,
    additions: u64,
    deletions: u64,
}

impl Event {
    /// The stored form: the `type` column and the `data` document.
    pub fn to_stored(&self) -> (String, Value) {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut fields)) => {
                let kind = match fields.remove("type") {
                    Some(Value::String(kind)) => kind,
                    _ => unreachable!("an adjacently tagged enum has a string tag"),
                };
                (kind, fields.remove("data").unwrap_or(Value::Null))
            }
            _ => unreachable!("event payloads are plain data and always serialise"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webedt_providers::FileChange;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn schema_properties<T: utoipa::PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        keys(&schema["properties"])
    }

    #[test]
    fn changes_report_matches_the_providers_type() {
        let changes = Changes {
            branch: "webedt/1".into(),
            base_branch: "main".into(),
            base_commit: "abc1234".into(),
            head_commit: Some("def5678".into()),
            files: vec![FileChange {
                path: "a".into(),
                status: "added".into(),
                additions: 1,
                deletions: 0,
            }],
            diff: String::new(),
            truncated: false,
        };
        let value = serde_json::to_value(&changes).unwrap();
        assert_eq!(keys(&value), schema_properties::<ChangesReport>());
        assert_eq!(
            keys(&value["files"][0]),
            schema_properties::<FileChangeReport>()
        );
    }

    #[test]
    fn stored_form_is_type_and_data() {
        let (kind, data) = Event::Error(Failed {
            message: "lost".into(),
            duration_ms: None,
        })
        .to_stored();
        assert_eq!(kind, "error");
        assert_eq!(data, serde_json::json!({ "message": "lost" }));
        let (kind, data) = Event::UserMessage(Prompt {
            text: "hi".into(),
            images: vec![],
        })
        .to_stored();
        assert_eq!(
            (kind.as_str(), data["text"].as_str()),
            ("user_message", Some("hi"))
        );
    }
}
