//! Starting, executing and finishing runs.
//!
//! A run executes on the replica that accepted it, as a task detached from the HTTP request (a
//! client disconnect never stops it). Its `active_runs` row says who owns it and, through a
//! heartbeat judged by the database's clock, that the owner is alive. Every provider event is
//! appended with the next seq and a NOTIFY in one transaction. The terminal event, the session's
//! final status and the removal of the `active_runs` row commit together, so a reader that sees
//! "no active run" has already been able to read the terminal event.

use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::appender::{AppendResult, Appender};
use super::providers::{Provider, ProviderEvent, Role, RunRequest, Turn};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::events::{self, Event, kinds};
use crate::sessions::{Session, notify_change, session_columns};
use crate::state::AppState;
use webedt_providers::{Changes, CodingRun, GitCredential};

/// Runs executing on this replica.
#[derive(Clone, Default)]
pub struct Runs {
    tracker: TaskTracker,
    /// Group commit for the events runs produce.
    appender: Appender,
    /// Cancelled when shutdown can wait no longer for runs to finish.
    abort: CancellationToken,
}

impl Runs {
    /// Waits (until `deadline`) for local runs to finish; then stops the rest, each ending with a
    /// stored error, so no run is left "running" by a clean shutdown.
    pub async fn drain(&self, deadline: tokio::time::Instant) {
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: stopping runs still in progress");
            self.abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
        }
    }
}

/// The conversation so far, from stored events: user prompts and assistant text, newest kept
/// when over budget (`PROVIDER_HISTORY_MAX_CHARS`).
async fn history(state: &AppState, session: Uuid) -> AppResult<Vec<Turn>> {
    let budget = state.config.settings.providers.limits.history_max_chars;
    let rows: Vec<(String, Value)> = sqlx::query_as(
        "SELECT type, data FROM events WHERE chat_session_id = $1
         AND type IN ('user_message', 'assistant_message') ORDER BY seq",
    )
    .bind(session)
    .fetch_all(state.db.pool())
    .await?;
    let mut turns: Vec<Turn> = Vec::new();
    // Each user turn's image ids, loaded below for the turns kept.
    let mut image_ids: Vec<Vec<Uuid>> = Vec::new();
    for (kind, data) in rows {
        let text = data["text"].as_str().unwrap_or_default();
        let role = if kind == "user_message" {
            Role::User
        } else {
            Role::Assistant
        };
        match turns.last_mut() {
            // Assistant deltas of one answer join into one turn.
            Some(last) if last.role == Role::Assistant && role == Role::Assistant => {
                last.text.push_str(text)
            }
            _ => {
                image_ids.push(
                    data["images"]
                        .as_array()
                        .map(|ids| {
                            ids.iter()
                                .filter_map(|id| id.as_str()?.parse().ok())
                                .collect()
                        })
                        .unwrap_or_default(),
                );
                turns.push(Turn {
                    role,
                    text: text.to_string(),
                    images: vec![],
                })
            }
        }
    }
    let mut total = 0;
    let keep = turns
        .iter()
        .rev()
        .take_while(|t| {
            total += t.text.len();
            total <= budget
        })
        .count();
    let from = turns.len() - keep;
    let mut kept = turns.split_off(from);
    let mut ids = image_ids.split_off(from);
    // The newest images are replayed, at most HISTORY_IMAGES_MAX of them (the APIs cap images
    // per request); older turns keep their text.
    let mut budget = HISTORY_IMAGES_MAX;
    for turn_ids in ids.iter_mut().rev() {
        let take = turn_ids.len().min(budget);
        turn_ids.drain(..turn_ids.len() - take);
        budget -= take;
    }
    let wanted: Vec<Uuid> = ids.iter().flatten().copied().collect();
    if !wanted.is_empty() {
        let loaded = crate::images::load(state, session, &wanted).await?;
        for (turn, turn_ids) in kept.iter_mut().zip(&ids) {
            turn.images = turn_ids
                .iter()
                .filter_map(|id| loaded.iter().find(|(i, _)| i == id))
                .map(|(_, image)| image.clone())
                .collect();
        }
    }
    Ok(kept)
}

/// Most images of earlier turns replayed with a follow-up (Anthropic takes at most 100 per
/// request, and every one costs input tokens).
const HISTORY_IMAGES_MAX: usize = 20;

