//! Listings travel to exactly the nodes of their area cells and meshes; the
//! largest listing travels on the longest topic, and a message one byte over
//! the gossip limit is refused.

use swapmesh_net::{GossipConfig, NetworkHandle};
use swapmesh_node::Placement;
use swapmesh_protocol::gossip::MAX_GOSSIP_MESSAGE;
use swapmesh_protocol::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use swapmesh_protocol::signed::MAX_BODY;
use swapmesh_protocol::validate::{
    MAX_CATEGORY_CHARS, MAX_DESCRIPTION, MAX_PHOTOS, MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS,
    MAX_WINDOWS, validate_body,
};
use swapmesh_protocol::{
    BlobHash, Content, Geohash, GossipMessage, MeshId, RecordBody, Signature, SignedRecord,
    Timestamp, Topic, fixtures,
};

use crate::kit::{self, held, listing_id, metric, settle, wait_until};

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

/// A character of four bytes in UTF-8 (the widest), for fields whose limit
/// counts characters.
const WIDE: char = '🧰';

/// The widest character number `i` (`🧰`, `🧱`, …), for tags that differ.
fn wide(i: u32) -> char {
    char::from_u32(WIDE as u32 + i).expect("a character")
}

/// A mesh id of 32 characters, the most an id may have: its topic
/// `swapmesh/1/mesh/<id>` is the longest topic there is.
fn longest_mesh(fill: char) -> MeshId {
    kit::mesh(&fill.to_string().repeat(32))
}

/// The largest listing the protocol's rules let a node publish: every field at
/// its limit, in four-byte characters where the limit counts characters, and
/// every number at its widest encoding.
pub(crate) fn largest_listing() -> Listing {
    let most = Money {
        amount: i64::MAX,
        currency: *b"EUR",
    };
    // Timestamps past 2^32 take the widest varint.
    let far = u64::MAX / 2;
    Listing {
        d: format!("{:-<64}", "largest"),
        purpose: Purpose::Offer,
        kinds: vec![
            DealKind::Swap,
            DealKind::Rent,
            DealKind::Lease,
            DealKind::Share,
            DealKind::Give,
        ],
        title: WIDE.to_string().repeat(MAX_TITLE_CHARS),
        // The description's limit counts bytes.
        description: "x".repeat(MAX_DESCRIPTION),
        category: WIDE.to_string().repeat(MAX_CATEGORY_CHARS),
        tags: (0..MAX_TAGS as u32)
            .map(|i| wide(i).to_string().repeat(MAX_TAG_CHARS))
            .collect(),
        condition: Some(Condition::Poor),
        photos: vec![BlobHash([0xff; 32]); MAX_PHOTOS],
        price: Some(Price {
            money: most,
            per: Period::Month,
        }),
        deposit: Some(most),
        availability: (0..MAX_WINDOWS as u64)
            .map(|i| Window {
                start: Timestamp(far + 2 * i),
                end: Timestamp(far + 2 * i + 1),
            })
            .collect(),
        status: ListingStatus::Active,
    }
}

/// The listing of a listing body.
fn listing(body: &mut RecordBody) -> &mut Listing {
    let Content::Listing(listing) = &mut body.content else {
        unreachable!("a listing body")
    };
    listing
}

