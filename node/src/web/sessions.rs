//! Signing in to the web page: one-time links, and the sessions they start.
//!
//! # Links
//! `swapmesh open` asks the API (with the bearer token) for a link carrying a
//! code of 128 random bits. The code is kept in memory only, by its blake3
//! hash, until it is used once or its time (`login_link_ttl`, default 10
//! minutes) runs out: a node that restarts forgets its unused links, and the
//! person asks for another.
//!
//! # Sessions
//! Redeeming a link starts a session: a cookie value of 256 random bits and a
//! CSRF token of 128 bits that the page puts in every form. The store keeps
//! the session under the blake3 hash of the cookie value (state key
//! `web-session/<hex hash>`), never the value itself, so a copy of the data
//! directory signs nobody in. A session unused for 30 days (by the node's
//! clock) ends; signing out ends one, revoking ends them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_store::Store;

use crate::clock::Clock;
use crate::error::NodeError;

/// Prefix of the state keys of web sessions.
const SESSION_PREFIX: &str = "web-session/";
/// How long a session may go unused: 30 days.
pub const SESSION_IDLE_SECS: u64 = 30 * 24 * 3600;
/// A session's last use is written at most this often (a page load reads it
/// every time).
const TOUCH_EVERY_SECS: u64 = 60;
/// Most unused links held at once; the oldest goes first.
const MAX_LINKS: usize = 64;
/// Largest encoded session read back.
const MAX_SESSION: usize = 64;

/// A one-time sign-in code, as it goes into a link (32 hex characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode(pub String);

/// A session just started: the cookie value to set and its CSRF token (64 and
/// 32 hex characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The cookie's value.
    pub cookie: String,
    /// The token every cookie write carries.
    pub csrf: String,
}

/// Why a link signed nobody in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Never issued, or used already.
    #[error(
        "this sign-in link is unknown or was used already: ask for a new one (`swapmesh open`)"
    )]
    Unknown,
    /// Issued, but its time ran out.
    #[error("this sign-in link has expired: ask for a new one (`swapmesh open`)")]
    Expired,
}

/// A session as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSession {
    csrf: [u8; 16],
    last_seen: u64,
}

/// The web sessions of one node. Cheap to clone.
#[derive(Clone)]
pub struct WebSessions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    link_ttl: Duration,
    /// Unused links: blake3(code) → when issued.
    links: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for WebSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSessions")
            .field("link_ttl", &self.inner.link_ttl)
            .finish_non_exhaustive()
    }
}