pub struct Started {
    pub session: Session,
    /// The last seq before this run's first event: stream from here to see the whole run.
    pub seq_before: i64,
}

/// Claims the session for a new run (409 `run_active` if one runs anywhere), records the prompt,
/// and starts executing on this replica.
pub async fn start(
    state: &AppState,
    session: &Session,
    prompt: String,
    images: &[String],
    provider: Option<&str>,
    model: Option<&str>,
) -> AppResult<Started> {
    // The owner's own AI keys: a provider one enables runs on it instead of the deployment's.
    let own = crate::connections::own_keys(state, session.user_id).await?;
    let (provider_id, model) = state.providers.resolve_with(
        &own,
        Some(provider.unwrap_or(&session.provider)),
        model.or(if provider.is_none() {
            Some(session.model.as_str())
        } else {
            None
        }),
    )?;
    let own_key = own.into_iter().find(|k| k.provider == provider_id);
    // REQUIRE_USER_KEYS: nothing but the demo runs on the deployment's keys.
    if state.config.settings.providers.require_user_keys
        && own_key.is_none()
        && provider_id != "demo"
    {
        return Err(super::Providers::user_key_required(&provider_id));
    }
    // The key's base URL is checked again now (DNS may have changed since it was stored).
    let own_vetted = match &own_key {
        Some(key) => {
            let url = url::Url::parse(&key.base_url).map_err(AppError::internal)?;
            Some(
                state
                    .config
                    .outbound
                    .vet(&url)
                    .await
                    .map_err(crate::connections::outbound_error)?,
            )
        }
        None => None,
    };
    // A session with a repository is a code session: its runs go to the coding worker, which
    // calls the chosen model itself (with the user's own key when they have one).
    let provider = if session.repository.is_some() {
        state.providers.coding().ok_or_else(|| AppError::Conflict {
            code: ErrorCode::CodingUnavailable,
            message: super::Providers::coding_unavailable().into(),
        })?
    } else if let (Some(key), Some(vetted)) = (&own_key, &own_vetted) {
        super::Providers::with_own_key(&state.config.settings.providers.limits, key, vetted)
    } else {
        state
            .providers
            .get(&provider_id)
            .ok_or_else(|| AppError::validation("provider", "is not configured"))?
    };
    // Images go to chat providers only: the worker protocol carries none.
    if !images.is_empty() && (session.repository.is_some() || provider_id == "worker") {
        return Err(AppError::Unprocessable {
            code: ErrorCode::ImagesUnsupported,
            field: "images",
            message:
                "images: runs on the coding worker take no images; send the prompt without them"
                    .into(),
        });
    }
    let images = crate::images::for_prompt(state, session.id, images).await?;
    // The owner's connection to the repository's host, decrypted for this run only.
    let connected = match session.repository.as_deref() {
        Some(repository) => {
            crate::connections::credential_for(state, session.user_id, repository).await?
        }
        None => None,
    };
    // The commit author: the connected identity (GitHub's noreply address), else the user.
    let author = match (
        &session.repository,
        connected.as_ref().and_then(|c| c.author.clone()),
    ) {
        (Some(_), Some(identity)) => Some(identity),
        (Some(_), None) => Some(author(state, session.user_id).await?),
        (None, _) => None,
    };
    let credential = connected.map(|c| GitCredential {
        username: c.username,
        token: webedt_contract::Secret::new(c.token),
    });
    let history = history(state, session.id).await?;
    let run_id = Uuid::new_v4();
    let title: String = prompt
        .chars()
        .take(60)
        .collect::<String>()
        .trim()
        .to_string();

    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    check_user_limits(state, &mut tx, session.user_id).await?;
    let claimed: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO active_runs (chat_session_id, run_id, owner) VALUES ($1, $2, $3)
         ON CONFLICT (chat_session_id) DO NOTHING RETURNING run_id",
    )
    .bind(session.id)
    .bind(run_id)
    .bind(state.config.container_id())
    .fetch_optional(&mut *tx)
    .await?;
    if claimed.is_none() {
        return Err(AppError::Conflict {
            code: ErrorCode::RunActive,
            message: "a run is already in progress in this session; stop it or wait".into(),
        });
    }
    let (updated, seq_before): (Session, i64) = {
        let row: SessionWithSeq = sqlx::query_as(concat!(
            "UPDATE chat_sessions SET status = 'running', provider = $2, model = $3,
                 completed_at = NULL, last_error = NULL, updated_at = now(),
                 title = CASE WHEN last_seq = 0 AND title = 'New session' AND $4 <> '' THEN $4 ELSE title END
             WHERE id = $1 AND deleted_at IS NULL RETURNING last_seq, ",
            session_columns!()
        ))
        .bind(session.id)
        .bind(&provider_id)
        .bind(&model)
        .bind(&title)
        .fetch_optional(&mut *tx)
        .await?
        // In the trash (or trashed meanwhile): nothing is written, the claim rolls back.
        .ok_or_else(session_deleted)?;
        (row.session, row.last_seq)
    };
    let user_message = Event::UserMessage(kinds::Prompt {
        text: prompt.clone(),
        images: images.iter().map(|(id, _)| *id).collect(),
    });
    events::append(&mut *tx, session.id, &user_message).await?;
    let started = Event::RunStarted(kinds::RunStarted {
        provider: provider_id.clone(),
        model: model.clone(),
        working_branch: updated.working_branch.clone(),
    });
    events::append(&mut *tx, session.id, &started).await?;
    notify_change(&mut *tx, session.user_id, session.id, "updated").await?;
    tx.commit().await?;
    drop(conn);

    // From the row as claimed: no other run can move the recorded head until this one ends.
    let coding = author.map(|(name, email)| CodingRun {
        credential,
        api_key: own_key.as_ref().map(|k| k.key.clone()),
        base_url: own_key.as_ref().map(|k| k.base_url.clone()),
        ..coding_run(&updated, &provider_id, &model, name, email)
    });
    let request = RunRequest {
        session: session.id,
        prompt,
        images: images.into_iter().map(|(_, image)| image).collect(),
        history,
        model,
        coding,
    };
    let cancel = state.hub.register_run(session.id);
    let task_state = state.clone();
    let (session_id, user_id) = (session.id, session.user_id);
    state.runs.tracker.spawn(async move {
        execute(
            &task_state,
            session_id,
            user_id,
            run_id,
            provider,
            request,
            cancel,
        )
        .await;
        task_state.hub.unregister_run(session_id);
    });
    state.metrics.runs.run_started();
    Ok(Started {
        session: updated,
        seq_before,
    })
}

