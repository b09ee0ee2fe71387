//! Ingest against the raw limit: bare `verify_strict` of a 300-byte message, next to
//! the whole ingest path (decode + canonical re-encode check + verify_strict +
//! validate) of a typical listing on one core, and the same over a batch spread
//! across both cores; and a review (three signatures: the record's and its
//! receipt's two) against three raw verifications; and the gossip path of a
//! private mesh (decode, open the sealed record, decode and check it) against
//! the open one (decode and check) over the same listings. The ratios, measured
//! in the same run, are printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::Signer;
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::private::{MeshKey, MeshSecrets};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::{Outcome, Receipt, ReceiptStatement, Review};
use swapmesh_protocol::{
    AgreementId, Content, GossipMessage, SignedRecord, Timestamp, check, check_bytes, fixtures,
    sign_own,
};

const NOW: Timestamp = Timestamp(1_800_000_000);
const BATCH: usize = 1024;

struct Inputs {
    key: ed25519_dalek::VerifyingKey,
    msg: Vec<u8>,
    sig: ed25519_dalek::Signature,
    /// Wire bytes of listings by many authors.
    records: Vec<Vec<u8>>,
    /// Wire bytes of reviews by many authors, each embedding its receipt.
    reviews: Vec<Vec<u8>>,
    /// Gossip messages of listings in a private mesh, in the clear.
    plain: Vec<Vec<u8>>,
    /// The same listings, sealed for the mesh.
    sealed: Vec<Vec<u8>>,
    /// The mesh's keys.
    mesh: MeshSecrets,
}

/// A review by `author` of `other`, after an agreement `other` provided.
fn review_bytes(
    author: &ed25519_dalek::SigningKey,
    other: &ed25519_dalek::SigningKey,
    n: u64,
) -> Vec<u8> {
    let mut agreement = [0u8; 32];
    agreement[..8].copy_from_slice(&n.to_be_bytes());
    let statement = ReceiptStatement {
        agreement: AgreementId(agreement),
        deal: DealKind::Rent,
        provider: author_of(other),
        receiver: author_of(author),
        outcome: Outcome::Completed,
        ended_at: NOW,
        on_time: Some(true),
    };
    let receipt = Receipt {
        provider_sig: statement.sign(other),
        receiver_sig: statement.sign(author),
        statement,
    };
    let review = Review {
        receipt,
        rating: 5,
        text: "Drill in perfect shape, friendly handover, would borrow again.".into(),
    };
    let mut body = fixtures::listing_body(author_of(author), "u4pru", fixtures::listing("x"), NOW);
    body.content = Content::Review(review);
    sign_own(&body, author, NOW)
        .expect("a valid review")
        .signed()
        .encode()
}

fn inputs() -> Inputs {
    let signer = fixtures::key(1);
    let msg = vec![0x42u8; 300];
    let sig = signer.sign(&msg);
    let records = (0..BATCH as u64)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i), &format!("item-{i}"), "u4pru", NOW)
                .signed()
                .encode()
        })
        .collect();
    let reviews = (0..BATCH as u64)
        .map(|i| review_bytes(&fixtures::key(i), &fixtures::key(i + 100_000), i))
        .collect();
    let mesh = MeshSecrets::new(&MeshKey::from_bytes([29; 32]));
    let private: Vec<SignedRecord> = (0..BATCH as u64)
        .map(|i| {
            let key = fixtures::key(i);
            let mut body =
                fixtures::listing_body(author_of(&key), "u4pru", fixtures::listing("x"), NOW);
            body.area = None;
            body.meshes = vec![mesh.id().clone()];
            sign_own(&body, &key, NOW).expect("valid").signed().clone()
        })
        .collect();
    let plain = private
        .iter()
        .map(|r| GossipMessage::record(r.clone()).encode())
        .collect();
    let sealed = private
        .iter()
        .map(|r| GossipMessage::sealed(mesh.seal(&r.encode())).encode())
        .collect();
    Inputs {
        key: signer.verifying_key(),
        msg,
        sig,
        records,
        reviews,
        plain,
        sealed,
        mesh,
    }
}

