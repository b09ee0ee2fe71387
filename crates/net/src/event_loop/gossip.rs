//! Gossip: publishing, joining and leaving topics, the messages that arrive and
//! the app's verdicts on them.

use std::time::Instant;

use libp2p::{
    PeerId,
    gossipsub::{self, IdentTopic, TopicHash},
    metrics::Recorder,
};
use tracing::{debug, warn};

use super::{EventLoop, discovery::provider_key};
use crate::{
    error::{NetworkError, PublishError},
    misbehaviour::{Misbehaviour, Traffic},
    scoring,
    types::{MessageId, NetworkEvent, Validation},
};

impl EventLoop {
    /// Publishes `data` on `topic`, if it is within
    /// [`GossipConfig::max_message_bytes`](crate::GossipConfig::max_message_bytes)
    /// (less the part of a long topic beyond
    /// [`MAX_TOPIC_BYTES`](crate::config::MAX_TOPIC_BYTES)).
    pub(super) fn publish(
        &mut self,
        topic: String,
        data: Vec<u8>,
    ) -> Result<MessageId, PublishError> {
        // `max_transmit_size` bounds the whole RPC frame a receiver reads; the
        // data limit leaves room in it for the topic and the envelope.
        let limit = self.gossip.data_limit(&topic);
        if data.len() > limit {
            return Err(PublishError::TooLarge {
                len: data.len(),
                limit,
            });
        }
        let len = data.len();
        let id = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(IdentTopic::new(topic), data)
            .map_err(|e| match e {
                gossipsub::PublishError::Duplicate => PublishError::Duplicate,
                gossipsub::PublishError::NoPeersSubscribedToTopic => PublishError::NoPeers,
                gossipsub::PublishError::MessageTooLarge => PublishError::TooLarge { len, limit },
                gossipsub::PublishError::AllQueuesFull(_) => PublishError::QueuesFull,
                other => PublishError::Other(other.to_string()),
            })?;
        MessageId::from_gossipsub(&id)
            .ok_or_else(|| PublishError::Other(format!("unexpected message id {id}")))
    }

    /// Joins `topic` with its score parameters, and (with `announce`) announces
    /// ourselves as one of its providers; `Ok(false)` if already joined.
    pub(super) fn subscribe(
        &mut self,
        topic: String,
        announce: bool,
    ) -> Result<bool, NetworkError> {
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        let ident = IdentTopic::new(topic.clone());
        let error = |reason: String| NetworkError::Subscribe {
            topic: topic.clone(),
            reason,
        };
        // Parameters first: a `Reject` lowers a score only on topics that have
        // them, and the mesh time (P1) counts from the graft.
        gossipsub
            .set_topic_params(ident.clone(), scoring::topic_score_params())
            .map_err(|e| error(e.to_owned()))?;
        let joined = gossipsub
            .subscribe(&ident)
            .map_err(|e| error(e.to_string()))?;
        if joined {
            // Announce ourselves for the topic and look for its other members now
            // rather than at the next round.
            let key = provider_key(&topic);
            self.provider_keys.insert(key.clone(), topic);
            if announce {
                self.announced.insert(key.clone());
            }
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                if announce && let Err(e) = kad.start_providing(key.clone()) {
                    warn!(error = %e, "could not store our own provider record");
                }
                let id = kad.get_providers(key);
                self.provider_lookups
                    .insert(id, super::discovery::ProviderLookup::default());
            }
        }
        Ok(joined)
    }

    /// Leaves `topic` and stops providing it; `false` if it was not joined.
    pub(super) fn unsubscribe(&mut self, topic: String) -> bool {
        let left = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .unsubscribe(&IdentTopic::new(topic.clone()));
        let key = provider_key(&topic);
        self.provider_keys.remove(&key);
        self.announced.remove(&key);
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            kad.stop_providing(&key);
        }
        left
    }

    /// Passes the app's verdict to gossipsub (and charges a rejected message's
    /// source); `false` if the message had left the cache.
    pub(super) fn report_validation(
        &mut self,
        message_id: MessageId,
        propagation_source: PeerId,
        validation: Validation,
    ) -> bool {
        let found = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(
                &message_id.to_gossipsub(),
                &propagation_source,
                validation.into(),
            );
        if validation == Validation::Reject {
            self.charge(propagation_source, Misbehaviour::InvalidRecord);
        }
        found
    }

    /// Our mesh peers on `topic`.
    pub(super) fn mesh_peers(&self, topic: String) -> Vec<PeerId> {
        self.swarm
            .behaviour()
            .gossipsub
            .mesh_peers(&TopicHash::from_raw(topic))
            .copied()
            .collect()
    }

    pub(super) fn on_gossip(&mut self, event: gossipsub::Event) {
        self.metrics.record(&event);
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let allowed = self
                    .rates
                    .allow(propagation_source, Traffic::Gossip, Instant::now());
                let id = MessageId::from_gossipsub(&message_id);
                match (allowed, id) {
                    (true, Some(id)) => self.emit(NetworkEvent::Gossip {
                        message_id: id,
                        topic: message.topic.into_string(),
                        data: message.data,
                        propagation_source,
                    }),
                    (allowed, _) => {
                        // Over the rate (or, impossibly, a foreign id): drop it
                        // without forwarding and without a gossip penalty. Not
                        // charged either: gossipsub hands on only the first
                        // delivery of a message, and its deliverer is often an
                        // honest forwarder of someone else's flood. Charges
                        // come from invalid records; author quotas bound
                        // floods of valid ones.
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .report_message_validation_result(
                                &message_id,
                                &propagation_source,
                                gossipsub::MessageAcceptance::Ignore,
                            );
                        if !allowed {
                            self.over_rate.inc();
                        } else {
                            warn!(%message_id, "gossip message id is not a sha256");
                        }
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                self.emit(NetworkEvent::PeerSubscribed {
                    peer: peer_id,
                    topic: topic.into_string(),
                });
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                self.emit(NetworkEvent::PeerUnsubscribed {
                    peer: peer_id,
                    topic: topic.into_string(),
                });
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                debug!(peer = %peer_id, "peer does not support gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                debug!(peer = %peer_id, ?failed_messages, "slow gossipsub peer");
            }
        }
    }
}