/// The commit author of a user's coding runs: their display name (else their email's local
/// part) and email, when no connected identity is known.
async fn author(state: &AppState, user: Uuid) -> AppResult<(String, String)> {
    let (name, email): (Option<String>, String) =
        sqlx::query_as("SELECT display_name, email FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(state.db.pool())
            .await?;
    // git takes neither angle brackets nor line breaks in an identity.
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '<' | '>') && !c.is_control())
            .collect::<String>()
            .trim()
            .to_string()
    };
    let name = name
        .as_deref()
        .map(clean)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| clean(email.split('@').next().unwrap_or("webedt")));
    Ok((name, clean(&email)))
}

fn coding_run(
    session: &Session,
    provider: &str,
    model: &str,
    author_name: String,
    author_email: String,
) -> CodingRun {
    CodingRun {
        repository_url: session.repository.clone().unwrap_or_default(),
        base_branch: session.base_branch.clone().unwrap_or_default(),
        working_branch: session.working_branch.clone().unwrap_or_default(),
        expected_head: session.head_commit.clone(),
        author_name,
        author_email,
        // `worker` names no model provider: the worker uses its own default.
        provider: (provider != "worker").then(|| provider.to_string()),
        model: (provider != "worker" && provider != "demo").then(|| model.to_string()),
        credential: None,
        api_key: None,
        base_url: None,
    }
}

pub fn session_deleted() -> AppError {
    AppError::Conflict {
        code: ErrorCode::SessionDeleted,
        message: "this session is in the trash; restore it to continue".into(),
    }
}

/// The per-user run limits, counted from the tables inside the transaction that starts the run:
/// runs in progress on any replica (`LIMIT_RUNS_PER_USER`) and runs started in the last minute
/// (`LIMIT_RUNS_PER_MINUTE`). The user's row is locked first, so two replicas starting runs for
/// one user at once count one after the other and the limits hold exactly.
pub async fn check_user_limits(
    state: &AppState,
    tx: &mut crate::db::TxHandle<'_>,
    user: Uuid,
) -> AppResult<()> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    within_user_limits(state, &mut *tx, user).await?;
    sqlx::query("INSERT INTO run_starts (user_id) VALUES ($1)")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// 429 when `user` is at a run limit. On its own (no lock) it is the early check of a route
