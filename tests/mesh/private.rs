//! Private meshes (issue 29): an invite is the only way in. Gossip on a
//! private topic is sealed, sync and photos go only to proven members, and an
//! outsider who knows the topic name reads, fetches and posts nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use swapmesh_net::{NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Protocol};
use swapmesh_node::blobs::PhotoSize;
use swapmesh_node::{Node, Placement};
use swapmesh_protocol::blob::{BlobRequest, BlobResponse};
use swapmesh_protocol::gossip::MAX_GOSSIP_MESSAGE;
use swapmesh_protocol::private::{MeshKey, MeshSecrets, Role};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{
    BlobHash, Geohash, GossipMessage, MeshId, RecordId, SignedRecord, Timestamp, Topic, fixtures,
};
use swapmesh_sync::wire::{Refusal, SyncRequest, SyncResponse};

use crate::kit::{self, TestNode, held, listing_id, settle, wait_until};

const CELL: &str = "u4pru";

/// A private mesh created by the first node and joined by the others with its
/// invite (which connects them to the creator); its id and invite.
async fn private_mesh(nodes: &[&TestNode]) -> (MeshId, String) {
    let (mesh, invite) = nodes[0].create_mesh("Elm Street", false).await.unwrap();
    assert!(mesh.is_private(), "{mesh}");
    for node in &nodes[1..] {
        assert_eq!(node.join_invite(&invite).await.unwrap(), mesh);
        kit::wait_connected(nodes[0], node).await;
    }
    (mesh, invite)
}

/// Publishes a listing `d` of `node` in `mesh` only.
async fn publish_in(node: &Node, mesh: &MeshId, d: &str) -> RecordId {
    let placement = node.placement(Some(vec![mesh.clone()]), None).unwrap();
    assert_eq!(placement.area, None, "a private listing stays off the area");
    node.publish_listing_at(fixtures::listing(d), placement)
        .await
        .unwrap()
        .id()
}

/// Gossip heard: (topic, payload).
type Heard = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A bare network peer that records the gossip it hears and answers sync
/// requests with `answer` (counting them by kind).
struct Outsider {
    net: NetworkHandle,
    heard: Heard,
    asked: Arc<Mutex<Vec<SyncRequest>>>,
}

type Answer = Box<dyn Fn(&SyncRequest, PeerId) -> SyncResponse + Send>;

impl Outsider {
    async fn new(answer: Answer) -> Self {
        let mut config = NetworkConfig::new(swapmesh_net::Keypair::generate_ed25519());
        config.gossip.heartbeat_interval = Duration::from_millis(100);
        let (net, mut events, event_loop) = swapmesh_net::new(config).expect("network");
        tokio::spawn(event_loop.run());
        let heard: Heard = Arc::default();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (h, a) = (heard.clone(), asked.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    NetworkEvent::Gossip { topic, data, .. } => {
                        h.lock().unwrap().push((topic, data));
                    }
                    NetworkEvent::InboundRequest {
                        protocol: Protocol::Sync,
                        peer,
                        data,
                        reply,
                        ..
                    } => {
                        let Ok(request) = SyncRequest::decode(&data, 1 << 20) else {
                            continue;
                        };
                        let response = answer(&request, peer);
                        a.lock().unwrap().push(request);
                        let _ = reply.respond(response.encode()).await;
                    }
                    _ => {}
                }
            }
        });
        Self { net, heard, asked }
    }

    /// An outsider that answers nothing useful.
    async fn silent() -> Self {
        Self::new(Box::new(|_, _| SyncResponse::Refused {
            reason: Refusal::NotServing,
        }))
        .await
    }

    fn peer(&self) -> PeerId {
        self.net.local_peer_id()
    }

    async fn ask(&self, node: &Node, request: SyncRequest) -> SyncResponse {
        let bytes = self
            .net
            .send_request(Protocol::Sync, node.peer_id(), request.encode())
            .await
            .expect("an answer");
        SyncResponse::decode(&bytes, bytes.len()).expect("a response")
    }

    fn asked(&self) -> Vec<&'static str> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.kind())
            .collect()
    }
}

