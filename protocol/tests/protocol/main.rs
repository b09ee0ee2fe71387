//! The protocol's promises, one module per area.

mod agreement;
mod decode;
mod private;
mod roundtrip;
mod rules;
mod strategies;
mod supersedes;
