//! The status the controller writes: counts from the Deployment and the Ready / Progressing /
//! Degraded conditions. Pure: the reconciler gathers [`Observed`], this computes the status.
//!
//! - Ready: the Deployment runs the current spec with every wanted replica available, and
//!   nothing blocks the current spec (missing Secret, failed migration, invalid spec).
//! - Progressing: a migration Job or a rollout is under way.
//! - Degraded: something needs a human; the reason says what.
//! - WorkerReady (only with spec.worker enabled): the worker Deployment runs the current spec
//!   with every wanted pod available. Ready does not depend on it: Ready means the API serves.
//!
//! Each condition carries the generation it describes; its lastTransitionTime moves only when
//! its status flips.

use crate::crd::{ConditionType, WebEDTStatus};
use crate::validate::Finding;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// What blocked or shaped this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every object was applied.
    Applied,
    /// The migration Job for the new image is running; the Deployment waits.
    MigrationRunning { job: String },
    /// The current spec cannot be served; `reason` is an Event reason (`SecretMissing`,
    /// `MigrationFailed`, a validation error's variant name, `InvalidObject`).
    Blocked { reason: String, message: String },
}

/// What the reconciler saw.
#[derive(Clone, Debug)]
pub struct Observed {
    pub generation: Option<i64>,
    /// The Deployment as applied or read; None when it does not exist.
    pub deployment: Option<Deployment>,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
    pub selector: Option<String>,
    pub endpoint: Option<String>,
    /// The workers; None when spec.worker is off (or unknown because the reconcile was
    /// blocked before the workers, whose last condition is then kept).
    pub worker: Option<WorkerObserved>,
}

/// What the reconciler saw of the workers.
#[derive(Clone, Debug)]
pub struct WorkerObserved {
    /// The worker Deployment as applied or read; None when it does not exist yet.
    pub deployment: Option<Deployment>,
}

/// A Deployment's rollout of its current spec: (complete, explanation).
pub fn rollout(d: &Deployment) -> (bool, String) {
    let want = d.spec.replicas.unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let st = d.status.clone().unwrap_or_default();
    let observed = st.observed_generation.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    if observed < generation {
        return (
            false,
            "the Deployment controller has not seen the latest spec yet".into(),
        );
    }
    if updated < want || replicas > want || available < want {
        return (
            false,
            format!("{updated} of {want} replicas updated, {available} available"),
        );
    }
    (true, format!("{available} of {want} replicas available"))
}

