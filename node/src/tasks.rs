//! [`Tasks`]: the node's background tasks, aborted together at shutdown.

use std::future::Future;
use std::sync::Mutex;

use tokio::task::JoinHandle;

/// The tasks of one node.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Tasks {
    /// Spawns a task that ends with the node.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.track(tokio::spawn(task));
    }

    /// Tracks a spawned task (finished ones are forgotten).
    pub(crate) fn track(&self, task: JoinHandle<()>) {
        let mut handles = self.handles.lock().expect("tasks lock");
        handles.retain(|t| !t.is_finished());
        handles.push(task);
    }

    /// Aborts every task and waits until each has ended.
    pub(crate) async fn abort_all(&self) {
        let handles = std::mem::take(&mut *self.handles.lock().expect("tasks lock"));
        for task in handles {
            task.abort();
            let _ = task.await;
        }
    }
}
