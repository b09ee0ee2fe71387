//! Invites to a named mesh: a text a person can paste into a chat or read out,
//! carrying the mesh id (format 1, an open mesh) or the mesh's key (format 2, a
//! private mesh: its id follows from the key, and the invite is the only way
//! in), its name and the addresses of peers to start from.
//!
//! ```text
//! swapmesh:<base32 of (canonical encoding of the invite ‖ 4-byte checksum)>
//! ```
//!
//! The body is the canonical bincode encoding of a versioned structure (the
//! protocol's [`encoding`](swapmesh_protocol::encoding), so it decodes with a
//! byte limit and exactly one spelling); the checksum is the first 4 bytes of
//! blake3 over the body, so a mistyped, truncated or corrupted invite is refused
//! with [`InviteError::Checksum`] instead of joining a wrong mesh or dialling a
//! wrong address (about one corrupted invite in four billion slips through).
//! Base32 (RFC 4648, lower case, no padding) survives chat apps, e-mail and
//! being read aloud; upper case is accepted and whitespace (line breaks added by
//! a mail client) is ignored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use swapmesh_net::multiaddr::Protocol;
use swapmesh_net::{Multiaddr, PeerId};
use swapmesh_protocol::MeshId;
use swapmesh_protocol::encoding::{DecodeError, decode_canonical, encode};
use swapmesh_protocol::private::{MESH_KEY_LEN, MeshKey};
use thiserror::Error;

/// Addresses of its own a node puts in an invite.
pub const MAX_OWN_ADDRESSES: usize = 8;
/// What every invite text starts with.
pub const PREFIX: &str = "swapmesh:";
/// The longest invite text accepted, in characters (about 2.5 KiB of body:
/// sixteen addresses with their peer ids fit).
pub const MAX_TEXT: usize = 4096;
/// The most bootstrap addresses an invite carries.
pub const MAX_ADDRESSES: usize = 16;
/// The longest mesh name, in characters.
pub const MAX_NAME: usize = 64;

/// The invite format of an open mesh (its id).
const VERSION: u8 = 1;
/// The invite format of a private mesh (its key).
const PRIVATE_VERSION: u8 = 2;
/// Bytes of checksum after the body.
const CHECKSUM_LEN: usize = 4;
/// The base32 alphabet (RFC 4648).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A named mesh this node is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshInfo {
    /// Its id.
    pub id: MeshId,
    /// Its name, if it was created here or joined with an invite (a mesh joined
    /// by id alone has none).
    pub name: Option<String>,
    /// Whether it is private: only its invite lets anyone in.
    pub private: bool,
    /// Whether this node announces the mesh's topic in Kademlia.
    pub discoverable: bool,
}

/// An invite to a named mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The mesh.
    pub mesh: MeshId,
    /// Its human name (1–64 characters, no control characters).
    pub name: String,
    /// Addresses of peers in the mesh, each ending in `/p2p/<peer id>` (1–16).
    pub bootstrap: Vec<Multiaddr>,
    /// A private mesh's key (format 2); `None` for an open mesh.
    pub key: Option<MeshKey>,
    /// Whether members announce the mesh's topic in Kademlia (always for an
    /// open mesh).
    pub discoverable: bool,
}

/// Why an invite text was refused. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InviteError {
    /// The text does not start with `swapmesh:`.
    #[error("not a swapmesh invite: it must start with \"swapmesh:\"")]
    MissingPrefix,
    /// The text is longer than any invite.
    #[error("the invite is {len} characters long, over the limit of {limit}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A character that base32 does not use (0, 1, 8, 9, punctuation, ...).
    #[error(
        "the invite has {character:?} at position {position}, which no invite contains: check for a typo"
    )]
    BadCharacter {
        /// The character.
        character: char,
        /// Its position after the prefix (whitespace not counted), from 0.
        position: usize,
    },
    /// The text is too short to hold an invite (cut off when copied?).
    #[error("the invite is too short: was it cut off when copied?")]
    TooShort,
    /// The checksum does not match: the text was mistyped, cut or altered.
    #[error(
        "the invite's checksum does not match: it was mistyped, cut off or altered; ask for it again"
    )]
    Checksum,
    /// The checksum matches but the content is not an invite (a bug in the
    /// program that wrote it).
    #[error("the invite is malformed: {0}")]
    Malformed(DecodeError),
    /// An invite of a newer format.
    #[error(
        "the invite has format version {0}; this swapmesh reads versions 1 and 2: upgrade swapmesh"
    )]
    UnsupportedVersion(u8),
    /// The mesh id is not `[a-z0-9]{1,32}`.
    #[error("the invite names an invalid mesh id {0:?}")]
    BadMeshId(String),
    /// The mesh name is empty, too long, or has control characters.
    #[error("the invite's mesh name must be 1 to {MAX_NAME} characters with no control characters")]
    BadName,
    /// The invite carries no address, or too many.
    #[error("the invite must carry between 1 and {MAX_ADDRESSES} addresses, not {0}")]
    AddressCount(usize),
    /// An address is not a multiaddr, or does not end with `/p2p/<peer id>`.
    #[error(
        "the invite carries an unusable address {0}: it must be a multiaddr ending in /p2p/<peer id>"
    )]
    BadAddress(String),
}

