//! Leader election: one replica runs the controller, the others stand by and take over when
//! its lease lapses (kube-lease-manager).

use super::Settings;
use super::http::Health;
use super::watches::run_controller;
use crate::error::{Error, Result};
use kube::Client;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Runs the operator until `shutdown` completes: leader election (when enabled), then the
/// controller while this replica leads. `health` is what the HTTP endpoint shows.
pub async fn run(
    client: Client,
    settings: Settings,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    if !settings.leader_election {
        health.metrics.leader.set(1);
        tokio::select! {
            _ = &mut shutdown => {}
            _ = run_controller(client, settings, health.clone()) => {}
        }
        return Ok(());
    }

    let manager =
        kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &settings.lease_name)
            .with_namespace(&settings.lease_namespace)
            .with_identity(&settings.identity)
            .with_duration(settings.lease_duration)
            .with_grace(settings.lease_grace)
            .build()
            .await
            .map_err(|e| Error::LeaderElection(e.to_string()))?;
    let (mut leading, lease_task) = manager.watch().await;
    // Reached the API: a standby replica is ready (it is healthy, just not leading).
    health.ready.store(true, Ordering::Release);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            r = leading.wait_for(|l| *l) => if r.is_err() {
                break Err(Error::LeaderElection("the lease manager stopped".into()));
            },
        }
        tracing::info!(identity = %settings.identity, "became the leader");
        health.metrics.leader.set(1);
        let lost = tokio::select! {
            _ = &mut shutdown => None,
            r = leading.wait_for(|l| !*l) => Some(r.is_err()),
            _ = run_controller(client.clone(), settings.clone(), health.clone()) => Some(false),
        };
        health.metrics.leader.set(0);
        match lost {
            None => break Ok(()),
            Some(true) => break Err(Error::LeaderElection("the lease manager stopped".into())),
            Some(false) => {
                tracing::warn!(identity = %settings.identity, "lost the lease; standing by")
            }
        }
    };
    // Closing the channel makes the lease manager release the lease and stop.
    drop(leading);
    let _ = lease_task.await;
    result
}
