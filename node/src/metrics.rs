//! The node's own counters, in the OpenMetrics text format (as libp2p's), served at `/metrics`
//! after libp2p's (DESIGN §8): records of others by path (gossip or sync), verdict
//! and reason, store transactions and panicked verify tasks by path, sync sessions
//! and records fetched, connected peers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Events that joined agreement chains here, by action.
    agreement_events: Mutex<BTreeMap<&'static str, u64>>,
    /// Refusals of agreement messages, by side (given, received) and code.
    agreement_refusals: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Receipts of our agreements published or received.
    receipts: AtomicU64,
    /// Reviews stored.
    reviews: AtomicU64,
    /// Pushed records dropped unverified because we held them.
    pushed_held: AtomicU64,
}

/// What the agreements hold at the time of a scrape.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AgreementGauges {
    /// Our events waiting for a sequencer.
    pub(crate) pending: usize,
    /// Outbox entries not yet delivered.
    pub(crate) outbox: usize,
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

    /// Counts one event that joined an agreement's chain.
    pub(crate) fn agreement_event(&self, action: &'static str) {
        *self
            .agreement_events
            .lock()
            .expect("metrics lock")
            .entry(action)
            .or_default() += 1;
    }

    /// Counts one receipt of ours published (or received from the sequencer).
    pub(crate) fn receipt_published(&self) {
        self.receipts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one review stored.
    pub(crate) fn review_added(&self) {
        self.reviews.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts pushed records dropped unverified because we held them.
    pub(crate) fn pushed_held(&self, n: usize) {
        self.pushed_held.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts one refusal this node gave (`given`) or got (`received`).
    pub(crate) fn agreement_refusal(&self, side: &'static str, code: &'static str) {
        *self
            .agreement_refusals
            .lock()
            .expect("metrics lock")
            .entry((side, code))
            .or_default() += 1;
    }

    /// The counters as Prometheus text.
    pub(crate) fn render(
        &self,
        sync: &Progress,
        peers: usize,
        agreements: AgreementGauges,
    ) -> String {
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
             # HELP swapmesh_sync_sessions_started Catch-up sync sessions begun as the initiator, ended well or not.\n\
             # TYPE swapmesh_sync_sessions_started counter\n\
             swapmesh_sync_sessions_started_total {}\n\
             # HELP swapmesh_sync_records_fetched Records fetched by sync.\n\
             # TYPE swapmesh_sync_records_fetched counter\n\
             swapmesh_sync_records_fetched_total {}\n\
             # HELP swapmesh_sync_running Sync sessions running now.\n\
             # TYPE swapmesh_sync_running gauge\n\
             swapmesh_sync_running {}\n\
             # HELP swapmesh_peers Connected peers.\n\
             # TYPE swapmesh_peers gauge\n\
             swapmesh_peers {peers}",
            sync.completed, sync.started, sync.fetched_total, sync.running
        );
        let events = self.agreement_events.lock().expect("metrics lock").clone();
        let _ = writeln!(
            out,
            "# HELP swapmesh_agreement_events Events that joined agreement chains here, by action.\n\
             # TYPE swapmesh_agreement_events counter"
        );
        for (action, n) in events {
            let _ = writeln!(
                out,
                "swapmesh_agreement_events_total{{action=\"{action}\"}} {n}"
            );
        }
        let refusals = self
            .agreement_refusals
            .lock()
            .expect("metrics lock")
            .clone();
        let _ = writeln!(
            out,
            "# HELP swapmesh_agreement_refusals Agreement messages refused, by side (given by this node's sequencer, received for our events) and code.\n\
             # TYPE swapmesh_agreement_refusals counter"
        );
        for ((side, code), n) in refusals {
            let _ = writeln!(
                out,
                "swapmesh_agreement_refusals_total{{side=\"{side}\",code=\"{code}\"}} {n}"
            );
        }
        let _ = write!(
            out,
            "# HELP swapmesh_agreement_pending Our agreement events waiting for the provider's node.\n\
             # TYPE swapmesh_agreement_pending gauge\n\
             swapmesh_agreement_pending {}\n\
             # HELP swapmesh_agreement_outbox Agreement messages not yet delivered to the other party's node.\n\
             # TYPE swapmesh_agreement_outbox gauge\n\
             swapmesh_agreement_outbox {}\n\
             # HELP swapmesh_receipts_published Receipts of this node's agreements published or received.\n\
             # TYPE swapmesh_receipts_published counter\n\
             swapmesh_receipts_published_total {}\n\
             # HELP swapmesh_reviews_added Reviews stored here, ours and others'.\n\
             # TYPE swapmesh_reviews_added counter\n\
             swapmesh_reviews_added_total {}\n\
             # HELP swapmesh_sync_pushed_held Pushed records dropped unverified: this node held them.\n\
             # TYPE swapmesh_sync_pushed_held counter\n\
             swapmesh_sync_pushed_held_total {}\n",
            agreements.pending,
            agreements.outbox,
            self.receipts.load(Ordering::Relaxed),
            self.reviews.load(Ordering::Relaxed),
            self.pushed_held.load(Ordering::Relaxed),
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
        m.agreement_event("accept");
        m.agreement_refusal("given", "overlaps");
        let text = m.render(
            &Progress::default(),
            3,
            AgreementGauges {
                pending: 1,
                outbox: 2,
            },
        );
        assert!(text.contains("swapmesh_agreement_events_total{action=\"accept\"} 1"));
        assert!(
            text.contains("swapmesh_agreement_refusals_total{side=\"given\",code=\"overlaps\"} 1")
        );
        assert!(text.contains("swapmesh_agreement_pending 1\n"));
        assert!(text.contains("swapmesh_agreement_outbox 2\n"));
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
