//! Every kind to its end state; events sent again change nothing.

use swapmesh_protocol::agreement::{Action, Deal, Leg, Phase, Resolution};
use swapmesh_protocol::fixtures::chain::{Chain, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::DAY;

use super::*;
use Side::{Provider, Receiver};
use swapmesh_protocol::agreement::{AgreementError, Applied, apply, replay};
use swapmesh_protocol::social::Outcome;

#[test]
fn every_kind_reaches_its_end_state() {
    // Share: handover, return, the deposit back.
    let mut share = handed_over(DealKind::Share);
    assert_eq!(share.agreement().phase, Phase::Active);
    let ret = share
        .act(
            Receiver,
            Action::Return { leg: Leg::Provider },
            at(DAY as i64),
        )
        .unwrap()
        .id();
    share
        .act(
            Provider,
            Action::Confirm {
                of: ret,
                deposit_returned: Some(eur(5000)),
            },
            at(DAY as i64),
        )
        .unwrap();
    assert_eq!(share.agreement().phase, Phase::Completed);
    let receipt = share.agreement().receipt_statement().unwrap();
    assert_eq!(
        (receipt.outcome, receipt.on_time, receipt.ended_at),
        (Outcome::Completed, Some(true), at(DAY as i64))
    );
    assert_eq!(receipt.provider, author_of(&share.provider));

    // Rent with two counters, an extension and a late return.
    let mut rent = Chain::new();
    let terms = rent.terms(DealKind::Rent, T);
    rent.act(Receiver, rent.proposal(terms.clone()), T).unwrap();
    let mut dearer = terms.clone();
    if let Deal::Rent { price, .. } = &mut dearer.deal {
        price.money = eur(700);
    }
    rent.act(
        Provider,
        Action::Counter {
            terms: dearer.clone(),
        },
        T.plus(60),
    )
    .unwrap();
    let mut middle = dearer;
    if let Deal::Rent { price, .. } = &mut middle.deal {
        price.money = eur(600);
    }
    rent.act(
        Receiver,
        Action::Counter {
            terms: middle.clone(),
        },
        T.plus(120),
    )
    .unwrap();
    assert_eq!(rent.agreement().terms, middle);
    rent.act(
        Provider,
        Action::Accept {
            terms: middle.hash(),
        },
        T.plus(180),
    )
    .unwrap();
    assert_eq!(rent.agreement().phase, Phase::Accepted);
    act_confirmed(
        &mut rent,
        Provider,
        Action::Handover { leg: Leg::Provider },
        at(0),
    );
    let new_due = DUE.plus(2 * DAY);
    act_confirmed(
        &mut rent,
        Receiver,
        Action::Extend { due: new_due },
        at(3600),
    );
    assert_eq!(rent.agreement().due, Some(new_due));
    act_confirmed(
        &mut rent,
        Receiver,
        Action::Return { leg: Leg::Provider },
        new_due.plus(1),
    );
    let receipt = rent.agreement().receipt_statement().unwrap();
    assert_eq!(rent.agreement().phase, Phase::Completed);
    assert_eq!(receipt.on_time, Some(false), "returned a second late");

    // Lease: notice (a cancel while active) sets the due date, then the return.
    let mut lease = handed_over(DealKind::Lease);
    assert_eq!(lease.agreement().due, None);
    lease
        .act(Receiver, Action::Cancel, at(30 * DAY as i64))
        .unwrap();
    assert_eq!(lease.agreement().phase, Phase::Active);
    assert_eq!(lease.agreement().due, Some(at(44 * DAY as i64)));
    act_confirmed(
        &mut lease,
        Receiver,
        Action::Return { leg: Leg::Provider },
        at(44 * DAY as i64),
    );
    assert_eq!(lease.agreement().phase, Phase::Completed);
    assert_eq!(
        lease.agreement().receipt_statement().unwrap().on_time,
        Some(true)
    );

    // Swap until a date: both legs out and back.
    let mut swap = Chain::accepted(DealKind::Swap, T);
    act_confirmed(
        &mut swap,
        Provider,
        Action::Handover { leg: Leg::Provider },
        at(0),
    );
    act_confirmed(
        &mut swap,
        Receiver,
        Action::Handover { leg: Leg::Receiver },
        at(0),
    );
    assert_eq!(swap.agreement().phase, Phase::Active);
    act_confirmed(
        &mut swap,
        Receiver,
        Action::Return { leg: Leg::Provider },
        at(DAY as i64),
    );
    assert_eq!(swap.agreement().phase, Phase::Active, "one leg still away");
    act_confirmed(
        &mut swap,
        Provider,
        Action::Return { leg: Leg::Receiver },
        at(DAY as i64),
    );
    assert_eq!(swap.agreement().phase, Phase::Completed);

    // Swap for good: both handovers confirmed complete it.
    let mut forever = Chain::new();
    let mut terms = forever.terms(DealKind::Swap, T);
    if let Deal::Swap { until, .. } = &mut terms.deal {
        *until = None;
    }
    forever.act(Receiver, forever.proposal(terms), T).unwrap();
    let hash = forever.agreement().terms_hash;
    forever
        .act(Provider, Action::Accept { terms: hash }, T)
        .unwrap();
    act_confirmed(
        &mut forever,
        Receiver,
        Action::Handover { leg: Leg::Receiver },
        at(0),
    );
    assert_eq!(forever.agreement().phase, Phase::Active);
    act_confirmed(
        &mut forever,
        Provider,
        Action::Handover { leg: Leg::Provider },
        at(0),
    );
    assert_eq!(forever.agreement().phase, Phase::Completed);
    assert_eq!(
        forever.agreement().receipt_statement().unwrap().on_time,
        None
    );

    // Give: the confirmed handover completes it.
    let give = handed_over(DealKind::Give);
    assert_eq!(give.agreement().phase, Phase::Completed);

    // Cancel before any handover.
    let mut cancelled = Chain::accepted(DealKind::Rent, T);
    cancelled
        .act(Receiver, Action::Cancel, T.plus(7200))
        .unwrap();
    assert_eq!(cancelled.agreement().phase, Phase::Cancelled);
    assert_eq!(
        cancelled.agreement().receipt_statement().unwrap().outcome,
        Outcome::Cancelled
    );

    // Decline and withdraw end an offer without a receipt.
    let mut declined = Chain::new();
    declined
        .act(
            Receiver,
            declined.proposal(declined.terms(DealKind::Share, T)),
            T,
        )
        .unwrap();
    let mut withdrawn = declined.clone();
    declined.act(Provider, Action::Decline, T).unwrap();
    assert_eq!(declined.agreement().phase, Phase::Declined);
    assert_eq!(declined.agreement().receipt_statement(), None);
    withdrawn.act(Receiver, Action::Withdraw, T).unwrap();
    assert_eq!(withdrawn.agreement().phase, Phase::Withdrawn);

    // Dispute, then each resolution; returns and confirms stay legal meanwhile.
    for outcome in [Resolution::Returned, Resolution::Kept, Resolution::Other] {
        let mut disputed = handed_over(DealKind::Rent);
        disputed
            .act(Provider, Action::Dispute, at(DAY as i64))
            .unwrap();
        assert_eq!(disputed.agreement().phase, Phase::Disputed);
        if outcome == Resolution::Returned {
            act_confirmed(
                &mut disputed,
                Receiver,
                Action::Return { leg: Leg::Provider },
                at(DAY as i64),
            );
            assert_eq!(disputed.agreement().phase, Phase::Disputed);
        }
        act_confirmed(
            &mut disputed,
            Provider,
            Action::Resolve { outcome },
            at(2 * DAY as i64),
        );
        assert_eq!(disputed.agreement().phase, Phase::Resolved);
        assert_eq!(disputed.agreement().resolution, Some(outcome));
        assert_eq!(
            disputed.agreement().receipt_statement().unwrap().outcome,
            Outcome::Resolved
        );
        assert_eq!(disputed.agreement().hold(), None, "an end releases");
    }
}

/// A raw event body on the chain's head (or unlinked), for rows that need a field
#[test]
fn event_in_the_chain_is_acknowledged_again_and_changes_nothing() {
    let mut chain = handed_over(DealKind::Rent);
    let before = chain.state.clone();
    for event in chain.events.clone() {
        for now in [event.body().at, at(100 * DAY as i64)] {
            assert_eq!(
                apply(chain.state.as_ref(), &event, now),
                Ok(Applied::AlreadyInChain)
            );
        }
        chain.push(event, T).unwrap();
    }
    assert_eq!(chain.state, before);
    assert_eq!(chain.events.len(), 4);
}

#[test]
fn event_neither_in_the_chain_nor_on_its_head_is_refused() {
    let accepted = Chain::accepted(DealKind::Rent, T);
    // A decline signed on the proposal, as if the accept never came.
    let mut offered = accepted.clone();
    offered.state = Some(replay(&accepted.events[..1]).unwrap().unwrap());
    let decline = offered.sign(Provider, Action::Decline, T.plus(60));
    assert_eq!(
        apply(accepted.state.as_ref(), &decline, T.plus(60)),
        Err(AgreementError::Stale {
            head: accepted.agreement().head()
        })
    );
}
