//! Nobody can fill our Kademlia store: value records are refused, one peer
//! provides at most 64 keys here, and our own keys live apart. The other side
//! is a bare libp2p Kademlia swarm that does whatever a hostile peer would.

use std::time::Duration;

use futures::StreamExt;
use libp2p::{
    StreamProtocol, Swarm,
    kad::{
        self,
        store::{MemoryStore, MemoryStoreConfig, RecordStore},
    },
    swarm::SwarmEvent,
};
use swapmesh_net::{KadStoreStats, Multiaddr, PeerId, multiaddr::Protocol};

use crate::support::{Node, Seen, TOPIC, WAIT_TIMEOUT, bare_swarm, bounded, stop_all};

type KadSwarm = Swarm<kad::Behaviour<MemoryStore>>;

/// A bare Kademlia peer on the memory transport that knows only `target`.
fn kad_peer(target: &Node) -> KadSwarm {
    let mut swarm = kad_swarm();
    let mut address = target.addr.clone();
    address.pop();
    swarm.behaviour_mut().add_address(&target.peer, address);
    swarm
}

/// A bare Kademlia server on the memory transport that knows nobody yet.
fn kad_swarm() -> KadSwarm {
    bare_swarm(|key| {
        let peer = key.public().to_peer_id();
        // Its own store takes everything: the limits under test are the target's.
        let store = MemoryStore::with_config(
            peer,
            MemoryStoreConfig {
                max_provided_keys: 100_000,
                ..MemoryStoreConfig::default()
            },
        );
        let config = kad::Config::new(StreamProtocol::new("/swapmesh/kad/1"));
        let mut kad = kad::Behaviour::with_config(peer, store, config);
        kad.set_mode(Some(kad::Mode::Server));
        kad
    })
}

/// `swarm` listening on a fresh memory address: the address.
async fn listening(swarm: &mut KadSwarm) -> Multiaddr {
    swarm.listen_on("/memory/0".parse().unwrap()).unwrap();
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address;
        }
    }
}

/// Runs `swarm` until `count` queries whose results `ours` recognises ended
/// (`ours` sees every step of them).
async fn run_queries(
    swarm: &mut KadSwarm,
    count: usize,
    mut ours: impl FnMut(kad::QueryResult) -> bool,
) {
    let mut finished = 0;
    tokio::time::timeout(WAIT_TIMEOUT * 2, async {
        while finished < count {
            if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
                result, step, ..
            }) = swarm.select_next_some().await
                && ours(result)
                && step.last
            {
                finished += 1;
            }
        }
    })
    .await
    .expect("the queries did not finish");
}

/// Polls `node`'s store until `ready` holds, running `swarm` meanwhile (its
/// last messages may still be on their way); returns the stats then.
async fn wait_stats(
    node: &Node,
    swarm: &mut KadSwarm,
    ready: impl Fn(&KadStoreStats) -> bool,
) -> KadStoreStats {
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    loop {
        let stats = node.handle.kad_store_stats().await.unwrap();
        if ready(&stats) {
            return stats;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        let tick = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            _ = swarm.select_next_some() => {}
            () = tick => {}
        }
    }
}

