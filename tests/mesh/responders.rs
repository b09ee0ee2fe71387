//! Peers that drive endless sync sessions: the node's answering side holds
//! counters only, never more sessions than its cap, and a newcomer still gets
//! in; the peer that breaks the round limit is charged, honest ones are not.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{NetworkHandle, PeerId, Protocol};
use swapmesh_node::Node;
use swapmesh_protocol::{Geohash, RecordId, Timestamp, Topic, fixtures};
use swapmesh_sync::wire::{Refusal, SyncRequest, SyncResponse};
use swapmesh_sync::{Config, Item, Message};

use crate::kit::{self, metric, misbehaviour_of, wait_until};

const CELL: &str = "u4pru";
const CAP: usize = 8;

fn cell_topic() -> Topic {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
}

/// A reconciliation round of `session` that lists `n` fresh random items as
/// the sender's whole set: a responder that kept what it lacks would grow by
/// `n` a round.
fn fresh_list(rng: &mut StdRng, session: u64, n: usize) -> Vec<u8> {
    let items: Vec<Item> = (0..n)
        .map(|_| {
            let t = Timestamp(1_700_000_000 + rng.gen_range(0..86_400));
            Item::new(t, RecordId(rng.r#gen()))
        })
        .collect();
    SyncRequest::Reconcile {
        topic: cell_topic(),
        session,
        message: Message::list(items).encode(),
        proof: None,
    }
    .encode()
}

async fn ask(raw: &NetworkHandle, node: PeerId, request: Vec<u8>) -> Option<SyncResponse> {
    let answer = raw.send_request(Protocol::Sync, node, request).await.ok()?;
    SyncResponse::decode(&answer, answer.len()).ok()
}

/// Sessions of fresh lists, round after round, a new session whenever one is
/// refused, until `until`: one attacker's loop. Returns the rounds answered.
async fn endless(raw: NetworkHandle, node: PeerId, seed: u64, until: Instant) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut session = rng.r#gen();
    let mut answered = 0;
    while Instant::now() < until {
        match ask(&raw, node, fresh_list(&mut rng, session, 500)).await {
            Some(SyncResponse::Reconcile { .. }) => answered += 1,
            _ => {
                session = rng.r#gen();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    answered
}

/// The responders' gauges: (sessions, items held, memory, memory limit).
async fn gauges(node: &Node) -> (u64, u64, u64, u64) {
    (
        metric(node, "swapmesh_sync_responder_sessions").await,
        metric(node, "swapmesh_sync_responder_items").await,
        metric(node, "swapmesh_sync_responder_memory_bytes").await,
        metric(node, "swapmesh_sync_responder_memory_limit_bytes").await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responder_memory_is_bounded_under_endless_rounds() {
    let target = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
        c.sync_responder.max_sessions = CAP;
    })
    .await;
    let now = Timestamp::now();
    let held: Vec<_> = (0..200)
        .map(|i| fixtures::verified_listing(&fixtures::key(i % 7), &format!("held-{i}"), CELL, now))
        .collect();
    target.store().insert_batch(&held, now).unwrap();

    // Two attackers, four loops each: as many sessions as the cap.
    let until = Instant::now() + Duration::from_secs(5);
    let mut loops = Vec::new();
    let mut attackers = Vec::new();
    for a in 0..2u64 {
        let raw = kit::raw_peer().await;
        kit::connect_raw(&raw, &target).await;
        for l in 0..4 {
            loops.push(tokio::spawn(endless(
                raw.clone(),
                target.peer_id(),
                a * 10 + l,
                until,
            )));
        }
        attackers.push(raw);
    }

    // Meanwhile an honest neighbour catches up: the attackers hold the cap,
    // and it gets in all the same.
    let honest = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
    })
    .await;
    kit::connect(&honest, &target).await;
    let mut most = 0;
    let mut caught_up = false;
    while Instant::now() < until {
        let (sessions, items, memory, limit) = gauges(&target).await;
        assert!(sessions <= CAP as u64, "{sessions} sessions over the cap");
        assert_eq!(items, 0, "the answered sessions hold items");
        assert!(memory <= limit, "{memory} bytes over {limit}");
        most = most.max(sessions);
        if !caught_up && most == CAP as u64 {
            let report = honest
                .sync_with(target.peer_id(), &cell_topic())
                .await
                .expect("the honest session ends well");
            assert_eq!(report.fetched, 200, "{report:?}");
            caught_up = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut rounds = 0;
    for l in loops {
        rounds += l.await.unwrap();
    }
    assert_eq!(most, CAP as u64, "the attack never reached the cap");
    assert!(caught_up, "the honest neighbour never synced");
    assert!(rounds > 100, "only {rounds} rounds answered");

    // A peer that goes past the round limit in one session is charged.
    let breaker = kit::raw_peer().await;
    kit::connect_raw(&breaker, &target).await;
    let mut rng = StdRng::seed_from_u64(99);
    let limit = Config::default().max_rounds;
    for round in 0..limit {
        let answer = ask(&breaker, target.peer_id(), fresh_list(&mut rng, 7, 50)).await;
        assert!(
            matches!(answer, Some(SyncResponse::Reconcile { .. })),
            "round {round}: {answer:?}"
        );
    }
    let answer = ask(&breaker, target.peer_id(), fresh_list(&mut rng, 7, 50)).await;
    assert!(
        matches!(
            answer,
            Some(SyncResponse::Refused {
                reason: Refusal::BadRequest(_)
            })
        ),
        "{answer:?}"
    );
    wait_until("the round breaker to be charged", || async {
        misbehaviour_of(&target, breaker.local_peer_id())
            .await
            .is_some_and(|p| p > 0.0)
    })
    .await;
    assert_eq!(
        misbehaviour_of(&target, honest.peer_id())
            .await
            .unwrap_or(0.0),
        0.0,
        "the honest neighbour was charged"
    );
    let (_, items, memory, limit) = gauges(&target).await;
    assert_eq!(items, 0);
    assert!(memory <= limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catch_up_over_the_budget_slows_down_and_is_not_charged() {
    // 300 listings (about 140 KB) are eight times what the budget allows at
    // once: the second fetch finds the source busy, however slow this
    // machine is.
    let source = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
        c.sync_responder.burst_bytes = 16 * 1024;
        c.sync_responder.bytes_per_second = 32 * 1024;
    })
    .await;
    let now = Timestamp::now();
    let held: Vec<_> = (0..300)
        .map(|i| fixtures::verified_listing(&fixtures::key(i % 13), &format!("big-{i}"), CELL, now))
        .collect();
    source.store().insert_batch(&held, now).unwrap();
    let laptop = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
    })
    .await;
    kit::connect(&laptop, &source).await;

    let report = laptop
        .sync_with(source.peer_id(), &cell_topic())
        .await
        .expect("the catch-up ends well");
    assert_eq!(report.fetched, 300, "{report:?}");
    let busy = metric(
        &source,
        "swapmesh_sync_refused_total{reason=\"over_budget\"}",
    )
    .await;
    let text = source.metrics_text().await.unwrap();
    assert!(
        busy > 0,
        "the budget never ran out: the test proves nothing\n{}",
        text.lines()
            .filter(|l| l.contains("swapmesh_sync"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        misbehaviour_of(&source, laptop.peer_id())
            .await
            .unwrap_or(0.0),
        0.0,
        "an honest catch-up was charged"
    );
}
