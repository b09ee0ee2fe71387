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
/// `after`, at our clock `now`.
pub(super) fn check(
    store: &Store,
    me: &AuthorKey,
    before: Option<&Agreement>,
    event: &VerifiedEvent,
    after: &Agreement,
    now: Timestamp,
) -> Result<(), Refusal> {
    let body = event.body();
    let expires = match (&body.action, before) {
        (Action::Accept { .. }, Some(before)) => Some(before.terms.offer_expires),
        (Action::Propose { .. } | Action::Counter { .. }, _) => Some(after.terms.offer_expires),
        _ => None,
    };
    if expires.is_some_and(|expires| now >= expires) {
        return Err(Refusal::OfferExpired);
    }
    if body.at.secs().saturating_add(MAX_CLOCK_SKEW) < now.secs() {
        return Err(Refusal::TooOld);
    }
    let internal = |_e: AgreeError| Refusal::Unsupported;
    match &body.action {
        Action::Propose { .. } => {
            listing_unchanged(store, me, after)?;
            if undecided_from(store, me, &body.signer, now).map_err(internal)? >= MAX_UNDECIDED {
                return Err(Refusal::TooMany);
            }
            free(store, after, after.hold()).map_err(internal)?
        }
        Action::Counter { .. } => free(store, after, after.hold()).map_err(internal)?,
        Action::Extend { due } => {
            let span = after.hold().map(|mut s| {
                s.end = Some(*due);
                s
            });
            free(store, after, span).map_err(internal)?
        }
        _ => Ok(()),
    }
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

/// Our item's calendar has room for `span` (beside this agreement's own hold).
fn free(
    store: &Store,
    agreement: &Agreement,
    span: Option<Span>,
) -> Result<Result<(), Refusal>, AgreeError> {
    let (Some(span), Some(item)) = (span, agreement.items[0].as_ref()) else {
        return Ok(Ok(()));
    };
    let calendar = store.calendar(item)?;
    Ok(match calendar.conflict(&span, &agreement.id) {
        Some((period, _)) => Err(Refusal::Overlaps { period }),
        None => Ok(()),
    })
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
