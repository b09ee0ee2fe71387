//! [`Dispatch`]: the router of [`NetworkEvent`]s. Each event goes to the part that
//! owns what it is about: gossip to the ingest path, topic joins to the sync
//! schedule and the publisher, addresses to the address book (and the agreement
//! outbox, which retries a peer when it appears), requests to the service of
//! their protocol. Topic names are parsed here, once, into the
//! protocol's [`Topic`]; a name that is not a swapmesh topic is ignored.

use std::sync::Arc;

use swapmesh_net::{NetworkEvent, NetworkHandle, Protocol};
use swapmesh_protocol::Topic;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info};

use crate::address_book::AddressBook;
use crate::agree::Agree;
use crate::blobs::Blobs;
use crate::events::NodeEvent;
use crate::ingest::Ingestor;
use crate::publish::Publisher;
use crate::sync::SyncService;
use crate::sync::schedule::Schedule;
use crate::tasks::Tasks;

/// What the router hands events to.
pub(crate) struct Dispatch {
    pub(crate) agree: Agree,
    pub(crate) mail: crate::mail::Mail,
    pub(crate) blobs: Blobs,
    pub(crate) net: NetworkHandle,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) ingestor: Arc<Ingestor>,
    pub(crate) address_book: Arc<AddressBook>,
    pub(crate) sync: SyncService,
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) tasks: Arc<Tasks>,
}

impl Dispatch {
    /// Routes network events until the network stops.
    pub(crate) async fn run(self, mut net_events: mpsc::Receiver<NetworkEvent>) {
        while let Some(event) = net_events.recv().await {
            self.route(event).await;
        }
    }

    async fn route(&self, event: NetworkEvent) {
        match event {
            NetworkEvent::Gossip {
                message_id,
                topic,
                data,
                propagation_source,
            } => {
                // A message on a topic that is not ours to name: nobody honest
                // sends it.
                let verdict = match Topic::parse(&topic) {
                    Some(topic) => self.ingestor.gossip(&topic, &data, propagation_source),
                    None => swapmesh_net::Validation::Reject,
                };
                if let Err(e) = self
                    .net
                    .report_validation(message_id, propagation_source, verdict)
                    .await
                {
                    debug!(error = %e, "could not report a validation result");
                }
            }
            NetworkEvent::PeerSubscribed { peer, topic } => {
                let Some(topic) = Topic::parse(&topic) else {
                    return;
                };
                self.schedule.peer_joined(peer, topic.clone());
                self.publisher.first_peer_on(&topic);
            }
            NetworkEvent::PeerUnsubscribed { peer, topic } => {
                if let Some(topic) = Topic::parse(&topic) {
                    self.schedule.peer_left(peer, &topic);
                }
            }
            NetworkEvent::PeerConnected { peer, .. } => {
                self.agree.peer_seen(peer);
                let _ = self.events.send(NodeEvent::PeerUp { peer });
            }
            // An address we dialled answered as its peer: the only kind the
            // book stores.
            NetworkEvent::AddressVerified { peer, address } => {
                self.address_book.remember(peer, &[address]);
            }
            NetworkEvent::PeerIdentified {
                peer,
                listen_addresses,
                ..
            } => {
                // Where the peer says it listens is checked by a dial first.
                if let Some(addresses) = self.address_book.to_verify(peer, &listen_addresses) {
                    let net = self.net.clone();
                    self.tasks.spawn(async move {
                        if let Err(e) = net.verify_addresses(peer, addresses).await {
                            debug!(%peer, error = %e, "could not check a peer's addresses");
                        }
                    });
                }
                self.agree.peer_seen(peer);
            }
            NetworkEvent::PeerDiscovered { peer, via, .. } => {
                self.agree.peer_seen(peer);
                let _ = self.events.send(NodeEvent::PeerDiscovered { peer, via });
            }
            NetworkEvent::PeerDisconnected { peer } => {
                self.schedule.peer_gone(peer);
                self.sync.forget(&peer);
                let _ = self.events.send(NodeEvent::PeerDown { peer });
            }
            NetworkEvent::PeerMisbehaved {
                peer, misbehaviour, ..
            } => {
                let _ = self
                    .events
                    .send(NodeEvent::PeerCharged { peer, misbehaviour });
            }
            NetworkEvent::PeerBlocked { peer, reason } => {
                info!(%peer, ?reason, "peer blocked");
                self.address_book.forget(peer);
                let _ = self.events.send(NodeEvent::PeerBlocked { peer });
            }
            NetworkEvent::InboundRequest {
                protocol: Protocol::Sync,
                peer,
                data,
                reply,
            } => {
                let sync = self.sync.clone();
                self.tasks
                    .spawn(async move { sync.serve(peer, data, reply).await });
            }
            NetworkEvent::InboundRequest {
                protocol: Protocol::Blob,
                peer,
                data,
                reply,
            } => {
                let blobs = self.blobs.clone();
                self.tasks
                    .spawn(async move { blobs.serve(peer, data, reply).await });
            }
            NetworkEvent::InboundRequest {
                protocol: Protocol::Mail,
                peer,
                data,
                reply,
            } => {
                let mail = self.mail.clone();
                self.tasks
                    .spawn(async move { mail.serve(peer, data, reply).await });
            }
            NetworkEvent::InboundRequest {
                protocol: Protocol::Agree,
                peer,
                data,
                reply,
            } => {
                let agree = self.agree.clone();
                self.tasks
                    .spawn(async move { agree.serve(peer, data, reply).await });
            }
            other => debug!(?other, "network event"),
        }
    }
}
