//! Ready-made valid records for tests and benchmarks (feature `test-util`).

use ed25519_dalek::SigningKey;

use crate::geo::Geohash;
use crate::ids::AuthorKey;
use crate::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use crate::record::{Content, RecordBody};
use crate::signed::author_of;
use crate::time::{DAY, Timestamp};
use crate::topic::MeshId;
use crate::validate::{Verified, sign_own};

/// A deterministic key from a seed number.
pub fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0x5a;
    SigningKey::from_bytes(&bytes)
}

/// A typical listing (about 300 bytes of body): a drill to rent in Jutland.
pub fn listing(d: &str) -> Listing {
    Listing {
        d: d.to_owned(),
        purpose: Purpose::Offer,
        kinds: vec![DealKind::Rent, DealKind::Share],
        title: "Cordless drill, 18 V, two batteries".to_owned(),
        description: "Bosch drill with two batteries, charger and a box of bits. \
                      Pick up in the evening; please bring it back clean."
            .to_owned(),
        category: "tools".to_owned(),
        tags: vec!["drill".to_owned(), "diy".to_owned(), "bosch".to_owned()],
        condition: Some(Condition::Good),
        photos: vec![],
        price: Some(Price {
            money: Money {
                amount: 500,
                currency: *b"EUR",
            },
            per: Period::Day,
        }),
        deposit: Some(Money {
            amount: 5000,
            currency: *b"EUR",
        }),
        availability: vec![Window {
            start: Timestamp(1_800_000_000),
            end: Timestamp(1_800_000_000 + 30 * DAY),
        }],
        status: ListingStatus::Active,
    }
}

/// A listing body by `author` in `area`, created at `now`, living 30 days.
pub fn listing_body(author: AuthorKey, area: &str, listing: Listing, now: Timestamp) -> RecordBody {
    RecordBody {
        author,
        seq: 1,
        created_at: now,
        expires_at: now.plus(30 * DAY),
        area: Some(Geohash::parse_area(area).expect("fixture area is valid")),
        meshes: vec![],
        content: Content::Listing(listing),
    }
}

/// A body in the `local` mesh only.
pub fn local_body(author: AuthorKey, content: Content, now: Timestamp) -> RecordBody {
    RecordBody {
        author,
        seq: 1,
        created_at: now,
        expires_at: now.plus(30 * DAY),
        area: None,
        meshes: vec![MeshId::local()],
        content,
    }
}

/// A verified typical listing signed by `key`, named `d`, in `area`.
pub fn verified_listing(key: &SigningKey, d: &str, area: &str, now: Timestamp) -> Verified {
    let body = listing_body(author_of(key), area, listing(d), now);
    sign_own(&body, key, now).expect("fixture listing is valid")
}

/// Agreement chains for tests: two parties signing events on the head.
pub mod chain {
    use ed25519_dalek::SigningKey;

    use crate::agreement::{
        Action, Agreement, AgreementError, Applied, Deal, EventBody, Link, Terms, VerifiedEvent,
        apply, sign_event,
    };
    use crate::listing::{DealKind, Money, Period, Price};
    use crate::signed::author_of;
    use crate::time::{DAY, Timestamp};
    use crate::validate::Verified;

