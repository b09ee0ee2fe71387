//! The web page the node serves (DESIGN §7): so far, signing in — one-time
//! links and the cookie sessions they start ([`sessions`]).

pub mod sessions;

pub use sessions::{LinkError, LoginCode, NewSession, RedeemError, WebSessions};
