//! Listings travel to exactly the nodes of their area cells and meshes.

use swapmesh_node::Placement;
use swapmesh_protocol::{Geohash, fixtures};

use crate::kit::{self, held, listing_id, settle, wait_until};

/// `u4pru` and cells around it; `9q8yy` is San Francisco, far away.
const CELL: &str = "u4pru";
const NEIGHBOUR: &str = "u4prv";
const FAR: &str = "9q8yy";

#[test]
fn test_cells_are_what_the_tests_assume() {
    let cell = Geohash::parse_cell(CELL).unwrap();
    assert!(cell.neighbours().iter().any(|g| g.as_str() == NEIGHBOUR));
    assert!(!cell.neighbours().iter().any(|g| g.as_str() == FAR));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_reaches_its_area_along_a_line_of_ten_and_no_one_else() {
    // Nodes 0..=7 are in the cell or a neighbouring one; 8 and 9 are far away,
    // hanging off the end of the line.
    let areas = [
        CELL, NEIGHBOUR, CELL, NEIGHBOUR, CELL, CELL, NEIGHBOUR, CELL, FAR, FAR,
    ];
    let nodes = kit::nodes(10, |i| Some(areas[i])).await;
    kit::line(&nodes).await;
    let published = nodes[0]
        .publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let id = listing_id(&nodes[0], "drill");
    for (i, node) in nodes.iter().enumerate().take(8) {
        wait_until(&format!("node {i} to store the listing"), || async {
            held(node, &id) == Some(published.id())
        })
        .await;
    }
    settle().await;
    for node in &nodes[8..] {
        assert_eq!(held(node, &id), None, "a far node stored it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_reaches_every_area_node_of_a_seeded_random_graph_of_twenty() {
    // 16 nodes in the neighbourhood, connected as a seeded random graph; 4 far
    // nodes each attached to one of them.
    let nodes = kit::nodes(20, |i| {
        Some(match i {
            16.. => FAR,
            i if i % 3 == 0 => NEIGHBOUR,
            _ => CELL,
        })
    })
    .await;
    let mut edges = kit::random_edges(16, 8, 20_261_127);
    edges.extend([(0, 16), (5, 17), (9, 18), (15, 19)]);
    kit::connect_edges(&nodes, &edges).await;
    let published = nodes[7]
        .publish_listing(fixtures::listing("cargo-bike"))
        .await
        .unwrap();
    let id = listing_id(&nodes[7], "cargo-bike");
    for (i, node) in nodes.iter().enumerate().take(16) {
        wait_until(&format!("node {i} to store the listing"), || async {
            held(node, &id) == Some(published.id())
        })
        .await;
    }
    settle().await;
    for node in &nodes[16..] {
        assert_eq!(held(node, &id), None, "a far node stored it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_in_an_area_and_a_mesh_reaches_the_members_of_both() {
    let street = kit::mesh("street42");
    let publisher = kit::node(Some(CELL)).await;
    publisher.join_mesh(street.clone()).await.unwrap();
    let area_member = kit::node(Some(NEIGHBOUR)).await;
    let mesh_member = kit::node_with(Some(FAR), |c| c.meshes = vec![street.clone()]).await;
    let outsider = kit::node(Some(FAR)).await;
    for other in [&area_member, &mesh_member, &outsider] {
        kit::connect(&publisher, other).await;
    }
    let placement = Placement {
        area: Some(Geohash::parse_area(CELL).unwrap()),
        meshes: vec![street.clone()],
    };
    let published = publisher
        .publish_listing_at(fixtures::listing("tent"), placement)
        .await
        .unwrap();
    let id = listing_id(&publisher, "tent");
    for member in [&area_member, &mesh_member] {
        wait_until("a member to store the listing", || async {
            held(member, &id) == Some(published.id())
        })
        .await;
    }
    settle().await;
    assert_eq!(held(&outsider, &id), None);
}