/// The encoded form (version first, so later formats can be told apart).
#[derive(Serialize, Deserialize)]
struct Wire {
    version: u8,
    mesh: String,
    name: String,
    /// Multiaddrs in their binary form.
    bootstrap: Vec<Vec<u8>>,
}

/// The encoded form of a private mesh's invite (format 2).
#[derive(Serialize, Deserialize)]
struct PrivateWire {
    version: u8,
    key: [u8; MESH_KEY_LEN],
    name: String,
    bootstrap: Vec<Vec<u8>>,
    /// Whether members announce the mesh's topic in Kademlia.
    discoverable: bool,
}

impl Invite {
    /// An invite; checks the same rules as [`Invite::parse`].
    pub fn new(
        mesh: MeshId,
        name: impl Into<String>,
        bootstrap: Vec<Multiaddr>,
    ) -> Result<Self, InviteError> {
        let invite = Self {
            mesh,
            name: name.into(),
            bootstrap,
            key: None,
            discoverable: true,
        };
        invite.check()?;
        Ok(invite)
    }

    /// This invite turned into one to the private mesh of `key` (its id
    /// follows from the key).
    pub fn into_private(self, key: MeshKey, discoverable: bool) -> Self {
        Self {
            mesh: key.id(),
            key: Some(key),
            discoverable,
            ..self
        }
    }

    /// The invite text: `swapmesh:` followed by base32.
    pub fn encode(&self) -> String {
        let bootstrap = self.bootstrap.iter().map(|a| a.to_vec()).collect();
        let mut bytes = match &self.key {
            None => encode(&Wire {
                version: VERSION,
                mesh: self.mesh.as_str().to_owned(),
                name: self.name.clone(),
                bootstrap,
            }),
            Some(key) => encode(&PrivateWire {
                version: PRIVATE_VERSION,
                key: *key.as_bytes(),
                name: self.name.clone(),
                bootstrap,
                discoverable: self.discoverable,
            }),
        };
        let checksum = checksum(&bytes);
        bytes.extend_from_slice(&checksum);
        format!("{PREFIX}{}", base32_encode(&bytes))
    }

