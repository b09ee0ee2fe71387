//! The sequencer's arrival rules, beside the chain rules of `apply`: the ones that
//! read its clock or its own state, so they are judged by the sequencer alone, on
//! arrival, and never again (DESIGN §5). The other party applies whatever the
//! sequencer appended.

use swapmesh_protocol::agreement::wire::Refusal;
use swapmesh_protocol::agreement::{Action, Agreement, Phase, Span, VerifiedEvent};
use swapmesh_protocol::listing::{Listing, ListingStatus};
use swapmesh_protocol::validate::MAX_CLOCK_SKEW;
use swapmesh_protocol::{Address, AuthorKey, Content, RecordBody, RecordKind, Timestamp};
use swapmesh_store::Store;

use super::{AgreeError, MAX_UNDECIDED};

/// Checks the other party's event `event`, which `apply` turned `before` into
/// `after`, at our clock `now`: `Some` refusal, or `None` to take it. `Err` only
/// when our own store fails.
pub(super) fn check(
    store: &Store,
    me: &AuthorKey,
    before: Option<&Agreement>,
    event: &VerifiedEvent,
    after: &Agreement,
    now: Timestamp,
) -> Result<Option<Refusal>, AgreeError> {
    let body = event.body();
    let expires = match (&body.action, before) {
        (Action::Accept { .. }, Some(before)) => Some(before.terms.offer_expires),
        (Action::Propose { .. } | Action::Counter { .. }, _) => Some(after.terms.offer_expires),
        _ => None,
    };
    if expires.is_some_and(|expires| now >= expires) {
        return Ok(Some(Refusal::OfferExpired));
    }
    if body.at.secs().saturating_add(MAX_CLOCK_SKEW) < now.secs() {
        return Ok(Some(Refusal::TooOld));
    }
    Ok(match &body.action {
        Action::Propose { .. } => {
            if let Err(refusal) = listing_unchanged(store, me, after) {
                return Ok(Some(refusal));
            }
            if undecided_from(store, me, &body.signer, now)? >= MAX_UNDECIDED {
                return Ok(Some(Refusal::TooMany));
            }
            overlap(store, after, after.hold())?
        }
        Action::Counter { .. } => overlap(store, after, after.hold())?,
        Action::Extend { due } => {
            let span = after.hold().map(|mut s| {
                s.end = Some(*due);
                s
            });
            overlap(store, after, span)?
        }
        _ => None,
    })
}

/// The listing proposed on is still ours, open and on the same terms; a version
/// that differs only in status is taken.
fn listing_unchanged(store: &Store, me: &AuthorKey, proposed: &Agreement) -> Result<(), Refusal> {
    let copy =
        RecordBody::decode_trusted(&proposed.listing.body).map_err(|_| Refusal::ListingCopy)?;
    let Some(copy_listing) = copy.listing() else {
        return Err(Refusal::ListingCopy);
    };
    let address = Address {
        author: *me,
        kind: RecordKind::Listing,
        d: copy_listing.d.clone(),
    };
    let current = store
        .get_current(&address)
        .map_err(|_| Refusal::Unavailable)?
        .ok_or(Refusal::Unavailable)?;
    let Content::Listing(now) = &current.body.content else {
        return Err(Refusal::Unavailable);
    };
    if matches!(now.status, ListingStatus::Paused | ListingStatus::Withdrawn) {
        return Err(Refusal::Unavailable);
    }
    if !same_terms(copy_listing, now) {
        return Err(Refusal::ListingChanged);
    }
    Ok(())
}

/// What an agreement relies on in a listing: kinds, price, deposit,
/// availability and title.
pub(super) fn same_terms(a: &Listing, b: &Listing) -> bool {
    a.kinds == b.kinds
        && a.price == b.price
        && a.deposit == b.deposit
        && a.availability == b.availability
        && a.title == b.title
}

/// The refusal of `span` if our item's calendar has no room for it (beside this
/// agreement's own hold).
fn overlap(
    store: &Store,
    agreement: &Agreement,
    span: Option<Span>,
) -> Result<Option<Refusal>, AgreeError> {
    let (Some(span), Some(item)) = (span, agreement.items[0].as_ref()) else {
        return Ok(None);
    };
    let calendar = store.calendar(item)?;
    Ok(calendar
        .conflict(&span, &agreement.id)
        .map(|(period, _)| Refusal::Overlaps { period }))
}

/// Undecided proposals from `party` to us at `now`.
fn undecided_from(
    store: &Store,
    me: &AuthorKey,
    party: &AuthorKey,
    now: Timestamp,
) -> Result<usize, AgreeError> {
    Ok(store
        .agreements()?
        .iter()
        .filter(|a| {
            let s = &a.state;
            s.terms.provider == *me
                && s.terms.receiver == *party
                && s.phase == Phase::Offered
                && !s.expired(now)
        })
        .count())
}
