//! Photos (issue 19): a photo travels to the nodes that read it, from whichever
//! node holds it; tampered bytes are refused and their sender charged; a node
//! keeps others' photos within its budget and never drops its own; a photo no
//! record names any more goes after a grace day; an upload's hash survives a
//! restart.
//!
//! Placement: `CELL` nodes fetch the photos of `CELL` listings eagerly (their
//! own cell); `NEIGHBOUR` nodes receive those listings too (a neighbouring
//! cell's topic) but fetch their photos lazily, on the first read.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use image::{ImageFormat, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{NetworkConfig, NetworkEvent, NetworkHandle, Protocol};
use swapmesh_node::blobs::{BlobError, COLLECT_GRACE_SECS, PhotoSize};
use swapmesh_node::{Node, NodeError, Placement};
use swapmesh_protocol::blob::{BlobRequest, BlobResponse};
use swapmesh_protocol::listing::Listing;
use swapmesh_protocol::{BlobHash, Geohash, GossipMessage, Topic, fixtures};

use crate::kit::{self, TestNode, held, listing_id, metric, settle, wait_until};

const CELL: &str = "u4pru";
const NEIGHBOUR: &str = "u4prv";
const FAR: &str = "9q8yy";

const FETCH_OK: &str = "swapmesh_blob_fetches_total{outcome=\"ok\"}";
const FETCH_NOT_FOUND: &str = "swapmesh_blob_fetches_total{outcome=\"not_found\"}";
const FETCH_TAMPERED: &str = "swapmesh_blob_fetches_total{outcome=\"tampered\"}";
const FETCH_FAILED: &str = "swapmesh_blob_fetches_total{outcome=\"failed\"}";
const SERVED_OK: &str = "swapmesh_blob_served_total{outcome=\"ok\"}";
const SERVED_NOT_FOUND: &str = "swapmesh_blob_served_total{outcome=\"not_found\"}";
const SERVED_MALFORMED: &str = "swapmesh_blob_served_total{outcome=\"malformed\"}";

