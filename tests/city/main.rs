//! A city in one process (issue 27): whole nodes over a block of area cells,
//! found by the real discovery; a listing reaches every node that listens to
//! its cell and no other. Its own test binary, so its cost stays apart; its
//! tests share one lock and never run at once.

mod harness;
mod sybils;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{ListingId, RecordId, fixtures};

use harness::{City, Plan};
use sybils::{Attack, Sybils, Watch, honest_of};

/// One city at a time: they take both cores.
static ONE_CITY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The city of both tests: 60 nodes over 9 cells, 3 of them servers.
const PLAN: Plan = Plan {
    nodes: 60,
    cells: 9,
    servers: 3,
    seed: 27,
    heartbeat: Duration::from_millis(200),
};

/// Starts the city and waits until it settled, or panics saying who did not.
async fn settled_city() -> (City, Instant) {
    let started = Instant::now();
    let city = City::start(PLAN).await;
    eprintln!("started in {:?}", started.elapsed());
    let settling = Instant::now();
    let settled = city.settle(Duration::from_secs(40)).await;
    eprintln!("settled in {:?}", settling.elapsed());
    if let Err(unsettled) = settled {
        panic!("{}", city.unsettled_report(&unsettled).await);
    }
    (city, started)
}

/// Twenty listings from seeded nodes, each in its publisher's cell: who
/// published it, its address and its id.
async fn publish_twenty(city: &City) -> Vec<(usize, ListingId, RecordId)> {
    let mut rng = StdRng::seed_from_u64(PLAN.seed);
    let mut published = Vec::new();
    for n in 0..20 {
        let i = rng.gen_range(0..city.nodes.len());
        let d = format!("item-{n}");
        let record = city.nodes[i]
            .publish_listing(fixtures::listing(&d))
            .await
            .expect("published");
        let listing = ListingId {
            author: city.nodes[i].author(),
            d,
        };
        published.push((i, listing, record.id()));
    }
    published
}

