//! The engine: the value-level runtime every front-end compiles to.
//!
//! It executes [`Plan`]s: decides connects (origin, path -> params, hook -> locals, auto-joins),
//! runs each socket's calls, joins and leaves one at a time in the order sent (Rule 7 (docs/security.md#rule-7)) under
//! the limits (Rule 5 (docs/security.md#rule-5)), owns room membership, and cancels a socket's work when it goes
//! (Rule 8 (docs/security.md#rule-8)). It reaches connections through the [`transport`](crate::transport) seam and the
//! other nodes through the [`bus`](crate::bus) seam, and knows neither's implementation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::value::RawValue;

use crate::bus::{Action, Appended, Arrival, Bus, Local, RoomMessage, Sink, StreamAt, Streamed, Streams};
use crate::future::BoxFuture;
use crate::transport::{Acceptor, Inbound, Link, LinkId, Transport};
use crate::wire::error::{EmitError, HistoryError, Rejection};
use crate::wire::handshake::Handshake;
use crate::wire::key::RoomKey;
use crate::wire::limits::Limits;
use crate::wire::origin::OriginPolicy;
use crate::wire::protocol::{self, ConnectAuth, Refusal, RoomStatus};
use crate::wire::stream::{Position, Recent};

mod cancel;
mod id;
mod plan;
mod socket;

pub(crate) use cancel::Cancel;
pub use cancel::Cancelled;
pub(crate) use plan::{CheckFn, DecideFn, HandlerFn, HookFn, Plan, PresenceFn, RoomPlan};
pub(crate) use socket::{Locals, Socket};

/// What every contract of an app shares.
pub(crate) struct Shared {
    hook: HookFn,
    limits: Limits,
    origins: OriginPolicy,
    transport: Arc<dyn Transport>,
    bus: Arc<dyn Bus>,
    /// The streams of rooms with history: on this node, or shared in Redis.
    streams: Arc<dyn Streams>,
    /// The served plans by namespace: which rooms of another node's messages have a stream.
    plans: RwLock<HashMap<String, Arc<Plan>>>,
    /// Handshakes being decided now (Rule 5 (docs/security.md#rule-5): a flood of connects cannot pile up hook calls).
    handshakes: AtomicUsize,
}

/// The engine of one app: the shared parts, and a [`Hub`] per served contract.
pub(crate) struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    pub(crate) fn new(
        hook: HookFn,
        limits: Limits,
        origins: OriginPolicy,
        transport: Arc<dyn Transport>,
        bus: Arc<dyn Bus>,
        streams: Arc<dyn Streams>,
    ) -> Engine {
        let shared = Arc::new(Shared {
            hook,
            limits,
            origins,
            transport,
            bus,
            streams,
            plans: RwLock::default(),
            handshakes: AtomicUsize::new(0),
        });
        shared.bus.start(shared.clone());
        Engine { shared }
    }

    /// Serves a contract: connects to its namespace are decided by the engine from now on.
    pub(crate) fn serve(&self, plan: Plan) -> Hub {
        let hub = Hub { shared: self.shared.clone(), plan: Arc::new(plan) };
        if !hub.plan.streams.is_empty() {
            let mut plans = self.shared.plans.write().unwrap_or_else(|p| p.into_inner());
            plans.insert(hub.plan.namespace.clone(), hub.plan.clone());
        }
        self.shared.transport.mount(&hub.plan.namespace, Arc::new(Endpoint { hub: hub.clone() }));
        hub
    }
}

impl Shared {
    /// What room `room` of `namespace` keeps, if it has a stream (reserved events never do).
    fn history_of(&self, namespace: &str, room: &str, event: &str) -> Option<crate::wire::stream::History> {
        if event.starts_with(protocol::RESERVED_PREFIX) {
            return None;
        }
        let plans = self.plans.read().unwrap_or_else(|p| p.into_inner());
        plans.get(namespace).and_then(|plan| plan.stream_of_encoded(room))
    }
}

impl Shared {
    /// Tells this node's members of `room` that messages before `before`'s next never reached
    /// them: a report like a rejoin's, `recovered: false`, so their pages refetch.
    fn missed(&self, namespace: &str, room: &str, before: &Position) {
        let Some(name) = serde_json::from_str::<Vec<String>>(room).ok().and_then(|p| p.into_iter().next()) else {
            return;
        };
        let status =
            RoomStatus { room: &name, status: "joined", error: None, position: Some(before), recovered: Some(false) };
        if let Ok(payload) = serde_json::value::to_raw_value(&status) {
            self.transport.broadcast(namespace, room, protocol::ROOM_STATUS, &payload, None, None);
        }
    }
}

