//! One connection of one contract: the handshake (path -> params, hook -> locals, auto-joins),
//! then each call, join and leave, answered with the ack envelope.
//!
//! This is the protocol's logic; it knows the transport only through [`Peer`], [`Reply`] and
//! [`Hub`].

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use serde_json::value::RawValue;

use crate::context::Context;
use crate::contract::{Contract, Handler};
use crate::error::{ErrorCode, Rejection};
use crate::hooks::{BoxFuture, Handshake, Hook, Refuse};
use crate::limits::{Limits, RateLimiter};
use crate::protocol::{self, Answer, RoomRequest, RoomStatus};
use crate::room::{Room, RoomContext, RoomKey};
use crate::route::Route;
use crate::transport::{Hub, Peer, Reply};

/// Why a handshake was refused; its `Display` is the code the page's `connect_error` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    ForbiddenOrigin,
    Unauthenticated,
    Forbidden,
    NotFound,
    Unavailable,
    Internal,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::ForbiddenOrigin => "forbidden_origin",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Forbidden => "forbidden",
            Refusal::NotFound => "not_found",
            Refusal::Unavailable => "unavailable",
            Refusal::Internal => "internal",
        })
    }
}

impl From<Refuse> for Refusal {
    fn from(refuse: Refuse) -> Refusal {
        match refuse {
            Refuse::Unauthenticated => Refusal::Unauthenticated,
            Refuse::Forbidden => Refusal::Forbidden,
            Refuse::Unavailable => Refusal::Unavailable,
        }
    }
}

/// A contract being served: what the transport opens connections on.
pub(crate) trait Endpoint: Send + Sync + 'static {
    fn namespace(&self) -> &str;
    fn open<'a>(
        &'a self,
        peer: &'a Peer,
        handshake: Handshake,
        path: Option<String>,
    ) -> BoxFuture<'a, Result<Arc<dyn Session>, Refusal>>;
}

/// An open connection, as the transport sees it.
pub(crate) trait Session: Send + Sync + 'static {
    fn on_connected(&self, peer: &Peer);
    fn on_event(
        self: Arc<Self>,
        peer: Peer,
        event: String,
        data: Option<Box<RawValue>>,
        reply: Reply,
    ) -> BoxFuture<'static, ()>;
    fn on_disconnect(&self, peer: &Peer);
}

/// A compiled contract, shared by all its connections.
pub(crate) struct Runtime<C: Contract> {
    pub(crate) route: Route,
    pub(crate) namespace: String,
    pub(crate) handlers: HashMap<String, Handler<C>>,
    pub(crate) rooms: HashMap<String, Room<C::Locals>>,
    /// Auto-joined rooms, in declaration order.
    pub(crate) auto_join: Vec<String>,
    pub(crate) hook: Arc<dyn Hook<C::Locals>>,
    pub(crate) limits: Limits,
    pub(crate) hub: Hub,
}

/// A runtime as the transport serves it.
pub(crate) struct Served<C: Contract>(pub(crate) Arc<Runtime<C>>);

impl<C: Contract> Endpoint for Served<C> {
    fn namespace(&self) -> &str {
        &self.0.namespace
    }

    fn open<'a>(
        &'a self,
        peer: &'a Peer,
        handshake: Handshake,
        path: Option<String>,
    ) -> BoxFuture<'a, Result<Arc<dyn Session>, Refusal>> {
        Box::pin(async move {
            let runtime = self.0.clone();
            let params = path.as_deref().and_then(|p| runtime.route.matches(p)).ok_or(Refusal::NotFound)?;
            let locals = runtime.hook.call(handshake).await?;
            let conn = Conn {
                cx: RoomContext { params, locals },
                joined: Mutex::new(Joined::default()),
                limiter: RateLimiter::new(runtime.limits.calls_per_second, runtime.limits.burst),
                auto_status: Mutex::new(Vec::new()),
                runtime: runtime.clone(),
            };
            let mut statuses = Vec::with_capacity(runtime.auto_join.len());
            for name in &runtime.auto_join {
                statuses.push((name.clone(), conn.join_room(peer, name, None).map(|_| ())));
            }
            *conn.auto_status.lock().unwrap_or_else(|p| p.into_inner()) = statuses;
            let session: Arc<dyn Session> = Arc::new(conn);
            Ok(session)
        })
    }
}

