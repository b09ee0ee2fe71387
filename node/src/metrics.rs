//! The node's own counters, in the OpenMetrics text format (as libp2p's), served at `/metrics`
//! after libp2p's (DESIGN §8): records of others by path (gossip or sync), verdict
//! and reason, store transactions and panicked verify tasks by path, sync sessions
//! and records fetched, connected peers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use swapmesh_net::Validation;

use crate::sync::Progress;

/// The way a record of another node came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Path {
    /// A gossip message.
    Gossip,
    /// A sync batch (fetched or pushed).
    Sync,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Gossip => "gossip",
            Path::Sync => "sync",
        }
    }
}

/// Counters the node keeps.
#[derive(Debug, Default)]
pub(crate) struct AppMetrics {
    /// Records by (path, verdict, reason).
    records: Mutex<BTreeMap<(Path, &'static str, &'static str), u64>>,
    /// Store transactions (`insert_batch` calls) by path.
    batches: Mutex<BTreeMap<Path, u64>>,
    /// Verify tasks that panicked, by path.
    panics: Mutex<BTreeMap<Path, u64>>,
}

impl AppMetrics {
    /// Counts one verdict on a record that came by `path`.
    pub(crate) fn count(&self, path: Path, verdict: Validation, reason: &'static str) {
        let verdict = match verdict {
            Validation::Accept => "accepted",
            Validation::Ignore => "ignored",
            Validation::Reject => "rejected",
        };
        *self
            .records
            .lock()
            .expect("metrics lock")
            .entry((path, verdict, reason))
            .or_default() += 1;
    }

    /// Counts one store transaction of records that came by `path`.
    pub(crate) fn batch_stored(&self, path: Path) {
        *self
            .batches
            .lock()
            .expect("metrics lock")
            .entry(path)
            .or_default() += 1;
    }

    /// Counts one verify task that panicked.
    pub(crate) fn verify_panicked(&self, path: Path) {
        *self
            .panics
            .lock()
            .expect("metrics lock")
            .entry(path)
            .or_default() += 1;
    }

    /// The counters as Prometheus text.
    pub(crate) fn render(&self, sync: &Progress, peers: usize) -> String {
        let mut out = String::new();
        let records = self.records.lock().expect("metrics lock").clone();
        for (path, what) in [
            (Path::Gossip, "Gossip messages"),
            (Path::Sync, "Records fetched or pushed by sync"),
        ] {
            let name = path.name();
            let _ = writeln!(
                out,
                "# HELP swapmesh_{name}_records {what} by verdict and reason.\n\
                 # TYPE swapmesh_{name}_records counter"
            );
            for ((_, verdict, reason), n) in records.iter().filter(|(k, _)| k.0 == path) {
                let _ = writeln!(
                    out,
                    "swapmesh_{name}_records_total{{verdict=\"{verdict}\",reason=\"{reason}\"}} {n}"
                );
            }
        }
        let batches = self.batches.lock().expect("metrics lock").clone();
        let panics = self.panics.lock().expect("metrics lock").clone();
        // Each family's samples stand together after its TYPE line, as the
        // OpenMetrics text format requires.
        for (family, help, counts) in [
            (
                "swapmesh_store_batches",
                "Store transactions of records of others, by path.",
                &batches,
            ),
            (
                "swapmesh_verify_panics",
                "Verify tasks that panicked (the batch was not stored), by path.",
                &panics,
            ),
        ] {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            for path in [Path::Gossip, Path::Sync] {
                let n = counts.get(&path).copied().unwrap_or(0);
                let _ = writeln!(out, "{family}_total{{path=\"{}\"}} {n}", path.name());
            }
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
        m.count(Path::Gossip, Validation::Accept, "inserted");
        m.count(Path::Gossip, Validation::Accept, "inserted");
        m.count(Path::Gossip, Validation::Reject, "bad_signature");
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
        // Every family's samples follow its own TYPE line, together.
        let mut family = "";
        let mut seen = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap();
                assert!(seen.insert(family.to_owned()), "{family} twice");
            } else if !line.starts_with('#') {
                assert!(line.starts_with(family), "{line} outside {family}");
            }
        }
    }
}
