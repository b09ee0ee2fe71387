//! Receipts and reviews through the CLI (issue 17), after the README's
//! walk-through to a completed rental between real nodes: the receipt both
//! signed reaches a third node, and so do both parties' reviews; a second
//! review replaces the first; the summary counts them.

use std::path::Path;

use serde_json::Value;
use swapmesh_protocol::{AuthorKey, Content, RecordKind};
use swapmesh_store::{Store, StoreOptions};

use crate::agreements::rental::{Walk, completed_rental};
use crate::kit::{eventually, ok};

/// `dir`'s node's own key.
fn key_of(dir: &Path) -> String {
    let status: Value = serde_json::from_str(&ok(dir, &["status", "--json"])).unwrap();
    status["author"].as_str().unwrap().to_owned()
}

/// `args` on `dir`'s node, read as JSON.
fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).expect("--json prints JSON")
}

/// Waits until `dir`'s node holds the receipt of the walk's agreement.
fn until_receipt(walk: &Walk, dir: &Path) {
    eventually("the receipt", || {
        !json(dir, &["agreement", "show", &walk.short, "--json"])["receipt"].is_null()
    });
}

/// The reviews `dir`'s node holds of `subject`.
fn reviews_of(dir: &Path, subject: &str) -> Vec<Value> {
    json(dir, &["review", "list", "--subject", subject, "--json"])["reviews"]
        .as_array()
        .unwrap()
        .clone()
}

/// Both parties review each other: Ben gives Ana 5, Ana gives Ben 4.
fn both_review(walk: &Walk) {
    for dir in [&walk.ben, &walk.ana] {
        until_receipt(walk, dir);
    }
    let line = ok(
        &walk.ben,
        &[
            "review",
            "add",
            &walk.short,
            "--rating",
            "5",
            "--text",
            "Drill like new, easy handover",
        ],
    );
    assert!(line.starts_with("reviewed "), "{line}");
    ok(
        &walk.ana,
        &[
            "review",
            "add",
            &walk.short,
            "--rating",
            "4",
            "--text",
            "Came back clean and on time",
        ],
    );
}

#[test]
fn completed_rental_leaves_one_receipt_on_a_third_node() {
    let mut walk = completed_rental();
    let ana = key_of(&walk.ana);
    for dir in [&walk.ana, &walk.ben] {
        until_receipt(&walk, dir);
    }
    let at_ben = json(&walk.ben, &["agreement", "show", &walk.short, "--json"]);
    let receipt = &at_ben["receipt"];
    assert_eq!(receipt["outcome"], "completed", "{receipt}");
    assert_eq!(receipt["on_time"], true, "{receipt}");
    assert_eq!(receipt["kind"], "rent");
    eventually("Cas's node to hold the receipt", || {
        json(&walk.cas, &["review", "summary", &ana[..8], "--json"])["receipts"]["completed"] == 1
    });
    let summary = json(&walk.cas, &["review", "summary", &ana[..8], "--json"]);
    assert_eq!(summary["on_time"], 1, "{summary}");
    assert_eq!(summary["returns"], 1, "{summary}");

    // The one record Cas holds: both signatures, no terms, pickup or note.
    let cas = walk.nodes.pop().unwrap();
    cas.terminate();
    let store = Store::open(walk.cas.join("db"), StoreOptions::default()).unwrap();
    let author: AuthorKey = ana.parse().unwrap();
    let receipts = store
        .by_party(&author, &[RecordKind::Receipt], None, 10)
        .unwrap()
        .records;
    assert_eq!(receipts.len(), 1, "one receipt");
    let record = &receipts[0];
    assert_eq!(record.body.author, author, "published by the provider");
    let Content::Receipt(r) = &record.body.content else {
        panic!("a receipt");
    };
    assert!(r.signatures_valid());
    assert_eq!(r.statement.agreement.to_string()[..8], walk.short[..8]);
    let bytes = record.signed.encode();
    for private in ["blue gate", "weekend", "4 a day"] {
        assert!(
            !bytes
                .windows(private.len())
                .any(|w| w == private.as_bytes()),
            "{private:?} in the receipt"
        );
    }
}

#[test]
fn both_reviews_reach_the_third_node() {
    let walk = completed_rental();
    let (ana, ben) = (key_of(&walk.ana), key_of(&walk.ben));
    both_review(&walk);
    eventually("both reviews on Cas's node", || {
        reviews_of(&walk.cas, &ana).len() == 1 && reviews_of(&walk.cas, &ben).len() == 1
    });
    let of_ana = &reviews_of(&walk.cas, &ana)[0];
    assert_eq!(of_ana["author"], ben.as_str());
    assert_eq!(of_ana["rating"], 5);
    assert_eq!(of_ana["text"], "Drill like new, easy handover");
    assert_eq!(of_ana["receipt"]["outcome"], "completed");
    let of_ben = &reviews_of(&walk.cas, &ben)[0];
    assert_eq!(of_ben["author"], ana.as_str());
    assert_eq!(of_ben["rating"], 4);
    let by_ben = json(&walk.cas, &["review", "list", "--author", &ben, "--json"]);
    assert_eq!(by_ben["reviews"].as_array().unwrap().len(), 1, "{by_ben}");
    let text = ok(&walk.cas, &["review", "list", "--subject", &ana[..8]]);
    assert!(text.contains("★★★★★ 5/5"), "{text}");
}

#[test]
fn a_second_review_replaces_the_first() {
    let walk = completed_rental();
    let ana = key_of(&walk.ana);
    both_review(&walk);
    eventually("the first review on Cas's node", || {
        reviews_of(&walk.cas, &ana).len() == 1
    });
    ok(
        &walk.ben,
        &[
            "review",
            "add",
            &walk.short,
            "--rating",
            "3",
            "--text",
            "On second thought: the case was missing",
        ],
    );
    eventually("the second review on Cas's node", || {
        let reviews = reviews_of(&walk.cas, &ana);
        reviews.len() == 1 && reviews[0]["rating"] == 3
    });
    let review = &reviews_of(&walk.cas, &ana)[0];
    assert_eq!(review["version"], 2);
    assert_eq!(review["text"], "On second thought: the case was missing");
    let at_ben = reviews_of(&walk.ben, &ana);
    assert_eq!(at_ben.len(), 1, "replaced on the author's node too");
}

#[test]
fn summary_counts_receipts_and_reviews() {
    let walk = completed_rental();
    let (ana, ben) = (key_of(&walk.ana), key_of(&walk.ben));
    both_review(&walk);
    eventually("both reviews on Cas's node", || {
        json(&walk.cas, &["review", "summary", &ana, "--json"])["reviews"] == 1
            && json(&walk.cas, &["review", "summary", &ben, "--json"])["reviews"] == 1
    });
    for (who, rating) in [(&ana, 5.0), (&ben, 4.0)] {
        let s = json(&walk.cas, &["review", "summary", who, "--json"]);
        assert_eq!(s["receipts"]["completed"], 1, "{s}");
        assert_eq!(s["receipts"]["cancelled"], 0, "{s}");
        assert_eq!(s["on_time"], 1, "{s}");
        assert_eq!(s["returns"], 1, "{s}");
        assert_eq!(s["mean_rating"], rating, "{s}");
    }
    let mine = ok(&walk.ana, &["review", "summary"]);
    assert!(
        mine.contains("1 completed, 0 cancelled, 0 resolved"),
        "{mine}"
    );
    assert!(mine.contains("1 (mean 5.0 of 5)"), "{mine}");
}
