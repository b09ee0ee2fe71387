//! The node's clock: one [`Clock`] in [`NodeConfig`](crate::NodeConfig), read
//! wherever the node needs `now` (ingest, publishing, the expiry sweep, the
//! address book), so a test can move time without waiting for it.
//!
//! A clock tells the time; it does not move tokio's timers. Periodic jobs keep
//! their real intervals, and a test that moves the clock runs the job at once
//! (for example [`Node::sweep_now`](crate::Node::sweep_now)).

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use swapmesh_protocol::Timestamp;

/// Where a node reads the time.
pub trait Clock: Debug + Send + Sync {
    /// Now, in whole seconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// The system clock: the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is moved, for tests. Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    secs: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn at(now: Timestamp) -> Self {
        Self {
            secs: Arc::new(AtomicU64::new(now.0)),
        }
    }

    /// A clock standing at the system's time now.
    pub fn starting_now() -> Self {
        Self::at(Timestamp::now())
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.secs.store(now.0, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.secs.load(Ordering::SeqCst))
    }
}

/// The clock every node has unless told otherwise.
pub(crate) fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::at(Timestamp(1_000));
        let shared = clock.clone();
        assert_eq!(shared.now(), Timestamp(1_000));
        clock.advance(60);
        assert_eq!(shared.now(), Timestamp(1_060));
        shared.set(Timestamp(5));
        assert_eq!(clock.now(), Timestamp(5));
    }
}