/// Announces `keys` from `swarm`, waiting for each announcement to end.
async fn provide(swarm: &mut KadSwarm, keys: impl Iterator<Item = u32>) -> usize {
    let mut count = 0;
    for n in keys {
        let key = kad::RecordKey::new(&format!("key-{n}"));
        swarm.behaviour_mut().start_providing(key).unwrap();
        count += 1;
    }
    run_queries(swarm, count, |r| {
        matches!(r, kad::QueryResult::StartProviding(_))
    })
    .await;
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_cannot_fill_the_provider_store() {
    bounded(async {
        let target = Node::start().await;
        let mut greedy = kad_peer(&target);
        // In batches: Kademlia drops inbound streams beyond 32 at once.
        for batch in 0..5 {
            provide(&mut greedy, batch * 20..(batch + 1) * 20).await;
        }
        let stats = wait_stats(&target, &mut greedy, |s| s.refused >= 30).await;
        assert_eq!(stats.provider_records, 64, "{stats:?}");
        assert_eq!(stats.providers, 1, "{stats:?}");

        // Another peer still gets its record in.
        let mut honest = kad_peer(&target);
        provide(&mut honest, 1000..1001).await;
        let stats = wait_stats(&target, &mut honest, |s| s.provider_records == 65).await;
        assert_eq!(stats.providers, 2);

        // And our own announcements never compete with theirs.
        target.handle.subscribe(TOPIC).await.unwrap();
        wait_stats(&target, &mut greedy, |s| s.own_keys == 1).await;

        drop((greedy, honest));
        stop_all(vec![target]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kademlia_refuses_value_records() {
    bounded(async {
        let target = Node::start().await;
        let key = kad::RecordKey::new(&"spam");

        let mut spammer = kad_peer(&target);
        spammer
            .behaviour_mut()
            .put_record(
                kad::Record::new(key.clone(), b"a value swapmesh never asked for".to_vec()),
                kad::Quorum::One,
            )
            .unwrap();
        // The target answers a put as if it took it (so kad's protocol has
        // it); what matters is what it hands out afterwards.
        run_queries(&mut spammer, 1, |r| {
            matches!(r, kad::QueryResult::PutRecord(_))
        })
        .await;

        // Someone else asks the target for it: nothing there.
        let mut reader = kad_peer(&target);
        reader.behaviour_mut().get_record(key);
        let mut found = false;
        run_queries(&mut reader, 1, |r| match r {
            kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(_))) => {
                found = true;
                true
            }
            kad::QueryResult::GetRecord(_) => true,
            _ => false,
        })
        .await;
        assert!(!found, "the target handed out a value record");

        drop((spammer, reader));
        stop_all(vec![target]).await;
    })
    .await;
}

/// A provider lookup walks on past the peers that know no provider (most
/// answers, while the walk is still far from the key) until one that does.
/// Eight bare Kademlia peers know nobody's provider record, only the peer that
/// holds it; the node knows the eight, and the topic is one whose key they are
/// all closer to than the holder, so they are asked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_lookup_walks_past_answers_without_providers() {
    bounded(async {
        let mut holder = kad_swarm();
        let holder_address = listening(&mut holder).await;
        let holder_peer = *holder.local_peer_id();
        let mut empties = Vec::new();
        let mut bootstrap = Vec::new();
        for _ in 0..8 {
            let mut empty = kad_swarm();
            let address = listening(&mut empty).await;
            empty
                .behaviour_mut()
                .add_address(&holder_peer, holder_address.clone());
            bootstrap.push(address.with(Protocol::P2p(*empty.local_peer_id())));
            empties.push(empty);
        }
        let distance = |peer: &PeerId, key: &kad::RecordKey| {
            kad::KBucketKey::from(*peer).distance(&kad::KBucketKey::new(key.clone()))
        };
        let (topic, key) = (0..10_000)
            .map(|n| {
                let topic = format!("probe-{n}");
                let key = kad::RecordKey::new(&swapmesh_net::provider_key(&topic));
                (topic, key)
            })
            .find(|(_, key)| {
                let far = distance(&holder_peer, key);
                empties
                    .iter()
                    .all(|e| distance(e.local_peer_id(), key) < far)
            })
            .expect("a topic whose key the holder is farthest from");
        // The provider: a peer nobody runs (its dial fails; being found is
        // what counts).
        let provider = PeerId::random();
        holder
            .behaviour_mut()
            .store_mut()
            .add_provider(kad::ProviderRecord::new(
                key,
                provider,
                vec!["/memory/4242424242".parse().unwrap()],
            ))
            .unwrap();
        let running: Vec<_> = std::iter::once(holder)
            .chain(empties)
            .map(|mut swarm| {
                tokio::spawn(async move {
                    loop {
                        swarm.select_next_some().await;
                    }
                })
            })
            .collect();

        let mut node = Node::start_with(|c| {
            c.discovery.bootstrap = bootstrap.clone();
            c.discovery.provider_lookup_interval = Duration::from_millis(300);
        })
        .await;
        node.handle
            .subscribe_unannounced(topic.clone())
            .await
            .unwrap();
        let provider_id = provider.to_string();
        let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
        while !node.seen().iter().any(|s| {
            matches!(s, Seen::Other(text)
                if text.contains("TopicProvider") && text.contains(&provider_id))
        }) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the lookup of {topic} never found the provider the holder knows"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for task in running {
            task.abort();
        }
        stop_all(vec![node]).await;
    })
    .await;
}
