//! Agreements between whole nodes (issue 15): the provider's node sequences, the
//! other party's events wait as pending, holds stop double booking, the outbox
//! survives restarts. All nodes read one clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use swapmesh_node::{Acted, AgreementView, Clock, ListFilter, ManualClock, Node, Proposal};
use swapmesh_protocol::agreement::event::EVENT_VERSION;
use swapmesh_protocol::agreement::wire::{AgreeRequest, AgreeResponse, Refusal, Request, Response};
use swapmesh_protocol::agreement::{
    Action, Agreement, Deal, EventBody, Leg, Phase, Terms, VerifiedEvent, replay, sign_event,
};
use swapmesh_protocol::fixtures;
use swapmesh_protocol::listing::{ListingStatus, Money, Period, Price};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AgreementId, Content, ListingId, Timestamp};

use crate::kit::{self, TestNode, wait_until};

pub(crate) const CELL: &str = "u4pru";

/// A node in the test cell on the shared clock, answering agreement calls after
/// at most 300 ms of waiting for the other node.
pub(crate) async fn node_on(clock: &ManualClock) -> TestNode {
    node_on_with(clock, CELL, |_, _| {}).await
}

/// [`node_on`] in `area`, its data directory and config adjusted by `adjust`.
pub(crate) async fn node_on_with(
    clock: &ManualClock,
    area: &str,
    adjust: impl FnOnce(&std::path::Path, &mut swapmesh_node::NodeConfig),
) -> TestNode {
    let clock = clock.clone();
    TestNode::start(move |dir| {
        let mut config = kit::config(dir, Some(area));
        config.clock = Arc::new(clock);
        config.agreement_ack_wait = Duration::from_millis(300);
        config.agreement_tick = Duration::ZERO;
        adjust(dir, &mut config);
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

pub(crate) fn confirm(of: swapmesh_protocol::agreement::EventId) -> Action {
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
    assert_eq!(
        ben.agreement(&id).unwrap().pending.unwrap().event.id,
        *event
    );
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
    assert_eq!(
        ana.agreements(&ListFilter::default()).unwrap().0.len(),
        1,
        "nothing stored for it"
    );
    let refused_id = cas.agreements(&ListFilter::default()).unwrap().0[0]
        .state
        .id;
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

/// A taker with no node behind it: a bare network peer with its own key that
/// signs and delivers events by hand.
pub(crate) struct RawTaker {
    pub(crate) net: swapmesh_net::NetworkHandle,
    pub(crate) key: swapmesh_protocol::SigningKey,
}

impl RawTaker {
    pub(crate) async fn new(seed: u64, node: &Node) -> Self {
        let key = fixtures::key(seed);
        let keypair = swapmesh_node::identity::libp2p_keypair(&key);
        let net = kit::raw_peer_with(|c| c.keypair = keypair).await;
        kit::connect_raw(&net, node).await;
        Self { net, key }
    }

    pub(crate) fn author(&self) -> swapmesh_protocol::AuthorKey {
        swapmesh_protocol::signed::author_of(&self.key)
    }

    /// Sends a request frame as is.
    pub(crate) async fn send_frame(&self, to: &Node, frame: Vec<u8>) -> Response {
        let bytes = self
            .net
            .send_request(swapmesh_net::Protocol::Agree, to.peer_id(), frame)
            .await
            .expect("an answer");
        AgreeResponse::decode(&bytes).expect("a response frame")
    }

    pub(crate) async fn deliver(&self, to: &Node, events: &[&VerifiedEvent]) -> Response {
        let events = events.iter().map(|e| e.signed().clone()).collect();
        self.send_frame(to, AgreeRequest::V1(Request::Deliver { events }).encode())
            .await
    }

    /// A proposal of `deal` on `listing` (held by `node`), signed at `at`.
    pub(crate) fn propose(
        &self,
        node: &Node,
        listing: &ListingId,
        deal: Deal,
        at: Timestamp,
    ) -> VerifiedEvent {
        let copy = node.listing(listing).unwrap().expect("listing held").signed;
        self.propose_on(copy, listing, deal, at)
    }

    /// A proposal of `deal` on the version `copy` of `listing`, signed at `at`.
    fn propose_on(
        &self,
        copy: swapmesh_protocol::SignedRecord,
        listing: &ListingId,
        deal: Deal,
        at: Timestamp,
    ) -> VerifiedEvent {
        let terms = Terms {
            listing: copy.id(),
            provider: listing.author,
            receiver: self.author(),
            deal,
            pickup: None,
            offer_expires: at.plus(DAY),
        };
        let body = EventBody {
            version: EVENT_VERSION,
            link: None,
            signer: self.author(),
            at,
            action: Action::Propose {
                terms,
                listing: copy,
                theirs: None,
            },
            note: String::new(),
        };
        sign_event(body, &self.key).unwrap()
    }

    /// `action` signed on `state`'s head at `at`.
    pub(crate) fn next(&self, state: &Agreement, action: Action, at: Timestamp) -> VerifiedEvent {
        sign_event(
            state.next_event(self.author(), at, action, String::new()),
            &self.key,
        )
        .unwrap()
    }
}

/// The state after `events` (each applied as of its own time).
pub(crate) fn state_of(events: &[&VerifiedEvent]) -> Agreement {
    replay(events.iter().copied()).unwrap().unwrap()
}

pub(crate) async fn misbehaviour_of(node: &Node, peer: swapmesh_net::PeerId) -> f64 {
    kit::misbehaviour_of(node, peer).await.unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_events_are_refused_and_change_nothing() {
    let clock = ManualClock::starting_now();
    // A patient provider: it charges each forgery but blocks only after many.
    let ana = node_on_with(&clock, CELL, |_, c| c.misbehaviour.block_threshold = 1000.0).await;
    let listing = {
        ana.publish_listing(fixtures::listing("drill"))
            .await
            .unwrap();
        kit::listing_id(&ana, "drill")
    };
    let taker = RawTaker::new(77, &ana).await;
    let peer = taker.net.local_peer_id();
    let now = clock.now();
    let proposal = taker.propose(&ana, &listing, rent(now.plus(DAY), 2, 500), now);
    let Response::Ack { head } = taker.deliver(&ana, &[&proposal]).await else {
        panic!("an honest proposal is taken");
    };
    assert_eq!(head, proposal.id());
    let offered = state_of(&[&proposal]);
    let before = (
        ana.agreements(&ListFilter::default()).unwrap().0.len(),
        chain_bytes(&ana, &offered.id),
    );

    // Stale: a counter on a head that is not the head — refused, not charged.
    let counter = taker.next(
        &offered,
        Action::Counter {
            terms: offered.terms.clone(),
        },
        now,
    );
    let mut on_old_head = counter.body().clone();
    on_old_head.link.as_mut().unwrap().prev = swapmesh_protocol::agreement::EventId([9; 32]);
    let stale = sign_event(on_old_head, &taker.key).unwrap();
    assert_eq!(
        taker.deliver(&ana, &[&stale]).await,
        Response::Stale { head }
    );
    assert_eq!(
        misbehaviour_of(&ana, peer).await,
        0.0,
        "a stale sender is not charged"
    );

    // Each forgery: refused, nothing stored, the sender charged.
    let third = fixtures::key(78);
    let by_third = sign_event(
        EventBody {
            signer: swapmesh_protocol::signed::author_of(&third),
            ..offered.next_event(taker.author(), now, Action::Withdraw, String::new())
        },
        &third,
    )
    .unwrap();
    let mut altered = counter.signed().clone();
    let n = altered.body.len();
    altered.body[n - 3] ^= 1;
    let mut forged = counter.signed().clone();
    forged.sig = swapmesh_protocol::agreement::SignedEvent::sign(counter.body(), &third).sig;
    let wrong_hash = {
        // The provider's accept is the only accept due; a taker accepting its own
        // terms is not its turn — so send an accept with a wrong hash on terms
        // the provider countered (built here as the provider would not).
        taker.next(
            &offered,
            Action::Accept {
                terms: swapmesh_protocol::agreement::TermsHash([3; 32]),
            },
            now,
        )
    };
    let mut charged = 0.0;
    for (what, frame, refusal) in [
        ("altered terms", altered, Refusal::BadSignature),
        ("forged signature", forged, Refusal::BadSignature),
        (
            "third-party signer",
            by_third.signed().clone(),
            Refusal::NotAParty,
        ),
    ] {
        let answer = taker
            .send_frame(
                &ana,
                AgreeRequest::V1(Request::Deliver {
                    events: vec![frame],
                })
                .encode(),
            )
            .await;
        assert!(
            matches!(answer, Response::Refused { refusal: r, .. } if r == refusal),
            "{what}: {answer:?}"
        );
        let now_charged = misbehaviour_of(&ana, peer).await;
        assert!(now_charged > charged, "{what}: the forger is charged");
        charged = now_charged;
    }
    // An accept by the signer of the terms is not its turn (no blame); with a
    // wrong hash after a provider's counter it is a wrong hash (blamed): here
    // the turn is checked first.
    let answer = taker.deliver(&ana, &[&wrong_hash]).await;
    assert!(
        matches!(
            answer,
            Response::Refused {
                refusal: Refusal::NotYourTurn,
                ..
            }
        ),
        "{answer:?}"
    );
    let after = (
        ana.agreements(&ListFilter::default()).unwrap().0.len(),
        chain_bytes(&ana, &offered.id),
    );
    assert_eq!(before, after, "nothing changed");

    // The provider counters; the taker's accept with a wrong hash is charged.
    ana.counter(
        &offered.id,
        |t| t.offer_expires = t.offer_expires.plus(1),
        String::new(),
    )
    .await
    .unwrap();
    let countered = ana.agreement(&offered.id).unwrap().state;
    let wrong = taker.next(
        &countered,
        Action::Accept {
            terms: swapmesh_protocol::agreement::TermsHash([3; 32]),
        },
        now,
    );
    let answer = taker.deliver(&ana, &[&wrong]).await;
    assert!(
        matches!(
            answer,
            Response::Refused {
                refusal: Refusal::TermsHash,
                ..
            }
        ),
        "{answer:?}"
    );
    assert!(
        misbehaviour_of(&ana, peer).await > charged,
        "a wrong terms hash is charged"
    );
    assert_eq!(ana.agreement(&offered.id).unwrap().state, countered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_event_is_acknowledged_again_and_applied_once() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    ana.publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(&ana, "drill");
    let taker = RawTaker::new(80, &ana).await;
    let now = clock.now();
    let proposal = taker.propose(&ana, &listing, rent(now.plus(DAY), 2, 500), now);
    let offered = state_of(&[&proposal]);
    let counter = taker.next(&offered, Action::Withdraw, now);
    assert_eq!(
        taker.deliver(&ana, &[&proposal]).await,
        Response::Ack {
            head: proposal.id()
        }
    );
    assert_eq!(
        taker.deliver(&ana, &[&counter]).await,
        Response::Ack { head: counter.id() }
    );
    for _ in 0..3 {
        // The whole chain again, and each event alone: acknowledged at the head.
        assert_eq!(
            taker.deliver(&ana, &[&proposal, &counter]).await,
            Response::Ack { head: counter.id() }
        );
        assert_eq!(
            taker.deliver(&ana, &[&proposal]).await,
            Response::Ack { head: counter.id() }
        );
    }
    let state = ana.agreement(&offered.id).unwrap().state;
    assert_eq!(state.chain.len(), 2, "applied once");
    assert_eq!(state.phase, Phase::Withdrawn);
}

/// The taker's accept reached the provider, but the answer was lost: sent again
/// it is acknowledged (it is in the chain), not refused as stale, even after the
/// provider appended more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_a_lost_ack_is_acknowledged_not_stale() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    ana.publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(&ana, "drill");
    let taker = RawTaker::new(81, &ana).await;
    let now = clock.now();
    let proposal = taker.propose(&ana, &listing, rent(now.plus(DAY), 2, 500), now);
    taker.deliver(&ana, &[&proposal]).await;
    let id = proposal.id().as_agreement();
    ana.counter(
        &id,
        |t| t.offer_expires = t.offer_expires.plus(1),
        String::new(),
    )
    .await
    .unwrap();
    let countered = ana.agreement(&id).unwrap().state;
    let accept = taker.next(
        &countered,
        Action::Accept {
            terms: countered.terms_hash,
        },
        now,
    );
    assert_eq!(
        taker.deliver(&ana, &[&accept]).await,
        Response::Ack { head: accept.id() }
    );
    // The ack is "lost"; meanwhile the provider hands over.
    clock.advance(DAY);
    ana.act(&id, Action::Handover { leg: Leg::Provider }, String::new())
        .await
        .unwrap();
    let head = ana.agreement(&id).unwrap().state.head();
    assert_ne!(head, accept.id());
    assert_eq!(
        taker.deliver(&ana, &[&accept]).await,
        Response::Ack { head },
        "in the chain: acknowledged, whatever the head"
    );
    assert_eq!(ana.agreement(&id).unwrap().state.chain.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_request_version_is_refused_without_blame() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let taker = RawTaker::new(82, &ana).await;
    let peer = taker.net.local_peer_id();
    let mut frame = AgreeRequest::V1(Request::Deliver { events: vec![] }).encode();
    frame[0] = 1; // version 2
    assert_eq!(
        taker.send_frame(&ana, frame.clone()).await,
        Response::Refused {
            refusal: Refusal::Unsupported,
            head: None
        }
    );
    frame[0] = 0;
    frame[1] = 9; // a request of a later version of the protocol
    assert!(matches!(
        taker.send_frame(&ana, frame).await,
        Response::Refused {
            refusal: Refusal::Unsupported,
            ..
        }
    ));
    assert_eq!(misbehaviour_of(&ana, peer).await, 0.0, "no blame");
    // Garbage is another matter.
    let garbage = taker.send_frame(&ana, vec![0, 0, 0xff, 0xff]).await;
    assert!(matches!(
        garbage,
        Response::Refused {
            refusal: Refusal::Malformed,
            ..
        }
    ));
    assert!(
        misbehaviour_of(&ana, peer).await > 0.0,
        "a malformed frame is charged"
    );
}

/// The taker's accept, signed while the provider was away, arrives over an hour
/// late: refused as too old, signed again on the head with a fresh time, taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_event_is_refused_too_old_and_signed_again() {
    let clock = ManualClock::starting_now();
    let mut ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let proposed = ben
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 2, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.counter(
        &id,
        |t| t.offer_expires = t.offer_expires.plus(1),
        String::new(),
    )
    .await
    .unwrap();
    wait_until("the counter at ben", || async {
        ben.agreement(&id).unwrap().state.terms_by == ana.author()
    })
    .await;
    ana.stop().await;
    let signed_at = clock.now();
    let Acted::Pending { event: old, .. } = ben.accept(&id, String::new()).await.unwrap() else {
        panic!("ana is away");
    };
    clock.advance(3600);
    ana.resume(|_| {}).await;
    kit::connect(&ben, &ana).await;
    wait_phase(&ana, &id, Phase::Accepted).await;
    wait_phase(&ben, &id, Phase::Accepted).await;
    let chain = ana.agreement(&id).unwrap();
    let accept = chain.events.last().unwrap();
    assert_ne!(accept.id, old, "signed again");
    assert!(accept.at >= signed_at.plus(3600), "with a fresh time");
    assert_eq!(chain_bytes(&ana, &id), chain_bytes(&ben, &id));
}

/// The sequencer's events and notes queued while the taker is away survive the
/// sequencer's restart and arrive in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_restart_and_delivers_in_order() {
    let clock = ManualClock::starting_now();
    let mut ana = node_on(&clock).await;
    let mut ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let proposed = ben
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 2, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.accept(&id, String::new()).await.unwrap();
    wait_phase(&ben, &id, Phase::Accepted).await;

    let ben_key = ben.author();
    ben.stop().await;
    clock.advance(DAY);
    for action in [Action::Handover { leg: Leg::Provider }, Action::Dispute] {
        let acted = ana.act(&id, action, String::new()).await.unwrap();
        assert!(matches!(
            acted,
            Acted::InChain {
                delivered: false,
                ..
            }
        ));
    }
    ana.note(&id, "the charger is in the bag".into())
        .await
        .unwrap();
    assert_eq!(ana.store().outbox(&ben_key).unwrap().len(), 3);
    ana.restart().await;
    ben.resume(|_| {}).await;
    kit::connect(&ben, &ana).await;
    wait_phase(&ben, &id, Phase::Disputed).await;
    wait_until("the note at ben", || async {
        ben.agreement(&id).unwrap().notes.len() == 1
    })
    .await;
    assert_eq!(chain_bytes(&ana, &id), chain_bytes(&ben, &id));
    wait_until("ana's outbox to empty", || async {
        ana.store().outbox(&ben.author()).unwrap().is_empty()
    })
    .await;
}

/// One agreement refused does not hold back another to the same peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_agreement_does_not_hold_back_another() {
    let clock = ManualClock::starting_now();
    let mut ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let drill = drill(&ana, &[&ben]).await;
    ana.publish_listing(fixtures::listing("tent"))
        .await
        .unwrap();
    let tent = kit::listing_id(&ana, "tent");
    wait_until("the tent at ben", || async {
        kit::held(&ben, &tent).is_some()
    })
    .await;
    ana.update_listing("drill", |l| l.status = ListingStatus::Paused)
        .await
        .unwrap();
    let paused = kit::held(&ana, &drill).unwrap();
    wait_until("the pause at ben", || async {
        kit::held(&ben, &drill) == Some(paused)
    })
    .await;

    ana.stop().await;
    let start = clock.now().plus(DAY);
    let on_drill = ben
        .propose(proposal(&drill, rent(start, 2, 500)))
        .await
        .unwrap();
    let on_tent = ben
        .propose(proposal(&tent, rent(start, 2, 500)))
        .await
        .unwrap();
    let (on_drill, on_tent) = (view(&on_drill).state.id, view(&on_tent).state.id);
    ana.resume(|_| {}).await;
    kit::connect(&ben, &ana).await;
    wait_phase(&ana, &on_tent, Phase::Offered).await;
    wait_until("the drill proposal refused", || async {
        ben.agreement(&on_drill).unwrap().refused == Some(Refusal::Unavailable)
    })
    .await;
    assert!(ana.agreement(&on_drill).is_err(), "nothing stored for it");
}

/// A taker that lost its store and came back with its key (from its words)
/// gets its chains back the next time the provider delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restored_from_its_mnemonic_gets_its_chains_back() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let mut ben = node_on(&clock).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let proposed = ben
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 2, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.accept(&id, String::new()).await.unwrap();
    wait_phase(&ben, &id, Phase::Accepted).await;

    let key = swapmesh_node::identity::load_key(&swapmesh_node::DataDir::new(ben.dir()))
        .unwrap()
        .unwrap();
    let words = swapmesh_protocol::keys::to_mnemonic(&key);
    ben.stop().await;
    let restored = node_on_with(&clock, CELL, |dir, _| {
        let data = swapmesh_node::DataDir::new(dir);
        data.prepare().unwrap();
        let key = swapmesh_protocol::keys::from_mnemonic(&words).unwrap();
        swapmesh_node::identity::write_key(&data, &key).unwrap();
    })
    .await;
    assert!(restored.agreement(&id).is_err(), "a fresh store");
    kit::connect(&restored, &ana).await;
    clock.advance(DAY);
    ana.act(&id, Action::Handover { leg: Leg::Provider }, String::new())
        .await
        .unwrap();
    wait_until("the whole chain at the restored node", || async {
        restored
            .agreement(&id)
            .is_ok_and(|a| a.state.chain.len() == 3)
    })
    .await;
    assert_eq!(chain_bytes(&ana, &id), chain_bytes(&restored, &id));
}

/// A proposal on a version whose terms have since changed is refused; one on a
/// version that differs from the current one only in status is taken. (A taker
/// that has not heard of the change yet: a bare peer holding the old copies.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_on_a_changed_listing_is_refused_but_a_status_change_is_not() {
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    ana.publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(&ana, "drill");
    let taker = RawTaker::new(83, &ana).await;
    let v1 = ana.listing(&listing).unwrap().unwrap().signed;
    ana.update_listing("drill", |l| {
        l.title = "Cordless drill, 18 V, three batteries".into()
    })
    .await
    .unwrap();
    let v2 = ana.listing(&listing).unwrap().unwrap().signed;
    let now = clock.now();
    let deal = rent(now.plus(DAY), 2, 500);
    let on_v1 = taker.propose_on(v1, &listing, deal.clone(), now);
    assert!(matches!(
        taker.deliver(&ana, &[&on_v1]).await,
        Response::Refused {
            refusal: Refusal::ListingChanged,
            ..
        }
    ));
    assert!(
        ana.agreements(&ListFilter::default()).unwrap().0.is_empty(),
        "nothing stored"
    );
    // Status-only versions since v2: paused, then active again.
    ana.update_listing("drill", |l| l.status = ListingStatus::Paused)
        .await
        .unwrap();
    let paused = ana.listing(&listing).unwrap().unwrap().signed;
    let on_paused = taker.propose_on(paused, &listing, deal.clone(), now);
    assert!(matches!(
        taker.deliver(&ana, &[&on_paused]).await,
        Response::Refused {
            refusal: Refusal::Unavailable,
            ..
        }
    ));
    ana.update_listing("drill", |l| l.status = ListingStatus::Active)
        .await
        .unwrap();
    let on_v2 = taker.propose_on(v2, &listing, deal, now);
    assert_eq!(
        taker.deliver(&ana, &[&on_v2]).await,
        Response::Ack { head: on_v2.id() }
    );
    wait_phase(&ana, &on_v2.id().as_agreement(), Phase::Offered).await;
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The log of every node of this test binary at debug level, from the first
/// call on: a process-wide subscriber (a scoped one misses events when tests
/// run in parallel threads, as tracing caches interest per call site).
fn debug_log() -> &'static kit::Log {
    static LOG: std::sync::OnceLock<kit::Log> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = kit::Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter("swapmesh_node=debug,swapmesh_net=debug,swapmesh_store=debug")
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the mesh tests");
        log
    })
}

