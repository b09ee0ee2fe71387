//! The terms two parties sign: which listing, who provides and who receives, the
//! deal of its kind, a private pickup place and how long the offer stands.

use serde::{Deserialize, Serialize};

use crate::encoding;
use crate::ids::{AuthorKey, RecordId};
use crate::listing::{DealKind, Money, Price};
use crate::time::{DAY, Timestamp};

use super::calendar::Span;

/// Domain tag of the terms hash.
pub const TERMS_DOMAIN: &[u8] = b"swapmesh/terms/v1\0";
/// Most characters of a pickup place (it never leaves the two nodes).
pub const MAX_PICKUP_CHARS: usize = 280;
/// Most characters of a swap's offer text.
pub const MAX_OFFER_CHARS: usize = 280;
/// Longest notice a lease may ask for.
pub const MAX_NOTICE_DAYS: u16 = 366;
/// Longest an offer may stand after it is signed.
pub const MAX_OFFER_LIFETIME: u64 = 30 * DAY;

/// What two parties agree on. Signed (inside an event) and hashed, never published.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Terms {
    /// The listing version agreed on: an offer by `provider`, who sequences the
    /// chain. In a swap, the listing of the party who received the first proposal.
    pub listing: RecordId,
    /// Who provides the thing (and sequences the chain).
    pub provider: AuthorKey,
    /// Who receives it.
    pub receiver: AuthorKey,
    /// The deal of its kind.
    pub deal: Deal,
    /// Where to meet (at most 280 characters); only ever inside the agreement.
    pub pickup: Option<String>,
    /// An accept or counter signed at or after this is late.
    pub offer_expires: Timestamp,
}

/// The deal, one variant per kind, with the fields that kind needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Deal {
    /// Lend for free from `start`, back by `due`.
    Share {
        /// When the thing is handed over.
        start: Timestamp,
        /// When it is due back.
        due: Timestamp,
        /// A deposit held while it is away.
        deposit: Option<Money>,
    },
    /// Lend for a price per period.
    Rent {
        /// When the thing is handed over.
        start: Timestamp,
        /// When it is due back.
        due: Timestamp,
        /// The price per period.
        price: Price,
        /// A deposit held while it is away.
        deposit: Option<Money>,
        /// After this, only the provider may cancel.
        cancel_before: Option<Timestamp>,
    },
    /// Lend for a long term for a price per period.
    Lease {
        /// When the lease starts.
        start: Timestamp,
        /// When it ends; `None` runs until notice.
        end: Option<Timestamp>,
        /// The price per period.
        price: Price,
        /// Days between a notice (a cancel while active) and the due date.
        notice_days: u16,
    },
    /// Exchange: the provider's listing for the receiver's `theirs` or `offer`.
    Swap {
        /// The receiver's listing given in exchange, if it is one.
        theirs: Option<RecordId>,
        /// What the receiver offers, in words (at most 280 characters).
        offer: String,
        /// When the items change hands.
        start: Timestamp,
        /// When both come back; `None` swaps for good.
        until: Option<Timestamp>,
    },
    /// Give away for good; picked up between `from` and `until`.
    Give {
        /// The pickup window's start.
        from: Timestamp,
        /// The pickup window's end.
        until: Timestamp,
    },
}

/// The hash of a version of the terms, which an accept names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TermsHash(pub [u8; 32]);

impl std::fmt::Debug for TermsHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TermsHash({})", &hex::encode(self.0)[..12])
    }
}

impl std::fmt::Display for TermsHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A rule of the terms, named when terms break it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum TermsRule {
    /// Provider and receiver are the same key.
    SameParties,
    /// A period ends at or before it starts.
    EmptyPeriod,
    /// An amount is negative or its currency not three upper-case letters.
    BadMoney,
    /// The pickup place is over 280 characters.
    PickupTooLong,
    /// The swap's offer text is over 280 characters, or a swap offers nothing.
    BadOffer,
    /// A lease's notice is over 366 days.
    NoticeTooLong,
    /// The offer expires at or before it is signed, or more than 30 days after.
    BadOfferExpiry,
    /// The listing does not offer this kind of deal.
    KindNotOffered,
    /// A counter changes the listing, the parties or the kind.
    CounterChangesDeal,
    /// The proposal's copy of `theirs` is missing, extra or not the receiver's.
    Theirs,
}

impl TermsRule {
    /// A short stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            TermsRule::SameParties => "same_parties",
            TermsRule::EmptyPeriod => "empty_period",
            TermsRule::BadMoney => "bad_money",
            TermsRule::PickupTooLong => "pickup_too_long",
            TermsRule::BadOffer => "bad_offer",
            TermsRule::NoticeTooLong => "notice_too_long",
            TermsRule::BadOfferExpiry => "bad_offer_expiry",
            TermsRule::KindNotOffered => "kind_not_offered",
            TermsRule::CounterChangesDeal => "counter_changes_deal",
            TermsRule::Theirs => "theirs",
        }
    }
}

impl std::fmt::Display for TermsRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Deal {
    /// The kind of deal.
    pub fn kind(&self) -> DealKind {
        match self {
            Deal::Share { .. } => DealKind::Share,
            Deal::Rent { .. } => DealKind::Rent,
            Deal::Lease { .. } => DealKind::Lease,
            Deal::Swap { .. } => DealKind::Swap,
            Deal::Give { .. } => DealKind::Give,
        }
    }

    /// When the thing first changes hands.
    pub fn start(&self) -> Timestamp {
        match *self {
            Deal::Share { start, .. }
            | Deal::Rent { start, .. }
            | Deal::Lease { start, .. }
            | Deal::Swap { start, .. } => start,
            Deal::Give { from, .. } => from,
        }
    }