/// Every node that listens to a listing's cell comes to hold it at the
/// version published, within `within`, and no other node ever does; then,
/// after the gossip and a sync round have had their time, still nobody else.
async fn assert_delivered_inside_only(
    city: &City,
    published: &[(usize, ListingId, RecordId)],
    within: Duration,
) {
    let began = Instant::now();
    let deadline = began + within;
    for (i, listing, id) in published {
        let audience: BTreeSet<usize> = city.audience(&city.cell_of[*i]).into_iter().collect();
        assert!(audience.len() > 1);
        loop {
            let holders: BTreeSet<usize> = city.holders(listing, id).into_iter().collect();
            let missing: Vec<_> = audience.difference(&holders).collect();
            let outside: Vec<_> = holders.difference(&audience).collect();
            assert!(
                outside.is_empty(),
                "{listing} of cell {} is held outside its cells by {outside:?}",
                city.cell_of[*i].as_str()
            );
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{listing} of cell {} never reached {missing:?} at the version published",
                city.cell_of[*i].as_str()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(PLAN.heartbeat * 10).await;
    for (i, listing, id) in published {
        let audience: BTreeSet<usize> = city.audience(&city.cell_of[*i]).into_iter().collect();
        let holders: BTreeSet<usize> = city.holders(listing, id).into_iter().collect();
        assert_eq!(holders, audience, "{listing}");
    }
    eprintln!("delivered within {:?}", began.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_inside_the_cells_is_complete_and_outside_is_zero() {
    let _one = ONE_CITY.lock().await;
    let (city, started) = settled_city().await;
    let published = publish_twenty(&city).await;
    assert_delivered_inside_only(&city, &published, Duration::from_secs(30)).await;
    eprintln!("checked {} s after the start", started.elapsed().as_secs());
    city.stop().await;
}

/// Issue 28: four Sybils for every honest node (not the servers) attack
/// while the honest nodes publish, forging their listings among the rest;
/// `SWAPMESH_FAULT=no-validation` (honest nodes verify no signature) makes
/// it fail: a forged newer version replaces an honest listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sybils_publishing_invalid_records_do_not_stop_honest_delivery() {
    let _one = ONE_CITY.lock().await;
    let (city, started) = settled_city().await;
    let watch = Watch::start(&city, PLAN.heartbeat * 5);
    let attack = Attack {
        per_node: 4,
        seed: PLAN.seed,
        holding_fire: PLAN.heartbeat * 15,
        every: PLAN.heartbeat,
        acts: 300,
        lasting: Duration::from_secs(60),
    };
    let sybils = Sybils::start(&city, attack).await;
    eprintln!(
        "{} Sybils started {} s after the start",
        sybils.peers.len(),
        started.elapsed().as_secs()
    );
    // The Sybils in the meshes, holding fire, when the honest nodes publish:
    // they see the listings, then forge them, among the rest of the attack.
    tokio::time::sleep(PLAN.heartbeat * 5).await;
    let published = publish_twenty(&city).await;
    // Beside a busy core, a listing has reached its last listener only after
    // ~30 s (the cause is not yet known: gossip lost in the flood, or a
    // starved node); a sync round, which repairs what gossip missed, comes
    // within 75 s (60 s ± 25 %).
    assert_delivered_inside_only(&city, &published, Duration::from_secs(90)).await;
    let sent = sybils.sent();
    let forged = published
        .iter()
        .filter(|(_, _, id)| sent.forged.contains(id))
        .count();
    eprintln!(
        "the Sybils did {:?}, {} unheard, {} B; forged {forged} of the 20 honest listings",
        sent.acts, sent.unheard, sent.bytes
    );

    let verdicts = watch.verdicts();
    let charged_honest = honest_of(&city, verdicts.iter().map(|v| v.peer));
    let graylisted = watch.graylisted();
    let graylisted_honest = honest_of(&city, graylisted.keys().map(|(_, p)| *p));
    let charged_sybils: BTreeSet<_> = verdicts
        .iter()
        .filter(|v| sybils.peers.contains(&v.peer))
        .map(|v| v.peer)
        .collect();
    eprintln!(
        "{} charges and blocks, of {} Sybils; {} (node, peer) pairs graylisted",
        verdicts.len(),
        charged_sybils.len(),
        graylisted.len()
    );
    assert_eq!(watch.lagged(), 0, "node events were missed");
    assert!(
        charged_honest.is_empty(),
        "honest nodes {charged_honest:?} were charged or blocked, the first ten: {:?}",
        verdicts
            .iter()
            .filter(|v| !sybils.peers.contains(&v.peer))
            .take(10)
            .collect::<Vec<_>>()
    );
    assert!(
        graylisted_honest.is_empty(),
        "honest nodes {graylisted_honest:?} were graylisted"
    );
    // The defences were under test: the Sybils' acts reached honest nodes
    // and cost them.
    assert!(forged > 0, "no Sybil forged an honest listing");
    assert!(!charged_sybils.is_empty(), "no Sybil was charged");
    watch.stop();
    sybils.stop().await;
    city.stop().await;
}

#[test]
fn a_city_that_cannot_be_placed_is_refused() {
    let plan = |nodes, cells, servers| Plan {
        nodes,
        cells,
        servers,
        seed: 1,
        heartbeat: Duration::from_millis(100),
    };
    assert!(plan(10, 8, 1).check().unwrap_err().contains("square"));
    assert!(
        plan(5, 9, 1)
            .check()
            .unwrap_err()
            .contains("at least as many nodes")
    );
    assert!(plan(9, 9, 0).check().is_err());
    assert!(plan(9, 9, 2).check().is_ok());
    assert_eq!(harness::block(3).len(), 9);
    // The block is nine distinct cells, each the neighbour of the next in its row.
    let cells = harness::block(3);
    let distinct: BTreeSet<_> = cells.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(distinct.len(), 9);
    assert!(cells[0].neighbours().contains(&cells[1]));
    assert!(cells[0].neighbours().contains(&cells[3]));
    assert!(!cells[0].neighbours().contains(&cells[2]));
}
