//! The bridge to JavaScript: one threadsafe function, the `dispatch` the TypeScript side gives
//! the engine. Every request is a JSON text, every answer a promise of one; a throw or a
//! rejection arrives here as an `Err`, never as a crash. The connection token lives here too.
//!
//! The queue into JavaScript is bounded: a request waiting for the JavaScript thread or
//! running there holds a place until its promise settles (also when the engine stopped
//! waiting for it, after a timeout), and past the bound a request fails at once with
//! [`BridgeError::Busy`]. The engine asks JavaScript to stop work it gave up on (`abort`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use liverpc::spec::Cancelled;
use napi::Status;
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde::Serialize;
use serde_json::value::RawValue;

/// `(request: string) => Promise<string>`, callable from any thread. Weak: it does not keep
/// Node's event loop alive on its own (the HTTP server does).
pub(crate) type Dispatch = ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;

/// Requests queued for or running in JavaScript at once, unless the app says otherwise.
pub(crate) const DEFAULT_MAX_PENDING: usize = 1024;

/// Why JavaScript gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BridgeError {
    /// The request could not be written (cannot happen for our own types; kept typed anyway).
    #[error("could not encode the request: {0}")]
    Encode(serde_json::Error),
    /// The call threw, rejected, or Node is shutting down.
    #[error("the JavaScript side failed: {0}")]
    Js(napi::Error),
    /// The answer was not the JSON the protocol says.
    #[error("the JavaScript side answered something unexpected: {0}")]
    Decode(serde_json::Error),
    /// As many requests as the bound allows are queued for or running in JavaScript.
    #[error("{0} requests are already waiting for JavaScript")]
    Busy(usize),
    /// The engine was closed: JavaScript is no longer asked anything.
    #[error("the engine is closed")]
    Closed,
}

/// The JavaScript side of an app. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Js(Arc<Bridge>);

struct Bridge {
    /// `None` once the engine is closed: the function is released, so nothing native keeps the
    /// JavaScript engine object (which holds this app) alive.
    dispatch: RwLock<Option<Arc<Dispatch>>>,
    pending: AtomicUsize,
    max_pending: usize,
    next: AtomicU64,
}

/// A request on the wire: its id (what an `abort` names), then its fields.
#[derive(Serialize)]
struct Numbered<'a, Q> {
    id: u64,
    #[serde(flatten)]
    request: &'a Q,
}

impl Js {
    pub(crate) fn new(dispatch: Dispatch, max_pending: usize) -> Js {
        Js(Arc::new(Bridge {
            dispatch: RwLock::new(Some(Arc::new(dispatch))),
            pending: AtomicUsize::new(0),
            max_pending: max_pending.max(1),
            next: AtomicU64::new(1),
        }))
    }

    fn dispatch(&self) -> Option<Arc<Dispatch>> {
        self.0.dispatch.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Releases the function: from now on every request fails with [`BridgeError::Closed`].
    pub(crate) fn release(&self) {
        self.0.dispatch.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Sends a request and waits for its answer. When `cancelled` resolves first, JavaScript is
    /// told to abort the request and the answer is still waited for (the caller decides for
    /// how long); when this future is dropped first, JavaScript is told too.
    pub(crate) async fn request<Q, A>(
        &self,
        request: &Q,
        cancelled: Option<impl Future<Output = Cancelled>>,
    ) -> Result<A, BridgeError>
    where
        Q: Serialize,
        A: serde::de::DeserializeOwned,
    {
        let place = Place::take(&self.0)?;
        let dispatch = self.dispatch().ok_or(BridgeError::Closed)?;
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let text = serde_json::to_string(&Numbered { id, request }).map_err(BridgeError::Encode)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Its own task, holding the place until the promise settles, whoever still waits.
        tokio::spawn(async move {
            let answer = async {
                let promise = dispatch.call_async_catch(text).await?;
                drop(dispatch);
                promise.await
            };
            let _ = tx.send(answer.await);
            drop(place);
        });
        let mut abort = Abort { js: self.clone(), id, why: Some("gone") };
        let answered = match cancelled {
            None => rx.await,
            Some(cancelled) => {
                tokio::pin!(rx, cancelled);
                tokio::select! {
                    answered = &mut rx => answered,
                    why = &mut cancelled => {
                        abort.why = Some(match why {
                            Cancelled::TimedOut => "timeout",
                            _ => "disconnected",
                        });
                        abort.send();
                        rx.await
                    }
                }
            }
        };
        abort.why = None;
        let answer = answered.map_err(|_| BridgeError::Closed)?.map_err(BridgeError::Js)?;
        serde_json::from_str(&answer).map_err(BridgeError::Decode)
    }

    /// Sends a request whose answer nobody waits for (freeing a token, aborting a request).
    fn notify<Q: Serialize>(&self, request: &Q) {
        let Some(dispatch) = self.dispatch() else { return };
        let Ok(text) = serde_json::to_string(request) else { return };
        // NonBlocking: a Drop must never wait on the JS thread (it may be that thread).
        let status = dispatch.call_with_return_value(text, ThreadsafeFunctionCallMode::NonBlocking, |_, _| Ok(()));
        if status != Status::Ok {
            tracing::debug!(?status, "could not notify JavaScript");
        }
    }
}

/// A place in the queue into JavaScript.
struct Place(Arc<Bridge>);

impl Place {
    fn take(bridge: &Arc<Bridge>) -> Result<Place, BridgeError> {
        let before = bridge.pending.fetch_add(1, Ordering::AcqRel);
        if before >= bridge.max_pending {
            bridge.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(BridgeError::Busy(before));
        }
        Ok(Place(bridge.clone()))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Tells JavaScript to abort request `id` (once), unless it was answered first.
struct Abort {
    js: Js,
    id: u64,
    why: Option<&'static str>,
}

impl Abort {
    fn send(&mut self) {
        if let Some(why) = self.why.take() {
            self.js.notify(&AbortRequest { t: "abort", id: self.id, why });
        }
    }
}

impl Drop for Abort {
    fn drop(&mut self) {
        self.send();
    }
}

#[derive(Serialize)]
struct AbortRequest {
    t: &'static str,
    id: u64,
    why: &'static str,
}

/// A connection's locals, as the engine holds them: the key of the JavaScript object the hook
/// returned, kept in a map on the JavaScript side. Dropped with the connection, it tells
/// JavaScript to forget that object.
pub(crate) struct Token {
    pub(crate) id: u64,
    js: Js,
    /// What the connection shows in each room with presence (namespace -> room -> data),
    /// derived by JavaScript from the locals when the hook ran: the engine asks for it
    /// synchronously, which JavaScript cannot answer.
    shown: Shown,
}

/// Namespace -> room -> what a member shows there.
pub(crate) type Shown = BTreeMap<String, BTreeMap<String, Box<RawValue>>>;

impl Token {
    pub(crate) fn new(id: u64, js: Js) -> Token {
        Token { id, js, shown: Shown::new() }
    }

    /// Keeps what the hook derived for presence.
    pub(crate) fn show(&mut self, shown: Shown) {
        self.shown = shown;
    }

    /// What this connection shows in room `room` of contract `namespace`, if anything.
    pub(crate) fn shown(&self, namespace: &str, room: &str) -> Option<Box<RawValue>> {
        self.shown.get(namespace)?.get(room).cloned()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.js.notify(&Free { t: "free", token: self.id });
    }
}

#[derive(Serialize)]
struct Free {
    t: &'static str,
    token: u64,
}
