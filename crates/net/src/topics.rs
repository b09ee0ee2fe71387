//! The subscription filter of the node's gossipsub. A subscription that a
//! peer announces counts only when the app's rule admits the topic
//! ([`GossipConfig::topic_rule`](crate::GossipConfig::topic_rule)); others are
//! ignored and counted in `swapmesh_subscriptions_refused_total{reason="junk"}`.
//! A peer is also held to
//! [`GossipConfig::max_topics_per_peer`](crate::GossipConfig::max_topics_per_peer):
//! gossipsub's `MaxCountSubscriptionFilter` ignores the subscriptions of a
//! message that would take the peer over it (logged, not counted:
//! libp2p-gossipsub 0.50 keeps its `Subscription` type private, so no filter
//! of ours can see which of them it drops).

use libp2p::gossipsub::{MaxCountSubscriptionFilter, TopicHash, TopicSubscriptionFilter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Which topic names are admitted (the app's rule; `None` admits every name).
pub type TopicRule = fn(&str) -> bool;

/// The filter gossipsub runs: the rule, under the per-peer count.
pub(crate) type Filter = MaxCountSubscriptionFilter<TopicFilter>;

/// The label of a refused subscription in `/metrics`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Admits the topics the app's rule admits, counting the rest.
pub(crate) struct TopicFilter {
    rule: Option<TopicRule>,
    refused: Family<ReasonLabel, Counter>,
}

/// The filter for gossipsub: `rule`, at most `per_peer` topics a peer.
pub(crate) fn filter(rule: Option<TopicRule>, per_peer: usize, registry: &mut Registry) -> Filter {
    let refused = Family::<ReasonLabel, Counter>::default();
    registry.register(
        "swapmesh_subscriptions_refused",
        "Topic subscriptions announced by peers and ignored, by reason (`junk`: no topic of ours)",
        refused.clone(),
    );
    MaxCountSubscriptionFilter {
        filter: TopicFilter { rule, refused },
        max_subscribed_topics: per_peer,
        // A peer announces all its topics in its first message.
        max_subscriptions_per_request: per_peer,
    }
}

impl TopicSubscriptionFilter for TopicFilter {
    /// Our own subscriptions and each one a peer announces (or withdraws).
    fn can_subscribe(&mut self, topic: &TopicHash) -> bool {
        let admitted = self.rule.is_none_or(|rule| rule(topic.as_str()));
        if !admitted {
            self.refused
                .get_or_create(&ReasonLabel { reason: "junk" })
                .inc();
        }
        admitted
    }
}
