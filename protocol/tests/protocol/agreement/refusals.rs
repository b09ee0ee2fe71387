//! One row per refusal: each illegal step has its typed error and changes nothing.

use swapmesh_protocol::agreement::{Action, Deal, Leg, Phase};
use swapmesh_protocol::fixtures::chain::{Chain, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::{DAY, Timestamp};

use super::*;
use Side::{Provider, Receiver};
use swapmesh_protocol::AgreementId;
use swapmesh_protocol::agreement::event::EVENT_VERSION;
use swapmesh_protocol::agreement::{
    AgreementError, EventBody, Link, SignedEvent, TermsRule, apply, sign_event, verify_event,
    verify_event_bytes,
};
use swapmesh_protocol::fixtures;
use swapmesh_protocol::validate::MAX_CLOCK_SKEW;

/// an honest signer would never write.
fn body(chain: &Chain, by: Side, action: Action, at: Timestamp) -> EventBody {
    EventBody {
        version: EVENT_VERSION,
        link: chain.state.as_ref().map(|s| Link {
            agreement: s.id,
            prev: s.head(),
        }),
        signer: author_of(chain.key(by)),
        at,
        action,
        note: String::new(),
    }
}

/// Applies `event` to the chain's state at `now`, asserting nothing changed when
/// it is refused.
fn refusal(
    chain: &Chain,
    event: &swapmesh_protocol::agreement::VerifiedEvent,
    now: Timestamp,
) -> AgreementError {
    let before = chain.state.clone();
    let err = apply(chain.state.as_ref(), event, now).expect_err("must be refused");
    assert_eq!(chain.state, before);
    err
}

#[test]
fn each_illegal_step_has_its_error() {
    let offered = {
        let mut c = Chain::new();
        c.act(Receiver, c.proposal(c.terms(DealKind::Rent, T)), T)
            .unwrap();
        c
    };
    let accepted = Chain::accepted(DealKind::Rent, T);
    let active = handed_over(DealKind::Rent);
    let head = offered.agreement().terms_hash;

    // Malformed bytes and an unknown action code.
    assert!(matches!(
        verify_event_bytes(&[1, 2, 3]),
        Err(AgreementError::Malformed(_))
    ));
    let mut bytes = offered.events[0].signed().encode();
    let unknown_action = {
        let mut b = body(&accepted, Provider, Action::Dispute, T);
        b.note.clear();
        let mut raw = swapmesh_protocol::encoding::encode(&b);
        // The action's code sits just before the note's length (an empty note: 0).
        let n = raw.len();
        raw[n - 2] = 200;
        raw
    };
    assert!(matches!(
        verify_event(SignedEvent {
            body: unknown_action,
            sig: offered.events[0].signed().sig
        }),
        Err(AgreementError::Malformed(_))
    ));
    // Unsupported version.
    let mut v2 = body(&accepted, Provider, Action::Dispute, T);
    v2.version = 2;
    let signed = SignedEvent::sign(&v2, &accepted.provider);
    assert_eq!(
        verify_event(signed),
        Err(AgreementError::UnsupportedVersion { version: 2 })
    );
    // A forged signature: one flipped bit in the signed bytes.
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    assert_eq!(
        verify_event_bytes(&bytes),
        Err(AgreementError::BadSignature)
    );

    let third = fixtures::key(9);
    let mut stranger = body(&accepted, Provider, Action::Dispute, T.plus(7200));
    stranger.signer = author_of(&third);
    let stranger = sign_event(stranger, &third).unwrap();

    let mut wrong_agreement = body(&accepted, Provider, Action::Dispute, T.plus(7200));
    wrong_agreement.link.as_mut().unwrap().agreement = AgreementId([7; 32]);
    let linked_proposal = body(
        &accepted,
        Receiver,
        accepted.proposal(accepted.terms(DealKind::Rent, T)),
        T.plus(7200),
    );
    let unlinked_dispute = EventBody {
        link: None,
        ..body(&accepted, Provider, Action::Dispute, T.plus(7200))
    };
    let mut stale = body(&accepted, Provider, Action::Dispute, T.plus(7200));
    stale.link.as_mut().unwrap().prev = accepted.events[0].id();
    let early = body(&accepted, Provider, Action::Dispute, T.plus(3599));
    let mut long_note = body(&accepted, Provider, Action::Dispute, T.plus(7200));
    long_note.note = "n".repeat(1025);

    let mut same_parties = offered.terms(DealKind::Rent, T);
    same_parties.receiver = same_parties.provider;
    let mut empty = offered.terms(DealKind::Rent, T);
    if let Deal::Rent { due, start, .. } = &mut empty.deal {
        *due = *start;
    }
    let mut copy_of_other = Chain::new();
    copy_of_other.listing = copy_of_other.theirs.clone();
    let mut wrong_copy = offered.terms(DealKind::Rent, T);
    wrong_copy.listing = copy_of_other.theirs.id();

    let swap_both_out = {
        let mut c = Chain::accepted(DealKind::Swap, T);
        c.act(Receiver, Action::Handover { leg: Leg::Receiver }, at(0))
            .unwrap();
        act_confirmed(
            &mut c,
            Provider,
            Action::Handover { leg: Leg::Provider },
            at(0),
        );
        c
    };
    let handover_open = {
        let mut c = Chain::accepted(DealKind::Rent, T);
        c.act(Provider, Action::Handover { leg: Leg::Provider }, at(0))
            .unwrap();
        c
    };
    let completed = handed_over(DealKind::Give);

    let fresh = Chain::new();
    type Row<'a> = (&'a str, &'a Chain, EventBody, Timestamp, AgreementError);
    let rows: Vec<Row<'_>> = vec![
        (
            "linked event of an unknown agreement",
            &fresh,
            body(&accepted, Provider, Action::Dispute, T),
            T,
            AgreementError::UnknownAgreement(accepted.agreement().id),
        ),
        (
            "link names another agreement",
            &accepted,
            wrong_agreement,
            T.plus(7200),
            AgreementError::BadLink,
        ),
        (
            "a second proposal in a chain",
            &accepted,
            linked_proposal,
            T.plus(7200),
            AgreementError::BadLink,
        ),
        (
            "an unlinked event in a chain",
            &accepted,
            unlinked_dispute.clone(),
            T.plus(7200),
            AgreementError::BadLink,
        ),
        (
            "an unlinked first event that is no proposal",
            &fresh,
            unlinked_dispute,
            T.plus(7200),
            AgreementError::BadLink,
        ),
        (
            "prev is not the head",
            &accepted,
            stale,
            T.plus(7200),
            AgreementError::Stale {
                head: accepted.agreement().head(),
            },
        ),
        (
            "signed beyond the clock-skew bound",
            &accepted,
            body(
                &accepted,
                Provider,
                Action::Dispute,
                T.plus(7200 + MAX_CLOCK_SKEW + 1),
            ),
            T.plus(7200),
            AgreementError::FromTheFuture {
                at: T.plus(7200 + MAX_CLOCK_SKEW + 1),
                now: T.plus(7200),
            },
        ),
        (
            "signed before its head",
            &accepted,
            early,
            T.plus(7200),
            AgreementError::BeforeHead {
                at: T.plus(3599),
                head_at: T.plus(3600),
            },
        ),
        (
            "accept at the offer's expiry",
            &offered,
            body(
                &offered,
                Provider,
                Action::Accept { terms: head },
                T.plus(2 * DAY),
            ),
            T.plus(2 * DAY),
            AgreementError::OfferExpired {
                at: T.plus(2 * DAY),
                offer_expires: T.plus(2 * DAY),
            },
        ),
        (
            "accept by the terms' own signer",
            &offered,
            body(&offered, Receiver, Action::Accept { terms: head }, T),
            T,
            AgreementError::NotYourTurn { action: "accept" },
        ),
        (
            "handover before acceptance",
            &offered,
            body(
                &offered,
                Provider,
                Action::Handover { leg: Leg::Provider },
                T,
            ),
            T,
            AgreementError::OutOfOrder {
                action: "handover",
                phase: Phase::Offered,
            },
        ),
        (
            "anything after the end",
            &completed,
            body(&completed, Provider, Action::Dispute, at(DAY as i64)),
            at(DAY as i64),
            AgreementError::Finished {
                phase: Phase::Completed,
            },
        ),
        (
            "a proposal between one key and itself",
            &fresh,
            body(&fresh, Provider, offered.proposal(same_parties), T),
            T,
            AgreementError::InvalidTerms(TermsRule::SameParties),
        ),
        (
            "a period that ends where it starts",
            &fresh,
            body(&fresh, Receiver, offered.proposal(empty), T),
            T,
            AgreementError::InvalidTerms(TermsRule::EmptyPeriod),
        ),
        (
            "accept of other terms",
            &offered,
            body(
                &offered,
                Provider,
                Action::Accept {
                    terms: swapmesh_protocol::agreement::TermsHash([1; 32]),
                },
                T,
            ),
            T,
            AgreementError::TermsHash {
                current: head,
                named: swapmesh_protocol::agreement::TermsHash([1; 32]),
            },
        ),
        (
            "a listing copy that is not the listing named",
            &fresh,
            body(
                &fresh,
                Receiver,
                copy_of_other.proposal(offered.terms(DealKind::Rent, T)),
                T,
            ),
            T,
            AgreementError::ListingCopy("not by its party"),
        ),
        (
            "terms naming a listing of the receiver",
            &fresh,
            body(&fresh, Receiver, offered.proposal(wrong_copy), T),
            T,
            AgreementError::ListingCopy("not the version the terms name"),
        ),
        (
            "cancel after a handover",
            &handover_open,
            body(&handover_open, Receiver, Action::Cancel, at(1)),
            at(1),
            AgreementError::AfterHandover,
        ),
        (
            "the renter cancels past cancel_before",
            &accepted,
            body(&accepted, Receiver, Action::Cancel, START),
            START,
            AgreementError::PastCancelBefore {
                cancel_before: START,
            },
        ),
        (
            "a second act over an open handover",
            &swap_both_out,
            body(
                &swap_both_out,
                Receiver,
                Action::Extend { due: DUE.plus(DAY) },
                at(1),
            ),
            at(1),
            AgreementError::OpenAct {
                open: swap_both_out.events[2].id(),
            },
        ),
        (
            "a confirm of no open act",
            &active,
            body(&active, Receiver, confirm(active.events[0].id()), at(1)),
            at(1),
            AgreementError::NothingToConfirm {
                of: active.events[0].id(),
            },
        ),
        (
            "a deposit on the confirm of a handover",
            &handover_open,
            body(
                &handover_open,
                Receiver,
                Action::Confirm {
                    of: last(&handover_open),
                    deposit_returned: Some(eur(1)),
                },
                at(1),
            ),
            at(1),
            AgreementError::DepositNotOnReturn,
        ),
        (
            "the receiver's leg of a rent",
            &accepted,
            body(
                &accepted,
                Receiver,
                Action::Handover { leg: Leg::Receiver },
                at(0),
            ),
            at(0),
            AgreementError::NoSuchLeg("receiver"),
        ),
        (
            "a second handover of one leg",
            &active,
            body(
                &active,
                Provider,
                Action::Handover { leg: Leg::Provider },
                at(1),
            ),
            at(1),
            AgreementError::LegState {
                leg: "provider",
                action: "handover",
            },
        ),
        (
            "an extension to an earlier date",
            &active,
            body(&active, Receiver, Action::Extend { due: DUE }, at(1)),
            at(1),
            AgreementError::BadExtension,
        ),
        (
            "a note over 1 KiB",
            &accepted,
            long_note,
            T.plus(7200),
            AgreementError::NoteTooLong { len: 1025 },
        ),
    ];
    for (what, chain, event_body, now, expected) in rows {
        let signer = if event_body.signer == author_of(&chain.provider) {
            chain.provider.clone()
        } else {
            chain.receiver.clone()
        };
        let event = sign_event(event_body, &signer).unwrap();
        assert_eq!(refusal(chain, &event, now), expected, "{what}");
    }
    assert_eq!(
        refusal(&accepted, &stranger, T.plus(7200)),
        AgreementError::NotAParty {
            signer: author_of(&third)
        },
        "a stranger's signature"
    );
}

