//! Group commit for run output: the events that this replica's runs produce at the same moment
//! are appended by one statement in one transaction.
//!
//! Every transaction that NOTIFYs takes PostgreSQL's notification-queue lock at commit and holds
//! it through the commit, so commits that notify are serialized cluster-wide. With one
//! transaction per event, many runs per replica queue for pool connections and then for that
//! lock. Here an append is queued; a writer takes everything queued, writes it as one statement
//! (seq numbers, rows, one NOTIFY per event) and answers each caller. While a batch is being
//! written the next one gathers, so batches grow with the load and the number of commits does not.
//!
//! Nothing is held that a crash could lose: a caller's events are stored when its `append`
//! returns `Ok`, exactly as before, and a run appends its next events only after that.

use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::db::Db;
use crate::events::Event;
use crate::metrics::Metrics;

/// Batches written at once: one commit waits for its WAL flush and the NOTIFY lock while the
/// next batch gathers and is sent; more would only split the load into smaller batches.
const IN_FLIGHT: usize = 2;
/// Appends per statement at most (each is a few array elements; this bounds one statement).
const MAX_BATCH: usize = 256;

pub type AppendResult = Result<(), Arc<sqlx::Error>>;

struct Request {
    session: Uuid,
    events: Vec<(String, Value)>,
    queued: Instant,
    done: oneshot::Sender<AppendResult>,
}

/// The replica's queue of appends; the writer starts with the first append.
#[derive(Clone, Default)]
pub struct Appender(Arc<OnceLock<mpsc::UnboundedSender<Request>>>);

impl Appender {
    /// Appends `events` to `session` in order, with consecutive seqs and a NOTIFY each, in one
    /// transaction (shared with other runs' appends). Fails if the session is gone.
    pub async fn append(
        &self,
        db: &Db,
        metrics: &Arc<Metrics>,
        session: Uuid,
        events: &[Event],
    ) -> AppendResult {
        let events = events.iter().map(crate::events::to_row).collect();
        let (done, answer) = oneshot::channel();
        let queue = self.0.get_or_init(|| start(db.clone(), metrics.clone()));
        let request = Request {
            session,
            events,
            queued: Instant::now(),
            done,
        };
        if queue.send(request).is_err() {
            return Err(Arc::new(sqlx::Error::PoolClosed));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Arc::new(sqlx::Error::WorkerCrashed)))
    }
}

fn start(db: Db, metrics: Arc<Metrics>) -> mpsc::UnboundedSender<Request> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        while let Some(first) = rx.recv().await {
            // Waiting for a slot is what lets the next batch gather.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let (db, metrics) = (db.clone(), metrics.clone());
            tokio::spawn(async move {
                write(&db, &metrics, batch).await;
                drop(slot);
            });
        }
    });
    tx
}

/// Writes a batch and answers its callers. If the batch's statement fails and it held more than
/// one append, each is retried alone, so one bad append fails only its own caller.
async fn write(db: &Db, metrics: &Metrics, batch: Vec<Request>) {
    let started = Instant::now();
    for r in &batch {
        metrics.runs.observe_insert_wait(started - r.queued);
    }
    match insert(db, &batch).await {
        Ok(stored) => {
            metrics.runs.insert_batch_written();
            let took = started.elapsed();
            for r in batch {
                metrics.runs.observe_insert(took);
                let ok = stored.contains(&r.session);
                let _ = r.done.send(if ok {
                    Ok(())
                } else {
                    Err(Arc::new(sqlx::Error::RowNotFound))
                });
            }
        }
        Err(e) if batch.len() == 1 => {
            let _ = batch
                .into_iter()
                .next()
                .expect("one")
                .done
                .send(Err(Arc::new(e)));
        }
        Err(e) => {
            tracing::warn!(appends = batch.len(), error = %e, "a batch of run events failed; retrying each alone");
            for r in batch {
                let single = std::slice::from_ref(&r);
                let t = Instant::now();
                let result = match insert(db, single).await {
                    Ok(stored) if stored.contains(&r.session) => {
                        metrics.runs.insert_batch_written();
                        metrics.runs.observe_insert(t.elapsed());
                        Ok(())
                    }
                    Ok(_) => Err(Arc::new(sqlx::Error::RowNotFound)),
                    Err(e) => Err(Arc::new(e)),
                };
                let _ = r.done.send(result);
            }
        }
    }
}

/// One statement for the whole batch; returns the sessions whose events were stored (a deleted
/// session's are not). A session appears at most once per batch: a run awaits its append before
/// it makes the next, so batches never share a session and never lock two rows in opposite orders.
async fn insert(db: &Db, batch: &[Request]) -> sqlx::Result<Vec<Uuid>> {
    let n: usize = batch.iter().map(|r| r.events.len()).sum();
    let (mut sessions, mut kinds, mut data) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for r in batch {
        for (kind, value) in &r.events {
            sessions.push(r.session);
            kinds.push(kind.as_str());
            data.push(value);
        }
    }
    // NOTIFYs go out in seq order, so live streams see each session's events in sequence
    // (volatile functions in a select list are evaluated after its ORDER BY).
    sqlx::query_scalar(
        "WITH i AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])
                 WITH ORDINALITY AS i(session, type, data, ord)
         ), n AS (
             SELECT session, count(*) AS n FROM i GROUP BY session
         ), s AS (
             UPDATE chat_sessions c SET last_seq = c.last_seq + n.n, updated_at = now()
             FROM n WHERE c.id = n.session
             RETURNING c.id, c.last_seq - n.n AS base
         ), e AS (
             INSERT INTO events (chat_session_id, seq, type, data)
             SELECT i.session, s.base + row_number() OVER (PARTITION BY i.session ORDER BY i.ord),
                    i.type, i.data
             FROM i JOIN s ON s.id = i.session
             RETURNING chat_session_id, seq
         ), notified AS (
             SELECT pg_notify('webedt_events', chat_session_id::text || ':' || seq)
             FROM e ORDER BY chat_session_id, seq
         )
         SELECT DISTINCT chat_session_id FROM e WHERE (SELECT count(*) FROM notified) >= 0",
    )
    .bind(sessions)
    .bind(kinds)
    .bind(data)
    .fetch_all(db)
    .await
}
