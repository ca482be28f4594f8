//! Graceful shutdown: stop accepting, let what is in flight be answered, then close every
//! connection so that the pages' clients reconnect (to the restarted server, or another node).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::app::caps::Caps;
use crate::transport::engineio::EngineIo;

/// How long closing takes past the deadline at most: the last frames and the close frames
/// leave (each connection gives them a second), the cancelled work lets go.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Where an app is in its life. Ordered: each phase comes after the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    /// Nothing new is accepted; what is in flight is answered, idle connections close.
    Draining,
    /// The deadline passed: every connection is being closed.
    Closing,
    /// Every connection is closed.
    Closed,
}

/// The phase, watched by the accept loops and every HTTP connection they serve.
pub(crate) struct Lifecycle(watch::Sender<Phase>);

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle(watch::Sender::new(Phase::Running))
    }
}

impl Lifecycle {
    pub(crate) fn phase(&self) -> Phase {
        *self.0.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<Phase> {
        self.0.subscribe()
    }

    fn set(&self, phase: Phase) {
        self.0.send_if_modified(|now| {
            let later = phase > *now;
            if later {
                *now = phase;
            }
            later
        });
    }
}

/// Resolves once the phase is `at_least` (or the app is gone).
pub(crate) async fn until(phase: &mut watch::Receiver<Phase>, at_least: Phase) {
    // The guard `wait_for` returns is not `Send`: dropped here, not held by the caller.
    let _ = phase.wait_for(|p| *p >= at_least).await.map(drop);
}

impl App {
    /// Shuts the app down gracefully and resolves once every connection is closed:
    ///
    /// 1. nothing new is accepted: every [`serve`](App::serve) loop returns `Ok(())` (its
    ///    listener closes), a connection handed to [`serve_connection`](App::serve_connection)
    ///    is closed at once, a new Engine.IO handshake is answered `503` and a namespace connect
    ///    on an open connection is left undecided (no page is shown a refusal);
    /// 2. the calls, joins and leaves already sent are handled and answered; each connection
    ///    closes as soon as it has nothing unanswered (an idle page at once), and HTTP
    ///    connections finish the request under way;
    /// 3. at `timeout`, every connection still open is closed; its work in flight is cancelled
    ///    (Rule 8 (docs/security.md#rule-8)).
    ///
    /// Connections close at the transport (a websocket close frame; a polling session's close
    /// packet), never with a Socket.IO disconnect: the pages' socket.io-client reconnects with
    /// backoff by itself. Calling it again waits for the same end.
    ///
    /// ```no_run
    /// # async fn run(app: liverpc::App, router: axum::Router) -> std::io::Result<()> {
    /// let listener = liverpc::listen("127.0.0.1:3000".parse().unwrap()).await?;
    /// let serving = tokio::spawn(app.serve(listener, router));
    /// tokio::signal::ctrl_c().await?;
    /// app.shutdown(std::time::Duration::from_secs(30)).await;
    /// serving.await.expect("the accept loop does not panic")
    /// # }
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> impl Future<Output = ()> + Send + use<> {
        let (lifecycle, transport, caps) = (self.lifecycle.clone(), self.transport.clone(), self.caps.clone());
        async move {
            let mut phase = lifecycle.watch();
            if lifecycle.phase() == Phase::Running {
                lifecycle.set(Phase::Draining);
                // Its own task: it ends even if this future is dropped.
                tokio::spawn(drain(lifecycle.clone(), transport, caps, timeout));
            }
            until(&mut phase, Phase::Closed).await;
        }
    }
}

async fn drain(lifecycle: Arc<Lifecycle>, transport: EngineIo, caps: Arc<Caps>, timeout: Duration) {
    transport.drain();
    let closed = async {
        transport.closed().await;
        caps.idle().await;
    };
    if tokio::time::timeout(timeout, closed).await.is_err() {
        tracing::info!("shutdown: closing the connections still open at the deadline");
        lifecycle.set(Phase::Closing);
        transport.close_all();
        let closed = async {
            transport.closed().await;
            caps.idle().await;
        };
        if tokio::time::timeout(CLOSE_GRACE, closed).await.is_err() {
            tracing::warn!("shutdown: some connections were still closing {CLOSE_GRACE:?} after the deadline");
        }
    }
    transport.unmount_all();
    lifecycle.set(Phase::Closed);
}
