//! Receipts (issue 17): a chain that ended after acceptance leaves one receipt
//! both parties signed, published by the sequencer; the sequencer checks the
//! other party's signature against its own statement.

use swapmesh_node::{Clock, ManualClock, Node, Proposal};
use swapmesh_protocol::agreement::wire::{AgreeRequest, Refusal, Request, Response};
use swapmesh_protocol::agreement::{Action, Leg, Phase, Resolution};
use swapmesh_protocol::social::{Outcome, ReceiptStatement};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AgreementId, Content, Timestamp};

use crate::agreements::{
    RawTaker, confirm, drill, misbehaviour_of, node_on, open_of, proposal, rent, view, wait_phase,
};
use crate::kit::{self, wait_until};

/// Ben proposes renting Ana's drill from `start` for two days; Ana accepts.
async fn accepted(
    ana: &Node,
    ben: &Node,
    listing: &swapmesh_protocol::ListingId,
    start: Timestamp,
) -> AgreementId {
    let proposed = ben
        .propose(proposal(listing, rent(start, 2, 500)))
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    wait_phase(ana, &id, Phase::Offered).await;
    ana.accept(&id, String::new()).await.expect("accept");
    wait_phase(ben, &id, Phase::Accepted).await;
    id
}

/// `by` signs the act `action`, and the other node confirms it.
async fn act_confirmed(by: &Node, other: &Node, id: &AgreementId, action: Action) {
    by.act(id, action, String::new()).await.expect("act");
    let party = usize::from(by.author() != by.agreement(id).unwrap().state.terms.provider);
    wait_until("the act at the other node", || async {
        other.agreement(id).unwrap().state.open[party].is_some()
    })
    .await;
    let of = open_of(&other.agreement(id).unwrap(), party);
    other
        .act(id, confirm(of), String::new())
        .await
        .expect("confirm");
}

