//! Agreements between whole nodes (issue 15): the provider's node sequences, the
//! other party's events wait as pending, holds stop double booking, the outbox
//! survives restarts. All nodes read one clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use swapmesh_node::{Acted, AgreementView, Clock, ManualClock, Node, Proposal};
use swapmesh_protocol::agreement::{Action, Deal, Leg, Phase};
use swapmesh_protocol::fixtures;
use swapmesh_protocol::listing::{ListingStatus, Money, Period, Price};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AgreementId, Content, ListingId, Timestamp};

use crate::kit::{self, TestNode, wait_until};

const CELL: &str = "u4pru";

/// A node in the test cell on the shared clock, answering agreement calls after
/// at most 300 ms of waiting for the other node.
pub(crate) async fn node_on(clock: &ManualClock) -> TestNode {
    let clock = clock.clone();
    TestNode::start(move |dir| {
        let mut config = kit::config(dir, Some(CELL));
        config.clock = Arc::new(clock);
        config.agreement_ack_wait = Duration::from_millis(300);
        config.agreement_tick = Duration::ZERO;
        config
    })
    .await
}

pub(crate) fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: *b"EUR",
    }
}

/// A rent of the listing from `start` for `days`, at `price` cents a day.
pub(crate) fn rent(start: Timestamp, days: u64, price: i64) -> Deal {
    Deal::Rent {
        start,
        due: start.plus(days * DAY),
        price: Price {
            money: eur(price),
            per: Period::Day,
        },
        deposit: Some(eur(5000)),
        cancel_before: None,
    }
}

/// Publishes the fixture drill on `provider` and waits until `others` hold it.
pub(crate) async fn drill(provider: &Node, others: &[&Node]) -> ListingId {
    provider
        .publish_listing(fixtures::listing("drill"))
        .await
        .expect("listing published");
    let id = kit::listing_id(provider, "drill");
    for other in others {
        wait_until("the drill to arrive", || async {
            kit::held(other, &id).is_some()
        })
        .await;
    }
    id
}

pub(crate) fn proposal(listing: &ListingId, deal: Deal) -> Proposal {
    Proposal {
        listing: listing.clone(),
        version: None,
        receiver: None,
        deal,
        theirs: None,
        pickup: Some("by the blue gate".into()),
        offer_expires: None,
        note: String::new(),
    }
}

pub(crate) fn view(acted: &Acted) -> &AgreementView {
    match acted {
        Acted::InChain { view, .. } | Acted::Pending { view, .. } => view,
    }
}

/// Waits until `node` has agreement `id` in `phase`.
pub(crate) async fn wait_phase(node: &Node, id: &AgreementId, phase: Phase) {
    wait_until(&format!("agreement in phase {phase:?}"), || async {
        node.agreement(id)
            .is_ok_and(|a| a.state.phase == phase && a.pending.is_none())
    })
    .await;
}

/// Waits until `node` holds a version of `listing` with `status`.
pub(crate) async fn wait_status(node: &Node, listing: &ListingId, status: ListingStatus) {
    wait_until(&format!("the listing to show {status:?}"), || async {
        node.listing(listing)
            .ok()
            .flatten()
            .is_some_and(|r| matches!(&r.body.content, Content::Listing(l) if l.status == status))
    })
    .await;
}

/// The chain of `id` on `node`, as stored bytes.
pub(crate) fn chain_bytes(node: &Node, id: &AgreementId) -> Vec<Vec<u8>> {
    node.store()
        .agreement_events(id)
        .expect("events")
        .iter()
        .map(|e| e.encode())
        .collect()
}

/// The head event of the other party's confirmable act.
pub(crate) fn open_of(view: &AgreementView, party: usize) -> swapmesh_protocol::agreement::EventId {
    view.state.open[party].expect("an open act").event
}

