//! Cancellation by asking: for user code Rust cannot stop by dropping its future (JavaScript,
//! behind the TypeScript front-end's bridge), the engine signals why it gave up and waits.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Why the engine gave up on a job's user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cancelled {
    /// It ran past the handler timeout; the page was answered `timeout`.
    TimedOut,
    /// Its socket closed (the page left, or the server is shutting down).
    Disconnected,
}

/// One job's cancellation: fired at most once, awaited by any number. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Cancel(Arc<(Mutex<Option<Cancelled>>, Notify)>);

impl Cancel {
    /// Fires, unless it already has (the first reason stays).
    pub(crate) fn cancel(&self, why: Cancelled) {
        let mut state = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            *state = Some(why);
            drop(state);
            self.0.1.notify_waiters();
        }
    }

    fn fired(&self) -> Option<Cancelled> {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves when it fires, with the reason.
    pub(crate) async fn fired_with(&self) -> Cancelled {
        loop {
            let notified = self.0.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(why) = self.fired() {
                return why;
            }
            notified.await;
        }
    }
}