    /// Reads an invite text (whitespace anywhere is ignored, case does not matter).
    pub fn parse(text: &str) -> Result<Self, InviteError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let len = compact.chars().count();
        if len > MAX_TEXT {
            return Err(InviteError::TooLong {
                len,
                limit: MAX_TEXT,
            });
        }
        let body = match compact.get(..PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &compact[PREFIX.len()..],
            _ => return Err(InviteError::MissingPrefix),
        };
        let bytes = base32_decode(body)?;
        if bytes.len() <= CHECKSUM_LEN {
            return Err(InviteError::TooShort);
        }
        let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if checksum(content) != sum {
            return Err(InviteError::Checksum);
        }
        // Peek at the version before decoding the rest: each format has its
        // own fields.
        let (mesh, name, bootstrap, key, discoverable) = match content[0] {
            VERSION => {
                let wire: Wire =
                    decode_canonical(content, MAX_TEXT).map_err(InviteError::Malformed)?;
                let mesh = MeshId::parse(&wire.mesh)
                    .filter(|m| !m.is_private())
                    .ok_or(InviteError::BadMeshId(wire.mesh))?;
                (mesh, wire.name, wire.bootstrap, None, true)
            }
            PRIVATE_VERSION => {
                let wire: PrivateWire =
                    decode_canonical(content, MAX_TEXT).map_err(InviteError::Malformed)?;
                let key = MeshKey::from_bytes(wire.key);
                (
                    key.id(),
                    wire.name,
                    wire.bootstrap,
                    Some(key),
                    wire.discoverable,
                )
            }
            version => return Err(InviteError::UnsupportedVersion(version)),
        };
        if bootstrap.len() > MAX_ADDRESSES {
            return Err(InviteError::AddressCount(bootstrap.len()));
        }
        let bootstrap = bootstrap
            .into_iter()
            .map(|b| Multiaddr::try_from(b).map_err(|e| InviteError::BadAddress(format!("({e})"))))
            .collect::<Result<Vec<_>, _>>()?;
        let invite = Self {
            mesh,
            name,
            bootstrap,
            key,
            discoverable,
        };
        invite.check()?;
        Ok(invite)
    }

    /// An invite of peer `me` to `mesh`: its external addresses first, then
    /// where it listens, loopback last (it only helps another node on the same
    /// machine), each ending in `/p2p/<me>`, at most [`MAX_OWN_ADDRESSES`].
    pub fn of_own_addresses(
        mesh: MeshId,
        name: &str,
        me: PeerId,
        external: Vec<Multiaddr>,
        mut listening: Vec<Multiaddr>,
    ) -> Result<Self, InviteError> {
        listening.sort_by_key(is_loopback);
        let mut bootstrap: Vec<Multiaddr> = Vec::new();
        for address in external.into_iter().chain(listening) {
            let address = match address.iter().last() {
                Some(Protocol::P2p(_)) => address,
                _ => address.with(Protocol::P2p(me)),
            };
            if !bootstrap.contains(&address) {
                bootstrap.push(address);
            }
        }
        bootstrap.truncate(MAX_OWN_ADDRESSES);
        Self::new(mesh, name, bootstrap)
    }

    /// The peers the invite names, with their addresses.
    pub fn peers(&self) -> Vec<(PeerId, Multiaddr)> {
        self.bootstrap
            .iter()
            .filter_map(|a| peer_of(a).map(|p| (p, a.clone())))
            .collect()
    }

    fn check(&self) -> Result<(), InviteError> {
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > MAX_NAME || self.name.chars().any(char::is_control) {
            return Err(InviteError::BadName);
        }
        if self.bootstrap.is_empty() || self.bootstrap.len() > MAX_ADDRESSES {
            return Err(InviteError::AddressCount(self.bootstrap.len()));
        }
        if let Some(bad) = self.bootstrap.iter().find(|a| peer_of(a).is_none()) {
            return Err(InviteError::BadAddress(bad.to_string()));
        }
        Ok(())
    }
}

