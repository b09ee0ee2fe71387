//! What is derived, never signed: the terms hash, lateness, overdue, status.

use swapmesh_protocol::agreement::{Action, Deal, Leg, Phase, Resolution};
use swapmesh_protocol::fixtures::chain::{Chain, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::{DAY, Timestamp};

use super::*;
use Side::{Provider, Receiver};
use swapmesh_protocol::agreement::{AgreementError, Applied, Terms, apply};
use swapmesh_protocol::listing::{Money, Period, Price};
use swapmesh_protocol::validate::MAX_CLOCK_SKEW;

#[rustfmt::skip]
/// Terms that differ from `base` in exactly one field, for every field of the
/// terms and of its kind's deal.
fn one_field_changed(base: &Terms) -> Vec<Terms> {
    let with = |f: &dyn Fn(&mut Terms)| {
        let mut t = base.clone();
        f(&mut t);
        t
    };
    let mut out = vec![
        with(&|t| t.listing.0[0] ^= 1),
        with(&|t| t.provider.0[0] ^= 1),
        with(&|t| t.receiver.0[0] ^= 1),
        with(&|t| t.pickup = None),
        with(&|t| t.pickup = Some("by the red gate".into())),
        with(&|t| t.offer_expires = t.offer_expires.plus(1)),
    ];
    let one = |m: Money| Some(Money { amount: m.amount + 1, ..m });
    let weekly = Price { money: eur(1), per: Period::Week };
    let deals = match base.deal.clone() {
        Deal::Share { start, due, deposit } => vec![
            Deal::Share { start: start.plus(1), due, deposit },
            Deal::Share { start, due: due.plus(1), deposit },
            Deal::Share { start, due, deposit: deposit.and_then(one) },
            Deal::Share { start, due, deposit: None },
        ],
        Deal::Rent { start, due, price, deposit, cancel_before } => vec![
            Deal::Rent { start: start.plus(1), due, price, deposit, cancel_before },
            Deal::Rent { start, due: due.plus(1), price, deposit, cancel_before },
            Deal::Rent { start, due, price: weekly, deposit, cancel_before },
            Deal::Rent { start, due, price: Price { per: Period::Hour, ..price }, deposit, cancel_before },
            Deal::Rent { start, due, price, deposit: deposit.and_then(one), cancel_before },
            Deal::Rent { start, due, price, deposit, cancel_before: None },
        ],
        Deal::Lease { start, end, price, notice_days } => vec![
            Deal::Lease { start: start.plus(1), end, price, notice_days },
            Deal::Lease { start, end: Some(DUE), price, notice_days },
            Deal::Lease { start, end, price: weekly, notice_days },
            Deal::Lease { start, end, price, notice_days: notice_days + 1 },
        ],
        Deal::Swap { theirs, offer, start, until } => vec![
            Deal::Swap { theirs: None, offer: offer.clone(), start, until },
            Deal::Swap { theirs, offer: format!("{offer}!"), start, until },
            Deal::Swap { theirs, offer: offer.clone(), start: start.plus(1), until },
            Deal::Swap { theirs, offer, start, until: None },
        ],
        Deal::Give { from, until } => vec![
            Deal::Give { from: from.plus(1), until },
            Deal::Give { from, until: until.plus(1) },
        ],
    };
    out.extend(deals.into_iter().map(|deal| Terms { deal, ..base.clone() }));
    out
}

#[test]
#[rustfmt::skip]
fn terms_hash_commits_to_every_field() {
    let chain = Chain::new();
    for kind in [DealKind::Share, DealKind::Rent, DealKind::Lease, DealKind::Swap, DealKind::Give] {
        let base = chain.terms(kind, T);
        assert_eq!(base.hash(), chain.terms(kind, T).hash(), "deterministic");
        for changed in one_field_changed(&base) {
            assert_ne!(changed, base, "{kind:?}: the variant changes a field");
            assert_ne!(changed.hash(), base.hash(), "{kind:?}: {changed:?}");
        }
    }
}

#[test]
fn accept_signed_at_offer_expiry_is_late_whatever_the_clock() {
    let mut offered = Chain::new();
    offered
        .act(
            Receiver,
            offered.proposal(offered.terms(DealKind::Share, T)),
            T,
        )
        .unwrap();
    let expires = offered.agreement().terms.offer_expires;
    let hash = offered.agreement().terms_hash;
    let late = offered.sign(Provider, Action::Accept { terms: hash }, expires);
    let in_time = offered.sign(
        Provider,
        Action::Accept { terms: hash },
        Timestamp(expires.0 - 1),
    );
    for now in [
        Timestamp(expires.0 - MAX_CLOCK_SKEW),
        expires,
        expires.plus(365 * DAY),
    ] {
        assert_eq!(
            apply(offered.state.as_ref(), &late, now),
            Err(AgreementError::OfferExpired {
                at: expires,
                offer_expires: expires
            }),
            "now {now:?}"
        );
        let accepted = apply(offered.state.as_ref(), &in_time, now).unwrap();
        assert!(
            matches!(&accepted, Applied::Changed(a) if a.phase == Phase::Accepted),
            "an accept signed a second before expiry stands whenever it arrives"
        );
    }
    // Our clock a year on says the offer has expired; the chain does not care.
    assert!(offered.agreement().expired(expires));
    assert!(!offered.agreement().expired(Timestamp(expires.0 - 1)));
}

#[test]
fn overdue_counts_from_an_unconfirmed_handover_and_stops_at_the_return() {
    const GRACE: u64 = 3600;
    let mut chain = Chain::accepted(DealKind::Rent, T);
    assert!(
        !chain.agreement().overdue(DUE.plus(DAY), GRACE),
        "nothing handed over"
    );
    let handover = chain
        .act(Provider, Action::Handover { leg: Leg::Provider }, at(0))
        .unwrap()
        .id();
    let agreement = chain.agreement();
    assert!(!agreement.overdue(DUE.plus(GRACE - 1), GRACE));
    assert!(
        agreement.overdue(DUE.plus(GRACE), GRACE),
        "unconfirmed handover"
    );
    chain.act(Receiver, confirm(handover), at(1)).unwrap();
    assert!(chain.agreement().overdue(DUE.plus(GRACE), GRACE));
    chain
        .act(
            Receiver,
            Action::Return { leg: Leg::Provider },
            DUE.plus(2 * GRACE),
        )
        .unwrap();
    assert!(
        !chain.agreement().overdue(DUE.plus(3 * GRACE), GRACE),
        "a signed return stops it, confirmed or not"
    );
}

#[test]
fn listing_status_table() {
    use swapmesh_protocol::agreement::listing_status;
    use swapmesh_protocol::ids::ListingId;
    use swapmesh_protocol::listing::ListingStatus::{self, *};

    let chain = Chain::new();
    let drill = ListingId {
        author: author_of(&chain.provider),
        d: "drill".into(),
    };
    let ladder = ListingId {
        author: author_of(&chain.receiver),
        d: "ladder".into(),
    };
    let offered = {
        let mut c = Chain::new();
        c.act(Receiver, c.proposal(c.terms(DealKind::Rent, T)), T)
            .unwrap();
        c
    };
    let accepted = Chain::accepted(DealKind::Rent, T);
    let handover_open = {
        let mut c = Chain::accepted(DealKind::Rent, T);
        c.act(Provider, Action::Handover { leg: Leg::Provider }, at(0))
            .unwrap();
        c
    };
    let active = handed_over(DealKind::Rent);
    let return_open = {
        let mut c = handed_over(DealKind::Rent);
        c.act(
            Receiver,
            Action::Return { leg: Leg::Provider },
            at(DAY as i64),
        )
        .unwrap();
        c
    };
    let completed = {
        let mut c = handed_over(DealKind::Rent);
        act_confirmed(
            &mut c,
            Receiver,
            Action::Return { leg: Leg::Provider },
            at(DAY as i64),
        );
        c
    };
    let given = handed_over(DealKind::Give);
    let swapped_for_good = {
        let mut c = Chain::new();
        let mut terms = c.terms(DealKind::Swap, T);
        if let Deal::Swap { until, .. } = &mut terms.deal {
            *until = None;
        }
        c.act(Receiver, c.proposal(terms), T).unwrap();
        let hash = c.agreement().terms_hash;
        c.act(Provider, Action::Accept { terms: hash }, T).unwrap();
        act_confirmed(
            &mut c,
            Receiver,
            Action::Handover { leg: Leg::Receiver },
            at(0),
        );
        act_confirmed(
            &mut c,
            Provider,
            Action::Handover { leg: Leg::Provider },
            at(0),
        );
        c
    };
    let swap_half_out = {
        let mut c = Chain::accepted(DealKind::Swap, T);
        act_confirmed(
            &mut c,
            Receiver,
            Action::Handover { leg: Leg::Receiver },
            at(0),
        );
        c
    };
    let resolved = |outcome| {
        let mut c = handed_over(DealKind::Rent);
        c.act(Provider, Action::Dispute, at(1)).unwrap();
        if outcome == Resolution::Returned {
            act_confirmed(
                &mut c,
                Receiver,
                Action::Return { leg: Leg::Provider },
                at(2),
            );
        }
        act_confirmed(&mut c, Receiver, Action::Resolve { outcome }, at(3));
        c
    };
    let kept = resolved(Resolution::Kept);
    let returned = resolved(Resolution::Returned);
    let cancelled = {
        let mut c = Chain::accepted(DealKind::Rent, T);
        c.act(Provider, Action::Cancel, T.plus(7200)).unwrap();
        c
    };

    let later = at(2 * DAY as i64);
    type Row<'a> = (
        &'a str,
        &'a ListingId,
        ListingStatus,
        Vec<&'a Chain>,
        Timestamp,
        ListingStatus,
    );
    let rows: Vec<Row<'_>> = vec![
        (
            "owner paused, even on loan",
            &drill,
            Paused,
            vec![&active],
            later,
            Paused,
        ),
        (
            "owner withdrew",
            &drill,
            Withdrawn,
            vec![],
            later,
            Withdrawn,
        ),
        ("nothing agreed", &drill, Active, vec![], later, Active),
        (
            "an offer books nothing",
            &drill,
            Active,
            vec![&offered],
            later,
            Active,
        ),
        (
            "a future booking leaves it active",
            &drill,
            Active,
            vec![&accepted],
            at(-1),
            Active,
        ),
        (
            "reserved from the booking's start",
            &drill,
            Active,
            vec![&accepted],
            START,
            Reserved,
        ),
        (
            "an unconfirmed handover is on loan",
            &drill,
            Active,
            vec![&handover_open],
            at(1),
            OnLoan,
        ),
        (
            "a confirmed handover is on loan",
            &drill,
            Active,
            vec![&active],
            later,
            OnLoan,
        ),
        (
            "on loan until the return is confirmed",
            &drill,
            Active,
            vec![&return_open],
            later,
            OnLoan,
        ),
        (
            "a completed rent frees it",
            &drill,
            Active,
            vec![&completed],
            later,
            Active,
        ),
        (
            "a completed give withdraws it",
            &drill,
            Active,
            vec![&given],
            later,
            Withdrawn,
        ),
        (
            "a swap for good withdraws the listing",
            &drill,
            Active,
            vec![&swapped_for_good],
            later,
            Withdrawn,
        ),
        (
            "a swap for good withdraws theirs",
            &ladder,
            Active,
            vec![&swapped_for_good],
            later,
            Withdrawn,
        ),
        (
            "the leg not yet handed over is reserved",
            &drill,
            Active,
            vec![&swap_half_out],
            later,
            Reserved,
        ),
        (
            "the leg handed over is on loan",
            &ladder,
            Active,
            vec![&swap_half_out],
            later,
            OnLoan,
        ),
        (
            "kept in a dispute withdraws it",
            &drill,
            Active,
            vec![&kept],
            later,
            Withdrawn,
        ),
        (
            "returned in a dispute frees it",
            &drill,
            Active,
            vec![&returned],
            later,
            Active,
        ),
        (
            "a cancelled booking frees it",
            &drill,
            Active,
            vec![&cancelled],
            START,
            Active,
        ),
        (
            "another item's agreement is passed over",
            &ladder,
            Active,
            vec![&active],
            later,
            Active,
        ),
        (
            "on loan beats a booking of another",
            &drill,
            Active,
            vec![&accepted, &active],
            later,
            OnLoan,
        ),
        (
            "gone beats on loan",
            &drill,
            Active,
            vec![&active, &given],
            later,
            Withdrawn,
        ),
    ];
    for (what, item, own, chains, now, expected) in rows {
        let agreements = chains.iter().map(|c| c.agreement());
        assert_eq!(
            listing_status(item, own, agreements, now),
            expected,
            "{what}"
        );
    }
}