/// A pickup place and a note go only to the two parties: not to a third node's
/// store (uncompressed, so a string in it would show), and into nobody's debug
/// log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_place_never_leaves_the_two_nodes() {
    let log = debug_log();
    let clock = ManualClock::starting_now();
    let ana = node_on(&clock).await;
    let ben = node_on(&clock).await;
    let mut cas = node_on_with(&clock, CELL, |_, c| c.store.compression = false).await;
    kit::connect(&ana, &ben).await;
    kit::connect(&ben, &cas).await;
    kit::connect(&ana, &cas).await;
    let listing = drill(&ana, &[&ben, &cas]).await;
    let pickup = format!("pickup-{}", hex::encode(rand::random::<[u8; 8]>()));
    let secret_note = format!("note-{}", hex::encode(rand::random::<[u8; 8]>()));
    let proposed = ben
        .propose(Proposal {
            pickup: Some(pickup.clone()),
            note: secret_note.clone(),
            ..proposal(&listing, rent(clock.now().plus(DAY), 2, 500))
        })
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.accept(&id, String::new()).await.unwrap();
    wait_phase(&ben, &id, Phase::Accepted).await;
    ben.note(&id, secret_note.clone()).await.unwrap();
    wait_until("the note at ana", || async {
        ana.agreement(&id).unwrap().notes.len() == 1
    })
    .await;
    // The listing's status changes travel to cas meanwhile.
    clock.advance(DAY);
    ana.tick().await.unwrap();
    wait_status(&cas, &listing, ListingStatus::Reserved).await;

    assert_eq!(
        ana.agreement(&id).unwrap().state.terms.pickup.as_deref(),
        Some(pickup.as_str()),
        "the parties have it"
    );
    let cas_dir = cas.dir().to_owned();
    cas.stop().await;
    let files = files_under(&cas_dir);
    assert!(
        files.iter().any(|(_, b)| contains(b, b"Cordless drill")),
        "the scan finds what cas does hold"
    );
    for (path, bytes) in files {
        for secret in [&pickup, &secret_note] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{secret} in {}",
                path.display()
            );
        }
    }
    let text = log.text();
    assert!(
        text.contains(&id.to_string()),
        "the log was captured: {text}"
    );
    assert!(!text.contains(&pickup), "the pickup place is never logged");
    assert!(!text.contains(&secret_note), "notes are never logged");
}

