//! Contracts as values, for front-ends other than Rust's [`Contract`](crate::Contract): the
//! TypeScript front-end builds a [`ContractSpec`] per `socket({ ... })`, with handlers and room
//! deciders that call into JavaScript, and serves it on the same engine as Rust contracts.
//! Payloads and replies are raw JSON; the locals are whatever the app's hook returned.
//!
//! ```
//! use liverpc::spec::{Call, ContractSpec};
//! use liverpc::{App, RoomKey};
//! use serde_json::value::RawValue;
//!
//! let mut chat = ContractSpec::new("/rooms/[roomId]", "chat").unwrap();
//! chat.event("message").unwrap();
//! chat.private("chat", true, |call: Call| async move {
//!     let room = call.param("roomId").ok_or_else(liverpc::Rejection::internal)?.to_owned();
//!     Ok(RoomKey::new(["chat".to_owned(), room]))
//! })
//! .unwrap();
//! chat.handler("send", |call: Call, payload: Box<RawValue>| async move {
//!     let room = call.room("chat").ok_or_else(|| liverpc::Rejection::forbidden("not in the room"))?;
//!     call.within(&room, "message", &payload)?;
//!     Ok(RawValue::NULL.to_owned())
//! })
//! .unwrap();
//! let app = App::builder().spec(chat).build().unwrap();
//! assert!(app.raw_emitter("/rooms/[roomId]/chat").is_some());
//! ```

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use serde_json::value::RawValue;

pub use crate::engine::Cancelled;
use crate::engine::{CheckFn, DecideFn, HandlerFn, Hub, Plan, PresenceFn, RoomPlan, Socket};
use crate::wire::error::{BuildError, EmitError, HistoryError, Rejection};
use crate::wire::handshake::Refuse;
use crate::wire::key::RoomKey;
use crate::wire::route::Params;
use crate::wire::stream::{History, Recent};

/// One contract as values: route, name, events, handlers and rooms.
pub struct ContractSpec {
    pub(crate) plan: Plan,
}

impl ContractSpec {
    /// An empty contract for the SvelteKit route id `route`, named `name`; fails on a bad route
    /// id or name, as [`App::build`](crate::AppBuilder::build) would.
    pub fn new(route: &str, name: &str) -> Result<ContractSpec, BuildError> {
        Ok(ContractSpec { plan: Plan::new(route, name)? })
    }

    /// The contract's namespace on the wire.
    pub fn namespace(&self) -> &str {
        &self.plan.namespace
    }

    /// Its handlers and room functions run where Rust cannot stop them (JavaScript): at the
    /// handler timeout the page is answered `timeout`, [`Call::cancelled`] fires, and the
    /// socket's next call waits until the function's future returns (at most one more
    /// timeout), so a socket's work stays one at a time (Rule 7 (docs/security.md#rule-7)).
    /// When the socket closes, `cancelled` fires and the function is let finish likewise.
    /// Without it, a function is dropped at the deadline or the close (a Rust future stops
    /// at its next await).
    ///
    /// ```
    /// let mut spec = liverpc::spec::ContractSpec::new("/", "lobby").unwrap();
    /// spec.cancel_by_signal();
    /// ```
    pub fn cancel_by_signal(&mut self) -> &mut ContractSpec {
        self.plan.cancel_by_signal = true;
        self
    }

