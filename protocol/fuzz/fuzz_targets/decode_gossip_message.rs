#![no_main]
//! Any bytes: decoding a gossip message never panics and is canonical.

use libfuzzer_sys::fuzz_target;
use swapmesh_protocol::GossipMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = GossipMessage::decode(data) {
        assert_eq!(message.encode(), data);
    }
});
