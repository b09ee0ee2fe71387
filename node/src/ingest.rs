//! The [`Ingestor`]: the one path by which records of others enter the node, from
//! gossip and from sync alike (DESIGN §4).
//!
//! Decode with limits → verify and validate ([`judge`]) → store the valid ones in
//! one transaction (`Store::insert_batch`) → emit node events → count every
//! verdict under its reason in `/metrics`. A gossip message is a batch of one,
//! judged inline on the network loop; a sync batch (a fetched or pushed frame of
//! up to a few hundred records) is judged on both cores in a blocking task and
//! stored in one transaction.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swapmesh_net::{PeerId, Validation};
use swapmesh_protocol::validate::{Checked, Ignored, Invalid};
use swapmesh_protocol::{
    GossipMessage, RecordId, SignedRecord, Timestamp, Topic, Verified, check, topics,
};
use swapmesh_store::{InsertOutcome, Quota, Store, StoreError};
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, error, warn};

use crate::blobs::PhotosNamed;
use crate::clock::Clock;
use crate::config::Faults;
use crate::events::NodeEvent;
use crate::health::Health;
use crate::meshes::MeshBook;
use crate::metrics::{AppMetrics, Path};
use crate::skew::SkewWatch;

/// Below this many records a batch is judged on one core.
const PARALLEL_BATCH: usize = 32;

/// How long a record that arrived counts as just arrived: a sync session
/// lives this long after its last message, so an honest push may name a
/// record that gossip (or another session) brought us meanwhile.
const RACE_WINDOW: Duration = swapmesh_sync::SESSION_IDLE;

/// At most this many arrivals are remembered (~0.8 MiB); in a flood of more
/// than ~270 new records a second the oldest are forgotten before
/// [`RACE_WINDOW`] ends, and an honest push racing them may be charged.
const ARRIVALS_CAP: usize = 16_384;

/// The records stored from others lately, and when: what a held push may
/// have raced. Keyed by the first 16 bytes of the id; kept in the order they
/// came, so forgetting the old ones costs nothing per record.
#[derive(Default)]
struct Arrivals(Mutex<ArrivalsInner>);

#[derive(Default)]
struct ArrivalsInner {
    order: VecDeque<([u8; 16], Instant)>,
    at: HashMap<[u8; 16], Instant>,
}

impl Arrivals {
    fn key(id: &RecordId) -> [u8; 16] {
        let mut key = [0; 16];
        key.copy_from_slice(&id.0[..16]);
        key
    }

    fn note(&self, id: &RecordId, now: Instant) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let ArrivalsInner { order, at } = &mut *inner;
        while let Some(&(key, when)) = order.front() {
            if order.len() < ARRIVALS_CAP && now.duration_since(when) < RACE_WINDOW {
                break;
            }
            order.pop_front();
            // A record stored again since keeps its later entry.
            if at.get(&key) == Some(&when) {
                at.remove(&key);
            }
        }
        let key = Self::key(id);
        order.push_back((key, now));
        at.insert(key, now);
    }

    fn lately(&self, id: &RecordId, now: Instant) -> bool {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .at
            .get(&Self::key(id))
            .is_some_and(|when| now.duration_since(*when) < RACE_WINDOW)
    }
}

/// What [`Ingestor::without_held`] found in a pushed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// Records of the batch we held.
    pub(crate) held: usize,
    /// Of those, the ones that reached us within [`RACE_WINDOW`]: the push
    /// raced them, no fault of the pusher.
    pub(crate) lately: usize,
}

