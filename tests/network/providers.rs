//! Topic providers: nodes of one area cell find each other through Kademlia,
//! starting from one common bootstrap peer, and leave other cells alone.

use std::collections::BTreeSet;
use std::time::Duration;

use swapmesh_net::{Discovery, PeerId};
use swapmesh_node::{NodeConfig, NodeEvent};
use swapmesh_protocol::{Geohash, Topic};

use crate::kit::{self, Net, Recorder, wait_until};

const CELL: &str = "u4pru";
/// Far from `CELL` (San Francisco): none of its topics is one of `CELL`'s.
const OTHER_CELL: &str = "9q8yy";

/// The peers `recorder` saw discovered as providers of `topic`.
fn providers_of(recorder: &mut Recorder, topic: &str) -> BTreeSet<PeerId> {
    recorder
        .seen()
        .iter()
        .filter_map(|event| match event {
            NodeEvent::PeerDiscovered {
                peer,
                via: Discovery::TopicProvider { topic: t },
            } if t == topic => Some(*peer),
            _ => None,
        })
        .collect()
}

/// Every peer `recorder` saw discovered as a provider of any topic.
fn all_providers(recorder: &mut Recorder) -> BTreeSet<PeerId> {
    recorder
        .seen()
        .iter()
        .filter_map(|event| match event {
            NodeEvent::PeerDiscovered {
                peer,
                via: Discovery::TopicProvider { .. },
            } => Some(*peer),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_of_a_cell_find_and_connect_to_each_other_through_kademlia_but_not_another_cell()
{
    // The common bootstrap peer has no area (it listens to the `local` mesh).
    let bootstrap = kit::node(Net::Tcp, None, |_| {}).await;
    let bootstrap_addr = kit::address(&bootstrap).await;
    // Seven nodes of nine topics each (a cell and its neighbours): a lookup of
    // every topic each second, the kit's pace, is more Kademlia queries than two
    // busy cores answer in time, and a round does not wait for the queries of the
    // one before, so they pile up and discovery stalls. A slower pace keeps well
    // within.
    let pace = |c: &mut NodeConfig| {
        c.discovery.provider_lookup_interval = Duration::from_secs(3);
        c.discovery.provider_announce_interval = Duration::from_secs(6);
    };
    // A provider is reported once: each node's recorder listens before the node
    // meets the bootstrap peer (the path of `NodeConfig::bootstrap`), so no
    // discovery happens before it.
    let mut joined = Vec::new();
    for area in [CELL, CELL, CELL, CELL, CELL, OTHER_CELL] {
        let node = kit::node(Net::Tcp, Some(area), pace).await;
        let recorder = Recorder::new(&node);
        node.network()
            .bootstrap(vec![bootstrap_addr.clone()])
            .await
            .unwrap();
        joined.push((node, recorder));
    }
    let (other, mut other_recorder) = joined.pop().unwrap();
    let (cell, mut recorders): (Vec<_>, Vec<_>) = joined.into_iter().unzip();

    let topic = Topic::area(&Geohash::parse_area(CELL).unwrap())
        .as_str()
        .to_owned();
    let ids: Vec<PeerId> = cell.iter().map(|n| n.peer_id()).collect();
    for (i, node) in cell.iter().enumerate() {
        let others: BTreeSet<PeerId> = ids.iter().copied().filter(|p| *p != ids[i]).collect();
        let recorder = &mut recorders[i];
        wait_until(
            "each node to find the others of its cell as providers",
            || {
                let found = providers_of(recorder, &topic);
                let others = others.clone();
                async move { others.is_subset(&found) }
            },
        )
        .await;
        wait_until("each node to connect to the others of its cell", || async {
            let peers = node.peers().await.unwrap_or_default();
            others.iter().all(|p| peers.contains(p))
        })
        .await;
    }

    // The other cell's node provides none of these topics, so no node of the
    // cell found (and dialled) it as a provider, nor it them.
    for recorder in &mut recorders {
        assert!(
            !all_providers(recorder).contains(&other.peer_id()),
            "a node of the cell found the other cell's node as a provider"
        );
    }
    let found_by_other = all_providers(&mut other_recorder);
    assert!(
        ids.iter().all(|p| !found_by_other.contains(p)),
        "the other cell's node found a node of the cell as a provider"
    );

    for node in cell.into_iter().chain([other, bootstrap]) {
        node.shutdown().await.unwrap();
    }
}

/// A node announces only its own cell: a neighbour finds it through that cell
/// (which the neighbour listens to), and nobody finds it through a cell it only
/// listens to. Announcing all nine topics cost a city nine times the DHT
/// traffic for peers it finds anyway (issue 27).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_provides_its_own_cell_not_the_neighbours_it_listens_to() {
    let bootstrap = kit::node(Net::Tcp, None, |_| {}).await;
    let bootstrap_addr = kit::address(&bootstrap).await;
    let pace = |c: &mut NodeConfig| {
        c.discovery.provider_lookup_interval = Duration::from_secs(2);
        c.discovery.provider_announce_interval = Duration::from_secs(4);
    };
    let home = Geohash::parse_cell(CELL).unwrap();
    // East of `CELL`, and the cell north of both's shared edge: a neighbour of
    // each, the home of neither.
    let east = home.neighbours()[4].clone();
    let shared = home.neighbours()[7].clone();
    assert!(east.neighbours().contains(&shared));
    let mut nodes = Vec::new();
    for area in [CELL, east.as_str()] {
        let node = kit::node(Net::Tcp, Some(area), pace).await;
        let recorder = Recorder::new(&node);
        node.network()
            .bootstrap(vec![bootstrap_addr.clone()])
            .await
            .unwrap();
        nodes.push((node, recorder));
    }
    let (a, b) = (nodes[0].0.peer_id(), nodes[1].0.peer_id());
    let topic = |cell: &Geohash| Topic::area(cell).as_str().to_owned();
    wait_until("each to find the other through the other's cell", || {
        let a_found = providers_of(&mut nodes[0].1, &topic(&east));
        let b_found = providers_of(&mut nodes[1].1, &topic(&home));
        async move { a_found.contains(&b) && b_found.contains(&a) }
    })
    .await;
    // Two lookup rounds later, still nobody through the cell both only listen to.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (_, recorder) in &mut nodes {
        assert_eq!(providers_of(recorder, &topic(&shared)), BTreeSet::new());
    }
    for (node, _) in nodes {
        node.shutdown().await.unwrap();
    }
    bootstrap.shutdown().await.unwrap();
}
