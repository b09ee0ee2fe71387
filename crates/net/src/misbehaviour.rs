//! Named peer misbehaviour, its tolerance, and the per-peer count that decays
//! (STYLE §9).
//!
//! Each kind of misbehaviour costs a fixed number of points; a peer's points
//! halve every [`MisbehaviourConfig::half_life`]; a peer whose points reach
//! [`MisbehaviourConfig::block_threshold`] (100 by default) is blocked for
//! [`MisbehaviourConfig::block_duration`]. With the default threshold:
//!
//! | misbehaviour | points | blocked after (in quick succession) |
//! |---|---|---|
//! | [`Misbehaviour::OversizeFrame`] | 50 | 2 |
//! | [`Misbehaviour::InvalidRecord`] | 34 | 3 |
//! | [`Misbehaviour::MalformedFrame`] | 25 | 4 |
//! | [`Misbehaviour::Flooding`] | 10 | 10 requests over the rate (gossip over the rate is ignored, uncharged) |
//! | [`Misbehaviour::HeldPush`] | 10 | 10 pushes mostly of records held since before the last minute |

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::PeerId;

use crate::config::{FloodLimits, MisbehaviourConfig};

/// What a peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// It sent a record that failed validation: reported by the app, either
    /// directly or by rejecting a gossip message. Mid tolerance: an honest peer
    /// never forwards one (it validates first), but one can slip through a bug.
    InvalidRecord,
    /// It announced a frame over the protocol's limit. Low tolerance: our codec
    /// never writes one, so only a peer with a different limit or a hostile one
    /// sends it.
    OversizeFrame,
    /// It sent a frame cut short or otherwise broken. Higher tolerance: a
    /// connection dropped mid-frame looks the same.
    MalformedFrame,
    /// It sent requests faster than the configured rate. High tolerance per
    /// request: only a sustained flood gets it blocked. (Gossip over the rate
    /// is ignored, not charged: its deliverer may be an honest forwarder.)
    Flooding,
    /// It pushed records we held already (and not only since lately: gossip
    /// races honest pushes), more than a quarter of a batch: work asked for
    /// nothing. High tolerance.
    HeldPush,
}

impl Misbehaviour {
    /// Its name in a word (`invalid_record`, `oversize_frame`, …), as logs,
    /// events and the API give it.
    pub fn name(self) -> &'static str {
        match self {
            Misbehaviour::InvalidRecord => "invalid_record",
            Misbehaviour::OversizeFrame => "oversize_frame",
            Misbehaviour::MalformedFrame => "malformed_frame",
            Misbehaviour::Flooding => "flooding",
            Misbehaviour::HeldPush => "held_push",
        }
    }

    /// The points this misbehaviour costs (against a default threshold of 100).
    pub fn penalty(self) -> f64 {
        match self {
            Misbehaviour::OversizeFrame => 50.0,
            Misbehaviour::InvalidRecord => 34.0,
            Misbehaviour::MalformedFrame => 25.0,
            Misbehaviour::Flooding | Misbehaviour::HeldPush => 10.0,
        }
    }
}

/// One peer's decaying points.
#[derive(Debug, Clone, Copy)]
struct Points {
    value: f64,
    at: Instant,
}

impl Points {
    fn decayed(self, now: Instant, half_life: Duration) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let half_life = half_life.as_secs_f64().max(f64::MIN_POSITIVE);
        self.value * 0.5f64.powf(elapsed / half_life)
    }
}

/// Per-peer misbehaviour points.
#[derive(Debug)]
pub(crate) struct MisbehaviourTracker {
    config: MisbehaviourConfig,
    points: HashMap<PeerId, Points>,
}

impl MisbehaviourTracker {
    pub(crate) fn new(config: MisbehaviourConfig) -> Self {
        Self {
            config,
            points: HashMap::new(),
        }
    }

    /// Adds the penalty of `what`; returns the peer's new score and whether it
    /// reached the block threshold.
    pub(crate) fn charge(&mut self, peer: PeerId, what: Misbehaviour, now: Instant) -> (f64, bool) {
        let current = self.score(&peer, now);
        let value = current + what.penalty();
        self.points.insert(peer, Points { value, at: now });
        (value, value >= self.config.block_threshold)
    }

    /// The peer's current (decayed) score.
    pub(crate) fn score(&self, peer: &PeerId, now: Instant) -> f64 {
        self.points
            .get(peer)
            .map_or(0.0, |p| p.decayed(now, self.config.half_life))
    }

    /// Forgets the peer (it served its block).
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.points.remove(peer);
    }

    /// Drops entries that have decayed to nothing, so the map stays small.
    pub(crate) fn prune(&mut self, now: Instant) {
        let half_life = self.config.half_life;
        self.points.retain(|_, p| p.decayed(now, half_life) >= 0.5);
    }
}