impl Sink for Shared {
    fn deliver(&self, message: &RoomMessage<'_>) {
        match message.action {
            Action::Emit { event, payload } => {
                let (namespace, room) = (message.namespace, message.room);
                match self.history_of(namespace, room, event) {
                    // Another node's message to a room with history: a position in this
                    // node's stream, so this node's members can recover it too.
                    Some(history) => {
                        let at = StreamAt { namespace, room, history };
                        let arrival = Arrival { position: None, event, payload, missed: &|_| {} };
                        self.streams.arrived(at, arrival, &|position| {
                            let meta = position.and_then(|p| serde_json::value::to_raw_value(p).ok());
                            self.transport.broadcast(namespace, room, event, payload, meta.as_deref(), None)
                        });
                    }
                    None => {
                        self.transport.broadcast(namespace, room, event, payload, None, None);
                    }
                }
            }
            Action::Disconnect => {
                self.transport.disconnect_room(message.namespace, message.room, None);
            }
        }
    }

    fn streamed(&self, message: &Streamed<'_>) {
        let Streamed { namespace, room, event, payload, position, except } = *message;
        let except = except.and_then(crate::wire::id::Id::parse).map(LinkId);
        let Some(history) = self.history_of(namespace, room, event) else {
            // A stream this node does not serve (another version of the app): live only.
            let meta = serde_json::value::to_raw_value(position).ok();
            self.transport.broadcast(namespace, room, event, payload, meta.as_deref(), except.as_ref());
            return;
        };
        let missed = |before: &Position| self.missed(namespace, room, before);
        let arrival = Arrival { position: Some(position), event, payload, missed: &missed };
        self.streams.arrived(StreamAt { namespace, room, history }, arrival, &|position| {
            let meta = position.and_then(|p| serde_json::value::to_raw_value(p).ok());
            self.transport.broadcast(namespace, room, event, payload, meta.as_deref(), except.as_ref())
        });
    }
}

/// An emit to this node's members of a room with history.
struct Members<'a> {
    transport: &'a Arc<dyn Transport>,
    namespace: &'a str,
    room: &'a str,
    event: &'a str,
    payload: &'a RawValue,
    except: Option<&'a LinkId>,
}

impl Local for Members<'_> {
    fn now(&self, position: &Position) -> usize {
        let meta = serde_json::value::to_raw_value(position).ok();
        self.transport.broadcast(self.namespace, self.room, self.event, self.payload, meta.as_deref(), self.except)
    }

    fn unpositioned(&self) -> Box<dyn FnOnce() + Send> {
        let transport = self.transport.clone();
        let (namespace, room, event) = (self.namespace.to_owned(), self.room.to_owned(), self.event.to_owned());
        let (payload, except) = (self.payload.to_owned(), self.except.cloned());
        Box::new(move || {
            transport.broadcast(&namespace, &room, &event, &payload, None, except.as_ref());
        })
    }

    fn except(&self) -> Option<&str> {
        self.except.map(|id| &*id.0)
    }
}

/// Emits to the rooms of one contract, from a handler or from anywhere. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Hub {
    shared: Arc<Shared>,
    plan: Arc<Plan>,
}

impl Hub {
    /// The contract's namespace.
    pub(crate) fn namespace(&self) -> &str {
        &self.plan.namespace
    }