/// The open gossip path: decode the message, check its record.
fn ingest_plain(i: &Inputs) {
    for m in &i.plain {
        let GossipMessage::V1(record) = GossipMessage::decode(black_box(m)).unwrap() else {
            unreachable!()
        };
        black_box(check(record, NOW).unwrap());
    }
}

/// A private mesh's gossip path: decode the message, open it, decode and
/// check its record.
fn ingest_sealed(i: &Inputs) {
    for m in &i.sealed {
        let GossipMessage::Sealed(sealed) = GossipMessage::decode(black_box(m)).unwrap() else {
            unreachable!()
        };
        let plaintext = i.mesh.open(&sealed).unwrap();
        black_box(check(SignedRecord::decode(&plaintext).unwrap(), NOW).unwrap());
    }
}

fn raw_verify(i: &Inputs) {
    i.key.verify_strict(black_box(&i.msg), &i.sig).unwrap();
}

fn ingest_one_core(i: &Inputs) {
    for r in &i.records {
        black_box(check_bytes(black_box(r), NOW).unwrap());
    }
}

fn ingest_reviews(i: &Inputs) {
    for r in &i.reviews {
        black_box(check_bytes(black_box(r), NOW).unwrap());
    }
}

fn ingest_two_cores(i: &Inputs) {
    let (a, b) = i.records.split_at(i.records.len() / 2);
    std::thread::scope(|s| {
        for half in [a, b] {
            s.spawn(move || {
                for r in half {
                    black_box(check_bytes(black_box(r), NOW).unwrap());
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let i = inputs();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_verify_strict_300B", |b| b.iter(|| raw_verify(&i)));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ingest_listing_one_core", |b| {
        b.iter(|| ingest_one_core(&i))
    });
    g.bench_function("ingest_listing_two_cores", |b| {
        b.iter(|| ingest_two_cores(&i))
    });
    g.bench_function("ingest_review_one_core", |b| b.iter(|| ingest_reviews(&i)));
    g.bench_function("ingest_gossip_plain", |b| b.iter(|| ingest_plain(&i)));
    g.bench_function("ingest_gossip_sealed", |b| b.iter(|| ingest_sealed(&i)));
    g.finish();
}

/// Records per second of `f` over `per_call` records, best of several rounds.
fn rate(per_call: usize, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0usize;
        while start.elapsed() < Duration::from_millis(400) {
            f();
            calls += 1;
        }
        best = best.max((calls * per_call) as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn ratios() {
    let i = inputs();
    let raw = rate(64, || {
        for _ in 0..64 {
            raw_verify(&i)
        }
    });
    let one = rate(BATCH, || ingest_one_core(&i));
    let two = rate(BATCH, || ingest_two_cores(&i));
    let reviews = rate(BATCH, || ingest_reviews(&i));
    let plain = rate(BATCH, || ingest_plain(&i));
    let sealed = rate(BATCH, || ingest_sealed(&i));
    println!("\nratios (same run, best of 5 x 0.4 s):");
    println!("  raw verify_strict      {raw:>10.0} /s");
    println!(
        "  ingest, one core       {one:>10.0} /s  = {:.2}x raw",
        one / raw
    );
    println!(
        "  ingest, two cores      {two:>10.0} /s  = {:.2}x raw",
        two / raw
    );
    println!(
        "  reviews, one core      {reviews:>10.0} /s  x 3 signatures = {:.2}x raw",
        reviews * 3.0 / raw
    );
    println!(
        "  gossip, open mesh      {plain:>10.0} /s  = {:.2}x raw",
        plain / raw
    );
    println!(
        "  gossip, private mesh   {sealed:>10.0} /s  = {:.2}x open mesh (sealed: + decrypt, nonce check)",
        sealed / plain
    );
}

// criterion_group! defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