    /// When it is due back as agreed; `None` for what does not come back (a give,
    /// a swap for good) or runs until notice (a lease without end).
    pub fn due(&self) -> Option<Timestamp> {
        match *self {
            Deal::Share { due, .. } | Deal::Rent { due, .. } => Some(due),
            Deal::Lease { end, .. } => end,
            Deal::Swap { until, .. } => until,
            Deal::Give { .. } => None,
        }
    }

    /// Does the thing come back at all (a give and a swap for good do not)?
    pub fn comes_back(&self) -> bool {
        !matches!(self, Deal::Give { .. } | Deal::Swap { until: None, .. })
    }

    /// The calendar window the terms book, half-open; open-ended where nothing
    /// comes back or a lease runs until notice.
    pub fn span(&self) -> Span {
        let end = match self {
            Deal::Give { .. } => None,
            _ => self.due(),
        };
        Span {
            start: self.start(),
            end,
        }
    }

    /// The deposit asked for, if any.
    pub fn deposit(&self) -> Option<Money> {
        match *self {
            Deal::Share { deposit, .. } | Deal::Rent { deposit, .. } => deposit,
            _ => None,
        }
    }

    /// The receiver's listing in a swap.
    pub fn theirs(&self) -> Option<RecordId> {
        match *self {
            Deal::Swap { theirs, .. } => theirs,
            _ => None,
        }
    }

    /// A rent's last moment for the receiver to cancel.
    pub fn cancel_before(&self) -> Option<Timestamp> {
        match *self {
            Deal::Rent { cancel_before, .. } => cancel_before,
            _ => None,
        }
    }

    /// A lease's notice, in seconds.
    pub fn notice(&self) -> Option<u64> {
        match *self {
            Deal::Lease { notice_days, .. } => Some(u64::from(notice_days) * DAY),
            _ => None,
        }
    }
}

impl Terms {
    /// The canonical bytes of the terms.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// `blake3(TERMS_DOMAIN ‖ encode(terms))`.
    pub fn hash(&self) -> TermsHash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(TERMS_DOMAIN);
        hasher.update(&self.encode());
        TermsHash(*hasher.finalize().as_bytes())
    }

    /// Is `who` the provider or the receiver?
    pub fn is_party(&self, who: &AuthorKey) -> bool {
        *who == self.provider || *who == self.receiver
    }

    /// The party other than `who` (`who` must be a party).
    pub fn other(&self, who: &AuthorKey) -> AuthorKey {
        if *who == self.provider {
            self.receiver
        } else {
            self.provider
        }
    }

    /// The rules terms keep on their own, signed at `at`: two parties, periods that
    /// do not end before they start, valid money, bounded texts, an offer that
    /// stands a while but not for ever.
    pub fn check(&self, at: Timestamp) -> Result<(), TermsRule> {
        if self.provider == self.receiver {
            return Err(TermsRule::SameParties);
        }
        if self
            .pickup
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_PICKUP_CHARS)
        {
            return Err(TermsRule::PickupTooLong);
        }
        if self.offer_expires <= at || self.offer_expires.secs() - at.secs() > MAX_OFFER_LIFETIME {
            return Err(TermsRule::BadOfferExpiry);
        }
        let money_ok = |m: &Money| m.amount >= 0 && m.currency.iter().all(u8::is_ascii_uppercase);
        let period_ok = |start: Timestamp, end: Option<Timestamp>| end.is_none_or(|e| e > start);
        match &self.deal {
            Deal::Share {
                start,
                due,
                deposit,
            } => {
                if !period_ok(*start, Some(*due)) {
                    return Err(TermsRule::EmptyPeriod);
                }
                if !deposit.iter().all(money_ok) {
                    return Err(TermsRule::BadMoney);
                }
            }
            Deal::Rent {
                start,
                due,
                price,
                deposit,
                ..
            } => {
                if !period_ok(*start, Some(*due)) {
                    return Err(TermsRule::EmptyPeriod);
                }
                if !money_ok(&price.money) || !deposit.iter().all(money_ok) {
                    return Err(TermsRule::BadMoney);
                }
            }
            Deal::Lease {
                start,
                end,
                price,
                notice_days,
            } => {
                if !period_ok(*start, *end) {
                    return Err(TermsRule::EmptyPeriod);
                }
                if !money_ok(&price.money) {
                    return Err(TermsRule::BadMoney);
                }
                if *notice_days > MAX_NOTICE_DAYS {
                    return Err(TermsRule::NoticeTooLong);
                }
            }
            Deal::Swap {
                theirs,
                offer,
                start,
                until,
            } => {
                if !period_ok(*start, *until) {
                    return Err(TermsRule::EmptyPeriod);
                }
                let chars = offer.chars().count();
                if chars > MAX_OFFER_CHARS || (chars == 0 && theirs.is_none()) {
                    return Err(TermsRule::BadOffer);
                }
            }
            Deal::Give { from, until } => {
                if !period_ok(*from, Some(*until)) {
                    return Err(TermsRule::EmptyPeriod);
                }
            }
        }
        Ok(())
    }

    /// A counter to `self` keeps the listing, the parties, the kind and a swap's
    /// `theirs`; everything else may change.
    pub fn check_counter(&self, counter: &Terms) -> Result<(), TermsRule> {
        let same = self.listing == counter.listing
            && self.provider == counter.provider
            && self.receiver == counter.receiver
            && self.deal.kind() == counter.deal.kind()
            && self.deal.theirs() == counter.deal.theirs();
        if same {
            Ok(())
        } else {
            Err(TermsRule::CounterChangesDeal)
        }
    }
}