/// The taker has never met the provider (another area, nothing in its address
/// book, no connection): its outbox finds the provider through Kademlia, by way
/// of the one peer both know, and delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counterparty_outside_the_address_book_is_found_through_kademlia() {
    let clock = ManualClock::starting_now();
    let cas = node_on(&clock).await;
    let bootstrap = kit::address(&cas).await;
    let in_area = |area| node_on_with(&clock, area, |_, c| c.bootstrap = vec![bootstrap.clone()]);
    let ana = in_area(CELL).await;
    let ben = in_area("gcpvj").await;
    ana.publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = kit::listing_id(&ana, "drill");
    // Ben heard of the drill some other way: its copy goes straight into its store.
    let copy = ana.listing(&listing).unwrap().unwrap().signed;
    let verified = swapmesh_protocol::validate::check(copy, clock.now())
        .unwrap()
        .valid()
        .unwrap();
    ben.store().insert(&verified, clock.now()).unwrap();
    // A Kademlia walk of their starts may have connected them (by way of
    // cas, which knows both), putting ana in ben's address book: undo that
    // meeting, until a moment passes without one. A block closes the
    // connection and forgets her address; the network-level unblock dials
    // nobody.
    let met = || async {
        kit::connected(&ben, ana.peer_id()).await
            || ben
                .store()
                .peer(&ana.peer_id().to_bytes())
                .unwrap()
                .is_some()
    };
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !met().await {
            break;
        }
        ben.network().block_peer(ana.peer_id()).await.unwrap();
        kit::wait_until("ben to forget ana", || async { !met().await }).await;
        ben.network().unblock_peer(ana.peer_id()).await.unwrap();
    }
    assert!(!kit::connected(&ben, ana.peer_id()).await);
    assert!(
        ben.store()
            .peer(&ana.peer_id().to_bytes())
            .unwrap()
            .is_none(),
        "ana is not in ben's address book"
    );

    let proposed = ben
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 2, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    wait_phase(&ben, &id, Phase::Offered).await;
}