    /// Checks the params of a URL matched by a route with param matchers
    /// ([`Route::matchers`](crate::Route::matchers), `[id=integer]`): `Ok(false)` refuses the
    /// connect `not_found` (the URL is not this route's), `Err` with that refusal (`unavailable`:
    /// the page retries). Required for such a route: without it the app does not build.
    ///
    /// ```
    /// # use liverpc::spec::ContractSpec;
    /// let mut spec = ContractSpec::new("/items/[id=integer]", "item").unwrap();
    /// spec.params_check(|params: liverpc::Params| async move {
    ///     Ok(params.get("id").is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())))
    /// });
    /// assert!(liverpc::App::builder().spec(spec).build().is_ok());
    /// // Without a check, a matcher would be ignored: the app does not build.
    /// let unchecked = ContractSpec::new("/items/[id=integer]", "item").unwrap();
    /// assert!(liverpc::App::builder().spec(unchecked).build().is_err());
    /// ```
    pub fn params_check<F, Fut>(&mut self, check: F) -> &mut ContractSpec
    where
        F: Fn(Params) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, Refuse>> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move |params| Box::pin(check(params)));
        self.plan.check = Some(check);
        self
    }

    /// Declares a server -> page event.
    pub fn event(&mut self, name: &str) -> Result<&mut ContractSpec, BuildError> {
        self.plan.event(name)?;
        Ok(self)
    }

    /// Adds a page -> server handler: `payload` is the page's raw JSON (`null` for none); the
    /// reply is raw JSON. Calls of one socket run one at a time, in the order sent.
    pub fn handler<F, Fut>(&mut self, name: &str, handler: F) -> Result<&mut ContractSpec, BuildError>
    where
        F: Fn(Call, Box<RawValue>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Box<RawValue>, Rejection>> + Send + 'static,
    {
        let call: HandlerFn = Arc::new(move |socket, raw| Box::pin(handler(Call(socket), raw)));
        self.plan.handler(name, call)?;
        Ok(self)
    }

    /// Adds a private room, joined on connect when `auto_join`. An `Err` refuses the join
    /// (answer [`Rejection::forbidden`]`("forbidden")` to refuse it exactly as Rule 2 (docs/security.md#rule-2) says).
    pub fn private<F, Fut>(&mut self, name: &str, auto_join: bool, decide: F) -> Result<&mut ContractSpec, BuildError>
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Rejection>> + Send + 'static,
    {
        let decide: DecideFn = Arc::new(move |socket, _| Box::pin(decide(Call(socket))));
        self.plan.room(name, RoomPlan { exposed: false, auto_join, decide, presence: None, history: None })?;
        Ok(self)
    }

    /// Makes room `name` keep history: every key whose first part is `name` gets a stream, so
    /// its messages carry positions, a page that reconnects gets what it missed (within the
    /// last `history.size` messages and `history.ttl`), and [`RawEmitter::history`] reads it.
    ///
    /// ```
    /// use liverpc::{History, RoomKey};
    /// use liverpc::spec::{Call, ContractSpec};
    ///
    /// let mut chat = ContractSpec::new("/rooms/[roomId]", "chat").unwrap();
    /// chat.private("chat", true, |call: Call| async move {
    ///     Ok(RoomKey::new(["chat", call.param("roomId").unwrap_or_default()]))
    /// })
    /// .unwrap()
    /// .history("chat", History::last(100))
    /// .unwrap();
    /// ```
    pub fn history(&mut self, name: &str, history: History) -> Result<&mut ContractSpec, BuildError> {
        self.plan.history(name, history)?;
        Ok(self)
    }

    /// Adds an exposed room: `payload` is the page's raw JSON request, to validate and authorize.
    pub fn expose<F, Fut>(&mut self, name: &str, decide: F) -> Result<&mut ContractSpec, BuildError>
    where
        F: Fn(Call, Box<RawValue>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Rejection>> + Send + 'static,
    {
        let decide: DecideFn = Arc::new(move |socket, raw: Option<Box<RawValue>>| {
            Box::pin(decide(Call(socket), raw.unwrap_or_else(|| RawValue::NULL.to_owned())))
        });
        self.plan.room(name, RoomPlan { exposed: true, auto_join: false, decide, presence: None, history: None })?;
        Ok(self)
    }
    /// Makes room `name` (declared before) list its members to each other, as
    /// [`Declarations::presence`](crate::Declarations::presence) does: each member shows what
    /// `show` derives from its locals (raw JSON; `None`: not listed). `show` runs when the
    /// member joins, synchronously: a front-end whose locals live elsewhere computes the
    /// value in its hook and keeps it in the locals.
    ///
    /// ```
    /// use liverpc::spec::ContractSpec;
    /// use liverpc::RoomKey;
    /// use serde_json::value::RawValue;
    ///
    /// struct Shown(Box<RawValue>);
    /// let mut chat = ContractSpec::new("/", "lobby").unwrap();
    /// chat.private("lobby", true, |_| async { Ok(RoomKey::new(["lobby".to_owned()])) }).unwrap();
    /// chat.presence("lobby", |locals| locals.downcast_ref::<Shown>().map(|shown| shown.0.clone())).unwrap();
    /// // A room that is not declared has no members to list.
    /// assert!(chat.presence("side", |_| None).is_err());
    /// ```
    pub fn presence<F>(&mut self, name: &str, show: F) -> Result<&mut ContractSpec, BuildError>
    where
        F: Fn(&(dyn Any + Send + Sync)) -> Option<Box<RawValue>> + Send + Sync + 'static,
    {
        let show: PresenceFn = Arc::new(move |locals| show(locals.as_ref()));
        self.plan.presence(name, show)?;
        Ok(self)
    }
}

/// The socket a handler or room decision runs for. Cheap to clone.
#[derive(Clone)]
pub struct Call(Socket);

impl Call {
    /// This socket's id: unique, and not a credential.
    pub fn id(&self) -> &str {
        self.0.id()
    }

    /// The params matched from the page's URL.
    pub fn params(&self) -> &Params {
        self.0.params()
    }

    /// One param of the page's URL.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.0.params().get(name)
    }

    /// Resolves when the engine gives up on the running handler or room function: it timed
    /// out, or its socket closed. For a spec made with
    /// [`cancel_by_signal`](ContractSpec::cancel_by_signal), pass it on to the code that can
    /// stop (an `AbortSignal`).
    ///
    /// ```
    /// # use liverpc::spec::{Call, Cancelled, ContractSpec};
    /// # use serde_json::value::RawValue;
    /// let mut spec = ContractSpec::new("/", "lobby").unwrap();
    /// spec.cancel_by_signal().handler("slow", |call: Call, _payload: Box<RawValue>| async move {
    ///     let _why: Cancelled = call.cancelled().await; // the work would race this
    ///     Err(liverpc::Rejection::internal())
    /// }).unwrap();
    /// ```
    pub fn cancelled(&self) -> impl Future<Output = Cancelled> + Send + 'static {
        let cancel = self.0.cancel();
        async move { cancel.fired_with().await }
    }

    /// The locals the app's hook returned, if they are a `T`.
    pub fn locals<T: 'static>(&self) -> Option<&T> {
        self.0.locals().downcast_ref::<T>()
    }

    /// The key this socket holds under room `name`, if it is in it.
    pub fn room(&self, name: &str) -> Option<RoomKey> {
        self.0.room_key(name)
    }

    /// Whether this socket is in room `key`.
    pub fn holds(&self, key: &RoomKey) -> bool {
        self.0.holds(key)
    }

    /// Joins a private room of this contract from server code.
    pub async fn join(&self, name: &str) -> Result<RoomKey, Rejection> {
        self.0.join(name, None).await
    }

    /// Leaves a private room of this contract.
    pub fn leave(&self, name: &str) -> Result<(), Rejection> {
        self.0.leave(name, None)
    }

    /// Sends an event to this socket only.
    pub fn emit(&self, event: &str, payload: &RawValue) {
        self.0.emit(event, payload)
    }

    /// Emits to every member of `room`, this socket included; `forbidden` unless this socket is
    /// in it (use the [`RawEmitter`] to reach any room).
    pub fn within(&self, room: &RoomKey, event: &str, payload: &RawValue) -> Result<usize, Rejection> {
        self.broadcast(room, event, payload, None)
    }

    /// Emits to every member of `room` but this socket; `forbidden` unless this socket is in it.
    pub fn to(&self, room: &RoomKey, event: &str, payload: &RawValue) -> Result<usize, Rejection> {
        self.broadcast(room, event, payload, Some(&self.0))
    }

    fn broadcast(
        &self,
        room: &RoomKey,
        event: &str,
        payload: &RawValue,
        except: Option<&Socket>,
    ) -> Result<usize, Rejection> {
        if !self.0.holds(room) {
            return Err(Rejection::forbidden("join the room first"));
        }
        Ok(self.0.hub().emit(room, event, payload, except)?)
    }
}

/// Emits a contract's events to its rooms from anywhere, with raw JSON payloads. Get one with
/// [`App::raw_emitter`](crate::App::raw_emitter).
#[derive(Clone)]
pub struct RawEmitter(pub(crate) Hub);

impl RawEmitter {
    /// Sends `event` to every member of `room`; returns how many sockets of this node it was
    /// handed to. An event the contract does not declare is an error.
    pub fn emit(&self, room: &RoomKey, event: &str, payload: &RawValue) -> Result<usize, EmitError> {
        self.0.emit(room, event, payload, None)
    }

    /// Disconnects every member of `room`; returns how many of this node's.
    pub fn disconnect(&self, room: &RoomKey) -> usize {
        self.0.disconnect(room, None)
    }

    /// The last `limit` messages of `room` (at most its history's size), oldest first, with
    /// their positions, and the position after them: what a server-rendered page shows, and
    /// hands to its client so that its live messages start exactly after. An error when the
    /// key has no stream.
    pub async fn history(&self, room: &RoomKey, limit: usize) -> Result<Recent, HistoryError> {
        self.0.history(room, limit)
    }
}