fn condition(
    old: &[Condition],
    type_: ConditionType,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = old
        .iter()
        .find(|c| c.type_ == type_.as_str() && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.as_str().into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// `cached` with each condition replaced by the matching one of `written` when that one's
/// lastTransitionTime is later (the fresher knowledge of when it last flipped).
pub fn freshest(cached: &WebEDTStatus, written: &[Condition]) -> WebEDTStatus {
    let mut out = cached.clone();
    for w in written {
        match out.conditions.iter_mut().find(|c| c.type_ == w.type_) {
            Some(c) if c.last_transition_time.0 < w.last_transition_time.0 => *c = w.clone(),
            Some(_) => {}
            None => out.conditions.push(w.clone()),
        }
    }
    out
}

/// The status after a reconcile.
pub fn compute(old: &WebEDTStatus, o: &Observed, now: &Time) -> WebEDTStatus {
    let g = o.generation;
    let c = &old.conditions;
    let d_status = o.deployment.as_ref().and_then(|d| d.status.clone());
    let rolled = o.deployment.as_ref().map(rollout);

    let budget = o.findings.iter().find(|f| {
        matches!(
            f,
            Finding::ConnectionBudgetExceeded(_) | Finding::PoolerClientsExceeded(_)
        )
    });
    let degraded = match (&o.outcome, budget) {
        (Outcome::Blocked { reason, message }, _) => condition(
            c,
            ConditionType::Degraded,
            true,
            reason,
            message.clone(),
            g,
            now,
        ),
        (_, Some(f)) => condition(
            c,
            ConditionType::Degraded,
            true,
            f.reason(),
            f.message(),
            g,
            now,
        ),
        _ => condition(
            c,
            ConditionType::Degraded,
            false,
            "AsExpected",
            "no problems found".into(),
            g,
            now,
        ),
    };
    let progressing = match (&o.outcome, &rolled) {
        (Outcome::MigrationRunning { job }, _) => condition(
            c,
            ConditionType::Progressing,
            true,
            "MigrationRunning",
            format!("migration Job {job} runs before the Deployment moves to the new image"),
            g,
            now,
        ),
        (Outcome::Blocked { reason, .. }, _) => condition(
            c,
            ConditionType::Progressing,
            false,
            reason,
            "blocked: see the Degraded condition".into(),
            g,
            now,
        ),
        (Outcome::Applied, Some((false, msg))) => condition(
            c,
            ConditionType::Progressing,
            true,
            "RollingOut",
            msg.clone(),
            g,
            now,
        ),
        (Outcome::Applied, Some((true, msg))) => condition(
            c,
            ConditionType::Progressing,
            false,
            "RolledOut",
            msg.clone(),
            g,
            now,
        ),
        (Outcome::Applied, None) => condition(
            c,
            ConditionType::Progressing,
            true,
            "Creating",
            "the Deployment does not exist yet".into(),
            g,
            now,
        ),
    };
    let ready = match (&o.outcome, &rolled) {
        (Outcome::Blocked { reason, .. }, _) => condition(
            c,
            ConditionType::Ready,
            false,
            reason,
            format!(
                "the current spec is not served ({}); see the Degraded condition",
                serving(&d_status)
            ),
            g,
            now,
        ),
        (Outcome::MigrationRunning { .. }, _) => condition(
            c,
            ConditionType::Ready,
            false,
            "MigrationRunning",
            format!("waiting for the migration ({})", serving(&d_status)),
            g,
            now,
        ),
        (Outcome::Applied, Some((true, msg))) => condition(
            c,
            ConditionType::Ready,
            true,
            "RolledOut",
            msg.clone(),
            g,
            now,
        ),
        (Outcome::Applied, Some((false, msg))) => condition(
            c,
            ConditionType::Ready,
            false,
            "RollingOut",
            msg.clone(),
            g,
            now,
        ),
        (Outcome::Applied, None) => condition(
            c,
            ConditionType::Ready,
            false,
            "Creating",
            "the Deployment does not exist yet".into(),
            g,
            now,
        ),
    };
    let mut conditions = vec![ready, progressing, degraded];
    let (worker_replicas, worker_ready_replicas) = match &o.worker {
        Some(w) => {
            let (condition, counts) = worker_ready(c, w, g, now);
            conditions.push(condition);
            counts
        }
        // Blocked before the workers were looked at: what was known stays.
        None if matches!(o.outcome, Outcome::Blocked { .. }) => {
            conditions.extend(get(old, ConditionType::WorkerReady).cloned());
            (old.worker_replicas, old.worker_ready_replicas)
        }
        None => (None, None),
    };
    WebEDTStatus {
        worker_replicas,
        worker_ready_replicas,
        observed_generation: g,
        replicas: Some(d_status.as_ref().and_then(|s| s.replicas).unwrap_or(0)),
        ready_replicas: Some(
            d_status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        ),
        available_replicas: Some(
            d_status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0),
        ),
        updated_replicas: Some(
            d_status
                .as_ref()
                .and_then(|s| s.updated_replicas)
                .unwrap_or(0),
        ),
        selector: o.selector.clone().or_else(|| old.selector.clone()),
        endpoint: o.endpoint.clone().or_else(|| old.endpoint.clone()),
        conditions,
    }
}

/// The WorkerReady condition and the worker counts (existing, ready).
fn worker_ready(
    old: &[Condition],
    w: &WorkerObserved,
    g: Option<i64>,
    now: &Time,
) -> (Condition, (Option<i32>, Option<i32>)) {
    let Some(d) = &w.deployment else {
        let c = condition(
            old,
            ConditionType::WorkerReady,
            false,
            "Creating",
            "the worker Deployment does not exist yet".into(),
            g,
            now,
        );
        return (c, (Some(0), Some(0)));
    };
    let st = d.status.clone().unwrap_or_default();
    let want = d.spec.replicas.unwrap_or(1);
    let ready = st.ready_replicas.unwrap_or(0);
    let (done, msg) = rollout(d);
    let message = if done {
        format!("{ready} of {want} workers ready")
    } else {
        format!("{ready} of {want} workers ready; {msg}")
    };
    let c = if done {
        condition(
            old,
            ConditionType::WorkerReady,
            true,
            "RolledOut",
            message,
            g,
            now,
        )
    } else {
        condition(
            old,
            ConditionType::WorkerReady,
            false,
            "RollingOut",
            message,
            g,
            now,
        )
    };
    (c, (Some(st.replicas.unwrap_or(0)), Some(ready)))
}

fn serving(s: &Option<k8s_openapi::api::apps::v1::DeploymentStatus>) -> String {
    let available = s.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
    format!("{available} replicas of the previous version keep serving")
}

/// Paused: only the Progressing condition changes, to say so.
pub fn paused(old: &WebEDTStatus, generation: Option<i64>, now: &Time) -> WebEDTStatus {
    let mut s = old.clone();
    let p = condition(
        &old.conditions,
        ConditionType::Progressing,
        false,
        "Paused",
        "spec.paused is true: the operator leaves every object as it is".into(),
        generation,
        now,
    );
    match s
        .conditions
        .iter_mut()
        .find(|c| c.type_ == ConditionType::Progressing.as_str())
    {
        Some(c) => *c = p,
        None => s.conditions.push(p),
    }
    s
}

/// The condition of `type_`, if any.
pub fn get(s: &WebEDTStatus, type_: ConditionType) -> Option<&Condition> {
    s.conditions.iter().find(|c| c.type_ == type_.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::jiff::Timestamp;

    fn deployment(want: i32, available: i32) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(2),
                ..Default::default()
            },
            spec: DeploymentSpec {
                replicas: Some(want),
                ..Default::default()
            },
            status: Some(DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(want),
                updated_replicas: Some(want),
                available_replicas: Some(available),
                ready_replicas: Some(available),
                ..Default::default()
            }),
        }
    }

    fn observed(d: Deployment, outcome: Outcome) -> Observed {
        Observed {
            generation: Some(7),
            deployment: Some(d),
            outcome,
            findings: vec![],
            selector: None,
            endpoint: None,
            worker: None,
        }
    }

    fn t(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let s1 = compute(
            &WebEDTStatus::default(),
            &observed(deployment(2, 1), Outcome::Applied),
            &t(100),
        );
        let r1 = get(&s1, ConditionType::Ready).unwrap();
        assert_eq!(
            (r1.status.as_str(), r1.last_transition_time.clone()),
            ("False", t(100))
        );
        assert_eq!(r1.observed_generation, Some(7));
        // Still rolling out, message changes: time stays.
        let s2 = compute(&s1, &observed(deployment(3, 2), Outcome::Applied), &t(200));
        assert_eq!(
            get(&s2, ConditionType::Ready).unwrap().last_transition_time,
            t(100)
        );
        // Flip to True: time moves.
        let s3 = compute(&s2, &observed(deployment(3, 3), Outcome::Applied), &t(300));
        let r3 = get(&s3, ConditionType::Ready).unwrap();
        assert_eq!(
            (r3.status.as_str(), r3.last_transition_time.clone()),
            ("True", t(300))
        );
        // Degraded stayed False all along: its time is the first one.
        assert_eq!(
            get(&s3, ConditionType::Degraded)
                .unwrap()
                .last_transition_time,
            t(100)
        );
        assert_eq!(s3.available_replicas, Some(3));
    }

    #[test]
    fn blocked_is_degraded_with_the_reason_and_not_ready() {
        let s = compute(
            &WebEDTStatus::default(),
            &observed(
                deployment(2, 2),
                Outcome::Blocked {
                    reason: "MigrationFailed".into(),
                    message: "m".into(),
                },
            ),
            &t(1),
        );
        let d = get(&s, ConditionType::Degraded).unwrap();
        assert_eq!(
            (d.status.as_str(), d.reason.as_str()),
            ("True", "MigrationFailed")
        );
        let r = get(&s, ConditionType::Ready).unwrap();
        assert_eq!(r.status, "False");
        assert!(
            r.message
                .contains("2 replicas of the previous version keep serving")
        );
    }

    #[test]
    fn paused_touches_only_progressing() {
        let s = compute(
            &WebEDTStatus::default(),
            &observed(deployment(2, 2), Outcome::Applied),
            &t(1),
        );
        let p = paused(&s, Some(8), &t(2));
        assert_eq!(get(&p, ConditionType::Ready), get(&s, ConditionType::Ready));
        let c = get(&p, ConditionType::Progressing).unwrap();
        assert_eq!(
            (c.reason.as_str(), c.observed_generation),
            ("Paused", Some(8))
        );
        assert_eq!(p.observed_generation, s.observed_generation);
    }

    #[test]
    fn a_stale_cache_does_not_move_the_transition_time_later() {
        // Ready flipped to True at 200 and was written; the cache still shows the status from
        // before (False since 100). The next reconcile at 300 must keep 200.
        let before = compute(
            &WebEDTStatus::default(),
            &observed(deployment(3, 2), Outcome::Applied),
            &t(100),
        );
        let written = compute(
            &before,
            &observed(deployment(3, 3), Outcome::Applied),
            &t(200),
        );
        let ready = |s: &WebEDTStatus| get(s, ConditionType::Ready).unwrap().clone();
        assert_eq!(ready(&written).status, "True");
        let stale_cache = before.clone();
        let naive = compute(
            &stale_cache,
            &observed(deployment(3, 3), Outcome::Applied),
            &t(300),
        );
        assert_eq!(ready(&naive).last_transition_time, t(300), "the bug");
        let fixed = compute(
            &freshest(&stale_cache, &written.conditions),
            &observed(deployment(3, 3), Outcome::Applied),
            &t(300),
        );
        assert_eq!(ready(&fixed).last_transition_time, t(200));
        // A cache that is fresher than the memo (another leader wrote later) wins.
        let later = compute(
            &written,
            &observed(deployment(3, 2), Outcome::Applied),
            &t(400),
        );
        let kept = freshest(&later, &written.conditions);
        assert_eq!(ready(&kept).status, "False");
    }

    #[test]
    fn worker_ready_follows_the_workers_and_survives_a_block() {
        let with_workers = |w: Deployment, outcome| Observed {
            worker: Some(WorkerObserved {
                deployment: Some(w),
            }),
            ..observed(deployment(2, 2), outcome)
        };
        let s = compute(
            &WebEDTStatus::default(),
            &with_workers(deployment(3, 1), Outcome::Applied),
            &t(1),
        );
        let w = get(&s, ConditionType::WorkerReady).unwrap();
        assert_eq!(
            (w.status.as_str(), w.reason.as_str()),
            ("False", "RollingOut")
        );
        assert!(
            w.message.starts_with("1 of 3 workers ready;"),
            "{}",
            w.message
        );
        assert_eq!(get(&s, ConditionType::Ready).unwrap().status, "True");
        let s = compute(&s, &with_workers(deployment(3, 3), Outcome::Applied), &t(2));
        let w = get(&s, ConditionType::WorkerReady).unwrap().clone();
        assert_eq!(
            (w.status.as_str(), w.message.as_str()),
            ("True", "3 of 3 workers ready")
        );
        assert_eq!(
            (s.worker_replicas, s.worker_ready_replicas),
            (Some(3), Some(3))
        );
        // Blocked before the workers were looked at: their condition and counts stay.
        let blocked = Outcome::Blocked {
            reason: "SecretMissing".into(),
            message: "m".into(),
        };
        let b = compute(&s, &observed(deployment(2, 2), blocked), &t(3));
        assert_eq!(get(&b, ConditionType::WorkerReady), Some(&w));
        assert_eq!(b.worker_ready_replicas, Some(3));
        // Applied without workers (spec.worker off): both go.
        let off = compute(&s, &observed(deployment(2, 2), Outcome::Applied), &t(4));
        assert!(get(&off, ConditionType::WorkerReady).is_none());
        assert_eq!(
            (off.worker_replicas, off.worker_ready_replicas),
            (None, None)
        );
    }
}