/// Rooms a socket is in: `(room name, canonical payload)` -> key. A `Vec`: at most
/// `max_rooms` entries, where a scan is as fast as a tree and an idle socket costs less.
#[derive(Default)]
struct Joined {
    entries: Vec<((String, String), RoomKey)>,
}

impl Joined {
    fn holds(&self, key: &RoomKey) -> bool {
        self.entries.iter().any(|(_, k)| k == key)
    }

    fn get(&self, entry: &(String, String)) -> Option<&RoomKey> {
        self.entries.iter().find(|(e, _)| e == entry).map(|(_, k)| k)
    }

    /// Sets the key of `entry`; returns the key it had.
    fn insert(&mut self, entry: (String, String), key: RoomKey) -> Option<RoomKey> {
        match self.entries.iter_mut().find(|(e, _)| *e == entry) {
            Some((_, held)) => Some(std::mem::replace(held, key)),
            None => {
                self.entries.push((entry, key));
                None
            }
        }
    }

    fn remove(&mut self, entry: &(String, String)) -> Option<RoomKey> {
        let i = self.entries.iter().position(|(e, _)| e == entry)?;
        Some(self.entries.swap_remove(i).1)
    }
}

/// One connection's state.
pub(crate) struct Conn<C: Contract> {
    pub(crate) runtime: Arc<Runtime<C>>,
    pub(crate) cx: RoomContext<C::Locals>,
    joined: Mutex<Joined>,
    limiter: RateLimiter,
    auto_status: Mutex<Vec<(String, Result<(), Rejection>)>>,
}

impl<C: Contract> Conn<C> {
    fn joined(&self) -> std::sync::MutexGuard<'_, Joined> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides and joins a room; `data` is the page's payload for exposed rooms.
    pub(crate) fn join_room(&self, peer: &Peer, name: &str, data: Option<&str>) -> Result<RoomKey, Rejection> {
        let room =
            self.runtime.rooms.get(name).ok_or_else(|| Rejection::not_found(format!("unknown room `{name}`")))?;
        let key = room.decide(&self.cx, data)?;
        let entry = (name.to_owned(), canonical(data));
        let mut joined = self.joined();
        if joined.get(&entry) == Some(&key) {
            return Ok(key);
        }
        // Every held request counts, not only distinct keys: requests whose payloads differ in
        // a field the key ignores are each kept (so that each leave matches its join), and
        // would otherwise pile up without bound under the room limit.
        if joined.get(&entry).is_none() && joined.entries.len() >= self.runtime.limits.max_rooms {
            return Err(Rejection::new(
                ErrorCode::RateLimited,
                format!("room limit reached: a socket may be in at most {} rooms", self.runtime.limits.max_rooms),
            ));
        }
        if let Some(previous) = joined.insert(entry, key.clone()) {
            // Same request, new key (the rights or locals changed): leave the old room.
            if !joined.holds(&previous) {
                peer.leave(previous.encode());
            }
        }
        peer.join(key.encode());
        Ok(key)
    }

    /// Leaves what the page joined with this name and payload; leaving twice is not an error.
    pub(crate) fn leave_room(&self, peer: &Peer, name: &str, data: Option<&str>) -> Result<(), Rejection> {
        if !self.runtime.rooms.contains_key(name) {
            return Err(Rejection::not_found(format!("unknown room `{name}`")));
        }
        let mut joined = self.joined();
        if let Some(key) = joined.remove(&(name.to_owned(), canonical(data)))
            && !joined.holds(&key)
        {
            peer.leave(key.encode());
        }
        Ok(())
    }