/// The first message of a reconciliation from an empty set.
fn first_message() -> Vec<u8> {
    swapmesh_sync::Reconciler::initiator(swapmesh_sync::Config::default())
        .expect("a reconciler")
        .initiate_bytes(&swapmesh_sync::MemoryStore::new())
        .expect("a first message")
}

fn not_served(response: &SyncResponse) -> bool {
    matches!(
        response,
        SyncResponse::Refused {
            reason: Refusal::NotServing
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsider_who_knows_the_topic_reads_nothing() {
    let ana = kit::node(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben]).await;
    let topic = Topic::mesh(&mesh);
    let outsider = Outsider::silent().await;
    outsider.net.subscribe(topic.as_str()).await.unwrap();
    kit::connect_raw(&outsider.net, &ana).await;

    let title = "Cargo bike for the street";
    let placement = ana.placement(Some(vec![mesh.clone()]), None).unwrap();
    let mut listing = fixtures::listing("cargo-bike");
    listing.title = title.to_owned();
    let id = ana
        .publish_listing_at(listing, placement)
        .await
        .unwrap()
        .id();
    wait_until("ben to get the listing", || async {
        ben.record(&id).unwrap().is_some()
    })
    .await;
    wait_until("the outsider to hear the mesh's gossip", || async {
        outsider
            .heard
            .lock()
            .unwrap()
            .iter()
            .any(|(t, _)| *t == topic.as_str())
    })
    .await;
    // Every payload on the topic is sealed, shows nothing of the listing and
    // opens under no key the outsider has.
    let guess = MeshSecrets::new(&MeshKey::random());
    for (t, data) in outsider.heard.lock().unwrap().iter() {
        if *t != topic.as_str() {
            continue;
        }
        let Ok(GossipMessage::Sealed(sealed)) = GossipMessage::decode(data) else {
            panic!("a payload on a private topic that is not sealed");
        };
        assert!(guess.open(&sealed).is_err());
        assert!(
            !data.windows(title.len()).any(|w| w == title.as_bytes()),
            "the title travels in the clear"
        );
    }

    // Sync without a valid proof gets nothing: no reconciliation, no records.
    let without = SyncRequest::Reconcile {
        topic: topic.clone(),
        session: 1,
        message: first_message(),
        proof: None,
    };
    assert!(not_served(&outsider.ask(&ana, without).await));
    let wrong = SyncRequest::Reconcile {
        topic: topic.clone(),
        session: 2,
        message: first_message(),
        proof: Some(guess.proof(
            Role::Initiator,
            &outsider.peer().to_bytes(),
            &ana.peer_id().to_bytes(),
        )),
    };
    assert!(not_served(&outsider.ask(&ana, wrong).await));
    let fetch = SyncRequest::Fetch {
        topic: topic.clone(),
        ids: vec![id],
    };
    assert!(not_served(&outsider.ask(&ana, fetch).await));
    // Refused, not charged: it may be an honest node of another mesh.
    assert_eq!(kit::misbehaviour_of(&ana, outsider.peer()).await, Some(0.0));

    // A member's proof, made with the key, is served: the refusals above were
    // for want of one.
    let key = ana.mesh_key(&mesh).expect("the creator holds the key");
    let secrets = MeshSecrets::new(&key);
    let proven = SyncRequest::Reconcile {
        topic,
        session: 3,
        message: first_message(),
        proof: Some(secrets.proof(
            Role::Initiator,
            &outsider.peer().to_bytes(),
            &ana.peer_id().to_bytes(),
        )),
    };
    let SyncResponse::Reconcile {
        proof: Some(proof), ..
    } = outsider.ask(&ana, proven).await
    else {
        panic!("a proven first message is answered with the responder's proof");
    };
    // A hello (the proof and an empty message) is answered the same way.
    let hello = SyncRequest::Reconcile {
        topic: Topic::mesh(&mesh),
        session: 4,
        message: Vec::new(),
        proof: Some(secrets.proof(
            Role::Initiator,
            &outsider.peer().to_bytes(),
            &ana.peer_id().to_bytes(),
        )),
    };
    let SyncResponse::Reconcile {
        proof: Some(_),
        message,
    } = outsider.ask(&ana, hello).await
    else {
        panic!("a valid hello is answered with the responder's proof");
    };
    assert!(message.is_empty(), "a hello opens no session");
    assert!(secrets.check_proof(
        &proof,
        Role::Responder,
        &outsider.peer().to_bytes(),
        &ana.peer_id().to_bytes()
    ));
}

/// The reconciliation answer of a peer that claims to hold nothing (so an
/// initiator that trusted it would push everything).
fn holding_nothing() -> Vec<u8> {
    swapmesh_sync::Message::list(Vec::new()).encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsider_echoing_the_proof_gets_nothing_pushed() {
    let ana = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana]).await;
    let topic = Topic::mesh(&mesh);
    publish_in(&ana, &mesh, "tent").await;

    // The outsider sends the member's own proof back as its answer.
    let echo = Outsider::new(Box::new(|request, _| match request {
        SyncRequest::Reconcile { proof, .. } => SyncResponse::Reconcile {
            message: holding_nothing(),
            proof: *proof,
        },
        _ => SyncResponse::pushed(0),
    }))
    .await;
    echo.net.subscribe(topic.as_str()).await.unwrap();
    kit::connect_raw(&echo.net, &ana).await;
    let ended = ana.sync_with(echo.peer(), &topic).await;
    assert!(ended.is_err(), "{ended:?}");
    // Each session (ours, and any the node's schedule began on connecting)
    // ended after its first message: no fetch, no push.
    let asked = echo.asked();
    assert!(
        !asked.is_empty() && asked.iter().all(|k| *k == "reconcile"),
        "{asked:?}"
    );

    // A peer holding the key answers with its own proof, and gets the push:
    // what stopped the echo was the proof.
    let secrets = MeshSecrets::new(&ana.mesh_key(&mesh).unwrap());
    let me = Arc::new(Mutex::new(None::<PeerId>));
    let who = me.clone();
    let member = Outsider::new(Box::new(move |request, from| match request {
        // The hello: its own proof, bound to both ids.
        SyncRequest::Reconcile { message, .. } if message.is_empty() => SyncResponse::Reconcile {
            message: Vec::new(),
            proof: Some(secrets.proof(
                Role::Responder,
                &from.to_bytes(),
                &who.lock().unwrap().expect("its id").to_bytes(),
            )),
        },
        SyncRequest::Reconcile { .. } => SyncResponse::Reconcile {
            message: holding_nothing(),
            proof: None,
        },
        _ => SyncResponse::pushed(0),
    }))
    .await;
    *me.lock().unwrap() = Some(member.peer());
    kit::connect_raw(&member.net, &ana).await;
    let report = ana.sync_with(member.peer(), &topic).await;
    assert!(report.is_ok(), "{report:?}");
    assert!(member.asked().contains(&"push"), "{:?}", member.asked());
}

/// A valid record of a stranger's that names `mesh`.
fn stranger_record(mesh: &MeshId, d: &str) -> SignedRecord {
    let key = fixtures::key(2900);
    let mut body = fixtures::listing_body(
        author_of(&key),
        CELL,
        fixtures::listing(d),
        Timestamp::now(),
    );
    body.area = None;
    body.meshes = vec![mesh.clone()];
    SignedRecord::sign(&body, &key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsider_cannot_post_into_a_private_mesh() {
    let ana = kit::node(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben]).await;
    let topic = Topic::mesh(&mesh);
    let mut events = ana.subscribe_events();

    // Sealed under a wrong key, and not sealed at all.
    let outsider = kit::raw_peer().await;
    outsider.subscribe(topic.as_str()).await.unwrap();
    kit::connect_raw(&outsider, &ana).await;
    let wrong = MeshSecrets::new(&MeshKey::random());
    let forged = stranger_record(&mesh, "forged");
    let plain = stranger_record(&mesh, "plain");
    let attempts = [
        GossipMessage::sealed(wrong.seal(&forged.encode())).encode(),
        GossipMessage::record(plain.clone()).encode(),
    ];
    for data in attempts {
        kit::publish_while_connected(&outsider, &ana, topic.as_str(), data).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nor through an open topic: a record naming the area and the mesh, in
    // the clear on the area's topic.
    let cell = Topic::area(&Geohash::parse_cell(CELL).unwrap());
    outsider.subscribe(cell.as_str()).await.unwrap();
    let mut sideways = stranger_record(&mesh, "sideways");
    {
        let key = fixtures::key(2900);
        let mut body = sideways.decode_trusted().unwrap();
        body.area = Some(Geohash::parse_area(CELL).unwrap());
        sideways = SignedRecord::sign(&body, &key);
    }
    let data = GossipMessage::record(sideways.clone()).encode();
    kit::publish_while_connected(&outsider, &ana, cell.as_str(), data).await;
    let peer = outsider.local_peer_id();
    let charged = tokio::time::timeout(kit::TIMEOUT, async {
        loop {
            if let Ok(swapmesh_node::NodeEvent::PeerCharged { peer: p, .. }) = events.recv().await
                && p == peer
            {
                return;
            }
        }
    })
    .await;
    assert!(charged.is_ok(), "the outsider was not charged");

    // A peer with the key posts: stored by both members (so the two above
    // were refused for their sealing, not for their content).
    let insider = kit::raw_peer().await;
    insider.subscribe(topic.as_str()).await.unwrap();
    kit::connect_raw(&insider, &ana).await;
    let secrets = MeshSecrets::new(&ana.mesh_key(&mesh).unwrap());
    let good = stranger_record(&mesh, "sealed-right");
    let data = GossipMessage::sealed(secrets.seal(&good.encode())).encode();
    assert!(kit::publish_while_connected(&insider, &ana, topic.as_str(), data).await);
    for node in [&ana, &ben] {
        wait_until("a member to store the rightly sealed record", || async {
            node.record(&good.id()).unwrap().is_some()
        })
        .await;
        for bad in [&forged, &plain, &sideways] {
            assert!(
                node.record(&bad.id()).unwrap().is_none(),
                "stored a bad post"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_each_other_and_catch_up() {
    let mut ana = kit::node(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    let mut cas = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben, &cas]).await;

    // Each member's listing reaches the others.
    let mut ids = Vec::new();
    for (node, d) in [(&ana, "ladder"), (&ben, "drill"), (&cas, "tent")] {
        ids.push(publish_in(node, &mesh, d).await);
    }
    for node in [&ana, &ben, &cas] {
        for id in &ids {
            wait_until("every member to hold every listing", || async {
                node.record(id).unwrap().is_some()
            })
            .await;
        }
    }

    // Cas is away while Ben publishes; back, it catches up by proven sync
    // (gossip does not replay what it missed).
    cas.stop().await;
    let missed = publish_in(&ben, &mesh, "lawn-mower").await;
    wait_until("ana to get the new listing", || async {
        ana.record(&missed).unwrap().is_some()
    })
    .await;
    // Ana stops too: only a sync with Ben can bring it to Cas.
    ana.stop().await;
    cas.resume(|_| {}).await;
    assert!(cas.record(&missed).unwrap().is_none());
    kit::connect(&cas, &ben).await;
    wait_until("cas to catch up on the mesh", || async {
        cas.record(&missed).unwrap().is_some()
    })
    .await;
    assert!(cas.meshes().contains(&mesh), "the key survived the restart");
    ana.resume(|_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_sealed_record_fits_on_a_pmesh_topic() {
    use crate::gossip::largest_listing;
    use swapmesh_protocol::validate::MAX_PHOTOS;

    let publisher = kit::node(None).await;
    let receiver = kit::node(None).await;
    let (mesh, _) = private_mesh(&[&publisher, &receiver]).await;
    let mut listing = largest_listing();
    listing.photos.clear();
    for seed in 0..MAX_PHOTOS as u64 {
        let photo = crate::photos::noise_png(2900 + seed, 16, 16);
        listing
            .photos
            .push(publisher.add_photo(photo).await.unwrap().hash);
    }
    // The largest place a private record has: four private meshes (32
    // characters each; the first with members). A private record names no
    // area and no open mesh.
    let placement = Placement {
        area: None,
        meshes: vec![
            mesh.clone(),
            MeshKey::random().id(),
            MeshKey::random().id(),
            MeshKey::random().id(),
        ],
    };
    let published = publisher
        .publish_listing_at(listing, placement)
        .await
        .unwrap();
    let secrets = MeshSecrets::new(&publisher.mesh_key(&mesh).unwrap());
    let wire = GossipMessage::sealed(secrets.seal(&published.signed().encode())).encode();
    assert!(wire.len() <= MAX_GOSSIP_MESSAGE, "{} bytes", wire.len());
    let id = listing_id(&publisher, &format!("{:-<64}", "largest"));
    wait_until("the member to store the largest sealed listing", || async {
        held(&receiver, &id) == Some(published.id())
    })
    .await;
    let stored = receiver.record(&published.id()).unwrap().unwrap();
    assert_eq!(stored.signed, *published.signed(), "it arrived whole");
}

/// Asks `node` for `hash` from `raw` with `request`.
async fn ask_blob(raw: &NetworkHandle, node: &Node, request: BlobRequest) -> BlobResponse {
    let frame = raw
        .send_request(Protocol::Blob, node.peer_id(), request.encode())
        .await
        .expect("an answer");
    BlobResponse::decode(frame).expect("a blob response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_blob_goes_only_to_members() {
    let ana = kit::node(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben]).await;
    let topic = Topic::mesh(&mesh);

    // One photo named only in the mesh, one in the area.
    let private = ana
        .add_photo(crate::photos::noise_png(29, 32, 32))
        .await
        .unwrap()
        .hash;
    let public = ana
        .add_photo(crate::photos::noise_png(30, 32, 32))
        .await
        .unwrap()
        .hash;
    let mut inside = fixtures::listing("inside");
    inside.photos = vec![private];
    let placement = ana.placement(Some(vec![mesh.clone()]), None).unwrap();
    let inside = ana.publish_listing_at(inside, placement).await.unwrap();
    let mut outside = fixtures::listing("outside");
    outside.photos = vec![public];
    ana.publish_listing_at(outside, ana.placement(None, None).unwrap())
        .await
        .unwrap();

    // A member gets the private photo.
    wait_until("ben to get the listing", || async {
        ben.record(&inside.id()).unwrap().is_some()
    })
    .await;
    let bytes = ben.photo(private, PhotoSize::Full).await.unwrap();
    assert_eq!(BlobHash(*blake3::hash(&bytes).as_bytes()), private);

    // An outsider gets the public one, and not the private one: not without a
    // proof, nor with a made-up one.
    let outsider = kit::raw_peer().await;
    kit::connect_raw(&outsider, &ana).await;
    let v1 = |hash| BlobRequest::V1 { hash };
    assert!(matches!(
        ask_blob(&outsider, &ana, v1(public)).await,
        BlobResponse::Blob(_)
    ));
    assert_eq!(
        ask_blob(&outsider, &ana, v1(private)).await,
        BlobResponse::NotFound
    );
    let guess = MeshSecrets::new(&MeshKey::random());
    let (me, them) = (
        outsider.local_peer_id().to_bytes(),
        ana.peer_id().to_bytes(),
    );
    let made_up = BlobRequest::V2 {
        hash: private,
        proofs: vec![(
            topic.as_str().to_owned(),
            guess.proof(Role::Initiator, &me, &them),
        )],
    };
    assert_eq!(
        ask_blob(&outsider, &ana, made_up).await,
        BlobResponse::NotFound
    );
    // With the key's proof it is given, with the holder's proof.
    let secrets = MeshSecrets::new(&ana.mesh_key(&mesh).unwrap());
    let proven = BlobRequest::V2 {
        hash: private,
        proofs: vec![(
            topic.as_str().to_owned(),
            secrets.proof(Role::Initiator, &me, &them),
        )],
    };
    let BlobResponse::ProvenBlob { proof, bytes } = ask_blob(&outsider, &ana, proven).await else {
        panic!("a proven member is given the photo");
    };
    assert!(secrets.check_proof(&proof, Role::Responder, &me, &them));
    assert_eq!(BlobHash(*blake3::hash(&bytes).as_bytes()), private);

    // Withdrawn, the listing still keeps its photo to the mesh (asking for
    // a photo no listing names yet makes the node read the listings again).
    ana.withdraw_listing("inside").await.unwrap();
    let unnamed = ana
        .add_photo(crate::photos::noise_png(31, 32, 32))
        .await
        .unwrap()
        .hash;
    assert!(matches!(
        ask_blob(&outsider, &ana, v1(unnamed)).await,
        BlobResponse::Blob(_)
    ));
    assert_eq!(
        ask_blob(&outsider, &ana, v1(private)).await,
        BlobResponse::NotFound
    );
    // Nor when an update takes it out of the listing (named by none now).
    let mut again = fixtures::listing("inside-again");
    again.photos = vec![private];
    let placement = ana.placement(Some(vec![mesh.clone()]), None).unwrap();
    ana.publish_listing_at(again, placement).await.unwrap();
    ana.update_listing("inside-again", |l| l.photos.clear())
        .await
        .unwrap();
    ana.withdraw_listing("outside").await.unwrap();
    let fresh = ana
        .add_photo(crate::photos::noise_png(32, 32, 32))
        .await
        .unwrap()
        .hash;
    assert!(matches!(
        ask_blob(&outsider, &ana, v1(fresh)).await,
        BlobResponse::Blob(_)
    ));
    assert_eq!(
        ask_blob(&outsider, &ana, v1(private)).await,
        BlobResponse::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_forgets_the_key_and_the_records_only_the_mesh_held() {
    let ana = kit::node(Some(CELL)).await;
    let mut ben = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben]).await;

    let only_mesh = publish_in(&ana, &mesh, "mesh-only").await;
    // Nothing goes both to a private mesh and in the open.
    assert!(matches!(
        ana.placement(Some(vec![mesh.clone()]), Some(true)),
        Err(swapmesh_node::NodeError::Invalid(_))
    ));
    let both = ana
        .publish_listing(fixtures::listing("area"))
        .await
        .unwrap()
        .id();
    for id in [&only_mesh, &both] {
        wait_until("ben to hold both listings", || async {
            ben.record(id).unwrap().is_some()
        })
        .await;
    }

    ben.leave_mesh(&mesh).await.unwrap();
    assert!(
        ben.record(&only_mesh).unwrap().is_none(),
        "kept a mesh-only record"
    );
    assert!(ben.record(&both).unwrap().is_some(), "lost an area record");
    assert!(ben.mesh_key(&mesh).is_none(), "kept the key");
    assert!(!ben.listening_topics().contains(&Topic::mesh(&mesh)));

    // Nothing of the mesh comes back: not from gossip, not after a restart.
    let later = publish_in(&ana, &mesh, "after-leaving").await;
    settle().await;
    assert!(ben.record(&later).unwrap().is_none());
    ben.restart().await;
    assert!(ben.mesh_key(&mesh).is_none());
    assert!(!ben.meshes().contains(&mesh));
    assert!(ben.record(&only_mesh).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_listing_reaches_members_and_never_the_area() {
    let ana = kit::node(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    let street = kit::node(Some(CELL)).await;
    let (mesh, _) = private_mesh(&[&ana, &ben]).await;
    kit::connect(&street, &ana).await;
    let id = publish_in(&ana, &mesh, "private-drill").await;
    let open = ana
        .publish_listing(fixtures::listing("open-drill"))
        .await
        .unwrap();
    for node in [&ben, &street] {
        wait_until("the area listing to arrive", || async {
            node.record(&open.id()).unwrap().is_some()
        })
        .await;
    }
    wait_until("ben to get the private listing", || async {
        ben.record(&id).unwrap().is_some()
    })
    .await;
    // And a sync with a member brings the neighbour nothing of the mesh.
    let cell = Topic::area(&Geohash::parse_cell(CELL).unwrap());
    street.sync_with(ana.peer_id(), &cell).await.unwrap();
    assert!(street.record(&id).unwrap().is_none());
    assert!(
        ana.default_placement().meshes.is_empty(),
        "no open mesh by default"
    );
}