    /// Which party signs.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Side {
        /// The listing's author, who sequences.
        Provider,
        /// The other party.
        Receiver,
    }

    /// A chain between two fixture keys and the state it has reached.
    #[derive(Clone, Debug)]
    pub struct Chain {
        /// The provider's key (fixture key 1).
        pub provider: SigningKey,
        /// The receiver's key (fixture key 2).
        pub receiver: SigningKey,
        /// The provider's listing, offering every kind.
        pub listing: Verified,
        /// The receiver's listing, for swaps.
        pub theirs: Verified,
        /// The events so far.
        pub events: Vec<VerifiedEvent>,
        /// The state so far.
        pub state: Option<Agreement>,
    }

    /// The listing fixtures' creation time.
    pub const LISTED: Timestamp = Timestamp(1_800_000_000);

    /// Euros.
    pub fn eur(amount: i64) -> Money {
        Money {
            amount,
            currency: *b"EUR",
        }
    }

    impl Chain {
        /// Two parties and their listings; nothing proposed yet.
        pub fn new() -> Self {
            let provider = super::key(1);
            let receiver = super::key(2);
            let mut offer = super::listing("drill");
            offer.kinds = vec![
                DealKind::Swap,
                DealKind::Rent,
                DealKind::Lease,
                DealKind::Share,
                DealKind::Give,
            ];
            let body = super::listing_body(author_of(&provider), "u4pru", offer, LISTED);
            let listing = crate::validate::sign_own(&body, &provider, LISTED).expect("valid");
            let mut mine = super::listing("ladder");
            mine.kinds = vec![DealKind::Swap];
            let body = super::listing_body(author_of(&receiver), "u4pru", mine, LISTED);
            let theirs = crate::validate::sign_own(&body, &receiver, LISTED).expect("valid");
            Self {
                provider,
                receiver,
                listing,
                theirs,
                events: Vec::new(),
                state: None,
            }
        }

        /// Terms of a kind on the provider's listing, starting a day after `at`
        /// for a week; the offer stands for two days.
        pub fn terms(&self, kind: DealKind, at: Timestamp) -> Terms {
            let start = at.plus(DAY);
            let due = start.plus(7 * DAY);
            let price = Price {
                money: eur(500),
                per: Period::Day,
            };
            let deal = match kind {
                DealKind::Share => Deal::Share {
                    start,
                    due,
                    deposit: Some(eur(5000)),
                },
                DealKind::Rent => Deal::Rent {
                    start,
                    due,
                    price,
                    deposit: Some(eur(5000)),
                    cancel_before: Some(start),
                },
                DealKind::Lease => Deal::Lease {
                    start,
                    end: None,
                    price,
                    notice_days: 14,
                },
                DealKind::Swap => Deal::Swap {
                    theirs: Some(self.theirs.id()),
                    offer: "my ladder".into(),
                    start,
                    until: Some(due),
                },
                DealKind::Give => Deal::Give {
                    from: start,
                    until: due,
                },
            };
            Terms {
                listing: self.listing.id(),
                provider: author_of(&self.provider),
                receiver: author_of(&self.receiver),
                deal,
                pickup: Some("by the blue gate".into()),
                offer_expires: at.plus(2 * DAY),
            }
        }

        /// The proposal of `terms` by `by`, with the listing copies they need.
        pub fn proposal(&self, terms: Terms) -> Action {
            let theirs = terms.deal.theirs().map(|_| self.theirs.signed().clone());
            Action::Propose {
                terms,
                listing: self.listing.signed().clone(),
                theirs,
            }
        }

        /// The key of a side.
        pub fn key(&self, side: Side) -> &SigningKey {
            match side {
                Side::Provider => &self.provider,
                Side::Receiver => &self.receiver,
            }
        }

        /// `by` signs `action` at `at` on the current head, without applying it.
        pub fn sign(&self, by: Side, action: Action, at: Timestamp) -> VerifiedEvent {
            let link = self.state.as_ref().map(|s| Link {
                agreement: s.id,
                prev: s.head(),
            });
            let body = EventBody {
                version: crate::agreement::event::EVENT_VERSION,
                link,
                signer: author_of(self.key(by)),
                at,
                action,
                note: String::new(),
            };
            sign_event(body, self.key(by)).expect("a party's own key")
        }

        /// `by` signs `action` at `at` on the head and it is applied at `at`.
        pub fn act(
            &mut self,
            by: Side,
            action: Action,
            at: Timestamp,
        ) -> Result<VerifiedEvent, AgreementError> {
            let event = self.sign(by, action, at);
            self.push(event.clone(), at)?;
            Ok(event)
        }

        /// Applies a signed event at `now`; on success it joins the chain.
        pub fn push(&mut self, event: VerifiedEvent, now: Timestamp) -> Result<(), AgreementError> {
            match apply(self.state.as_ref(), &event, now)? {
                Applied::Changed(next) => {
                    self.state = Some(next);
                    self.events.push(event);
                }
                Applied::AlreadyInChain => {}
            }
            Ok(())
        }

        /// The state (after at least a proposal).
        pub fn agreement(&self) -> &Agreement {
            self.state.as_ref().expect("proposed")
        }

        /// A chain of `kind` proposed by the receiver at `at` and accepted by the
        /// provider an hour later.
        pub fn accepted(kind: DealKind, at: Timestamp) -> Self {
            let mut chain = Self::new();
            let terms = chain.terms(kind, at);
            chain
                .act(Side::Receiver, chain.proposal(terms), at)
                .expect("proposal applies");
            let hash = chain.agreement().terms_hash;
            chain
                .act(
                    Side::Provider,
                    Action::Accept { terms: hash },
                    at.plus(3600),
                )
                .expect("accept applies");
            chain
        }
    }

    impl Default for Chain {
        fn default() -> Self {
            Self::new()
        }
    }
}