/// The verdict on one signed record that arrived for a topic (by gossip or
/// sync), before the store has its say.
// Moved once into the store, as `Checked` is; boxing would add an allocation per
// record on the ingest path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Judged {
    /// Valid and on one of its own topics.
    Valid(Verified),
    /// Ignored by the protocol, blaming nobody; the reason in a word.
    Ignored(&'static str),
    /// Malformed, invalid, or on a topic it does not name; the rule in a word.
    Rejected(&'static str),
}

/// How a record is checked: [`check`], or under `SWAPMESH_FAULT=no-validation`
/// [`check_unverified`](swapmesh_protocol::validate::check_unverified).
type CheckFn = fn(SignedRecord, Timestamp) -> Result<Checked, Invalid>;

/// Verifies and validates a record that arrived for `topic` at `now`.
pub(crate) fn judge(record: SignedRecord, topic: &Topic, now: Timestamp, check: CheckFn) -> Judged {
    judged_of(check(record, now), topic)
}

/// The verdict on a checked record that arrived for `topic`.
fn judged_of(checked: Result<Checked, Invalid>, topic: &Topic) -> Judged {
    match checked {
        Ok(Checked::Valid(v)) if topics(v.body()).contains(topic) => Judged::Valid(v),
        Ok(Checked::Valid(_)) => Judged::Rejected("wrong_topic"),
        Ok(Checked::Ignored(why)) => Judged::Ignored(why.reason()),
        Err(invalid) => Judged::Rejected(invalid.rule()),
    }
}

/// The verdict and its reason for what the store did with a valid record:
///
/// - `Accept` when the record is new, replaces an older version, or is a
///   byte-identical copy (gossipsub ids are per topic, so a copy we already hold is
///   the record arriving on another of its own topics — forwarding it lets it reach
///   that topic's members);
/// - `Ignore` when it is stale, expired by the time it reached the store, or
///   outside its author's quota (`quota_topic`, `quota_day`: valid, so nobody
///   is charged).
///
/// Exhaustive on purpose: a new store outcome must be given its verdict here.
pub(crate) fn verdict_of(outcome: InsertOutcome) -> (Validation, &'static str) {
    match outcome {
        InsertOutcome::Inserted => (Validation::Accept, "inserted"),
        InsertOutcome::Replaced => (Validation::Accept, "replaced"),
        InsertOutcome::Tombstoned => (Validation::Accept, "tombstoned"),
        InsertOutcome::Duplicate => (Validation::Accept, "duplicate"),
        InsertOutcome::Replayed => (Validation::Ignore, "replayed"),
        InsertOutcome::Stale => (Validation::Ignore, "stale"),
        InsertOutcome::Expired => (Validation::Ignore, "expired"),
        InsertOutcome::OverQuota(Quota::Topic) => (Validation::Ignore, "quota_topic"),
        InsertOutcome::OverQuota(Quota::Day) => (Validation::Ignore, "quota_day"),
    }
}

/// Why a sync batch was not ingested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The task that verifies the batch panicked; nothing of the batch was stored.
    #[error("verifying the batch panicked: {0}")]
    VerifyPanicked(String),
    /// The store refused the batch's transaction; nothing of it was stored.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The node is degraded (its disk does not take writes): the batch was
    /// not stored, and the session ends.
    #[error("the node is degraded and stores nothing: {0}")]
    Degraded(String),
}

/// What a sync batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    /// New or replacing versions stored.
    pub(crate) stored: usize,
    /// Records that were malformed or invalid, or belong to another topic: the
    /// sender is to blame.
    pub(crate) invalid: usize,
}

/// The verdicts of one judged batch after the store had its say.
struct Stored {
    verdicts: Vec<(Validation, &'static str)>,
    outcome: BatchOutcome,
    failed: Option<StoreError>,
}

/// Judges, stores, reports and counts records of others.
pub(crate) struct Ingestor {
    store: Store,
    events: broadcast::Sender<NodeEvent>,
    metrics: Arc<AppMetrics>,
    clock: Arc<dyn Clock>,
    faults: Faults,
    /// Where listings that name photos are told of, with who sent them (the
    /// blobs learn their holders there; best effort: a full queue drops news).
    photos: mpsc::Sender<PhotosNamed>,
    /// Turned degraded by a failed write; while it is, nothing is stored.
    health: Arc<Health>,
    /// Fresh gossip's creation times against our clock.
    skew: Arc<SkewWatch>,
    /// What we stored from others lately.
    arrivals: Arrivals,
    /// The keys that open private meshes' gossip.
    meshes: Arc<MeshBook>,
}

/// What [`Ingestor::new`] takes.
pub(crate) struct IngestorParts {
    pub(crate) store: Store,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) metrics: Arc<AppMetrics>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) faults: Faults,
    pub(crate) photos: mpsc::Sender<PhotosNamed>,
    pub(crate) health: Arc<Health>,
    pub(crate) meshes: Arc<MeshBook>,
}

