//! The node's own counters, in the OpenMetrics text format (as libp2p's), served at `/metrics`
//! after libp2p's (DESIGN §8): gossip records by verdict and reason, sync sessions
//! and records fetched, connected peers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use swapmesh_net::Validation;

use crate::sync::Progress;

/// Counters the node keeps.
#[derive(Debug, Default)]
pub(crate) struct AppMetrics {
    /// Gossip messages by (verdict, reason).
    records: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl AppMetrics {
    /// Counts one gossip verdict.
    pub(crate) fn record(&self, verdict: Validation, reason: &'static str) {
        let verdict = match verdict {
            Validation::Accept => "accepted",
            Validation::Ignore => "ignored",
            Validation::Reject => "rejected",
        };
        *self
            .records
            .lock()
            .expect("metrics lock")
            .entry((verdict, reason))
            .or_default() += 1;
    }

    /// The counters as Prometheus text.
    pub(crate) fn render(&self, sync: &Progress, peers: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP swapmesh_gossip_records Gossip messages by verdict and reason.\n\
             # TYPE swapmesh_gossip_records counter"
        );
        for ((verdict, reason), n) in self.records.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "swapmesh_gossip_records_total{{verdict=\"{verdict}\",reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP swapmesh_sync_sessions Catch-up sync sessions completed.\n\
             # TYPE swapmesh_sync_sessions counter\n\
             swapmesh_sync_sessions_total {}\n\
             # HELP swapmesh_sync_records_fetched Records fetched by sync.\n\
             # TYPE swapmesh_sync_records_fetched counter\n\
             swapmesh_sync_records_fetched_total {}\n\
             # HELP swapmesh_sync_running Sync sessions running now.\n\
             # TYPE swapmesh_sync_running gauge\n\
             swapmesh_sync_running {}\n\
             # HELP swapmesh_peers Connected peers.\n\
             # TYPE swapmesh_peers gauge\n\
             swapmesh_peers {peers}",
            sync.completed, sync.fetched_total, sync.running
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let m = AppMetrics::default();
        m.record(Validation::Accept, "inserted");
        m.record(Validation::Accept, "inserted");
        m.record(Validation::Reject, "bad_signature");
        let text = m.render(&Progress::default(), 3);
        assert!(
            text.contains(
                "swapmesh_gossip_records_total{verdict=\"accepted\",reason=\"inserted\"} 2"
            )
        );
        assert!(text.contains(
            "swapmesh_gossip_records_total{verdict=\"rejected\",reason=\"bad_signature\"} 1"
        ));
        assert!(text.contains("swapmesh_peers 3"));
    }
}