/// The `AgreementOverdue` events `events` holds now.
fn overdue_events(
    events: &mut tokio::sync::broadcast::Receiver<swapmesh_node::NodeEvent>,
) -> Vec<(AgreementId, Timestamp)> {
    let mut found = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let swapmesh_node::NodeEvent::AgreementOverdue { id, due } = event {
            found.push((id, due));
        }
    }
    found
}

fn overdue_list(node: &Node) -> Vec<AgreementId> {
    let filter = ListFilter {
        overdue: true,
        ..ListFilter::default()
    };
    let (found, _) = node.agreements(&filter).unwrap();
    found.iter().map(|s| s.state.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_appears_after_the_due_date_and_never_after_the_return() {
    let clock = ManualClock::starting_now();
    let no_grace = |_: &std::path::Path, c: &mut swapmesh_node::NodeConfig| c.overdue_grace = 0;
    let ana = node_on_with(&clock, CELL, no_grace).await;
    let ben = node_on_with(&clock, CELL, no_grace).await;
    kit::connect(&ana, &ben).await;
    let listing = drill(&ana, &[&ben]).await;
    let start = clock.now().plus(DAY);
    let due = start.plus(3 * DAY);
    let proposed = ben
        .propose(proposal(&listing, rent(start, 3, 500)))
        .await
        .unwrap();
    let id = view(&proposed).state.id;
    wait_phase(&ana, &id, Phase::Offered).await;
    ana.accept(&id, String::new()).await.unwrap();
    wait_phase(&ben, &id, Phase::Accepted).await;
    clock.set(start);
    ana.act(&id, Action::Handover { leg: Leg::Provider }, String::new())
        .await
        .unwrap();
    wait_until("the handover at ben", || async {
        ben.agreement(&id).unwrap().state.open[0].is_some()
    })
    .await;
    let handover = open_of(&ben.agreement(&id).unwrap(), 0);
    ben.act(&id, confirm(handover), String::new())
        .await
        .unwrap();
    wait_phase(&ana, &id, Phase::Active).await;

    let mut events = ana.subscribe_events();
    // A second before the due date: not yet.
    clock.set(Timestamp(due.secs() - 1));
    ana.tick().await.unwrap();
    assert!(overdue_events(&mut events).is_empty());
    assert!(overdue_list(&ana).is_empty());
    assert!(!ana.agreement(&id).unwrap().derived.overdue);

    // At the due date (grace 0): overdue, in the list and as one event, however
    // often the timers run.
    clock.set(due);
    ana.tick().await.unwrap();
    ana.tick().await.unwrap();
    assert_eq!(overdue_events(&mut events), vec![(id, due)]);
    assert_eq!(overdue_list(&ana), vec![id]);
    assert!(ana.agreement(&id).unwrap().derived.overdue);
    clock.advance(DAY);
    ana.tick().await.unwrap();
    assert!(overdue_events(&mut events).is_empty(), "once per due date");

    // A signed return ends it for good, confirmed or not.
    ben.act(&id, Action::Return { leg: Leg::Provider }, String::new())
        .await
        .unwrap();
    wait_until("the return at ana", || async {
        ana.agreement(&id).unwrap().state.open[1].is_some()
    })
    .await;
    assert!(overdue_list(&ana).is_empty());
    assert!(!ana.agreement(&id).unwrap().derived.overdue);
    assert!(overdue_list(&ben).is_empty());
    clock.advance(DAY);
    ana.tick().await.unwrap();
    assert!(overdue_events(&mut events).is_empty());
}
