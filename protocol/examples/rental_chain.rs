//! Prints a rental's event chain byte by byte: each event's id, then its body
//! field by field (the canonical bincode of `EventBody` is its fields one after
//! another), then the signature. Run: `cargo run -p swapmesh-protocol --example
//! rental_chain`.

use swapmesh_protocol::agreement::{Action, Leg, VerifiedEvent};
use swapmesh_protocol::encoding::encode;
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::time::DAY;

fn hex_lines(label: &str, bytes: &[u8]) {
    for (i, chunk) in bytes.chunks(32).enumerate() {
        let name = if i == 0 { label } else { "" };
        println!("  {name:<9} {}", hex::encode(chunk));
    }
}

fn show(n: usize, event: &VerifiedEvent) {
    let body = event.body();
    println!(
        "event {n}: {} by {} at {}  id {}  ({} body bytes)",
        body.action.name(),
        &body.signer.to_string()[..8],
        body.at.secs(),
        event.id(),
        event.signed().body.len()
    );
    let fields: [(&str, Vec<u8>); 6] = [
        ("version", encode(&body.version)),
        ("link", encode(&body.link)),
        ("signer", encode(&body.signer)),
        ("at", encode(&body.at)),
        ("action", encode(&body.action)),
        ("note", encode(&body.note)),
    ];
    let joined: Vec<u8> = fields.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(joined, event.signed().body, "a body is its fields in order");
    for (name, bytes) in &fields {
        hex_lines(name, bytes);
    }
    hex_lines("sig", &event.signed().sig.to_bytes());
}

fn main() {
    let t = LISTED.plus(3600);
    let mut chain = Chain::accepted(DealKind::Rent, t);
    let start = t.plus(DAY);
    let confirm = |of| Action::Confirm {
        of,
        deposit_returned: None,
    };
    let handover = chain
        .act(
            Side::Provider,
            Action::Handover { leg: Leg::Provider },
            start,
        )
        .unwrap();
    chain
        .act(Side::Receiver, confirm(handover.id()), start)
        .unwrap();
    let due = chain.agreement().due.unwrap();
    let ret = chain
        .act(Side::Receiver, Action::Return { leg: Leg::Provider }, due)
        .unwrap();
    chain
        .act(
            Side::Provider,
            Action::Confirm {
                of: ret.id(),
                deposit_returned: Some(eur(5000)),
            },
            due,
        )
        .unwrap();
    for (n, event) in chain.events.iter().enumerate() {
        show(n, event);
    }
    let agreement = chain.agreement();
    println!(
        "\nagreement {} {:?}, receipt statement: {:?}",
        agreement.id,
        agreement.phase,
        agreement.receipt_statement()
    );
}
