//! Waiting helpers shared by the in-process test binaries (`mesh`, `network`).

use std::future::Future;
use std::time::Duration;

use swapmesh_node::Node;
use swapmesh_protocol::{ListingId, RecordId};

/// How long any one wait may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(40);

/// Polls `condition` every 50 ms until it holds; fails the test after [`TIMEOUT`].
pub(crate) async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if condition().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {TIMEOUT:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id of the version of a listing a node holds, if any.
pub(crate) fn held(node: &Node, id: &ListingId) -> Option<RecordId> {
    node.listing(id).expect("store read").map(|r| r.id)
}