/// One token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Which rate a message counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Traffic {
    Gossip,
    /// `/swapmesh/agree/1` and `/swapmesh/mail/1`.
    Request,
    /// `/swapmesh/sync/1`: its real bound is the responder's budget of bytes.
    SyncRequest,
    /// `/swapmesh/blob/1`: a page of photos is many small requests at once,
    /// each cheap to answer (one file read), so they count apart.
    BlobRequest,
}

impl FloodLimits {
    /// (per second, burst) of a kind of traffic.
    fn rate(&self, traffic: Traffic) -> (f64, f64) {
        match traffic {
            Traffic::Gossip => (self.gossip_per_second, self.gossip_burst),
            Traffic::Request => (self.requests_per_second, self.request_burst),
            Traffic::SyncRequest => (self.sync_requests_per_second, self.sync_request_burst),
            Traffic::BlobRequest => (self.blob_requests_per_second, self.blob_request_burst),
        }
    }
}

/// Per-peer token buckets for gossip messages and inbound requests.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: FloodLimits,
    buckets: HashMap<(PeerId, Traffic), Bucket>,
}

impl RateLimiter {
    pub(crate) fn new(limits: FloodLimits) -> Self {
        Self {
            limits,
            buckets: HashMap::new(),
        }
    }

    fn rate(&self, traffic: Traffic) -> (f64, f64) {
        self.limits.rate(traffic)
    }

    /// Takes one token; `false` means the peer is over its rate.
    pub(crate) fn allow(&mut self, peer: PeerId, traffic: Traffic, now: Instant) -> bool {
        self.allow_n(peer, traffic, 1, now)
    }

    /// Takes `n` tokens at once, or none: `false` means they do not fit.
    pub(crate) fn allow_n(
        &mut self,
        peer: PeerId,
        traffic: Traffic,
        n: usize,
        now: Instant,
    ) -> bool {
        let (per_second, burst) = self.rate(traffic);
        let bucket = self.buckets.entry((peer, traffic)).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= n as f64 {
            bucket.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled completely (they hold no information).
    pub(crate) fn prune(&mut self, now: Instant) {
        let limits = self.limits;
        self.buckets.retain(|(_, traffic), b| {
            let (per_second, burst) = limits.rate(*traffic);
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_invalid_records_reach_the_default_threshold() {
        let mut t = MisbehaviourTracker::new(MisbehaviourConfig::default());
        let peer = PeerId::random();
        let now = Instant::now();
        assert!(!t.charge(peer, Misbehaviour::InvalidRecord, now).1);
        assert!(!t.charge(peer, Misbehaviour::InvalidRecord, now).1);
        assert!(t.charge(peer, Misbehaviour::InvalidRecord, now).1);
    }

    #[test]
    fn points_halve_every_half_life() {
        let config = MisbehaviourConfig::default();
        let mut t = MisbehaviourTracker::new(config);
        let peer = PeerId::random();
        let now = Instant::now();
        t.charge(peer, Misbehaviour::OversizeFrame, now);
        let later = t.score(&peer, now + config.half_life);
        assert!((later - 25.0).abs() < 1e-9, "{later}");
        t.prune(now + config.half_life * 20);
        assert_eq!(t.score(&peer, now), 0.0);
    }

    #[test]
    fn bucket_allows_burst_then_refills_at_rate() {
        let limits = FloodLimits {
            requests_per_second: 2.0,
            request_burst: 3.0,
            ..FloodLimits::default()
        };
        let mut r = RateLimiter::new(limits);
        let peer = PeerId::random();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(r.allow(peer, Traffic::Request, now));
        }
        assert!(!r.allow(peer, Traffic::Request, now));
        assert!(r.allow(peer, Traffic::Request, now + Duration::from_millis(500)));
        assert!(!r.allow(peer, Traffic::Request, now + Duration::from_millis(500)));
    }

    #[test]
    fn blob_and_sync_requests_have_their_own_buckets() {
        let limits = FloodLimits {
            request_burst: 1.0,
            sync_request_burst: 3.0,
            blob_request_burst: 2.0,
            ..FloodLimits::default()
        };
        let mut r = RateLimiter::new(limits);
        let peer = PeerId::random();
        let now = Instant::now();
        assert!(r.allow(peer, Traffic::Request, now));
        assert!(!r.allow(peer, Traffic::Request, now));
        // Agree requests spent theirs; photos still have two, sync three.
        assert!(r.allow(peer, Traffic::BlobRequest, now));
        assert!(r.allow(peer, Traffic::BlobRequest, now));
        assert!(!r.allow(peer, Traffic::BlobRequest, now));
        for _ in 0..3 {
            assert!(r.allow(peer, Traffic::SyncRequest, now));
        }
        assert!(!r.allow(peer, Traffic::SyncRequest, now));
    }
}