/// A PNG of `w` × `h` pixels of seeded noise: an upload as a camera would not
/// make it, but one whose normalised JPEG has a size that varies little with
/// the seed.
pub(crate) fn noise_png(seed: u64, w: u32, h: u32) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let image = RgbImage::from_fn(w, h, |_, _| image::Rgb(rng.r#gen::<[u8; 3]>()));
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .expect("PNG encodes");
    out.into_inner()
}

/// A listing named `d` that shows `photos`.
fn listing_with(d: &str, photos: Vec<BlobHash>) -> Listing {
    let mut listing = fixtures::listing(d);
    listing.photos = photos;
    listing
}

/// Every fetch `node` made, whatever its outcome.
async fn fetches(node: &Node) -> u64 {
    let mut n = 0;
    for sample in [FETCH_OK, FETCH_NOT_FOUND, FETCH_TAMPERED, FETCH_FAILED] {
        n += metric(node, sample).await;
    }
    n
}

/// Every blob request `node` answered (or declined), whatever its outcome.
async fn served(node: &Node) -> u64 {
    let mut n = 0;
    for sample in [SERVED_OK, SERVED_NOT_FOUND, SERVED_MALFORMED] {
        n += metric(node, sample).await;
    }
    n
}

/// The file a blob is kept in.
fn blob_file(node: &TestNode, hash: &BlobHash) -> std::path::PathBuf {
    node.dir().join("blobs").join(hash.to_string())
}

fn cell_topic() -> String {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
        .as_str()
        .to_owned()
}

/// A bare network peer that answers every `/swapmesh/blob/1` request with
/// `answer(hash)` and counts the requests; it declines every other request.
struct BlobPeer {
    net: NetworkHandle,
    asked: Arc<AtomicUsize>,
}

impl BlobPeer {
    async fn new(answer: impl Fn(BlobHash) -> BlobResponse + Send + 'static) -> Self {
        let mut config = NetworkConfig::new(swapmesh_net::Keypair::generate_ed25519());
        config.gossip.heartbeat_interval = Duration::from_millis(100);
        let (net, mut events, event_loop) = swapmesh_net::new(config).expect("network");
        tokio::spawn(event_loop.run());
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let NetworkEvent::InboundRequest {
                    protocol: Protocol::Blob,
                    data,
                    reply,
                    ..
                } = event
                {
                    let hash = BlobRequest::decode(&data).expect("a blob request").hash();
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = reply.respond(answer(hash).encode()).await;
                }
            }
        });
        Self { net, asked }
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    /// Gossips `message` on `CELL`'s topic, retrying until a peer takes it
    /// (the node's subscription may not be known yet).
    async fn publish(&self, message: Vec<u8>) {
        wait_until("a publish to find a peer", || async {
            self.net
                .publish(cell_topic(), message.clone())
                .await
                .is_ok()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_reaches_a_node_two_hops_away() {
    // A and B in the cell (B fetches A's photo eagerly), C in a neighbouring
    // cell (it gets the listing through B, and the photo only when it reads it).
    // Kademlia off: it would let C find A and dial it.
    let no_discovery = |c: &mut swapmesh_node::NodeConfig| c.discovery.kademlia = false;
    let mut a = kit::node_with(Some(CELL), no_discovery).await;
    let b = kit::node_with(Some(CELL), no_discovery).await;
    let c = kit::node_with(Some(NEIGHBOUR), no_discovery).await;
    kit::connect(&a, &b).await;
    kit::connect(&b, &c).await;

    let info = a.add_photo(noise_png(1, 320, 240)).await.unwrap();
    let bytes = a.photo(info.hash, PhotoSize::Full).await.unwrap();
    assert_eq!(bytes.len(), info.bytes);
    let published = a
        .publish_listing(listing_with("drill", vec![info.hash]))
        .await
        .unwrap();
    let id = listing_id(&a, "drill");

    wait_until("B to store the listing", || async {
        held(&b, &id) == Some(published.id())
    })
    .await;
    wait_until("B to fetch the photo (eagerly)", || async {
        b.holds_photo(&info.hash).unwrap()
    })
    .await;
    wait_until("C to store the listing", || async {
        held(&c, &id) == Some(published.id())
    })
    .await;
    assert!(
        !kit::connected(&c, a.peer_id()).await,
        "C found A by itself: the second hop is not one"
    );
    assert!(!c.holds_photo(&info.hash).unwrap(), "C fetched it eagerly");
    assert_eq!(metric(&b, SERVED_OK).await, 0, "B served before C read");

    a.stop().await;
    let read = c.photo(info.hash, PhotoSize::Full).await.unwrap();
    assert_eq!(read, bytes, "C read other bytes than A uploaded");
    assert!(c.holds_photo(&info.hash).unwrap());
    // From B: B served it once, and C's one fetch was that one.
    assert_eq!(metric(&b, SERVED_OK).await, 1);
    assert_eq!(metric(&c, FETCH_OK).await, 1);
    // A second read is local.
    assert_eq!(c.photo(info.hash, PhotoSize::Full).await.unwrap(), bytes);
    assert_eq!(metric(&b, SERVED_OK).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_blob_is_refused_and_the_sender_charged() {
    // The honest holder is far away: it shares no topic with the node, so the
    // node learns of the listing only from the raw peer, and asks the raw peer
    // first, then the listing's author (the honest holder).
    let node = kit::node(Some(NEIGHBOUR)).await;
    let mut honest = kit::node(Some(FAR)).await;
    let info = honest.add_photo(noise_png(2, 200, 150)).await.unwrap();
    let bytes = honest.photo(info.hash, PhotoSize::Full).await.unwrap();
    let placement = Placement {
        area: Some(Geohash::parse_area(CELL).unwrap()),
        meshes: vec![],
    };
    let listing = honest
        .publish_listing_at(listing_with("tent", vec![info.hash]), placement)
        .await
        .unwrap();
    let id = listing_id(&honest, "tent");
    // With nobody on the cell's topic the honest node holds its listing back
    // (in memory) until a peer joins it; a restart forgets that, so the honest
    // node never sends the listing to the node (which would then ask it
    // first). It shares no topic with the node, so no sync sends it either.
    honest.restart().await;

    let other = noise_png(3, 200, 150);
    let other_hash = BlobHash(*blake3::hash(&other).as_bytes());
    let liar = {
        let other = other.clone();
        BlobPeer::new(move |_| BlobResponse::Blob(other.clone())).await
    };
    kit::connect_raw(&liar.net, &node).await;
    liar.publish(GossipMessage::record(listing.signed().clone()).encode())
        .await;
    wait_until("the node to store the listing", || async {
        held(&node, &id) == Some(listing.id())
    })
    .await;
    assert!(!node.holds_photo(&info.hash).unwrap(), "fetched eagerly");

    // Only the liar is reachable: the read fails, nothing is stored, the liar
    // is charged for an invalid record.
    let err = node.photo(info.hash, PhotoSize::Full).await.unwrap_err();
    assert!(
        matches!(err, NodeError::Photo(BlobError::NotFound(h)) if h == info.hash),
        "{err}"
    );
    assert_eq!(liar.asked(), 1);
    assert_eq!(metric(&node, FETCH_TAMPERED).await, 1);
    assert_eq!(metric(&node, FETCH_OK).await, 0);
    assert!(!node.holds_photo(&info.hash).unwrap());
    assert!(!node.holds_photo(&other_hash).unwrap());
    assert!(!blob_file(&node, &info.hash).exists());
    assert!(!blob_file(&node, &other_hash).exists());
    let score = kit::misbehaviour_of(&node, liar.net.local_peer_id())
        .await
        .expect("the liar is still connected");
    let penalty = swapmesh_net::Misbehaviour::InvalidRecord.penalty();
    assert!(
        score > penalty * 0.9,
        "the liar's score is {score}, not a charge of {penalty}"
    );

    // With the honest holder reachable the read falls back to it: the liar is
    // asked first again (and charged again), then the author gives the bytes.
    kit::connect(&node, &honest).await;
    let read = node.photo(info.hash, PhotoSize::Full).await.unwrap();
    assert_eq!(read, bytes);
    assert_eq!(liar.asked(), 2);
    assert_eq!(metric(&node, FETCH_TAMPERED).await, 2);
    assert_eq!(metric(&node, FETCH_OK).await, 1);
    assert_eq!(metric(&honest, SERVED_OK).await, 1);
    assert!(!node.holds_photo(&other_hash).unwrap());
    let score = kit::misbehaviour_of(&node, liar.net.local_peer_id())
        .await
        .expect("the liar is still connected");
    assert!(score > 2.0 * penalty * 0.9, "the liar's score is {score}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_evicts_others_blobs_first_and_never_own() {
    // Six uploads of the same size class: two will be the node's own, four
    // another node's. Normalising is deterministic, so uploading them on the
    // other node first tells their sizes (and the budget) in advance.
    let other = kit::node(Some(CELL)).await;
    let mut own_bytes = 0;
    let mut own = Vec::new();
    let mut others = Vec::new();
    for seed in 10..16 {
        let upload = noise_png(seed, 200, 150);
        let info = other.add_photo(upload.clone()).await.unwrap();
        if seed < 12 {
            own_bytes += info.bytes as u64;
            own.push(upload);
        } else {
            others.push(info);
        }
    }
    let largest = others.iter().map(|i| i.bytes as u64).max().unwrap();
    let smallest = others.iter().map(|i| i.bytes as u64).min().unwrap();
    assert!(
        3 * largest < 4 * smallest,
        "the photos differ too much in size"
    );
    // Room for our own two and three of the others, not four.
    let budget = own_bytes + 3 * largest;
    other
        .publish_listing(listing_with(
            "boxes",
            others.iter().map(|info| info.hash).collect(),
        ))
        .await
        .unwrap();

    let node = kit::node_with(Some(NEIGHBOUR), |c| c.blob_budget = budget).await;
    let mut mine = Vec::new();
    for upload in own {
        mine.push(node.add_photo(upload).await.unwrap().hash);
    }
    node.publish_listing(listing_with("own", mine.clone()))
        .await
        .unwrap();
    kit::connect(&node, &other).await;
    let id = listing_id(&other, "boxes");
    wait_until("the node to store the other's listing", || async {
        held(&node, &id).is_some()
    })
    .await;

    let [p1, p2, p3, p4] = [0, 1, 2, 3].map(|i| others[i].hash);
    let holds = |hashes: &[BlobHash]| -> Vec<bool> {
        hashes
            .iter()
            .map(|h| node.holds_photo(h).unwrap())
            .collect()
    };
    for hash in [p1, p2, p3] {
        node.photo(hash, PhotoSize::Full).await.unwrap();
    }
    assert_eq!(holds(&[p1, p2, p3]), [true; 3], "within the budget");
    // p1 is used again: p2 is now the least recently used of the others'.
    node.photo(p1, PhotoSize::Full).await.unwrap();
    node.photo(p4, PhotoSize::Full).await.unwrap();
    assert_eq!(holds(&[p1, p2, p3, p4]), [true, false, true, true]);
    assert_eq!(holds(&mine), [true, true], "an own photo was evicted");
    assert!(node.photo_stats().unwrap().bytes <= budget);

    // Reading p2 again fetches it and evicts the least recently used other
    // one, p3; our own photos, used least recently of all, stay.
    node.photo(p2, PhotoSize::Full).await.unwrap();
    assert_eq!(holds(&[p1, p2, p3, p4]), [true, true, false, true]);
    assert_eq!(holds(&mine), [true, true], "an own photo was evicted");
    assert!(node.photo_stats().unwrap().bytes <= budget);
    assert_eq!(metric(&node, FETCH_OK).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_of_a_withdrawn_listing_is_collected_after_grace() {
    let node = kit::node_with_clock(Some(CELL)).await;
    let info = node.add_photo(noise_png(4, 160, 120)).await.unwrap();
    node.publish_listing(listing_with("ladder", vec![info.hash]))
        .await
        .unwrap();
    node.sweep_now().unwrap();
    node.clock().advance(2 * COLLECT_GRACE_SECS);
    node.sweep_now().unwrap();
    assert!(
        node.holds_photo(&info.hash).unwrap(),
        "a photo a live listing names was collected"
    );

    node.withdraw_listing("ladder").await.unwrap();
    node.sweep_now().unwrap();
    node.clock().advance(COLLECT_GRACE_SECS - 1);
    node.sweep_now().unwrap();
    assert!(
        node.holds_photo(&info.hash).unwrap(),
        "collected before the grace day was over"
    );
    assert!(blob_file(&node, &info.hash).exists());

    node.clock().advance(1);
    node.sweep_now().unwrap();
    assert!(!node.holds_photo(&info.hash).unwrap(), "not collected");
    assert!(!blob_file(&node, &info.hash).exists(), "its file is left");
    assert_eq!(node.photo_stats().unwrap().held, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normalising_is_deterministic_across_a_restart() {
    let mut node = kit::node(Some(CELL)).await;
    let upload = noise_png(5, 640, 480);
    let first = node.add_photo(upload.clone()).await.unwrap();
    let second = node.add_photo(upload.clone()).await.unwrap();
    assert_eq!(first, second);
    let bytes = node.photo(first.hash, PhotoSize::Full).await.unwrap();
    assert_eq!(node.photo_stats().unwrap().held, 1);

    node.restart().await;
    assert!(
        node.holds_photo(&first.hash).unwrap(),
        "lost in the restart"
    );
    let third = node.add_photo(upload).await.unwrap();
    assert_eq!(third, first);
    assert_eq!(
        node.photo(first.hash, PhotoSize::Full).await.unwrap(),
        bytes
    );
    assert_eq!(node.photo_stats().unwrap().held, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_not_held_is_not_found_without_asking_anyone() {
    // The node's neighbour holds the photo: a node that looked it up on
    // behalf of the asker would ask it.
    let node = kit::node(Some(CELL)).await;
    let holder = kit::node(Some(CELL)).await;
    let info = holder.add_photo(noise_png(6, 160, 120)).await.unwrap();
    kit::connect(&node, &holder).await;
    let asker = kit::raw_peer().await;
    kit::connect_raw(&asker, &node).await;

    for hash in [info.hash, BlobHash([7; 32])] {
        let answer = asker
            .send_request(
                Protocol::Blob,
                node.peer_id(),
                BlobRequest::V1 { hash }.encode(),
            )
            .await
            .expect("an answer");
        assert_eq!(
            BlobResponse::decode(answer).unwrap(),
            BlobResponse::NotFound
        );
    }
    assert_eq!(metric(&node, SERVED_NOT_FOUND).await, 2);
    settle().await;
    assert_eq!(fetches(&node).await, 0, "the node looked the hash up");
    assert_eq!(served(&holder).await, 0, "the holder was asked");
    assert!(!node.holds_photo(&info.hash).unwrap());
    // `NotFound` is not charged.
    assert_eq!(
        kit::misbehaviour_of(&node, asker.local_peer_id()).await,
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_of_our_own_cell_is_fetched_without_a_read() {
    let author = kit::node(Some(CELL)).await;
    let same_cell = kit::node(Some(CELL)).await;
    let neighbour = kit::node(Some(NEIGHBOUR)).await;
    kit::connect(&author, &same_cell).await;
    kit::connect(&author, &neighbour).await;
    let info = author.add_photo(noise_png(7, 160, 120)).await.unwrap();
    let published = author
        .publish_listing(listing_with("saw", vec![info.hash]))
        .await
        .unwrap();
    let id = listing_id(&author, "saw");
    wait_until("the same-cell node to fetch the photo", || async {
        same_cell.holds_photo(&info.hash).unwrap()
    })
    .await;
    assert_eq!(metric(&same_cell, FETCH_OK).await, 1);
    wait_until("the neighbour to store the listing", || async {
        held(&neighbour, &id) == Some(published.id())
    })
    .await;
    settle().await;
    assert!(
        !neighbour.holds_photo(&info.hash).unwrap(),
        "a neighbouring cell's photo was fetched without a read"
    );
    assert_eq!(fetches(&neighbour).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_reads_of_a_missing_photo_make_one_fetch() {
    let holder = kit::node(Some(CELL)).await;
    let node = kit::node(Some(NEIGHBOUR)).await;
    kit::connect(&node, &holder).await;
    let info = holder.add_photo(noise_png(8, 320, 240)).await.unwrap();
    let bytes = holder.photo(info.hash, PhotoSize::Full).await.unwrap();
    let published = holder
        .publish_listing(listing_with("kayak", vec![info.hash]))
        .await
        .unwrap();
    let id = listing_id(&holder, "kayak");
    wait_until("the node to store the listing", || async {
        held(&node, &id) == Some(published.id())
    })
    .await;

    let (one, two) = tokio::join!(
        node.photo(info.hash, PhotoSize::Full),
        node.photo(info.hash, PhotoSize::Thumb),
    );
    assert_eq!(one.unwrap(), bytes);
    assert!(!two.unwrap().is_empty());
    assert_eq!(fetches(&node).await, 1);
    assert_eq!(metric(&node, FETCH_OK).await, 1);
    assert_eq!(served(&holder).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_read_beyond_the_budget_is_still_answered() {
    // Our own photo alone is over the budget: another's photo that a read
    // fetches cannot stay, but the read gets it, and the next fetch makes
    // room for its own photo by evicting it.
    let holder = kit::node(Some(CELL)).await;
    let node = kit::node_with(Some(NEIGHBOUR), |c| c.blob_budget = 1).await;
    let own = node.add_photo(noise_png(20, 160, 120)).await.unwrap();
    node.publish_listing(listing_with("own", vec![own.hash]))
        .await
        .unwrap();
    kit::connect(&node, &holder).await;
    let first = holder.add_photo(noise_png(21, 160, 120)).await.unwrap();
    let second = holder.add_photo(noise_png(22, 160, 120)).await.unwrap();
    let bytes = holder.photo(first.hash, PhotoSize::Full).await.unwrap();

    assert_eq!(
        node.photo(first.hash, PhotoSize::Full).await.unwrap(),
        bytes
    );
    assert!(node.holds_photo(&first.hash).unwrap());
    node.photo(second.hash, PhotoSize::Full).await.unwrap();
    assert!(node.holds_photo(&second.hash).unwrap());
    assert!(!node.holds_photo(&first.hash).unwrap(), "not evicted");
    assert!(node.holds_photo(&own.hash).unwrap(), "our own was evicted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_copy_is_fetched_again_on_its_next_read() {
    let holder = kit::node(Some(CELL)).await;
    let node = kit::node(Some(NEIGHBOUR)).await;
    kit::connect(&node, &holder).await;
    let info = holder.add_photo(noise_png(9, 320, 240)).await.unwrap();
    let bytes = holder.photo(info.hash, PhotoSize::Full).await.unwrap();
    let published = holder
        .publish_listing(listing_with("canoe", vec![info.hash]))
        .await
        .unwrap();
    let id = listing_id(&holder, "canoe");
    wait_until("the node to store the listing", || async {
        held(&node, &id) == Some(published.id())
    })
    .await;
    assert_eq!(node.photo(info.hash, PhotoSize::Full).await.unwrap(), bytes);
    assert_eq!(fetches(&node).await, 1);

    // The cached copy (not fsynced) as a crash might leave it: cut short.
    let file = blob_file(&node, &info.hash);
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(node.photo(info.hash, PhotoSize::Full).await.unwrap(), bytes);
    assert_eq!(fetches(&node).await, 2, "fetched again, not an error");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}
