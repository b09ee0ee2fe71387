#![no_main]
//! Any bytes: decoding a signed record returns a value or an error, never panics,
//! and what decodes re-encodes to the same bytes.

use libfuzzer_sys::fuzz_target;
use swapmesh_protocol::SignedRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = SignedRecord::decode(data) {
        assert_eq!(record.encode(), data);
    }
});