    /// Sends `event` to every member of `room` (on every node) but `except`; returns how many
    /// sockets of this node it was handed to. The payload is encoded once by the caller.
    pub(crate) fn emit(
        &self,
        room: &RoomKey,
        event: &str,
        payload: &RawValue,
        except: Option<&Socket>,
    ) -> Result<usize, EmitError> {
        if !self.plan.events.iter().any(|e| e == event) {
            return Err(EmitError::UnknownEvent { contract: self.plan.namespace.clone(), event: event.to_owned() });
        }
        let history = self.plan.stream_of(room);
        let room = room.encode();
        let namespace = self.namespace();
        let except = except.map(Socket::link_id);
        let (transport, bus) = (&self.shared.transport, &self.shared.bus);
        let message = RoomMessage { namespace, room: &room, action: Action::Emit { event, payload } };
        let Some(history) = history else {
            let streams = &self.shared.streams;
            let delivered = if streams.appending() {
                // An earlier emit to a room with history is still on its way back from the
                // shared stream: this one waits behind it (Rule 7 (docs/security.md#rule-7)).
                let transport = transport.clone();
                let (namespace, room, event) = (namespace.to_owned(), room.clone(), event.to_owned());
                let payload = payload.to_owned();
                streams.after_appends(Box::new(move || {
                    transport.broadcast(&namespace, &room, &event, &payload, None, except.as_ref());
                }));
                0
            } else {
                transport.broadcast(namespace, &room, event, payload, None, except.as_ref())
            };
            bus.publish(&message);
            return Ok(delivered);
        };
        // A stream on this node delivers under its lock: members get the room's messages in
        // offset order, and a socket recovering the room gets this one either in its replay or
        // live, once. A shared stream (Redis) numbers the message and delivers it to every
        // node, this one included, through the bus.
        let at = StreamAt { namespace, room: &room, history };
        let local = Members { transport, namespace, room: &room, event, payload, except: except.as_ref() };
        match self.shared.streams.append(at, event, payload, &local) {
            Appended::Here(delivered) => {
                // Outside the lock: another node's delivery takes its own stream's lock. The
                // emits of one call are published in the order made (Rule 7
                // (docs/security.md#rule-7)); each node numbers the room's messages in its own
                // stream.
                bus.publish(&message);
                Ok(delivered)
            }
            // Not handed to any socket yet: it comes back from Redis.
            Appended::Shared => Ok(0),
        }
    }

    /// The last `limit` messages of `room` (at most its history's size), with their positions,
    /// and the position after them.
    pub(crate) async fn history(&self, room: &RoomKey, limit: usize) -> Result<Recent, HistoryError> {
        let Some(history) = self.plan.stream_of(room) else {
            return Err(HistoryError::NoHistory {
                contract: self.plan.namespace.clone(),
                key: room.encode(),
                room: room.parts().first().cloned().unwrap_or_default(),
            });
        };
        let encoded = room.encode();
        let at = StreamAt { namespace: self.namespace(), room: &encoded, history };
        let recent = self.shared.streams.recent(at, limit.min(history.size));
        recent.await.map_err(|_| HistoryError::Unavailable { contract: self.plan.namespace.clone() })
    }

    /// Sends a reserved event (`liverpc:*`) to `room` (encoded) on every node but `except`.
    fn reserved(&self, room: &str, event: &str, payload: &RawValue, except: Option<&Socket>) {
        let namespace = self.namespace();
        let except = except.map(Socket::link_id);
        self.shared.transport.broadcast(namespace, room, event, payload, None, except.as_ref());
        self.shared.bus.publish(&RoomMessage { namespace, room, action: Action::Emit { event, payload } });
    }

    /// Disconnects every member of `room` (on every node) but `except`; returns how many of
    /// this node's.
    pub(crate) fn disconnect(&self, room: &RoomKey, except: Option<&Socket>) -> usize {
        let room = room.encode();
        let namespace = self.namespace();
        let except = except.map(Socket::link_id);
        let dropped = self.shared.transport.disconnect_room(namespace, &room, except.as_ref());
        self.shared.bus.publish(&RoomMessage { namespace, room: &room, action: Action::Disconnect });
        dropped
    }
}

/// One contract as the transport serves it.
struct Endpoint {
    hub: Hub,
}

/// Gives a handshake slot back when the handshake is decided, however it ends.
struct HandshakeSlot<'a>(&'a AtomicUsize);

