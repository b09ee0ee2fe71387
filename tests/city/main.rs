//! A city in one process (issue 27): whole nodes over a block of area cells,
//! found by the real discovery; a listing reaches every node that listens to
//! its cell and no other. Its own test binary, so its cost stays apart; its
//! tests share one lock and never run at once.

mod harness;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{ListingId, fixtures};

use harness::{City, Plan};

/// One city at a time: they take both cores.
static ONE_CITY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_inside_the_cells_is_complete_and_outside_is_zero() {
    let _one = ONE_CITY.lock().await;
    let plan = Plan {
        nodes: 60,
        cells: 9,
        servers: 3,
        seed: 27,
        heartbeat: Duration::from_millis(200),
    };
    let started = Instant::now();
    let city = City::start(plan).await;
    eprintln!("started in {:?}", started.elapsed());
    let settling = Instant::now();
    let settled = city.settle(Duration::from_secs(40)).await;
    eprintln!("settled in {:?}", settling.elapsed());
    if let Err(unsettled) = settled {
        panic!("{}", city.unsettled_report(&unsettled).await);
    }

    // Twenty listings from seeded nodes, each in its publisher's cell.
    let mut rng = StdRng::seed_from_u64(plan.seed);
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

    // Every node that listens to the cell holds it...
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, listing, id) in &published {
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
                "{listing} of cell {} never reached {missing:?}",
                city.cell_of[*i].as_str()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!(
        "delivered {} s after the start",
        started.elapsed().as_secs()
    );
    // ... and after the gossip and a sync round have had their time, still
    // nobody else.
    tokio::time::sleep(plan.heartbeat * 10).await;
    for (i, listing, id) in &published {
        let audience: BTreeSet<usize> = city.audience(&city.cell_of[*i]).into_iter().collect();
        let holders: BTreeSet<usize> = city.holders(listing, id).into_iter().collect();
        assert_eq!(holders, audience, "{listing}");
    }
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