fn confirm(of: swapmesh_protocol::agreement::EventId) -> Action {
    Action::Confirm {
        of,
        deposit_returned: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rental_with_a_counter_offer_completes_with_identical_chains() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    let cas = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    kit::connect(&ben, &cas).await;
    kit::connect(&ana, &cas).await;
    let listing = drill(&ana, &[&ben, &cas]).await;
    let now = clock.now();
    let start = now.plus(DAY);

    let proposed = ben
        .propose(proposal(&listing, rent(start, 3, 500)))
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    wait_phase(&ben, &id, Phase::Offered).await;

    let countered = ana
        .counter(
            &id,
            |t| {
                if let Deal::Rent { price, .. } = &mut t.deal {
                    price.money = eur(600);
                }
            },
            "six a day, it is new".into(),
        )
        .await
        .expect("counter");
    assert!(matches!(countered, Acted::InChain { .. }));
    wait_until("the counter to reach ben", || async {
        ben.agreement(&id).unwrap().state.terms_by == ana.author()
    })
    .await;
    let accepted = ben.accept(&id, String::new()).await.expect("accept");
    if let Acted::Pending { .. } = accepted {
        wait_phase(&ben, &id, Phase::Accepted).await;
    }
    wait_phase(&ana, &id, Phase::Accepted).await;
    // A booking in the future leaves the listing active; its start reserves it.
    ana.tick().await.unwrap();
    wait_status(&cas, &listing, ListingStatus::Active).await;
    clock.set(start);
    ana.tick().await.unwrap();
    wait_status(&cas, &listing, ListingStatus::Reserved).await;

    let handover = ana
        .act(&id, Action::Handover { leg: Leg::Provider }, String::new())
        .await
        .expect("handover");
    let handover = view(&handover).state.open[0].expect("open handover").event;
    wait_until("the handover to reach ben", || async {
        ben.agreement(&id).unwrap().state.open[0].is_some()
    })
    .await;
    ben.act(&id, confirm(handover), String::new())
        .await
        .expect("confirm");
    wait_phase(&ana, &id, Phase::Active).await;
    wait_status(&cas, &listing, ListingStatus::OnLoan).await;

    clock.advance(2 * DAY);
    let returned = ben
        .act(&id, Action::Return { leg: Leg::Provider }, String::new())
        .await
        .expect("return");
    if let Acted::Pending { .. } = returned {
        wait_until("the return in ben's chain", || async {
            ben.agreement(&id).unwrap().pending.is_none()
        })
        .await;
    }
    wait_until("the return at ana", || async {
        ana.agreement(&id).unwrap().state.open[1].is_some()
    })
    .await;
    let of = open_of(&ana.agreement(&id).unwrap(), 1);
    ana.act(
        &id,
        Action::Confirm {
            of,
            deposit_returned: Some(eur(5000)),
        },
        "all clean".into(),
    )
    .await
    .expect("confirm return");
    wait_phase(&ana, &id, Phase::Completed).await;
    wait_phase(&ben, &id, Phase::Completed).await;
    wait_status(&cas, &listing, ListingStatus::Active).await;

    let (a, b) = (chain_bytes(&ana, &id), chain_bytes(&ben, &id));
    assert_eq!(
        a.len(),
        7,
        "propose, counter, accept, handover, confirm, return, confirm"
    );
    assert_eq!(a, b, "both chains byte for byte");
    assert_eq!(
        ana.agreement(&id).unwrap().state,
        ben.agreement(&id).unwrap().state
    );
    assert!(
        ana.store().calendar(&listing).unwrap().is_empty(),
        "the end released the booking"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_marked_delivered_is_already_on_the_other_node() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let start = clock.now().plus(DAY);
    let proposed = ben
        .propose(proposal(&listing, rent(start, 2, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    for _ in 0..3 {
        let acted = ana
            .counter(
                &id,
                |t| t.offer_expires = t.offer_expires.plus(60),
                String::new(),
            )
            .await;
        // Alternate: ana counters, ben counters back.
        let Ok(Acted::InChain { view, delivered }) = acted else {
            panic!("the sequencer's event is in its chain: {acted:?}");
        };
        if delivered {
            let theirs = ben.agreement(&id).unwrap();
            assert_eq!(
                theirs.state.head(),
                view.state.head(),
                "delivered means ben has it"
            );
        }
        wait_until("ben to have the counter", || async {
            ben.agreement(&id).unwrap().state.head() == view.state.head()
        })
        .await;
        let back = ben
            .counter(
                &id,
                |t| t.offer_expires = t.offer_expires.plus(60),
                String::new(),
            )
            .await
            .unwrap();
        if let Acted::InChain { view, .. } = &back {
            assert_eq!(
                ana.agreement(&id).unwrap().state.head(),
                view.state.head(),
                "in ben's chain means ana appended it"
            );
        }
        wait_phase(&ben, &id, Phase::Offered).await;
        wait_until("ana to have ben's counter", || async {
            ana.agreement(&id).unwrap().state.head() == ben.agreement(&id).unwrap().state.head()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_waits_for_a_stopped_provider_and_acceptance_for_a_stopped_taker() {
    let clock = ManualClock::starting_now();
    let mut ana = node_on(&clock).await;
    let mut ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let start = clock.now().plus(DAY);

    ana.stop().await;
    let proposed = ben
        .propose(proposal(&listing, rent(start, 2, 500)))
        .await
        .unwrap();
    let Acted::Pending { event, .. } = &proposed else {
        panic!("with the provider away the proposal is pending: {proposed:?}");
    };
    let id = view(&proposed).state.id;
    assert_eq!(ben.agreement(&id).unwrap().pending.unwrap().id, *event);
    ana.resume(|_| {}).await;
    kit::connect(&ben, &ana).await;
    wait_phase(&ana, &id, Phase::Offered).await;
    wait_phase(&ben, &id, Phase::Offered).await;

    ben.stop().await;
    let accepted = ana.accept(&id, String::new()).await.unwrap();
    let Acted::InChain { delivered, .. } = accepted else {
        panic!("the sequencer's accept is in its chain at once");
    };
    assert!(!delivered, "ben is away");
    ben.resume(|_| {}).await;
    kit::connect(&ben, &ana).await;
    wait_phase(&ben, &id, Phase::Accepted).await;
    assert_eq!(chain_bytes(&ana, &id), chain_bytes(&ben, &id));
}

/// Two takers propose overlapping rentals at once; the provider can accept only
/// one of them: the second accept finds the first's hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_proposals_are_accepted_exactly_once() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    let cas = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    kit::connect(&ana, &cas).await;
    let listing = drill(&ana, &[&ben, &cas]).await;
    let start = clock.now().plus(DAY);
    let (b, c) = tokio::join!(
        ben.propose(proposal(&listing, rent(start, 3, 500))),
        cas.propose(proposal(&listing, rent(start.plus(DAY), 3, 500))),
    );
    let (b, c) = (view(&b.unwrap()).state.id, view(&c.unwrap()).state.id);
    wait_phase(&ana, &b, Phase::Offered).await;
    wait_phase(&ana, &c, Phase::Offered).await;
    let (first, second) =
        tokio::join!(ana.accept(&b, String::new()), ana.accept(&c, String::new()));
    let outcomes = [first, second];
    let won: Vec<_> = outcomes.iter().filter(|r| r.is_ok()).collect();
    let lost: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(won.len(), 1, "exactly one accepted: {outcomes:?}");
    assert!(
        matches!(lost[0], swapmesh_node::AgreeError::Overlaps { .. }),
        "the other overlaps: {:?}",
        lost[0]
    );
    let calendar = ana.store().calendar(&listing).unwrap();
    assert_eq!(calendar.entries().len(), 1, "one booking: {calendar:?}");
}

/// A taker's proposal for a period the provider holds for another agreement is
/// refused when it arrives, naming that period, and nothing is stored for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taker_proposal_overlapping_a_hold_is_refused_on_arrival() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    let cas = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    kit::connect(&ana, &cas).await;
    let listing = drill(&ana, &[&ben, &cas]).await;
    let start = clock.now().plus(DAY);
    let first = ben
        .propose(proposal(&listing, rent(start, 3, 500)))
        .await
        .unwrap();
    let first = view(&first).state.id;
    wait_phase(&ana, &first, Phase::Offered).await;
    ana.accept(&first, String::new()).await.unwrap();
    let held = ana.store().calendar(&listing).unwrap().entries()[0].0;

    let refused = cas
        .propose(proposal(&listing, rent(start.plus(DAY), 1, 500)))
        .await;
    match refused {
        Err(swapmesh_node::AgreeError::Overlaps { period }) => assert_eq!(period, held),
        other => panic!("refused with the period held: {other:?}"),
    }
    assert_eq!(ana.agreements().unwrap().len(), 1, "nothing stored for it");
    let refused_id = cas.agreements().unwrap()[0].state.id;
    assert!(cas.agreement(&refused_id).unwrap().refused.is_some());
    // After the booking there is room.
    let later = cas
        .propose(proposal(&listing, rent(start.plus(3 * DAY), 1, 500)))
        .await
        .unwrap();
    wait_phase(&ana, &view(&later).state.id, Phase::Offered).await;
}

/// An offer that expires unanswered releases the hold its provider took by
/// countering, and a taker's proposal still pending at its expiry is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_offer_releases_its_hold() {
    let clock = ManualClock::starting_now();
    let mut ana = node_on(&clock).await;
    let mut ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let start = clock.now().plus(DAY);
    let proposed = ben
        .propose(Proposal {
            offer_expires: Some(clock.now().plus(3600)),
            ..proposal(&listing, rent(start, 3, 500))
        })
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.counter(
        &id,
        |t| t.offer_expires = t.offer_expires.plus(60),
        String::new(),
    )
    .await
    .unwrap();
    assert_eq!(ana.store().calendar(&listing).unwrap().entries().len(), 1);
    clock.advance(3600 + 61);
    ana.tick().await.unwrap();
    assert!(
        ana.store().calendar(&listing).unwrap().is_empty(),
        "released"
    );
    assert!(ana.agreement(&id).unwrap().state.expired(clock.now()));

    // A pending proposal is dropped at its expiry, with `offer_expired`.
    let ana_author = ana.author();
    ana.stop().await;
    let mut recorder = kit::Recorder::new(&ben);
    let pending = ben
        .propose(Proposal {
            offer_expires: Some(clock.now().plus(600)),
            ..proposal(&listing, rent(start.plus(10 * DAY), 1, 500))
        })
        .await
        .unwrap();
    let Acted::Pending { event, .. } = pending else {
        panic!("ana is away: pending");
    };
    let dropped = view(&pending).state.id;
    clock.advance(601);
    ben.tick().await.unwrap();
    assert_eq!(
        ben.agreement(&dropped).unwrap().refused,
        Some(swapmesh_protocol::agreement::wire::Refusal::OfferExpired)
    );
    assert!(ben.agreement(&dropped).unwrap().pending.is_none());
    assert!(recorder.seen().iter().any(|e| matches!(
        e,
        swapmesh_node::NodeEvent::AgreementRefused { id, event: ev, .. } if *id == dropped && *ev == event
    )));
    ben.restart().await;
    assert!(
        ben.store().outbox(&ana_author).unwrap().is_empty(),
        "nothing left to send"
    );
}