impl Drop for HandshakeSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Acceptor for Endpoint {
    fn open(
        &self,
        link: Arc<dyn Link>,
        handshake: Handshake,
        auth: Option<Box<RawValue>>,
    ) -> BoxFuture<'static, Result<Arc<dyn Inbound>, Refusal>> {
        let hub = self.hub.clone();
        Box::pin(async move {
            let (shared, plan) = (&hub.shared, &hub.plan);
            if !shared.origins.admits(handshake.header("origin"), || handshake.header("host")) {
                return Err(Refusal::ForbiddenOrigin);
            }
            if shared.handshakes.fetch_add(1, Ordering::AcqRel) >= shared.limits.max_handshakes {
                shared.handshakes.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::Unavailable);
            }
            let _slot = HandshakeSlot(&shared.handshakes);
            let auth = auth.and_then(|raw| serde_json::from_str::<ConnectAuth>(raw.get()).ok());
            let params = auth.as_ref().and_then(|a| plan.route.matches(&a.path)).ok_or(Refusal::NotFound)?;
            // `[id=integer]`: the URL is this route's only if the matchers accept its params.
            if let Some(check) = &plan.check {
                match guarded(shared.limits.handler_timeout, async { check(params.clone()).await }).await {
                    Ok(Ok(true)) => {}
                    Ok(Ok(false)) => return Err(Refusal::NotFound),
                    Ok(Err(refuse)) => return Err(refuse.into()),
                    Err(_) => {
                        tracing::warn!(namespace = %plan.namespace, "the route's param matchers did not answer; refused `unavailable`");
                        return Err(Refusal::Unavailable);
                    }
                }
            }
            // Only auto-joined rooms with history read it: no allocation for any other page.
            let since = match &auth {
                Some(auth) if !plan.streams.is_empty() => {
                    protocol::positions(auth.since.as_deref(), shared.limits.max_rooms)
                }
                _ => Vec::new(),
            };
            // The hook is called inside the guard: a panic while making its future is caught too.
            let locals = match guarded(shared.limits.handler_timeout, async { (shared.hook)(handshake).await }).await {
                Ok(Ok(locals)) => locals,
                Ok(Err(refuse)) => return Err(refuse.into()),
                Err(Guarded::TimedOut) => {
                    tracing::warn!(namespace = %plan.namespace, "the connection hook timed out; refused `unavailable`");
                    return Err(Refusal::Unavailable);
                }
                Err(Guarded::Panicked) => {
                    tracing::error!(namespace = %plan.namespace, "the connection hook panicked; refused `internal`");
                    return Err(Refusal::Internal);
                }
            };
            let socket = Socket::open(hub.clone(), link, params, locals, since).await;
            Ok(socket.into_inbound())
        })
    }
}

/// Why user code did not return.
#[derive(Clone, Copy)]
enum Guarded {
    TimedOut,
    Panicked,
}

/// Runs user code with a deadline, catching a panic.
async fn guarded<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, Guarded> {
    match tokio::time::timeout(limit, std::panic::AssertUnwindSafe(future).catch_unwind()).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(Guarded::Panicked),
        Err(_) => Err(Guarded::TimedOut),
    }
}

/// Runs user code Rust cannot stop (a plan made with `cancel_by_signal`) under the deadline:
/// past it, `timed_out` answers the page, `cancel` asks the code to stop, and the future is
/// awaited for one more deadline to settle (the socket's next job waits for it: Rule 7
/// (docs/security.md#rule-7)); then it is dropped, with a warning.
async fn patient<T>(
    limit: Duration,
    cancel: &Cancel,
    future: impl Future<Output = T>,
    timed_out: impl FnOnce(),
) -> Result<T, Guarded> {
    let future = std::panic::AssertUnwindSafe(future).catch_unwind();
    tokio::pin!(future);
    match tokio::time::timeout(limit, &mut future).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(_)) => return Err(Guarded::Panicked),
        Err(_) => {}
    }
    timed_out();
    cancel.cancel(Cancelled::TimedOut);
    if tokio::time::timeout(limit, future).await.is_err() {
        tracing::warn!(
            "user code ignored its cancellation for {limit:?} after timing out; the socket's next job runs without waiting for it"
        );
    }
    Err(Guarded::TimedOut)
}

/// User code that may not return: what its log line names.
#[derive(Clone, Copy)]
enum Work<'a> {
    Handler(&'a str),
    Room(&'a str),
}

/// The answer for user code that did not return: `timeout` or `internal`, logged without the
/// payload.
fn rejection(why: Guarded, namespace: &str, work: Work<'_>) -> Rejection {
    match (why, work) {
        (Guarded::TimedOut, Work::Handler(event)) => {
            tracing::warn!(namespace, event, "a handler timed out; answered `timeout`");
        }
        (Guarded::TimedOut, Work::Room(room)) => {
            tracing::warn!(namespace, room, "a room decision timed out; answered `timeout`");
        }
        (Guarded::Panicked, Work::Handler(event)) => {
            tracing::error!(namespace, event, "a handler panicked; answered `internal`");
        }
        (Guarded::Panicked, Work::Room(room)) => {
            tracing::error!(namespace, room, "a room authorizer panicked; the join is answered `internal`");
        }
    }
    match why {
        Guarded::TimedOut => timed_out(),
        Guarded::Panicked => Rejection::internal(),
    }
}

/// The answer to user code past its deadline.
fn timed_out() -> Rejection {
    Rejection::new(crate::wire::error::ErrorCode::Timeout, "the server took too long to answer")
}

#[cfg(test)]
mod tests;