    /// Every room this socket is in, by room name.
    /// The key this socket holds under room `name` (the first, for an exposed room joined with
    /// several payloads). Clones one key, not the whole list: handlers call it per message.
    pub(crate) fn room_key(&self, name: &str) -> Option<RoomKey> {
        self.joined().entries.iter().find(|((n, _), _)| n == name).map(|(_, key)| key.clone())
    }

    /// Whether this socket is in the room `key`.
    pub(crate) fn holds(&self, key: &RoomKey) -> bool {
        self.joined().holds(key)
    }

    pub(crate) fn rooms(&self) -> Vec<(String, RoomKey)> {
        self.joined().entries.iter().map(|((name, _), key)| (name.clone(), key.clone())).collect()
    }

    async fn call(
        self: Arc<Self>,
        peer: Peer,
        event: &str,
        data: Option<&RawValue>,
    ) -> Result<Box<RawValue>, Rejection> {
        if !self.limiter.try_take() {
            return Err(Rejection::new(ErrorCode::RateLimited, "too many calls: slow down"));
        }
        let raw = data.map(RawValue::get);
        if raw.is_some_and(|r| r.len() > self.runtime.limits.max_payload) {
            return Err(Rejection::new(
                ErrorCode::TooLarge,
                format!("payload larger than {} bytes", self.runtime.limits.max_payload),
            ));
        }
        match event {
            protocol::JOIN => {
                let request = room_request(raw)?;
                let data = request.data.as_deref().map(RawValue::get);
                self.join_room(&peer, &request.room, data).map(|_| protocol::null())
            }
            protocol::LEAVE => {
                let request = room_request(raw)?;
                let data = request.data.as_deref().map(RawValue::get);
                self.leave_room(&peer, &request.room, data).map(|()| protocol::null())
            }
            _ => {
                let handler = match self.runtime.handlers.get(event) {
                    Some(h) if !event.starts_with(protocol::RESERVED_PREFIX) => h,
                    _ => {
                        return Err(Rejection::not_found(format!("unknown event `{}`", printable(event))));
                    }
                };
                let call = handler.call.clone();
                let cx = Context::new(self.clone(), peer);
                let future = call(cx, raw.unwrap_or("null"))?;
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::error!(namespace = %self.runtime.namespace, event, "a handler panicked; answered `internal`");
                        Err(Rejection::internal())
                    }
                }
            }
        }
    }
}

impl<C: Contract> Session for Conn<C> {
    fn on_connected(&self, peer: &Peer) {
        let statuses = std::mem::take(&mut *self.auto_status.lock().unwrap_or_else(|p| p.into_inner()));
        for (room, outcome) in &statuses {
            let status = match outcome {
                Ok(()) => RoomStatus { room, status: "joined", error: None },
                Err(error) => RoomStatus { room, status: "denied", error: Some(error) },
            };
            if let Ok(payload) = serde_json::value::to_raw_value(&status) {
                peer.emit(protocol::ROOM_STATUS, &payload);
            }
        }
    }

    fn on_event(
        self: Arc<Self>,
        peer: Peer,
        event: String,
        data: Option<Box<RawValue>>,
        reply: Reply,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let result = self.call(peer, &event, data.as_deref()).await;
            reply.send(&Answer::from_result(&result));
        })
    }

    fn on_disconnect(&self, _peer: &Peer) {
        // The transport removes the socket from its rooms; drop our bookkeeping with it.
        self.joined().entries.clear();
    }
}

pub(crate) fn room_request(raw: Option<&str>) -> Result<RoomRequest, Rejection> {
    let raw = raw.ok_or_else(|| Rejection::invalid("", "expected { room, data? }"))?;
    serde_json::from_str(raw).map_err(|_| Rejection::invalid("", "expected { room, data? }"))
}

/// The payload as a canonical string (sorted keys), so a leave matches its join.
pub(crate) fn canonical(data: Option<&str>) -> String {
    data.and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .unwrap_or(serde_json::Value::Null)
        .to_string()
}

/// An event name for a message: bounded and without control characters.
fn printable(event: &str) -> String {
    event.chars().take(64).filter(|c| !c.is_control()).collect()
}