fn hash(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

fn session_key(cookie: &str) -> String {
    format!("{SESSION_PREFIX}{}", hex::encode(hash(cookie)))
}

impl WebSessions {
    /// The sessions kept in `store`; links live `link_ttl`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, link_ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                link_ttl,
                links: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How long a new link stays valid.
    pub fn link_ttl(&self) -> Duration {
        self.inner.link_ttl
    }

    /// Issues a one-time code.
    pub fn issue_link(&self) -> LoginCode {
        let code = hex::encode(rand::random::<[u8; 16]>());
        let now = Instant::now();
        let mut links = self.lock_links();
        links.retain(|_, issued| now.duration_since(*issued) < self.inner.link_ttl);
        if links.len() >= MAX_LINKS
            && let Some(oldest) = links.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k)
        {
            links.remove(&oldest);
        }
        links.insert(hash(&code), now);
        LoginCode(code)
    }

    /// Uses a code once: a session starts if it was issued here and its time
    /// has not run out. A used or unknown code is [`LinkError::Unknown`].
    pub async fn redeem(&self, code: &str) -> Result<NewSession, RedeemError> {
        let issued = self.lock_links().remove(&hash(code));
        match issued {
            None => Err(RedeemError::Link(LinkError::Unknown)),
            Some(at) if at.elapsed() >= self.inner.link_ttl => {
                Err(RedeemError::Link(LinkError::Expired))
            }
            Some(_) => Ok(self.start().await?),
        }
    }

    /// Starts a session (a redeemed link, or the API token typed on `/login`),
    /// durable before it returns.
    pub async fn start(&self) -> Result<NewSession, NodeError> {
        let cookie = hex::encode(rand::random::<[u8; 32]>());
        let csrf = rand::random::<[u8; 16]>();
        let stored = StoredSession {
            csrf,
            last_seen: self.inner.clock.now().secs(),
        };
        self.inner
            .store
            .put_state_durable(&session_key(&cookie), &encode(&stored))
            .await?;
        Ok(NewSession {
            cookie,
            csrf: hex::encode(csrf),
        })
    }

    /// The CSRF token of the live session whose cookie value is `cookie`, if
    /// there is one; a session idle too long is ended here.
    pub fn check(&self, cookie: &str) -> Result<Option<String>, NodeError> {
        let key = session_key(cookie);
        let Some(bytes) = self.inner.store.get_state(&key)? else {
            return Ok(None);
        };
        let mut stored: StoredSession = decode_canonical(&bytes, MAX_SESSION)
            .map_err(|e| NodeError::Corrupt(format!("web session: {e}")))?;
        let now = self.inner.clock.now().secs();
        if now.saturating_sub(stored.last_seen) >= SESSION_IDLE_SECS {
            self.inner.store.remove_state(&key)?;
            return Ok(None);
        }
        if now.saturating_sub(stored.last_seen) >= TOUCH_EVERY_SECS {
            stored.last_seen = now;
            self.inner.store.put_state(&key, &encode(&stored))?;
        }
        Ok(Some(hex::encode(stored.csrf)))
    }

    /// Does `given` match the session's CSRF token (in constant time)?
    pub fn csrf_matches(expected: &str, given: &str) -> bool {
        bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    }

    /// Ends one session (sign-out); returns whether it was live.
    pub async fn end(&self, cookie: &str) -> Result<bool, NodeError> {
        let ended = self.inner.store.remove_state(&session_key(cookie))?;
        self.inner.store.flush().await?;
        Ok(ended)
    }

    /// Ends every session, and forgets every unused link; returns how many
    /// sessions ended. Durable before it returns.
    pub async fn revoke_all(&self) -> Result<usize, NodeError> {
        self.lock_links().clear();
        let keys = self.inner.store.state_keys(SESSION_PREFIX)?;
        for key in &keys {
            self.inner.store.remove_state(key)?;
        }
        self.inner.store.flush().await?;
        Ok(keys.len())
    }

    fn lock_links(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Instant>> {
        self.inner.links.lock().expect("links lock")
    }
}

/// Why redeeming a link failed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// The link is not (or no longer) good.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The session could not be saved.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<swapmesh_store::StoreError> for RedeemError {
    fn from(e: swapmesh_store::StoreError) -> Self {
        Self::Node(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use swapmesh_protocol::Timestamp;

    fn sessions(ttl: Duration) -> (WebSessions, ManualClock) {
        let clock = ManualClock::at(Timestamp(1_000_000));
        let store = Store::temporary().unwrap();
        (WebSessions::new(store, Arc::new(clock.clone()), ttl), clock)
    }

    #[tokio::test]
    async fn a_link_signs_in_once() {
        let (s, _) = sessions(Duration::from_secs(60));
        let code = s.issue_link();
        assert_eq!(code.0.len(), 32);
        let session = s.redeem(&code.0).await.unwrap();
        assert_eq!(session.cookie.len(), 64);
        assert_eq!(s.check(&session.cookie).unwrap(), Some(session.csrf));
        assert!(matches!(
            s.redeem(&code.0).await,
            Err(RedeemError::Link(LinkError::Unknown))
        ));
        assert!(matches!(
            s.redeem("00").await,
            Err(RedeemError::Link(LinkError::Unknown))
        ));
    }

    #[tokio::test]
    async fn an_expired_link_signs_nobody_in() {
        let (s, _) = sessions(Duration::from_millis(50));
        let code = s.issue_link();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(
            s.redeem(&code.0).await,
            Err(RedeemError::Link(LinkError::Expired))
        ));
    }

    #[tokio::test]
    async fn an_idle_session_ends_and_revoking_ends_all() {
        let (s, clock) = sessions(Duration::from_secs(60));
        let a = s.start().await.unwrap();
        let b = s.start().await.unwrap();
        clock.advance(SESSION_IDLE_SECS - 10);
        assert!(s.check(&a.cookie).unwrap().is_some(), "used: touched");
        clock.advance(20);
        assert!(s.check(&a.cookie).unwrap().is_some());
        assert_eq!(s.check(&b.cookie).unwrap(), None, "idle 30 days");
        let c = s.start().await.unwrap();
        let unused = s.issue_link();
        assert_eq!(s.revoke_all().await.unwrap(), 2);
        assert_eq!(s.check(&a.cookie).unwrap(), None);
        assert_eq!(s.check(&c.cookie).unwrap(), None);
        assert!(s.redeem(&unused.0).await.is_err());
        assert!(!s.end(&a.cookie).await.unwrap());
    }

    #[tokio::test]
    async fn the_store_never_holds_the_cookie_value() {
        let (s, _) = sessions(Duration::from_secs(60));
        let session = s.start().await.unwrap();
        let keys = s.inner.store.state_keys(SESSION_PREFIX).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(!keys[0].contains(&session.cookie));
        let value = s.inner.store.get_state(&keys[0]).unwrap().unwrap();
        assert!(!hex::encode(value).contains(&session.cookie));
    }
}
