//! `next_actions`: at each step of a rental and a swap, on both sides, exactly
//! the actions of which some form, really signed, applies.

use swapmesh_protocol::agreement::{Action, Agreement, Deal, Leg, Resolution};
use swapmesh_protocol::fixtures::chain::{Chain, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::{DAY, Timestamp};

use super::*;
use Side::{Provider, Receiver};

/// Every form of every action worth trying on `state` for `by`.
fn every_form(state: &Agreement) -> Vec<Action> {
    let mut changed = state.terms.clone();
    match &mut changed.deal {
        Deal::Rent { price, .. } => price.money.amount += 100,
        Deal::Swap { offer, .. } => offer.push('!'),
        _ => changed.pickup = Some("somewhere else".into()),
    }
    let mut ofs = vec![state.head()];
    ofs.extend(state.open.iter().flatten().map(|o| o.event));
    let mut forms = vec![
        Action::Counter { terms: changed },
        Action::Accept {
            terms: state.terms_hash,
        },
        Action::Decline,
        Action::Withdraw,
        Action::Cancel,
        Action::Dispute,
    ];
    for leg in [Leg::Provider, Leg::Receiver] {
        forms.push(Action::Handover { leg });
        forms.push(Action::Return { leg });
    }
    for of in ofs {
        for deposit_returned in [None, Some(eur(5000))] {
            forms.push(Action::Confirm {
                of,
                deposit_returned,
            });
        }
    }
    let due = state.due.unwrap_or(START);
    forms.push(Action::Extend {
        due: due.plus(2 * DAY),
    });
    for outcome in [Resolution::Returned, Resolution::Kept, Resolution::Other] {
        forms.push(Action::Resolve { outcome });
    }
    forms
}

/// The names of the actions `by` may take at `now`, found by signing every
/// form and applying it to a copy of the chain.
fn succeeding(chain: &Chain, by: Side, now: Timestamp) -> Vec<&'static str> {
    let state = chain.agreement();
    let at = state.sign_at(now);
    let mut names: Vec<&'static str> = Vec::new();
    for action in every_form(state) {
        let name = action.name();
        let mut copy = chain.clone();
        if !names.contains(&name) && copy.act(by, action, at).is_ok() {
            names.push(name);
        }
    }
    names.sort_unstable();
    names
}

fn assert_next_is_exact(chain: &Chain, now: Timestamp, step: &str) {
    for side in [Provider, Receiver] {
        let who = author_of(chain.key(side));
        let mut listed = chain.agreement().next_actions(who, now);
        listed.sort_unstable();
        assert_eq!(
            listed,
            succeeding(chain, side, now),
            "{step}: the {side:?}'s next"
        );
    }
}

/// Walks `kind` from proposal to completion, checking `next` before each step.
fn walk(kind: DealKind) {
    let mut chain = Chain::new();
    let terms = chain.terms(kind, T);
    chain
        .act(Receiver, chain.proposal(terms), T)
        .expect("proposal applies");
    let mut now = T;
    assert_next_is_exact(&chain, now, "proposed");

    let mut countered = chain.agreement().terms.clone();
    countered.pickup = Some("at the corner".into());
    chain
        .act(Provider, Action::Counter { terms: countered }, now)
        .expect("counter applies");
    assert_next_is_exact(&chain, now, "countered");
    let hash = chain.agreement().terms_hash;
    chain
        .act(Receiver, Action::Accept { terms: hash }, now)
        .expect("accept applies");
    assert_next_is_exact(&chain, now, "accepted");

    now = at(0);
    let legs: &[(Leg, Side, Side)] = if kind == DealKind::Swap {
        &[
            (Leg::Provider, Provider, Receiver),
            (Leg::Receiver, Receiver, Provider),
        ]
    } else {
        &[(Leg::Provider, Provider, Receiver)]
    };
    for &(leg, owner, other) in legs {
        let handover = chain
            .act(owner, Action::Handover { leg }, now)
            .expect("handover applies")
            .id();
        assert_next_is_exact(&chain, now, "handed over");
        chain
            .act(other, confirm(handover), now)
            .expect("confirm applies");
        assert_next_is_exact(&chain, now, "handover confirmed");
    }
    let extend = chain
        .act(Receiver, Action::Extend { due: DUE.plus(DAY) }, now)
        .expect("extend applies")
        .id();
    assert_next_is_exact(&chain, now, "extension asked");
    chain
        .act(Provider, confirm(extend), now)
        .expect("confirm applies");
    now = DUE.plus(2 * DAY);
    assert_next_is_exact(&chain, now, "overdue");
    for &(leg, owner, other) in legs {
        let back = chain
            .act(other, Action::Return { leg }, now)
            .expect("return applies")
            .id();
        assert_next_is_exact(&chain, now, "returned");
        chain
            .act(owner, confirm(back), now)
            .expect("confirm applies");
    }
    assert!(chain.agreement().phase.is_ended());
    assert_next_is_exact(&chain, now, "completed");
}

#[test]
fn next_lists_exactly_what_applies_through_a_rental() {
    walk(DealKind::Rent);
}

#[test]
fn next_lists_exactly_what_applies_through_a_swap() {
    walk(DealKind::Swap);
}

#[test]
fn next_lists_exactly_what_applies_in_a_dispute() {
    let mut chain = handed_over(DealKind::Share);
    let now = at(DAY as i64);
    chain
        .act(Receiver, Action::Dispute, now)
        .expect("dispute applies");
    assert_next_is_exact(&chain, now, "disputed");
    let resolve = chain
        .act(
            Provider,
            Action::Resolve {
                outcome: Resolution::Kept,
            },
            now,
        )
        .expect("resolve applies")
        .id();
    assert_next_is_exact(&chain, now, "resolve asked");
    chain
        .act(Receiver, confirm(resolve), now)
        .expect("confirm applies");
    assert_next_is_exact(&chain, now, "resolved");
}

#[test]
fn next_after_the_offer_expired_is_a_decline_or_a_withdraw() {
    let mut chain = Chain::new();
    let terms = chain.terms(DealKind::Share, T);
    let expires = terms.offer_expires;
    chain
        .act(Receiver, chain.proposal(terms), T)
        .expect("proposal applies");
    assert_next_is_exact(&chain, expires, "expired");
    let receiver = author_of(&chain.receiver);
    let provider = author_of(&chain.provider);
    assert_eq!(
        chain.agreement().next_actions(receiver, expires),
        vec!["withdraw"]
    );
    assert_eq!(
        chain.agreement().next_actions(provider, expires),
        vec!["decline"]
    );
}