/// One field of a body grown by one step, named.
type Growth = (&'static str, fn(&mut RecordBody));

/// Fails unless `body` is valid and growing any of its fields by one
/// character, element or place breaks a rule: it is as large as a listing gets.
fn assert_at_every_limit(body: &RecordBody) {
    assert_eq!(validate_body(body), Ok(()), "the largest listing is valid");
    let grown: [Growth; 9] = [
        ("d", |b| listing(b).d.push('x')),
        ("title", |b| listing(b).title.push('x')),
        ("description", |b| listing(b).description.push('x')),
        ("category", |b| listing(b).category.push('x')),
        ("tags", |b| listing(b).tags.push("x".to_owned())),
        ("a tag", |b| listing(b).tags[0].push('x')),
        ("photos", |b| listing(b).photos.push(BlobHash([0; 32]))),
        ("availability", |b| {
            let windows = &mut listing(b).availability;
            let end = windows.last().expect("windows").end;
            windows.push(Window {
                start: end,
                end: end.plus(1),
            });
        }),
        ("meshes", |b| b.meshes.push(longest_mesh('z'))),
    ];
    for (field, grow) in grown {
        let mut bigger = body.clone();
        grow(&mut bigger);
        assert!(
            validate_body(&bigger).is_err(),
            "{field} could grow: the listing is not the largest"
        );
    }
    // Every deal kind is there already, a mesh id cannot be longer and an area
    // not more precise.
    assert_eq!(listing(&mut body.clone()).kinds.len(), 5);
    assert_eq!(MeshId::parse(&"a".repeat(33)), None);
    assert_eq!(Geohash::parse_area("u4pruyd"), None);
}

/// Gossip bytes of exactly `len`: a well-formed message whose record body is
/// just large enough (and so, past `MAX_BODY`, invalid whatever it holds).
fn gossip_of_len(len: usize) -> Vec<u8> {
    let of_body = |n: usize| {
        GossipMessage::record(SignedRecord {
            body: vec![0; n],
            sig: Signature::from_bytes(&[0; 64]),
        })
        .encode()
    };
    let mut n = len.saturating_sub(100);
    while of_body(n).len() < len {
        n += 1;
    }
    let bytes = of_body(n);
    assert_eq!(bytes.len(), len, "no message of exactly {len} bytes");
    bytes
}

/// Publishes `data` from the bare peer `raw` on `topic`, retrying until the
/// peer knows a subscriber.
async fn publish_raw(raw: &NetworkHandle, topic: &Topic, data: Vec<u8>) {
    wait_until("the raw peer's publish to find the node", || async {
        raw.publish(topic.as_str(), data.clone()).await.is_ok()
    })
    .await;
}

/// The `/metrics` sample of gossip messages given `verdict` for `reason`.
fn gossip_verdict(verdict: &str, reason: &str) -> String {
    format!("swapmesh_gossip_records_total{{verdict=\"{verdict}\",reason=\"{reason}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_record_publishes_on_the_longest_topic() {
    let longest = longest_mesh('a');
    let topic = Topic::mesh(&longest);
    assert_eq!(topic.as_str().len(), 48, "the longest topic");
    let publisher = kit::node_with(None, |c| c.meshes = vec![longest.clone()]).await;
    let receiver = kit::node_with(None, |c| c.meshes = vec![longest.clone()]).await;
    kit::connect(&publisher, &receiver).await;

    // The largest listing, in the largest place: a 6-character area and four
    // meshes of 32 characters (only the first has members).
    let placement = Placement {
        area: Some(Geohash::parse_area("u4pruy").unwrap()),
        meshes: vec![
            longest.clone(),
            longest_mesh('b'),
            longest_mesh('c'),
            longest_mesh('d'),
        ],
    };
    // A listing names only photos its author holds: eight of them, uploaded
    // (a hash is 32 bytes whatever it names, so the listing is as large).
    let mut listing = largest_listing();
    listing.photos.clear();
    for seed in 0..MAX_PHOTOS as u64 {
        let photo = crate::photos::noise_png(100 + seed, 16, 16);
        listing
            .photos
            .push(publisher.add_photo(photo).await.unwrap().hash);
    }
    let published = publisher
        .publish_listing_at(listing, placement)
        .await
        .unwrap();
    assert_at_every_limit(published.body());
    // The rules of each field bound a listing well below the 32 KiB a body may
    // have: the largest is a 12,204-byte body, 12,272 bytes of gossip, far from
    // `MAX_GOSSIP_MESSAGE` (32,845). Only an invalid record comes near that.
    let wire = GossipMessage::record(published.signed().clone()).encode();
    assert!(wire.len() <= MAX_GOSSIP_MESSAGE, "{} bytes", wire.len());
    assert!(published.signed().body.len() <= MAX_BODY);
    let id = kit::listing_id(&publisher, &format!("{:-<64}", "largest"));
    wait_until("the receiver to store the largest listing", || async {
        held(&receiver, &id) == Some(published.id())
    })
    .await;
    let stored = receiver.record(&published.id()).unwrap().unwrap();
    assert_eq!(stored.signed, *published.signed(), "it arrived whole");

    // A bare peer whose own limit lets it send messages larger than the node's.
    let frame_limit = GossipConfig {
        max_message_bytes: MAX_GOSSIP_MESSAGE,
        ..GossipConfig::default()
    }
    .max_transmit_size();
    let raw = kit::raw_peer_with(|c| c.gossip.max_message_bytes = frame_limit).await;
    raw.subscribe(topic.as_str()).await.unwrap();
    kit::connect_raw(&raw, &receiver).await;

    // A message right at the limit passes the node's gossip codec and is judged
    // by the record rules (no valid record is that large).
    publish_raw(&raw, &topic, gossip_of_len(MAX_GOSSIP_MESSAGE)).await;
    let at_limit = gossip_verdict("rejected", "body_too_large");
    wait_until("the message at the limit to be judged", || async {
        metric(&receiver, &at_limit).await == 1
    })
    .await;
    // One byte more still fits in a gossipsub frame (the frame limit leaves room
    // for the topic, the envelope and the read buffer), but the node's decoder
    // refuses it before anything is decoded: malformed, never a record.
    publish_raw(&raw, &topic, gossip_of_len(MAX_GOSSIP_MESSAGE + 1)).await;
    let one_more = gossip_verdict("rejected", "malformed");
    wait_until("the message one byte over to be refused", || async {
        metric(&receiver, &one_more).await == 1
    })
    .await;

    // A message as large as the node's whole frame limit cannot fit in a frame
    // the node reads: its gossipsub drops the frame (and that stream) before the
    // node hears of it. The connection stays.
    raw.publish(topic.as_str(), vec![0; frame_limit])
        .await
        .expect("the raw peer's own limit allows it");
    settle().await;
    let text = receiver.metrics_text().await.unwrap();
    let verdicts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("swapmesh_gossip_records_total{"))
        .filter(|l| !l.ends_with(" 0"))
        .collect();
    assert_eq!(
        verdicts.len(),
        3,
        "only the three messages above were judged: {verdicts:?}"
    );
    assert_eq!(
        metric(&receiver, &gossip_verdict("accepted", "inserted")).await,
        1
    );
    assert_eq!(metric(&receiver, &at_limit).await, 1);
    assert_eq!(metric(&receiver, &one_more).await, 1);
    assert!(kit::connected(&receiver, raw.local_peer_id()).await);
    assert_eq!(
        receiver.search(&Default::default()).unwrap().records.len(),
        1
    );
}
