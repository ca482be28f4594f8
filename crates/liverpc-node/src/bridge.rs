//! The bridge to JavaScript: one threadsafe function, the `dispatch` the TypeScript side gives
//! the engine, and one method, `answer`, it calls back. Requests are JSON texts queued here;
//! one call of `dispatch` carries every request queued since the JavaScript thread last took
//! them (a JSON array, built on that thread when it wakes), and one `answer` call carries
//! every answer settled since JavaScript last answered (`[[id, answer], ...]`). The call is
//! made once the engine's worker has run the tasks ready at the time (see [`flusher`]), so
//! what they queue goes in the same call, and JavaScript is woken once for them. A throw or a
//! rejection is answered by the TypeScript side as a failure, never as a crash. The connection
//! token lives here too.
//!
//! The queue into JavaScript is bounded: a request waiting for the JavaScript thread or
//! running there holds a place until it is answered (also when the engine stopped waiting for
//! it, after a timeout), and past the bound a request fails at once with
//! [`BridgeError::Busy`]. The engine asks JavaScript to stop work it gave up on (`abort`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use liverpc::spec::Cancelled;
use napi::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde::Serialize;
use serde_json::value::RawValue;

/// `(requests: string) => void`, callable from any thread: a call carries no value, the
/// requests are taken from the [`Outbox`] on the JavaScript thread. Weak: it does not keep
/// Node's event loop alive on its own (the HTTP server does).
pub(crate) type Dispatch = ThreadsafeFunction<(), (), String, Status, false, true>;

/// Requests queued for or running in JavaScript at once, unless the app says otherwise.
pub(crate) const DEFAULT_MAX_PENDING: usize = 1024;

/// Why JavaScript gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BridgeError {
    /// The request could not be written (cannot happen for our own types; kept typed anyway).
    #[error("could not encode the request: {0}")]
    Encode(serde_json::Error),
    /// The answer was not the JSON the protocol says.
    #[error("the JavaScript side answered something unexpected: {0}")]
    Decode(serde_json::Error),
    /// As many requests as the bound allows are queued for or running in JavaScript.
    #[error("{0} requests are already waiting for JavaScript")]
    Busy(usize),
    /// The engine was closed (JavaScript is no longer asked anything), or Node is shutting down.
    #[error("the engine is closed")]
    Closed,
}

/// The requests written since the JavaScript thread last took them.
#[derive(Default)]
pub(crate) struct Outbox {
    /// The requests, comma-separated (the array's inside).
    text: String,
    /// The ids among them whose answer is waited for (failed if the call cannot be made).
    ids: Vec<u64>,
    /// A call of `dispatch` is on its way and will take what is here.
    scheduled: bool,
}

/// The outbox the dispatch function takes from (shared with its JavaScript-thread callback).
pub(crate) type SharedOutbox = Arc<Mutex<Outbox>>;

/// On the JavaScript thread, as `dispatch` is called: everything queued, as one JSON array.
pub(crate) fn take(outbox: &SharedOutbox) -> String {
    let mut out = outbox.lock().unwrap_or_else(|p| p.into_inner());
    out.scheduled = false;
    out.ids.clear();
    let mut batch = String::with_capacity(out.text.len() + 2);
    batch.push('[');
    batch.push_str(&out.text);
    batch.push(']');
    out.text.clear();
    batch
}

/// The JavaScript side of an app. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Js(Arc<Bridge>);

/// A request waiting for its answer: where the answer goes, and its place in the queue.
type Waiting = (tokio::sync::oneshot::Sender<Box<RawValue>>, Place);

struct Bridge {
    /// `None` once the engine is closed and no request is pending: the function is released,
    /// so nothing native keeps the JavaScript engine object (which holds this app) alive.
    /// Until the last pending request settles it stays, for the aborts the close itself causes
    /// (work cut at the shutdown's deadline must still be told to stop).
    dispatch: RwLock<Option<Arc<Dispatch>>>,
    outbox: SharedOutbox,
    /// Wakes the [`flusher`], which calls `dispatch`.
    wake: Arc<tokio::sync::Notify>,
    /// The requests sent and not answered yet, by id.
    waiting: Mutex<HashMap<u64, Waiting>>,
    /// Set by [`Js::release`]: no new request is sent.
    closed: AtomicBool,
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
    /// `outbox` is the one `dispatch`'s callback takes from.
    pub(crate) fn new(dispatch: Dispatch, outbox: SharedOutbox, max_pending: usize) -> Js {
        let wake = Arc::new(tokio::sync::Notify::new());
        let bridge = Arc::new(Bridge {
            dispatch: RwLock::new(Some(Arc::new(dispatch))),
            outbox,
            wake: wake.clone(),
            waiting: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            max_pending: max_pending.max(1),
            next: AtomicU64::new(1),
        });
        napi::bindgen_prelude::spawn(flusher(Arc::downgrade(&bridge), wake));
        Js(bridge)
    }

