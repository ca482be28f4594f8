//! A websocket handshake's task: it waits for the HTTP server to hand the connection over
//! (after the `101`), then serves the session over it in place. One task per connection, not a
//! waiter that spawns the connection's task: a connect costs one spawn fewer, and the task is
//! the size of the connection it serves.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::conn::{Config, Head, Namespaces, Reader};
use super::polling::{PollSession, Upgraded};
use super::websocket::{self, WebSocketTask};
use crate::future::BoxFuture;

#[expect(
    clippy::large_enum_variant,
    reason = "the connection is the state the task lives in; boxing it would allocate once more per connection"
)]
pub(super) enum Upgrade {
    /// The `101` is on its way; then a new session, or a polling session's move.
    Waiting {
        on_upgrade: OnUpgrade,
        next: Next,
    },
    Serving(WebSocketTask<Upgraded>),
    /// A polling session's upgrade (rare: boxed, so every connection's task is not its size).
    Moving(BoxFuture<'static, ()>),
    Done,
}

/// What the handed-over connection carries.
pub(super) enum Next {
    Open { namespaces: Arc<dyn Namespaces>, config: Arc<Config>, head: Head },
    Move { session: Arc<PollSession>, max_frame: usize },
}

impl Upgrade {
    pub(super) fn new(on_upgrade: OnUpgrade, next: Next) -> Upgrade {
        Upgrade::Waiting { on_upgrade, next }
    }
}

impl Future for Upgrade {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match this {
                Upgrade::Waiting { on_upgrade, .. } => {
                    let upgraded = std::task::ready!(Pin::new(on_upgrade).poll(cx));
                    // Taken out of the state it leaves (the connection is served in its place).
                    let Upgrade::Waiting { next, .. } = std::mem::replace(this, Upgrade::Done) else {
                        return Poll::Ready(());
                    };
                    let io = match upgraded {
                        Ok(upgraded) => TokioIo::new(upgraded),
                        Err(e) => {
                            tracing::debug!(error = %e, "websocket upgrade failed");
                            return Poll::Ready(());
                        }
                    };
                    *this = match next {
                        Next::Open { namespaces, config, head } => Upgrade::Serving(websocket::serve(
                            io,
                            Reader::open(namespaces, config, head, &[]).0,
                            Vec::new(),
                        )),
                        Next::Move { session, max_frame } => Upgrade::Moving(Box::pin(session.upgrade(io, max_frame))),
                    };
                }
                Upgrade::Serving(task) => return Pin::new(task).poll(cx),
                Upgrade::Moving(task) => return task.as_mut().poll(cx),
                Upgrade::Done => return Poll::Ready(()),
            }
        }
    }
}
