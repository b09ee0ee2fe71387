//! Agreements (DESIGN §5), with no I/O: the terms, the signed event chain, the
//! pure state machine that derives an agreement from its chain, calendars and the
//! derived listing status.
//!
//! - [`terms`]: [`Terms`] and their [`Deal`] per kind, [`TermsHash`].
//! - [`event`]: [`EventBody`], [`Action`], [`SignedEvent`], [`verify_event`].
//! - [`state`]: [`Agreement`], [`apply`] and [`replay`]: chain rules on signed data;
//!   `transition`: each action's effect (the rules of DESIGN §5, exactly).
//! - [`calendar`]: [`Span`] and an item's [`Calendar`] of holds, never overlapping.
//! - [`status`]: the derived [`listing_status`] of an item.
//! - [`error`]: [`AgreementError`], a variant per rule and flaw.
//! - [`wire`]: the agree protocol's frames, [`wire::Refusal`] and [`wire::Note`].

pub mod calendar;
pub mod error;
pub mod event;
pub mod state;
pub mod status;
pub mod terms;
mod transition;
pub mod wire;

pub use calendar::{Calendar, Span};
pub use error::AgreementError;
pub use event::{
    Action, EventBody, EventId, Leg, Link, PartyKeys, Resolution, SignedEvent, VerifiedEvent,
    sign_event, verify_event, verify_event_bytes, verify_event_with,
};
pub use state::{Act, Agreement, Applied, LegState, OpenAct, Phase, apply, replay};
pub use status::listing_status;
pub use terms::{Deal, Terms, TermsHash, TermsRule};