/// that would otherwise write something (execute-remote's new session) before starting.
pub async fn within_user_limits<'e>(
    state: &AppState,
    conn: impl sqlx::PgExecutor<'e>,
    user: Uuid,
) -> AppResult<()> {
    let limits = &state.config.settings.limits;
    let (running, recent): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM active_runs a JOIN chat_sessions s ON s.id = a.chat_session_id
                 WHERE s.user_id = $1),
                (SELECT count(*) FROM run_starts
                 WHERE user_id = $1 AND started_at > now() - interval '1 minute')",
    )
    .bind(user)
    .fetch_one(conn)
    .await?;
    if running >= i64::from(limits.runs_per_user) {
        crate::audit::limit_hit(state, Some(user), None, "runs_per_user");
        return Err(AppError::LimitReached {
            code: ErrorCode::RunLimit,
            message: format!(
                "at most {} runs in progress per user; wait for one to finish or stop it",
                limits.runs_per_user
            ),
            retry_after_secs: 5,
        });
    }
    if recent >= i64::from(limits.runs_per_minute) {
        crate::audit::limit_hit(state, Some(user), None, "runs_per_minute");
        return Err(AppError::LimitReached {
            code: ErrorCode::RunRate,
            message: format!(
                "at most {} runs per minute per user",
                limits.runs_per_minute
            ),
            retry_after_secs: 60,
        });
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SessionWithSeq {
    last_seq: i64,
    #[sqlx(flatten)]
    session: Session,
}

enum Outcome {
    Completed,
    Error(String),
    Interrupted,
    /// Our `active_runs` row is gone: another replica declared the run lost and stored its end.
    Lost,
}

/// Heartbeat period: often enough that a healthy run is never mistaken for a lost one.
fn heartbeat_every(state: &AppState) -> Duration {
    (state.config.settings.orphans.timeout() / 4).min(Duration::from_secs(5))
}

async fn execute(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    run_id: Uuid,
    provider: Arc<dyn Provider>,
    request: RunRequest,
    cancel: CancellationToken,
) {
    let started = Instant::now();
    let mut stream = provider.start(request);
    let mut heartbeat = tokio::time::interval(heartbeat_every(state));
    heartbeat.tick().await;
    let mut usage = (0u64, 0u64);
    let mut cost: Option<f64> = None;
    let abort = state.runs.abort.clone();
    // Text deltas wait up to `window` and are stored as one event: a model streams tens of deltas
    // a second, and one transaction (commit, WAL flush, NOTIFY) per delta is what limits how many
    // runs one PostgreSQL can carry. Any other event, and the end of the run, stores the pending
    // text first, so order is kept and nothing is held back.
    let window = Duration::from_millis(state.config.settings.scale.text_coalesce_ms);
    let mut pending = String::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
    let mut last_changes: Option<Changes> = None;
    let outcome = loop {
        let flush_due = async {
            match flush_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break Outcome::Interrupted,
            _ = abort.cancelled() => break Outcome::Error(format!(
                "run stopped: replica {} shut down before it finished", state.config.container_id()
            )),
            _ = heartbeat.tick() => match beat(state, session, run_id).await {
                Ok(Beat::Alive) => {}
                Ok(Beat::CancelRequested) => break Outcome::Interrupted,
                Ok(Beat::Gone) => break Outcome::Lost,
                Err(e) => tracing::warn!(%session, error = %e, "heartbeat failed"),
            },
            _ = flush_due => {
                flush_at = None;
                if let Err(e) = store(state, session, std::mem::take(&mut pending), None).await {
                    tracing::error!(%session, error = %e, "could not store a run event");
                    break Outcome::Error("the run's output could not be stored (database unavailable)".into());
                }
            }
            item = stream.next() => match item {
                None => break Outcome::Completed,
                Some(Err(e)) => break Outcome::Error(e.0),
                Some(Ok(ProviderEvent::Usage { input_tokens, output_tokens, cost_usd })) => {
                    usage = (usage.0 + input_tokens, usage.1 + output_tokens);
                    if let Some(c) = cost_usd {
                        cost = Some(cost.unwrap_or(0.0) + c);
                    }
                }
                // The worker reports after each push and once more at the end; the last report
                // repeats the one before when the final turn changed nothing (a diff of up to
                // 256 KiB each), so an identical one is not stored again.
                Some(Ok(ProviderEvent::Changes(changes))) if last_changes.as_ref() == Some(&changes) => {}
                Some(Ok(ProviderEvent::Changes(changes))) => {
                    flush_at = None;
                    let text = std::mem::take(&mut pending);
                    if let Err(e) = store_changes(state, session, user, text, changes.clone()).await {
                        tracing::error!(%session, error = %e, "could not store a run event");
                        break Outcome::Error("the run's output could not be stored (database unavailable)".into());
                    }
                    last_changes = Some(changes);
                }
                Some(Ok(ProviderEvent::Text(text))) if !window.is_zero() => {
                    pending.push_str(&text);
                    flush_at.get_or_insert_with(|| tokio::time::Instant::now() + window);
                }
                Some(Ok(event)) => {
                    flush_at = None;
                    let event = normalise(event);
                    if let Err(e) = store(state, session, std::mem::take(&mut pending), Some(event)).await {
                        tracing::error!(%session, error = %e, "could not store a run event");
                        break Outcome::Error("the run's output could not be stored (database unavailable)".into());
                    }
                }
            },
        }
    };
    // Dropping the stream aborts the upstream request.
    drop(stream);
    let duration_ms = started.elapsed().as_millis() as u64;
    let (status, event, error) = match outcome {
        Outcome::Lost => {
            state.metrics.runs.run_finished("lost");
            tracing::warn!(%session, "run was declared lost by another replica");
            return;
        }
        Outcome::Completed => (
            "completed",
            Event::Completed(kinds::Completed {
                duration_ms,
                cost_usd: cost,
                usage: kinds::Usage {
                    input_tokens: usage.0,
                    output_tokens: usage.1,
                },
            }),
            None,
        ),
        Outcome::Interrupted => (
            "interrupted",
            Event::Interrupted(kinds::Interrupted {
                message: "Stopped by user".into(),
                duration_ms,
            }),
            None,
        ),
        Outcome::Error(message) => (
            "error",
            Event::Error(kinds::Failed {
                message: message.clone(),
                duration_ms: Some(duration_ms),
            }),
            Some(message),
        ),
    };
    match finish(
        state,
        session,
        user,
        run_id,
        &pending,
        status,
        &event,
        error.as_deref(),
        cost,
    )
    .await
    {
        Ok(true) => state.metrics.runs.run_finished(status),
        Ok(false) => state.metrics.runs.run_finished("lost"),
        Err(e) => {
            // The row stays; orphan cleanup will end the run once the heartbeat is stale.
            tracing::error!(%session, error = %e, "could not record the end of a run");
            state.metrics.runs.run_finished("unrecorded");
        }
    }
}

/// Stores pending text (if any) and then `event` (if any) in one transaction, through the
/// replica's group commit (see `appender`).
async fn store(
    state: &AppState,
    session: Uuid,
    text: String,
    event: Option<Event>,
) -> AppendResult {
    let events = match (text.is_empty(), event) {
        (true, None) => return Ok(()),
        (true, Some(event)) => vec![event],
        (false, None) => vec![text_event(text)],
        (false, Some(event)) => vec![text_event(text), event],
    };
    state
        .runs
        .appender
        .append(&state.db, &state.metrics, session, &events)
        .await
}

/// Stores pending text, the `changes` event and what it says about the branch on the session
/// row (the pushed head; the base commit the first time), in one transaction: a reader that
/// sees the event also sees the session's head. Only a report on the session's own working
/// branch moves the row.
async fn store_changes(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    text: String,
    changes: Changes,
) -> sqlx::Result<()> {
    let t = Instant::now();
    let mut conn = state.db.acquire().await?;
    state.metrics.runs.observe_insert_wait(t.elapsed());
    let t = Instant::now();
    let mut tx = conn.begin().await?;
    if !text.is_empty() {
        events::append(&mut *tx, session, &text_event(text)).await?;
    }
    let is_sha = |s: &&String| {
        (7..=64).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let head = changes.head_commit.as_ref().filter(is_sha).cloned();
    let base = Some(&changes.base_commit).filter(is_sha).cloned();
    let branch = changes.branch.clone();
    events::append(
        &mut *tx,
        session,
        &Event::Changes(kinds::ChangesData(changes)),
    )
    .await?;
    sqlx::query(
        "UPDATE chat_sessions SET head_commit = coalesce($2, head_commit),
             base_commit = coalesce(base_commit, $3)
         WHERE id = $1 AND working_branch = $4",
    )
    .bind(session)
    .bind(head)
    .bind(base)
    .bind(branch)
    .execute(&mut *tx)
    .await?;
    notify_change(&mut *tx, user, session, "updated").await?;
    tx.commit().await?;
    state.metrics.runs.insert_batch_written();
    state.metrics.runs.observe_insert(t.elapsed());
    Ok(())
}

fn text_event(text: String) -> Event {
    Event::AssistantMessage(kinds::Text { text })
}

fn normalise(event: ProviderEvent) -> Event {
    match event {
        ProviderEvent::Text(text) => text_event(text),
        ProviderEvent::ToolUse { id, name, input } => {
            Event::ToolUse(kinds::ToolUse { id, name, input })
        }
        ProviderEvent::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => Event::ToolResult(kinds::ToolResult {
            tool_use_id,
            content,
            is_error,
        }),
        // Its own kind, with the worker's report as data: the changes view reads it from any
        // replica, for any git host.
        ProviderEvent::Changes(changes) => Event::Changes(kinds::ChangesData(changes)),
        ProviderEvent::Usage { .. } => unreachable!("usage is accumulated, not stored"),
    }
}

enum Beat {
    Alive,
    CancelRequested,
    Gone,
}

async fn beat(state: &AppState, session: Uuid, run_id: Uuid) -> sqlx::Result<Beat> {
    let row: Option<(bool,)> = sqlx::query_as(
        "UPDATE active_runs SET heartbeat_at = now() WHERE chat_session_id = $1 AND run_id = $2
         RETURNING cancel_requested_at IS NOT NULL",
    )
    .bind(session)
    .bind(run_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(match row {
        None => Beat::Gone,
        Some((true,)) => Beat::CancelRequested,
        Some((false,)) => Beat::Alive,
    })
}

/// Stores the text still pending, the terminal event and the final status and releases the run,
/// atomically. `false` when the run had already been declared lost (nothing is written then:
/// text not yet stored is lost with the run).
#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    run_id: Uuid,
    pending: &str,
    status: &str,
    event: &Event,
    error: Option<&str>,
    cost: Option<f64>,
) -> sqlx::Result<bool> {
    let mut tx = state.db.begin().await?;
    let released =
        sqlx::query("DELETE FROM active_runs WHERE chat_session_id = $1 AND run_id = $2")
            .bind(session)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if released == 0 {
        return Ok(false);
    }
    if !pending.is_empty() {
        events::append(&mut *tx, session, &text_event(pending.to_owned())).await?;
    }
    events::append(&mut *tx, session, event).await?;
    // The turn's text is indexed for search once, here, rather than per delta.
    crate::sessions::search::index_last_turn(&mut tx, session).await?;
    sqlx::query(
        "UPDATE chat_sessions SET status = $2, completed_at = now(), updated_at = now(),
             last_error = $3, total_cost_usd = total_cost_usd + coalesce($4, 0)
         WHERE id = $1",
    )
    .bind(session)
    .bind(status)
    .bind(error)
    .bind(cost)
    .execute(&mut *tx)
    .await?;
    notify_change(&mut *tx, user, session, "updated").await?;
    tx.commit().await?;
    Ok(true)
}

/// Asks the owner of `session`'s run to stop, wherever it runs: the request is recorded on the
/// run's row (the owner sees it at its next heartbeat even if a notification is lost) and sent
/// as a NOTIFY (the owner's listener cancels the run at once).
pub async fn interrupt(state: &AppState, session: Uuid) -> AppResult<bool> {
    let mut conn = state.db.acquire().await?;
    let mut tx = conn.begin().await?;
    let owner: Option<String> = sqlx::query_scalar(
        "UPDATE active_runs SET cancel_requested_at = coalesce(cancel_requested_at, now())
         WHERE chat_session_id = $1 RETURNING owner",
    )
    .bind(session)
    .fetch_optional(&mut *tx)
    .await?;
    if owner.is_none() {
        return Ok(false);
    }
    sqlx::query("SELECT pg_notify('webedt_interrupts', $1)::text")
        .bind(session.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // Owned here: no need to wait for the notification to come back.
    state.hub.interrupt_local(session);
    Ok(true)
}
