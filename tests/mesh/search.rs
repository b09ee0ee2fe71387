//! A search with no place looks only in the places the node listens to: its
//! area's nine cells and its meshes, not every topic it ever stored.

use swapmesh_protocol::listing::Listing;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{Geohash, MeshId, Timestamp, Verified, fixtures, sign_own};
use swapmesh_store::Query;

use crate::kit;

const CELL: &str = "u4pru";
/// A neighbour of `u4pru`: one of the area's nine cells.
const NEIGHBOUR: &str = "u4prv";
/// Far from `u4pru`.
const FAR: &str = "ezs42";

/// A listing named `d` in `area` (a cell) or, with `area` `None`, only in
/// `mesh`.
fn listing(seed: u64, d: &str, area: Option<&str>, mesh: Option<&MeshId>) -> Verified {
    let key = fixtures::key(seed);
    let now = Timestamp::now();
    let mut body = fixtures::listing_body(
        author_of(&key),
        CELL,
        Listing {
            title: format!("Ladder {d}"),
            ..fixtures::listing(d)
        },
        now,
    );
    body.area = area.map(|a| Geohash::parse_area(a).unwrap());
    body.meshes = mesh.into_iter().cloned().collect();
    sign_own(&body, &key, now).unwrap()
}

fn titles(page: &swapmesh_store::Page) -> Vec<String> {
    let mut out: Vec<String> = page
        .records
        .iter()
        .filter_map(|r| r.body.listing().map(|l| l.title.clone()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_without_a_place_reads_only_joined_topics() {
    let elm = MeshId::parse("elm").unwrap();
    let oak = MeshId::parse("oak").unwrap();
    let node = kit::node_with(Some(CELL), |c| c.meshes = vec![elm.clone()]).await;
    let held = [
        listing(1, "home", Some(CELL), None),
        listing(2, "next-door", Some(NEIGHBOUR), None),
        listing(3, "street", None, Some(&elm)),
        // Stored, but in no topic the node listens to (a mesh it left, a
        // cell it moved away from).
        listing(4, "far", Some(FAR), None),
        listing(5, "left", None, Some(&oak)),
    ];
    node.store().insert_batch(&held, Timestamp::now()).unwrap();

    let everywhere = node
        .search(&Query {
            words: vec!["ladder".into()],
            limit: 100,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        titles(&everywhere),
        ["Ladder home", "Ladder next-door", "Ladder street"]
    );
    // A place asked for is looked in, joined or not.
    let far = node
        .search(&Query {
            cells: vec![Geohash::parse_cell(FAR).unwrap()],
            meshes: vec![oak.clone()],
            limit: 100,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(titles(&far), ["Ladder far", "Ladder left"]);
    // So is an author's whole list.
    let by_author = node
        .search(&Query {
            author: Some(author_of(&fixtures::key(4))),
            limit: 100,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(titles(&by_author), ["Ladder far"]);
}

fn in_mesh(node: &swapmesh_node::Node, mesh: &MeshId) -> Vec<String> {
    titles(
        &node
            .search(&Query {
                meshes: vec![mesh.clone()],
                limit: 100,
                ..Query::default()
            })
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_mesh_sweeps_its_entries() {
    let elm = MeshId::parse("elm").unwrap();
    let oak = MeshId::parse("oak").unwrap();
    let mut node = kit::node(Some(CELL)).await;
    node.join_mesh(elm.clone()).await.unwrap();
    let held = [
        listing(1, "elm-one", None, Some(&elm)),
        listing(2, "elm-two", None, Some(&elm)),
        listing(3, "both", Some(CELL), Some(&elm)),
        // A mesh left before this node's start.
        listing(4, "oak", None, Some(&oak)),
    ];
    node.store().insert_batch(&held, Timestamp::now()).unwrap();
    assert_eq!(
        in_mesh(&node, &elm),
        ["Ladder both", "Ladder elm-one", "Ladder elm-two"]
    );

    node.leave_mesh(&elm).await.unwrap();
    // What was held for the mesh alone is gone; what the node's cell holds
    // stays.
    assert_eq!(in_mesh(&node, &elm), ["Ladder both"]);
    assert!(node.record(&held[0].id()).unwrap().is_none());
    assert!(node.record(&held[2].id()).unwrap().is_some());

    // A mesh left before the start is swept at the start.
    assert_eq!(in_mesh(&node, &oak), ["Ladder oak"]);
    node.restart().await;
    assert!(in_mesh(&node, &oak).is_empty());
    assert!(node.record(&held[3].id()).unwrap().is_none());
    let c = node.store().check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
}