/// The receipt statement `node` holds for `id`, once it holds the receipt.
async fn receipt_on(node: &Node, id: &AgreementId) -> ReceiptStatement {
    wait_until("the receipt", || async {
        node.agreement(id).unwrap().receipt.is_some()
    })
    .await;
    let record = node.agreement(id).unwrap().receipt.unwrap();
    match record.body.content {
        Content::Receipt(r) => {
            assert!(r.signatures_valid());
            r.statement
        }
        other => panic!("not a receipt: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_ended_agreements_leave_receipts() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let day = |n: u64| clock.now().plus(n * DAY);

    // Completed: handed over and given back on time.
    let completed = accepted(&ana, &ben, &listing, day(1)).await;
    let leg = Leg::Provider;
    act_confirmed(&ana, &ben, &completed, Action::Handover { leg }).await;
    act_confirmed(&ben, &ana, &completed, Action::Return { leg }).await;
    wait_phase(&ben, &completed, Phase::Completed).await;

    // Resolved: disputed while away, then resolved as kept.
    let resolved = accepted(&ana, &ben, &listing, day(4)).await;
    act_confirmed(&ana, &ben, &resolved, Action::Handover { leg }).await;
    wait_phase(&ana, &resolved, Phase::Active).await;
    ben.act(&resolved, Action::Dispute, String::new())
        .await
        .unwrap();
    wait_phase(&ana, &resolved, Phase::Disputed).await;
    let outcome = Resolution::Returned;
    act_confirmed(&ana, &ben, &resolved, Action::Resolve { outcome }).await;
    wait_phase(&ben, &resolved, Phase::Resolved).await;

    // Cancelled after acceptance, by the receiver.
    let cancelled = accepted(&ana, &ben, &listing, day(7)).await;
    ben.act(&cancelled, Action::Cancel, String::new())
        .await
        .unwrap();
    wait_phase(&ana, &cancelled, Phase::Cancelled).await;

    // Declined, withdrawn, expired: never accepted.
    let propose = |start: Timestamp, expires: Option<Timestamp>| Proposal {
        offer_expires: expires,
        ..proposal(&listing, rent(start, 1, 500))
    };
    let declined = view(&ben.propose(propose(day(10), None)).await.unwrap())
        .state
        .id;
    wait_phase(&ana, &declined, Phase::Offered).await;
    ana.act(&declined, Action::Decline, String::new())
        .await
        .unwrap();
    let withdrawn = view(&ben.propose(propose(day(12), None)).await.unwrap())
        .state
        .id;
    wait_phase(&ana, &withdrawn, Phase::Offered).await;
    ben.act(&withdrawn, Action::Withdraw, String::new())
        .await
        .unwrap();
    let expired = view(
        &ben.propose(propose(day(14), Some(clock.now().plus(60))))
            .await
            .unwrap(),
    )
    .state
    .id;
    wait_phase(&ana, &expired, Phase::Offered).await;
    wait_phase(&ana, &withdrawn, Phase::Withdrawn).await;
    wait_phase(&ben, &declined, Phase::Declined).await;

    for (id, outcome, on_time) in [
        (completed, Outcome::Completed, Some(true)),
        (resolved, Outcome::Resolved, None),
        (cancelled, Outcome::Cancelled, None),
    ] {
        for node in [&ana, &ben] {
            let statement = receipt_on(node, &id).await;
            assert_eq!(statement.agreement, id);
            assert_eq!(statement.outcome, outcome);
            assert_eq!(statement.on_time, on_time);
            assert_eq!(statement.provider, ana.author());
            assert_eq!(statement.receiver, ben.author());
        }
    }
    clock.advance(120);
    ana.tick().await.unwrap();
    ben.tick().await.unwrap();
    assert!(ana.agreement(&expired).unwrap().state.expired(clock.now()));
    for id in [declined, withdrawn, expired] {
        for node in [&ana, &ben] {
            assert!(node.agreement(&id).unwrap().receipt.is_none());
        }
    }
    // One receipt per ended agreement, each published once by the sequencer.
    let receipts = ana
        .social_of(
            &ana.author(),
            &[swapmesh_protocol::RecordKind::Receipt],
            None,
            100,
        )
        .unwrap()
        .0;
    assert_eq!(receipts.len(), 3);
    assert!(
        receipts
            .iter()
            .all(|r| r.body.seq == 1 && r.body.author == ana.author())
    );
}

/// Ana's drill, and a raw taker whose rental of it it cancelled after
/// acceptance: the agreement id and its receipt statement.
async fn cancelled_by_a_raw_taker(
    clock: &ManualClock,
    ana: &Node,
    seed: u64,
) -> (RawTaker, AgreementId, ReceiptStatement) {
    ana.publish_listing(swapmesh_protocol::fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(ana, "drill");
    let taker = RawTaker::new(seed, ana).await;
    let now = clock.now();
    let proposal = taker.propose(ana, &listing, rent(now.plus(DAY), 2, 500), now);
    let id = proposal.agreement();
    assert!(matches!(
        taker.deliver(ana, &[&proposal]).await,
        Response::Ack { .. }
    ));
    ana.accept(&id, String::new()).await.unwrap();
    let state = ana.agreement(&id).unwrap().state;
    let cancel = taker.next(&state, Action::Cancel, now);
    assert!(matches!(
        taker.deliver(ana, &[&cancel]).await,
        Response::Ack { .. }
    ));
    let state = ana.agreement(&id).unwrap().state;
    assert_eq!(state.phase, Phase::Cancelled);
    let statement = state
        .receipt_statement()
        .expect("a cancelled agreement has a receipt");
    (taker, id, statement)
}

fn receipt_sig(agreement: AgreementId, sig: swapmesh_protocol::Signature) -> Vec<u8> {
    AgreeRequest::V1(Request::ReceiptSig { agreement, sig }).encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_sig_over_another_statement_is_refused_and_charged() {
    let clock = ManualClock::starting_now();
    let ana = crate::agreements::node_on_with(&clock, "u4pru", |_, c| {
        c.misbehaviour.block_threshold = 1000.0
    })
    .await;
    let (taker, id, statement) = cancelled_by_a_raw_taker(&clock, &ana, 90).await;
    let peer = taker.net.local_peer_id();
    let other = ReceiptStatement {
        on_time: Some(true),
        ..statement.clone()
    };
    let answer = taker
        .send_frame(&ana, receipt_sig(id, other.sign(&taker.key)))
        .await;
    assert!(
        matches!(
            answer,
            Response::Refused {
                refusal: Refusal::BadSignature,
                ..
            }
        ),
        "{answer:?}"
    );
    assert!(
        misbehaviour_of(&ana, peer).await > 0.0,
        "the sender is charged"
    );
    assert!(
        ana.agreement(&id).unwrap().receipt.is_none(),
        "nothing published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_receipt_sig_gets_the_same_record() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let (taker, id, statement) = cancelled_by_a_raw_taker(&clock, &ana, 91).await;
    let frame = receipt_sig(id, statement.sign(&taker.key));
    let Response::Receipt { record: first } = taker.send_frame(&ana, frame.clone()).await else {
        panic!("a receipt in answer");
    };
    clock.advance(5);
    let Response::Receipt { record: again } = taker.send_frame(&ana, frame).await else {
        panic!("a receipt in answer");
    };
    assert_eq!(first, again, "the same record, not a second one");
    let held = ana.agreement(&id).unwrap().receipt.expect("published");
    assert_eq!(held.signed, first);
    assert_eq!(held.body.author, ana.author());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_sig_for_a_chain_not_ended_is_refused_without_blame() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    ana.publish_listing(swapmesh_protocol::fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(&ana, "drill");
    let taker = RawTaker::new(92, &ana).await;
    let peer = taker.net.local_peer_id();
    let now = clock.now();
    let proposal = taker.propose(&ana, &listing, rent(now.plus(DAY), 2, 500), now);
    taker.deliver(&ana, &[&proposal]).await;
    let id = proposal.agreement();
    let sig = proposal.signed().sig;
    let answer = taker.send_frame(&ana, receipt_sig(id, sig)).await;
    assert!(
        matches!(
            answer,
            Response::Refused {
                refusal: Refusal::NotEnded,
                ..
            }
        ),
        "{answer:?}"
    );
    assert_eq!(misbehaviour_of(&ana, peer).await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_by_a_non_party_is_rejected_everywhere() {
    use swapmesh_protocol::social::Review;
    use swapmesh_protocol::{GossipMessage, RecordKind, SignedRecord, Topic, fixtures};

    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    let cas = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    kit::connect(&ben, &cas).await;
    let listing = drill(&ana, &[&ben, &cas]).await;
    let id = accepted(&ana, &ben, &listing, clock.now().plus(DAY)).await;
    ben.act(&id, Action::Cancel, String::new()).await.unwrap();
    receipt_on(&ben, &id).await;
    let receipt = match ben.agreement(&id).unwrap().receipt.unwrap().body.content {
        Content::Receipt(r) => r,
        _ => unreachable!("a receipt"),
    };

    // Ben's own review: taken everywhere (the rule lets parties through).
    ben.review(&id, 4, "Fine, cancelled in time.".into())
        .await
        .expect("a party reviews");
    let by = |node: &Node, author: swapmesh_protocol::AuthorKey| {
        node.social_of(&author, &[RecordKind::Review], None, 10)
            .unwrap()
            .0
            .into_iter()
            .filter(|r| r.body.author == author)
            .count()
    };
    for node in [&ana, &cas] {
        wait_until("Ben's review", || async { by(node, ben.author()) == 1 }).await;
    }

    // A stranger's review embedding the same real receipt: nobody keeps it.
    let stranger = fixtures::key(300);
    let forger = kit::raw_peer().await;
    kit::connect_raw(&forger, &cas).await;
    let mut body = fixtures::listing_body(
        swapmesh_protocol::signed::author_of(&stranger),
        "u4pru",
        fixtures::listing("x"),
        clock.now(),
    );
    body.content = Content::Review(Review {
        receipt,
        rating: 1,
        text: "Never trust them.".into(),
    });
    let record = SignedRecord::sign(&body, &stranger);
    let topic = Topic::area(&swapmesh_protocol::Geohash::parse_cell("u4pru").unwrap());
    let data = GossipMessage::record(record).encode();
    wait_until("the stranger's review to be published", || async {
        forger.publish(topic.as_str(), data.clone()).await.is_ok()
    })
    .await;
    let peer = forger.local_peer_id();
    wait_until("the sender charged", || async {
        misbehaviour_of(&cas, peer).await > 0.0
    })
    .await;
    let author = swapmesh_protocol::signed::author_of(&stranger);
    for node in [&ana, &ben, &cas] {
        assert_eq!(by(node, author), 0, "a non-party's review was stored");
        let of_ana = node
            .social_of(&ana.author(), &[RecordKind::Review], None, 10)
            .unwrap()
            .0;
        assert!(of_ana.iter().all(|r| r.body.author == ben.author()));
    }
}
