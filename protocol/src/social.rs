//! Records about people: profiles, vouches, receipts of finished agreements and the
//! reviews that embed them.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::encoding;
use crate::ids::{AgreementId, AuthorKey};
use crate::listing::DealKind;
use crate::time::Timestamp;

/// Who someone is, as they say themselves. Replaceable (`d` = `profile`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// Display name, 1–64 characters.
    pub name: String,
    /// Up to 1 KiB about them.
    pub bio: String,
    /// Up to 4 hints on how to reach them (each up to 128 characters).
    pub contact: Vec<String>,
    /// Up to 4 nodes (by public key) that keep mail for them, e.g. their home server.
    pub mail_peers: Vec<AuthorKey>,
}

/// "I know this neighbour." Replaceable at `(author, Vouch, subject-hex)`; a newer
/// version with [`Confidence::Revoked`] takes it back.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Vouch {
    /// Who is vouched for; never the author.
    pub subject: AuthorKey,
    /// What the author claims.
    pub claim: VouchClaim,
    /// How sure the author is.
    pub confidence: Confidence,
    /// Up to 280 characters.
    pub note: String,
}

/// What a vouch claims.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum VouchClaim {
    /// Lives nearby.
    Neighbour,
    /// Known in person.
    KnownInPerson,
    /// Has dealt with them well.
    DealtWith,
}

/// How sure a voucher is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Confidence {
    /// The vouch is taken back.
    Revoked,
    /// Somewhat.
    Low,
    /// Fairly.
    Medium,
    /// Fully.
    High,
}

/// How an agreement ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Outcome {
    /// Carried out as agreed.
    Completed,
    /// Cancelled after it was accepted.
    Cancelled,
    /// Disputed, then resolved by both.
    Resolved,
}

/// The statement both parties sign when an agreement ends (no private terms).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReceiptStatement {
    /// The agreement.
    pub agreement: AgreementId,
    /// The kind of deal.
    pub deal: DealKind,
    /// The party who provided the thing.
    pub provider: AuthorKey,
    /// The party who received it.
    pub receiver: AuthorKey,
    /// How it ended.
    pub outcome: Outcome,
    /// When it ended: the `at` of the ending event.
    pub ended_at: Timestamp,
    /// Did the last return come by the due date? `None` without a return.
    pub on_time: Option<bool>,
}

/// Domain tag of a receipt signature.
pub const RECEIPT_DOMAIN: &[u8] = b"swapmesh/receipt/v1\0";

impl ReceiptStatement {
    /// The bytes each party signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut msg = RECEIPT_DOMAIN.to_vec();
        msg.extend_from_slice(&encoding::encode(self));
        msg
    }

    /// One party's signature over the statement.
    pub fn sign(&self, key: &SigningKey) -> Signature {
        key.sign(&self.signing_bytes())
    }
}

/// The public proof that an agreement ended: the statement and both signatures.
/// Authored by the agreement's sequencer; one per agreement (`d` = agreement id).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// What both signed.
    pub statement: ReceiptStatement,
    /// The provider's signature.
    pub provider_sig: Signature,
    /// The receiver's signature.
    pub receiver_sig: Signature,
}

impl Receipt {
    /// Both signatures check out (`verify_strict`).
    pub fn signatures_valid(&self) -> bool {
        let msg = self.statement.signing_bytes();
        let check = |key: &AuthorKey, sig: &Signature| {
            VerifyingKey::from_bytes(&key.0)
                .and_then(|k| k.verify_strict(&msg, sig))
                .is_ok()
        };
        check(&self.statement.provider, &self.provider_sig)
            && check(&self.statement.receiver, &self.receiver_sig)
    }

    /// The party other than `who`, if `who` is a party.
    pub fn other_party(&self, who: &AuthorKey) -> Option<AuthorKey> {
        let s = &self.statement;
        if *who == s.provider {
            Some(s.receiver)
        } else if *who == s.receiver {
            Some(s.provider)
        } else {
            None
        }
    }
}

/// One party's review of the other, embedding the receipt so it validates without
/// looking anything up. Replaceable at `(author, Review, agreement id)`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Review {
    /// The receipt of the agreement reviewed.
    pub receipt: Receipt,
    /// 1 to 5.
    pub rating: u8,
    /// Up to 2 KiB.
    pub text: String,
}
