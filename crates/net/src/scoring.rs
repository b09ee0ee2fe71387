//! Gossipsub peer-scoring parameters, written out with the reason for each.
//!
//! swapmesh topics are neighbourhood areas and meshes: traffic is sparse and
//! bursty (people post a few listings a day), every message is a record signed by
//! its author and checked by the app, and the app's `Reject` is the strongest
//! signal we have. So the score is built mostly from P4 (invalid messages), with
//! small rewards for staying (P1) and delivering first (P2) that are capped so a
//! peer cannot bank enough credit to hide invalid messages. Delivery-rate
//! penalties (P3, P3b) are off: on a quiet topic they would punish honest peers.
//!
//! Gossipsub only graylists; the crate's own misbehaviour count (STYLE §9, see
//! [`crate::Misbehaviour`]) blocks at the connection level. Both are sized to act
//! at the third invalid record.

use std::{collections::HashSet, time::Duration};

use libp2p::gossipsub::{
    PeerScoreParams, PeerScoreThresholds, TopicScoreParams, score_parameter_decay,
};

/// Below this score we neither gossip IHAVE/IWANT with the peer nor accept its
/// gossip: a single invalid message (−12) is enough.
pub const GOSSIP_THRESHOLD: f64 = -10.0;
/// Below this score we do not publish to the peer; two invalid messages (−48)
/// leave a peer just above it, so publishing stops at the third.
pub const PUBLISH_THRESHOLD: f64 = -50.0;
/// Below this score every RPC from the peer is ignored (graylist): three invalid
/// messages on one topic (−108) put even a peer with the maximum positive score
/// (+20) below it.
pub const GRAYLIST_THRESHOLD: f64 = -80.0;

/// Weight of P4 per topic. P4 is `−weight × invalid²`: 1 → −12, 2 → −48, 3 → −108.
const INVALID_MESSAGE_WEIGHT: f64 = -12.0;
/// Cap on the positive part of the topic scores, summed over all topics.
const TOPIC_SCORE_CAP: f64 = 20.0;

/// The peer-level parameters (topics are added as they are joined, see
/// [`topic_score_params`]).
pub fn peer_score_params() -> PeerScoreParams {
    PeerScoreParams {
        topics: Default::default(),
        // At most +20 from all topics together, so three invalid messages always
        // graylist (see GRAYLIST_THRESHOLD), however long the peer has behaved.
        topic_score_cap: TOPIC_SCORE_CAP,
        // P5: unused; the app's verdicts reach gossipsub through P4 and the
        // crate's own misbehaviour count blocks at the connection layer instead.
        app_specific_weight: 0.0,
        // P6: many peers behind one address are suspicious (Sybil), but whole
        // neighbourhoods sit behind one carrier-grade NAT. Penalise only beyond 16
        // peers per IP, softly: 25 peers on one IP bring each to −81.
        ip_colocation_factor_weight: -1.0,
        ip_colocation_factor_threshold: 16.0,
        ip_colocation_factor_whitelist: HashSet::new(),
        // P7: broken IHAVE promises and GRAFTs during backoff. Six are forgiven
        // (lossy links, restarts); beyond that it grows with the square: the
        // 9th puts the peer on the graylist. Decays to 10% in 10 minutes.
        behaviour_penalty_weight: -10.0,
        behaviour_penalty_threshold: 6.0,
        behaviour_penalty_decay: score_parameter_decay(Duration::from_secs(600)),
        // Counters decay once a second (gossipsub's default and minimum).
        decay_interval: Duration::from_secs(1),
        decay_to_zero: 0.1,
        // A peer that disconnects keeps its score for an hour, so reconnecting
        // does not wash away its invalid messages.
        retain_score: Duration::from_secs(3600),
        // Slow peers (full send queues): gossipsub's defaults, 50 slow events
        // weigh as much as one behaviour penalty.
        slow_peer_weight: -0.2,
        slow_peer_threshold: 0.0,
        slow_peer_decay: 0.2,
    }
}

/// The thresholds; see the constants for the reasons.
pub fn peer_score_thresholds() -> PeerScoreThresholds {
    PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        // Peer exchange is off (gossipsub's `do_px` default); 10 keeps PX from
        // anyone but a peer with a solid record if it is ever turned on.
        accept_px_threshold: 10.0,
        // Opportunistic grafting when the median mesh score is below 3: our
        // positive scores top out at 20, so gossipsub's default of 20 would graft
        // on every check.
        opportunistic_graft_threshold: 3.0,
    }
}

/// The parameters set on every topic when it is joined.
///
/// Gossipsub applies P4 (and so a `Reject`) only on topics that have parameters,
/// which is why the event loop sets these before each subscribe.
pub fn topic_score_params() -> TopicScoreParams {
    TopicScoreParams {
        // Area cells and meshes carry the same kind of record: equal weight.
        topic_weight: 1.0,
        // P1: +0.01 per second in the mesh, capped at 10 minutes (+6): a small
        // reward for staying.
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 600.0,
        // P2: +1 per message delivered first, capped at +10, decaying to 10% in
        // 10 minutes.
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: score_parameter_decay(Duration::from_secs(600)),
        first_message_deliveries_cap: 10.0,
        // P3: off. A deficit of mesh deliveries on a quiet neighbourhood topic is
        // normal, not a sign of a peer withholding messages.
        mesh_message_deliveries_weight: 0.0,
        mesh_message_deliveries_decay: 0.5,
        mesh_message_deliveries_cap: 100.0,
        mesh_message_deliveries_threshold: 1.0,
        mesh_message_deliveries_window: Duration::from_millis(10),
        mesh_message_deliveries_activation: Duration::from_secs(5),
        // P3b: off, together with P3.
        mesh_failure_penalty_weight: 0.0,
        mesh_failure_penalty_decay: 0.5,
        // P4: −12 × invalid²; decays to 10% in an hour, so a graylisted peer
        // (3 invalid) is back above the graylist after about 4 minutes of
        // silence if it was otherwise neutral.
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: score_parameter_decay(Duration::from_secs(3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_accepted_by_gossipsub() {
        assert_eq!(peer_score_params().validate(), Ok(()));
        assert_eq!(peer_score_thresholds().validate(), Ok(()));
        assert_eq!(topic_score_params().validate(), Ok(()));
    }

    #[test]
    fn third_invalid_message_graylists_a_peer_with_full_credit() {
        let p4 = |n: f64| INVALID_MESSAGE_WEIGHT * n * n;
        assert!(TOPIC_SCORE_CAP + p4(2.0) > GRAYLIST_THRESHOLD);
        assert!(TOPIC_SCORE_CAP + p4(3.0) < GRAYLIST_THRESHOLD);
        assert!(p4(1.0) < GOSSIP_THRESHOLD);
    }
}
