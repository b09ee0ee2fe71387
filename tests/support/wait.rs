//! Waits bounded in time: for something that must happen, and for something
//! that must not.

use std::future::Future;
use std::time::Duration;

/// How long any one wait may take before the test fails.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(40);

/// How long a test lets gossip that should NOT arrive have its chance.
const SETTLE: Duration = Duration::from_millis(2000);

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

/// Waits a little to let gossip that should NOT arrive have its chance.
pub(crate) async fn settle() {
    tokio::time::sleep(SETTLE).await;
}