#[test]
fn every_refusal_names_its_rule_and_blame() {
    // Forgery and broken terms are blamed; races, clocks and turns are not.
    assert!(AgreementError::BadSignature.blame());
    assert!(AgreementError::InvalidTerms(TermsRule::SameParties).blame());
    let stale = AgreementError::Stale {
        head: swapmesh_protocol::agreement::EventId([0; 32]),
    };
    assert!(!stale.blame());
    assert_eq!(stale.rule(), "stale");
    assert!(!AgreementError::NotYourTurn { action: "accept" }.blame());
}

#[test]
fn verifying_with_the_parties_keys_judges_as_verify_event_does() {
    use swapmesh_protocol::agreement::verify_event_with;
    let chain = handed_over(DealKind::Swap);
    let keys = chain.agreement().party_keys().unwrap();
    for event in &chain.events {
        assert_eq!(
            verify_event_with(event.signed().clone(), &keys),
            verify_event(event.signed().clone())
        );
    }
    let third = fixtures::key(9);
    let mut by_third = body(&chain, Provider, Action::Dispute, at(1));
    by_third.signer = author_of(&third);
    let by_third = SignedEvent::sign(&by_third, &third);
    let mut forged = chain.events[2].signed().clone();
    forged.sig = by_third.sig;
    for signed in [by_third, forged] {
        assert_eq!(
            verify_event_with(signed.clone(), &keys),
            verify_event(signed),
            "a stranger's and a forged event alike"
        );
    }
}
