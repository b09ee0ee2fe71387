//! [`Health`]: whether the node's disk takes its writes.
//!
//! A write or flush that fails for want of space or by an I/O error turns the
//! node *degraded*: it says so in the log, in `GET /api/v1/node` and in
//! `/metrics`; the API answers every write with `503 degraded`; records that
//! peers send are ignored (counted under `reason="degraded"`, not stored, not
//! forwarded: nothing is acknowledged that was not kept). sled 0.34 keeps
//! returning an I/O error once it had one, so the node recovers by reopening
//! its store ([`swapmesh_store::Store::reopen`], once the disk has room) and
//! writing a probe: at once, then every
//! [`NodeConfig::disk_retry_interval`](crate::NodeConfig), until that works.
//! Reads go on meanwhile; the write that failed may show in them until the
//! reopen drops it (it was never acknowledged nor published).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use swapmesh_protocol::Timestamp;
use swapmesh_store::StoreError;
use tracing::{error, info};
use utoipa::ToSchema;

/// Why and since when the node is degraded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Degraded {
    since: Timestamp,
    reason: String,
}

/// The node's health, shared by the parts that write.
#[derive(Debug, Default)]
pub(crate) struct Health {
    degraded: Mutex<Option<Degraded>>,
    /// Times the node turned degraded.
    entered: AtomicU64,
    /// Times it recovered.
    recovered: AtomicU64,
    /// Attempts to recover (reopen, probe) made.
    attempts: AtomicU64,
    /// Wakes the recovery task when the node turns degraded.
    turned: tokio::sync::Notify,
}

/// Does this store error mean the disk does not take writes (rather than bad
/// input or a bug)?
pub(crate) fn is_disk_failure(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::DiskFull(_) | StoreError::Io(_) | StoreError::Reopening
    )
}

impl Health {
    /// A write failed at `now`: `what` it was and the error. Turns the node
    /// degraded (logged once, when it turns) if the error is a disk failure;
    /// returns whether it is.
    pub(crate) fn failed(&self, now: Timestamp, what: &str, e: &StoreError) -> bool {
        if !is_disk_failure(e) {
            return false;
        }
        self.turn_degraded(now, format!("{what} failed: {e}"));
        true
    }

    /// Turns the node degraded for `reason` (logged once, when it turns).
    pub(crate) fn turn_degraded(&self, now: Timestamp, reason: String) {
        let mut degraded = self.lock();
        if degraded.is_none() {
            error!(
                "{reason}: the node is degraded, takes no writes and ignores records from peers until its disk takes writes again"
            );
            self.entered.fetch_add(1, Ordering::Relaxed);
            *degraded = Some(Degraded { since: now, reason });
            self.turned.notify_one();
        }
    }

    /// Waits until the node turns degraded (or was, and nobody waited yet).
    pub(crate) async fn turned_degraded(&self) {
        self.turned.notified().await;
    }

    /// A recovery attempt is made.
    pub(crate) fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// The disk takes writes again.
    pub(crate) fn recovered(&self) {
        if let Some(was) = self.lock().take() {
            info!(since = %crate::api::rfc3339(was.since), "the store was reopened and takes writes: the node is healthy again");
            self.recovered.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.lock().is_some()
    }

    /// Why the node is degraded, if it is.
    pub(crate) fn reason(&self) -> Option<String> {
        self.lock().as_ref().map(|d| d.reason.clone())
    }

    /// The health as `GET /api/v1/node` shows it.
    pub(crate) fn json(&self) -> HealthJson {
        match &*self.lock() {
            None => HealthJson {
                state: HealthState::Ok,
                since: None,
                reason: None,
            },
            Some(d) => HealthJson {
                state: HealthState::Degraded,
                since: Some(crate::api::rfc3339(d.since)),
                reason: Some(d.reason.clone()),
            },
        }
    }

    /// The health in the Prometheus text format.
    pub(crate) fn render_metrics(&self) -> String {
        format!(
            "# HELP swapmesh_degraded 1 while the node's disk does not take writes (it takes no writes and ignores records from peers).\n\
             # TYPE swapmesh_degraded gauge\n\
             swapmesh_degraded {}\n\
             # HELP swapmesh_degraded_entered Times the node turned degraded.\n\
             # TYPE swapmesh_degraded_entered counter\n\
             swapmesh_degraded_entered_total {}\n\
             # HELP swapmesh_degraded_recovered Times it recovered by reopening its store.\n\
             # TYPE swapmesh_degraded_recovered counter\n\
             swapmesh_degraded_recovered_total {}\n\
             # HELP swapmesh_degraded_attempts Attempts to recover: the store reopened and a probe written.\n\
             # TYPE swapmesh_degraded_attempts counter\n\
             swapmesh_degraded_attempts_total {}\n",
            u8::from(self.is_degraded()),
            self.entered.load(Ordering::Relaxed),
            self.recovered.load(Ordering::Relaxed),
            self.attempts.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Degraded>> {
        self.degraded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether the node takes writes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// It does.
    Ok,
    /// Its disk is full or failing: no writes, records from peers ignored.
    Degraded,
}

/// The node's health in `GET /api/v1/node`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct HealthJson {
    /// `ok` or `degraded`.
    pub state: HealthState,
    /// Since when it is degraded (RFC 3339).
    pub since: Option<String>,
    /// Which write failed, and how.
    pub reason: Option<String>,
}