/// Why a gossip message yields no record to judge.
enum Unopened {
    /// The sender broke a rule (the reason in a word).
    Rejected(&'static str),
    /// Nobody to blame.
    Ignored(&'static str),
}

impl From<Unopened> for Judged {
    fn from(u: Unopened) -> Self {
        match u {
            Unopened::Rejected(why) => Judged::Rejected(why),
            Unopened::Ignored(why) => Judged::Ignored(why),
        }
    }
}

impl Ingestor {
    pub(crate) fn new(parts: IngestorParts) -> Self {
        Self {
            store: parts.store,
            events: parts.events,
            metrics: parts.metrics,
            clock: parts.clock,
            faults: parts.faults,
            photos: parts.photos,
            health: parts.health,
            skew: Arc::default(),
            arrivals: Arrivals::default(),
            meshes: parts.meshes,
        }
    }

    /// What fresh gossip says of our clock.
    pub(crate) fn skew(&self) -> Arc<SkewWatch> {
        self.skew.clone()
    }

    /// Decides on one gossip message that arrived on `topic` (a batch of one),
    /// stores it if it is valid, and returns gossipsub's verdict: `Reject` for a
    /// malformed or invalid record, one on a topic it does not name, or one
    /// that is not sealed for the private mesh whose topic it came on (the
    /// sender is penalised by the network), `Ignore` for what the protocol
    /// ignores or the store finds stale, `Accept` otherwise.
    pub(crate) fn gossip(&self, topic: &Topic, data: &[u8], from: PeerId) -> Validation {
        let now = self.clock.now();
        let judged = match self.open(topic, data) {
            Ok(record) => self.judge_fresh(record, topic, now),
            Err(unopened) => unopened.into(),
        };
        let stored = self.store_judged(Path::Gossip, vec![judged], now, from, Some(topic));
        stored.verdicts.first().map_or(Validation::Ignore, |v| v.0)
    }

    /// The record a gossip message on `topic` carries: in the clear on an area
    /// or open mesh topic, sealed under the mesh's key on a private one (one
    /// AEAD open; a size no sealed record has is refused before it).
    fn open(&self, topic: &Topic, data: &[u8]) -> Result<SignedRecord, Unopened> {
        let message = GossipMessage::decode(data).map_err(|e| {
            debug!(%topic, error = %e, "malformed gossip message");
            Unopened::Rejected("malformed")
        })?;
        match (message, topic.is_private()) {
            (GossipMessage::V1(record), false) => Ok(record),
            (GossipMessage::V1(_), true) => Err(Unopened::Rejected("not_sealed")),
            (GossipMessage::Sealed(sealed), true) => {
                // Gossipsub hands us only topics we joined; a mesh left a
                // moment ago may still deliver one.
                let secrets = self
                    .meshes
                    .secrets(topic)
                    .ok_or(Unopened::Ignored("not_member"))?;
                let plaintext = secrets.open(&sealed).map_err(|e| {
                    debug!(%topic, error = %e, "a sealed message did not open");
                    Unopened::Rejected("unsealable")
                })?;
                SignedRecord::decode(&plaintext).map_err(|_| Unopened::Rejected("malformed"))
            }
            (GossipMessage::Sealed(_), false) => Err(Unopened::Rejected("sealed_in_the_open")),
            (_, _) => Err(Unopened::Rejected("malformed")),
        }
    }

    /// [`judge`], for a record that came by gossip: fresh from its author, so
    /// its creation time is a sample of the author's clock for the
    /// [`SkewWatch`] (when its signature verified).
    fn judge_fresh(&self, record: SignedRecord, topic: &Topic, now: Timestamp) -> Judged {
        let copy = record.clone();
        let check = self.check_fn();
        let checked = check(record, now);
        match &checked {
            Ok(Checked::Valid(v)) => self.skew.observe(v.body().author, v.body().created_at, now),
            Ok(Checked::Ignored(Ignored::FromTheFuture { created_at, .. })) => {
                // Verified before the clock was checked: trusted to decode.
                if let Ok(body) = copy.decode_trusted() {
                    self.skew.observe(body.author, *created_at, now);
                }
            }
            _ => {}
        }
        match judged_of(checked, topic) {
            Judged::Rejected("wrong_topic") if self.faults.no_area_filter() => {
                match check(copy, now) {
                    Ok(Checked::Valid(v)) => Judged::Valid(v),
                    _ => Judged::Rejected("wrong_topic"),
                }
            }
            judged => judged,
        }
    }

    /// How records of others are checked: [`check`], unless a test switched
    /// verification off ([`Faults`]).
    fn check_fn(&self) -> CheckFn {
        if self.faults.no_validation() {
            swapmesh_protocol::validate::check_unverified
        } else {
            check
        }
    }

    /// A pushed batch without the records we hold, and how many those were
    /// (and how many of them arrived lately). A record's id is the hash of
    /// its body: decoding and one lookup each, no signature checked (an
    /// undecodable one stays, for the judge to reject).
    pub(crate) fn without_held(&self, records: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Held) {
        let now = Instant::now();
        let total = records.len();
        let mut lately = 0;
        let fresh: Vec<Vec<u8>> = records
            .into_iter()
            .filter(|bytes| match SignedRecord::decode(bytes) {
                Ok(record) => {
                    let id = record.id();
                    let held = matches!(self.store.get(&id), Ok(Some(_)));
                    if held && self.arrivals.lately(&id, now) {
                        lately += 1;
                    }
                    !held
                }
                Err(_) => true,
            })
            .collect();
        let held = total - fresh.len();
        self.metrics.pushed_held(held);
        (fresh, Held { held, lately })
    }

    /// Judges a batch of encoded records that arrived by sync for `topic` (on
    /// both cores when it is large) and stores the valid ones in one
    /// transaction. A panic while judging is logged and counted and fails the
    /// batch: nothing is stored, and the caller's session ends with the error.
    pub(crate) async fn batch(
        &self,
        topic: &Topic,
        records: Vec<Vec<u8>>,
        from: PeerId,
    ) -> Result<BatchOutcome, IngestError> {
        let now = self.clock.now();
        let panic_now = self.faults.take_verify_panic();
        let check = self.check_fn();
        let for_task = topic.clone();
        let judged = tokio::task::spawn_blocking(move || {
            if panic_now {
                panic!("fault hook: verify panics");
            }
            judge_all(records, &for_task, now, check)
        })
        .await;
        let judged = match judged {
            Ok(judged) => judged,
            Err(e) => {
                error!(%topic, error = %e, "verify task panicked; the batch is not stored");
                self.metrics.verify_panicked(Path::Sync);
                return Err(IngestError::VerifyPanicked(e.to_string()));
            }
        };
        let stored = self.store_judged(Path::Sync, judged, now, from, None);
        match (stored.failed, self.health.reason()) {
            (Some(e), _) => Err(e.into()),
            (None, Some(why)) => Err(IngestError::Degraded(why)),
            (None, None) => Ok(stored.outcome),
        }
    }

    /// Stores the valid records of a judged batch in one transaction, emits the
    /// events of what changed and counts every verdict. A gossip copy
    /// (`gossip` names its topic) is remembered on its topic: accepted and
    /// forwarded once per topic, a replay after that is ignored.
    fn store_judged(
        &self,
        path: Path,
        judged: Vec<Judged>,
        now: Timestamp,
        from: PeerId,
        gossip: Option<&Topic>,
    ) -> Stored {
        let mut verdicts = Vec::with_capacity(judged.len());
        let mut valid = Vec::new();
        let mut outcome = BatchOutcome::default();
        for j in judged {
            match j {
                Judged::Valid(v) => {
                    verdicts.push((Validation::Accept, "valid"));
                    valid.push((verdicts.len() - 1, v));
                }
                Judged::Ignored(reason) => verdicts.push((Validation::Ignore, reason)),
                Judged::Rejected(rule) => {
                    outcome.invalid += 1;
                    verdicts.push((Validation::Reject, rule));
                }
            }
        }
        let mut failed = None;
        if !valid.is_empty() && self.health.is_degraded() {
            // Not stored, not forwarded, nobody blamed: counted, not lost
            // silently (the sender keeps it; a later sync brings it).
            for (at, _) in &valid {
                verdicts[*at] = (Validation::Ignore, "degraded");
            }
            valid.clear();
        }
        if !valid.is_empty() {
            let arrived = Instant::now();
            let (positions, records): (Vec<usize>, Vec<Verified>) = valid.into_iter().unzip();
            self.metrics.batch_stored(path);
            let inserted = match gossip {
                Some(topic) => records
                    .iter()
                    .map(|r| self.store.insert_gossip(r, topic, now))
                    .collect(),
                None => self.store.insert_batch(&records, now),
            };
            match inserted {
                Ok(outcomes) => {
                    for ((at, v), o) in positions.iter().zip(&records).zip(outcomes) {
                        verdicts[*at] = verdict_of(o);
                        if o.is_new() {
                            outcome.stored += 1;
                            self.arrivals.note(&v.id(), arrived);
                        }
                        NodeEvent::announce_insert(&self.events, &self.metrics, o, v);
                        self.tell_photos(o, v, from);
                    }
                }
                Err(e) => {
                    // Our own failure: do not forward what we could not keep,
                    // blame nobody.
                    if !self.health.failed(now, "storing records from peers", &e) {
                        warn!(records = records.len(), error = %e, "store failed to insert valid records");
                    }
                    for at in &positions {
                        verdicts[*at] = (Validation::Ignore, "store_error");
                    }
                    failed = Some(e);
                }
            }
        }
        for (verdict, reason) in &verdicts {
            self.metrics.count(path, *verdict, reason);
        }
        Stored {
            verdicts,
            outcome,
            failed,
        }
    }
}

impl Ingestor {
    /// Tells the blobs of the photos a listing that arrived names (a duplicate
    /// too: its sender holds the listing, and likely its photos).
    fn tell_photos(&self, outcome: InsertOutcome, v: &Verified, from: PeerId) {
        use swapmesh_protocol::Content;
        use swapmesh_protocol::listing::ListingStatus;
        if !matches!(
            outcome,
            InsertOutcome::Inserted | InsertOutcome::Replaced | InsertOutcome::Duplicate
        ) {
            return;
        }
        let body = v.body();
        let Content::Listing(listing) = &body.content else {
            return;
        };
        if listing.photos.is_empty() || listing.status == ListingStatus::Withdrawn {
            return;
        }
        let news = PhotosNamed {
            hashes: listing.photos.clone(),
            author: body.author,
            from: Some(from),
            topics: topics(body),
        };
        if self.photos.try_send(news).is_err() {
            debug!("photo news dropped: the blobs are busy");
        }
    }
}

/// Judges every record of a batch, on two threads when the batch is large. A
/// panic on either thread propagates (the caller's task fails, it is never an
/// empty batch).
fn judge_all(records: Vec<Vec<u8>>, topic: &Topic, now: Timestamp, check: CheckFn) -> Vec<Judged> {
    let one = |bytes: Vec<u8>| match SignedRecord::decode(&bytes) {
        Ok(record) => judge(record, topic, now, check),
        Err(_) => Judged::Rejected("malformed"),
    };
    if records.len() < PARALLEL_BATCH {
        return records.into_iter().map(one).collect();
    }
    let mut records = records;
    let second = records.split_off(records.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| second.into_iter().map(one).collect::<Vec<_>>());
        let mut out: Vec<_> = records.into_iter().map(one).collect();
        match other.join() {
            Ok(rest) => out.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> RecordId {
        let mut bytes = [0; 32];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        RecordId(bytes)
    }

    #[test]
    fn arrivals_are_lately_for_a_race_window_and_at_most_the_cap() {
        let arrivals = Arrivals::default();
        let t0 = Instant::now();
        arrivals.note(&id(1), t0);
        assert!(arrivals.lately(&id(1), t0 + RACE_WINDOW / 2));
        assert!(!arrivals.lately(&id(1), t0 + RACE_WINDOW));
        assert!(!arrivals.lately(&id(2), t0));
        // Stored again later: lately from then on, though its first entry
        // leaves the window.
        arrivals.note(&id(1), t0 + RACE_WINDOW / 2);
        arrivals.note(&id(3), t0 + RACE_WINDOW + Duration::from_secs(1));
        assert!(arrivals.lately(&id(1), t0 + RACE_WINDOW + Duration::from_secs(1)));
        // A flood: the oldest are forgotten at the cap, the newest kept.
        let t1 = t0 + RACE_WINDOW * 3;
        for n in 10..(10 + ARRIVALS_CAP as u32 + 5) {
            arrivals.note(&id(n), t1);
        }
        let inner = arrivals.0.lock().unwrap();
        assert_eq!(inner.order.len(), ARRIVALS_CAP);
        assert_eq!(inner.at.len(), ARRIVALS_CAP);
        drop(inner);
        assert!(!arrivals.lately(&id(10), t1));
        assert!(arrivals.lately(&id(10 + ARRIVALS_CAP as u32 + 4), t1));
    }

    #[test]
    fn an_expired_outcome_is_counted_as_expired() {
        assert_eq!(
            verdict_of(InsertOutcome::Expired),
            (Validation::Ignore, "expired")
        );
        let metrics = AppMetrics::default();
        let (verdict, reason) = verdict_of(InsertOutcome::Expired);
        metrics.count(Path::Sync, verdict, reason);
        let text = metrics.render(
            &crate::sync::Progress::default(),
            0,
            crate::metrics::AgreementGauges::default(),
        );
        assert!(
            text.contains("swapmesh_sync_records_total{verdict=\"ignored\",reason=\"expired\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn every_store_outcome_has_its_own_reason() {
        let all = [
            InsertOutcome::Inserted,
            InsertOutcome::Replaced,
            InsertOutcome::Tombstoned,
            InsertOutcome::Duplicate,
            InsertOutcome::Stale,
            InsertOutcome::Expired,
        ];
        let reasons: std::collections::BTreeSet<_> = all.iter().map(|o| verdict_of(*o).1).collect();
        assert_eq!(reasons.len(), all.len());
    }
}