    fn dispatch(&self) -> Option<Arc<Dispatch>> {
        self.0.dispatch.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Releases the function: from now on every request fails with [`BridgeError::Closed`];
    /// the function itself goes once no request is pending (see [`Bridge::dispatch`]).
    pub(crate) fn release(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        if self.0.pending.load(Ordering::SeqCst) == 0 {
            self.0.let_go();
        }
    }

    /// JavaScript's answers, `[[id, answer], ...]`: each goes to its request (an id nobody
    /// waits for any more is ignored).
    pub(crate) fn answer(&self, answers: &str) -> Result<(), serde_json::Error> {
        let answers: Vec<(u64, Box<RawValue>)> = serde_json::from_str(answers)?;
        for (id, answer) in answers {
            let waiting = self.0.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            if let Some((tx, place)) = waiting {
                let _ = tx.send(answer);
                drop(place);
            }
        }
        Ok(())
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
        if self.0.closed.load(Ordering::SeqCst) {
            return Err(BridgeError::Closed);
        }
        let place = Place::take(&self.0)?;
        let dispatch = self.dispatch().ok_or(BridgeError::Closed)?;
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let text = serde_json::to_string(&Numbered { id, request }).map_err(BridgeError::Encode)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Held until JavaScript answers, whoever still waits.
        self.0.waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (tx, place));
        drop(dispatch);
        self.0.send(Some(id), &text);
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
        let answer = answered.map_err(|_| BridgeError::Closed)?;
        serde_json::from_str(answer.get()).map_err(BridgeError::Decode)
    }

    /// Sends a request whose answer nobody waits for (freeing a token, aborting a request).
    fn notify<Q: Serialize>(&self, request: &Q) {
        if self.dispatch().is_none() {
            return;
        }
        let Ok(text) = serde_json::to_string(request) else { return };
        self.0.send(None, &text);
    }
}

/// A place in the queue into JavaScript.
struct Place(Arc<Bridge>);

impl Place {
    fn take(bridge: &Arc<Bridge>) -> Result<Place, BridgeError> {
        let before = bridge.pending.fetch_add(1, Ordering::SeqCst);
        // Counted from here: a refused place is given back by its drop, like any other.
        let place = Place(bridge.clone());
        if before >= bridge.max_pending {
            return Err(BridgeError::Busy(before));
        }
        Ok(place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        // SeqCst with `release`: whichever of the two comes second sees the other's write.
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.closed.load(Ordering::SeqCst) {
            self.0.let_go();
        }
    }
}

impl Bridge {
    fn let_go(&self) {
        self.dispatch.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Queues a request (`id`: when its answer is waited for); the first one queued since the
    /// JavaScript thread last took them wakes the [`flusher`]. Never waits for the JavaScript
    /// thread (a Drop may call this on that thread).
    fn send(&self, id: Option<u64>, text: &str) {
        let first = {
            let mut out = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
            if !out.text.is_empty() {
                out.text.push(',');
            }
            out.text.push_str(text);
            out.ids.extend(id);
            !std::mem::replace(&mut out.scheduled, true)
        };
        if first {
            self.wake.notify_one();
        }
    }

    /// Calls `dispatch`, which takes everything queued once it runs on the JavaScript thread.
    fn call(&self) {
        let dispatch = self.dispatch.read().unwrap_or_else(|p| p.into_inner()).clone();
        let status = match dispatch {
            Some(dispatch) => dispatch.call((), ThreadsafeFunctionCallMode::NonBlocking),
            None => Status::Closing,
        };
        if status != Status::Ok {
            // Node is shutting down: what was queued is never taken; its waiters fail.
            tracing::debug!(?status, "could not call JavaScript");
            let ids = {
                let mut out = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
                out.scheduled = false;
                out.text.clear();
                std::mem::take(&mut out.ids)
            };
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let failed: Vec<Waiting> = ids.iter().filter_map(|id| waiting.remove(id)).collect();
            drop(waiting);
            drop(failed);
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The flusher finds the bridge gone and ends.
        self.wake.notify_one();
    }
}

/// Calls `dispatch` when woken, once the worker it runs on has run the tasks ready then and
/// polled its sockets (`yield_now` defers until then): under load, the requests of many
/// connections go to JavaScript in one call, and JavaScript is woken once for them, instead
/// of once each (each a context switch away from the engine on a busy core).
async fn flusher(bridge: Weak<Bridge>, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        tokio::task::yield_now().await;
        let Some(bridge) = bridge.upgrade() else { return };
        bridge.call();
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