/// Whether an address is a loopback one (only useful on this machine).
fn is_loopback(address: &Multiaddr) -> bool {
    address.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for Invite {
    type Err = InviteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The peer an address ends with.
fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(swapmesh_net::multiaddr::Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let hash = blake3::hash(bytes);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&hash.as_bytes()[..CHECKSUM_LEN]);
    out
}

/// RFC 4648 base32, lower case, no padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The inverse of [`base32_encode`]; any case. The bits after the last whole
/// byte must be zero and fewer than five, as the encoder writes them; otherwise
/// the last character was mistyped (or one was added), which reads as a
/// checksum failure.
fn base32_decode(text: &str) -> Result<Vec<u8>, InviteError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for (position, character) in text.chars().enumerate() {
        let lower = character.to_ascii_lowercase();
        let value =
            ALPHABET
                .iter()
                .position(|&c| c as char == lower)
                .ok_or(InviteError::BadCharacter {
                    character,
                    position,
                })?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if bits >= 5 || buffer != 0 {
        return Err(InviteError::Checksum);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        swapmesh_net::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    fn sample() -> Invite {
        let p = peer();
        Invite::new(
            MeshId::random(),
            "Rue des Lilas",
            vec![
                format!("/ip4/192.0.2.10/tcp/4001/p2p/{p}").parse().unwrap(),
                format!("/dns4/home.example.org/udp/4001/quic-v1/p2p/{p}")
                    .parse()
                    .unwrap(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn round_trips() {
        let invite = sample();
        let text = invite.encode();
        assert!(text.starts_with(PREFIX));
        assert_eq!(Invite::parse(&text), Ok(invite.clone()));
        assert_eq!(text.parse::<Invite>(), Ok(invite));
    }

    #[test]
    fn whitespace_and_case_are_forgiven() {
        let invite = sample();
        let text = invite.encode();
        let mut wrapped = String::new();
        for (i, c) in text.to_uppercase().chars().enumerate() {
            if i % 40 == 39 {
                wrapped.push_str("\n  ");
            }
            wrapped.push(c);
        }
        assert_eq!(Invite::parse(&format!("  {wrapped}\n")), Ok(invite));
    }

    #[test]
    fn every_single_character_typo_is_refused() {
        let text = sample().encode();
        let body_start = PREFIX.len();
        for i in body_start..text.len() {
            let original = text.as_bytes()[i];
            for &replacement in ALPHABET {
                if replacement == original {
                    continue;
                }
                let mut typo = text.clone().into_bytes();
                typo[i] = replacement;
                let typo = String::from_utf8(typo).unwrap();
                let error = Invite::parse(&typo).unwrap_err();
                assert!(
                    matches!(
                        error,
                        InviteError::Checksum | InviteError::UnsupportedVersion(_)
                    ),
                    "typo at {i} gave {error:?}"
                );
            }
        }
    }

    #[test]
    fn truncated_and_swapped_invites_are_refused() {
        let text = sample().encode();
        for cut in [1, 2, 7, text.len() / 2] {
            let short = &text[..text.len() - cut];
            assert!(Invite::parse(short).is_err(), "cut {cut}");
        }
        let mut swapped = text.clone().into_bytes();
        let n = swapped.len();
        swapped.swap(n - 10, n - 20);
        if swapped != text.as_bytes() {
            let swapped = String::from_utf8(swapped).unwrap();
            assert_eq!(Invite::parse(&swapped), Err(InviteError::Checksum));
        }
        assert_eq!(Invite::parse("swapmesh:"), Err(InviteError::TooShort));
    }

    #[test]
    fn foreign_text_gets_a_clear_error() {
        assert_eq!(
            Invite::parse("https://example.org/join"),
            Err(InviteError::MissingPrefix)
        );
        let text = sample().encode();
        let with_one = format!("{}1{}", &text[..20], &text[21..]);
        assert_eq!(
            Invite::parse(&with_one),
            Err(InviteError::BadCharacter {
                character: '1',
                position: 20 - PREFIX.len(),
            })
        );
        let long = format!("{PREFIX}{}", "a".repeat(MAX_TEXT));
        assert!(matches!(
            Invite::parse(&long),
            Err(InviteError::TooLong { .. })
        ));
    }

    #[test]
    fn invites_without_usable_addresses_or_names_cannot_be_made() {
        let mesh = MeshId::random();
        assert_eq!(
            Invite::new(mesh.clone(), "x", vec![]),
            Err(InviteError::AddressCount(0))
        );
        let no_peer: Multiaddr = "/ip4/192.0.2.1/tcp/1".parse().unwrap();
        assert!(matches!(
            Invite::new(mesh.clone(), "x", vec![no_peer]),
            Err(InviteError::BadAddress(_))
        ));
        let addr: Multiaddr = format!("/ip4/192.0.2.1/tcp/1/p2p/{}", peer())
            .parse()
            .unwrap();
        assert_eq!(
            Invite::new(mesh.clone(), "", vec![addr.clone()]),
            Err(InviteError::BadName)
        );
        assert_eq!(
            Invite::new(mesh.clone(), "a\nb", vec![addr.clone()]),
            Err(InviteError::BadName)
        );
        assert_eq!(
            Invite::new(mesh, "x".repeat(MAX_NAME + 1), vec![addr]),
            Err(InviteError::BadName)
        );
    }

    #[test]
    fn a_newer_version_is_named_as_such() {
        let invite = sample();
        let wire = Wire {
            version: 3,
            mesh: invite.mesh.as_str().to_owned(),
            name: invite.name.clone(),
            bootstrap: vec![],
        };
        let mut bytes = encode(&wire);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        let text = format!("{PREFIX}{}", base32_encode(&bytes));
        assert_eq!(
            Invite::parse(&text),
            Err(InviteError::UnsupportedVersion(3))
        );
    }

    #[test]
    fn a_private_invite_carries_the_key_and_round_trips() {
        let key = MeshKey::random();
        let invite = sample().into_private(key.clone(), false);
        assert_eq!(invite.mesh, key.id());
        let text = invite.encode();
        let back = Invite::parse(&text).unwrap();
        assert_eq!(back, invite);
        assert_eq!(back.key, Some(key));
        assert!(!back.discoverable);
        // A typo anywhere is still refused.
        let mut typo = text.into_bytes();
        let at = typo.len() / 2;
        typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            Invite::parse(&String::from_utf8(typo).unwrap()),
            Err(InviteError::Checksum)
        );
    }

    #[test]
    fn an_open_invite_naming_a_private_id_is_refused() {
        let invite = sample();
        let wire = Wire {
            version: VERSION,
            mesh: MeshKey::random().id().as_str().to_owned(),
            name: invite.name.clone(),
            bootstrap: invite.bootstrap.iter().map(|a| a.to_vec()).collect(),
        };
        let mut bytes = encode(&wire);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        let text = format!("{PREFIX}{}", base32_encode(&bytes));
        assert!(matches!(
            Invite::parse(&text),
            Err(InviteError::BadMeshId(_))
        ));
    }

    #[test]
    fn base32_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&bytes)), Ok(bytes));
        }
    }
}
