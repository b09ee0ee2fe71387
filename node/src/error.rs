//! The node's errors: each says what went wrong and, where it can, what to do.

use std::path::{Path, PathBuf};

use crate::data_dir::MIN_TOKEN_CHARS;

use swapmesh_protocol::validate::OwnError;
use swapmesh_store::StoreError;
use thiserror::Error;

/// Why a node operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another node runs on this data directory.
    #[error(
        "another swapmesh node is already running on {} (stop it first, or use another --data-dir)",
        .0.display()
    )]
    Locked(PathBuf),
    /// The data directory path names something that is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// A token file that is empty or too short to keep anyone out.
    #[error(
        "token file {} holds {found} characters, and a token needs at least {MIN_TOKEN_CHARS} (128 bits): delete the file and start the node again to make a new one, or write at least {MIN_TOKEN_CHARS} random hex characters into it",
        .path.display()
    )]
    WeakToken {
        /// The token file.
        path: PathBuf,
        /// Its length, trimmed.
        found: usize,
    },
    /// The key file can be read or written by group or others.
    #[error(
        "key file {path} has mode {mode:o}: others could read the key; if nobody copied it, run `chmod 600 {path}`"
    )]
    KeyFileExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not 32 bytes.
    #[error("key file {0} is not a swapmesh key (expected 32 bytes)")]
    KeyFileMalformed(PathBuf),
    /// There is a key already where a new one was to be written.
    #[error("a key already exists at {0}; refusing to overwrite it")]
    KeyExists(PathBuf),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The network failed.
    #[error("network: {0}")]
    Network(#[from] swapmesh_net::NetworkError),
    /// A record of ours breaks a rule.
    #[error("invalid record: {0}")]
    Invalid(#[from] OwnError),
    /// No listing of ours has this name.
    #[error("no listing of ours named {0:?}")]
    NoSuchListing(String),
    /// We hold no live vouch of ours for this subject.
    #[error("no live vouch of ours for {0}")]
    NoSuchVouch(String),
    /// The listing is another author's: only its author can change it.
    #[error("listing {0} belongs to another author; only its author can change it")]
    NotOurListing(String),
    /// A short id too short to look up by prefix (and not the name of a listing
    /// of ours).
    #[error(
        "{given:?} is not the name of one of your listings, and a prefix of a listing id needs at least {min} characters"
    )]
    IdPrefixTooShort {
        /// What was given.
        given: String,
        /// The least length of a prefix.
        min: usize,
    },
    /// A listing of ours with this name exists and is live.
    #[error("a listing named {0:?} exists already; update it instead")]
    ListingExists(String),
    /// The listing is withdrawn; it cannot be changed.
    #[error("listing {0:?} is withdrawn")]
    Withdrawn(String),
    /// No receipt of this agreement is held here (it has not ended, or its
    /// receipt has not come yet).
    #[error(
        "no receipt of agreement {0} is held here: it has not ended, or its receipt has not come yet"
    )]
    NoReceipt(swapmesh_protocol::AgreementId),
    /// Our own record lost to a version the store already holds.
    #[error("the store holds a newer version at this address")]
    Superseded,
    /// Our own record is outside our quota for one of its places: every node
    /// would refuse it.
    #[error("{}", match .0 {
        swapmesh_store::Quota::Topic => "this place holds 200 records of yours, what every node keeps of one author: a new one would push out your oldest",
        swapmesh_store::Quota::Day => "this place holds 100 records of yours from this day, what every node keeps of one author's day: try again tomorrow",
    })]
    OverQuota(swapmesh_store::Quota),
    /// The node's configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Something the node saved cannot be read back.
    #[error("the data directory holds damaged state: {0}")]
    Corrupt(String),
    /// The node has stopped.
    #[error("the node has stopped")]
    Stopped,
    /// A mesh invite was refused.
    #[error("invite: {0}")]
    Invite(#[from] crate::invite::InviteError),
    /// An agreement call was refused.
    #[error("agreement: {0}")]
    Agreement(#[from] crate::agree::AgreeError),
    /// The node is not in this mesh.
    #[error("this node is not in mesh {0}; join it first")]
    NotInMesh(String),
    /// A private mesh is joined with its invite, which carries its key: its id
    /// alone lets nobody in.
    #[error("mesh {0} is private: join it with its invite")]
    PrivateMeshNeedsInvite(String),
    /// A photo could not be stored or read.
    #[error("photo: {0}")]
    Photo(#[from] crate::blobs::BlobError),
    /// A listing names a photo that is not held here (upload it first).
    #[error("photo {0} is not held here: upload it first (POST /api/v1/blobs)")]
    MissingPhoto(swapmesh_protocol::BlobHash),
    /// The node has no address another node could dial (it listens nowhere yet).
    #[error("this node has no address to put in an invite: is it listening?")]
    NoAddressToShare,
}

impl NodeError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
