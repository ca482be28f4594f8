//! A contract's [`Declarations`]: its handlers and rooms, typed by the contract and erased for
//! the engine; and the compile step from a contract to the engine's plan.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::codegen::{ContractInfo, HandlerInfo, RoomInfo, TsType};
use crate::contract::Contract;
use crate::contract::context::Context;
use crate::contract::event::Events;
use crate::contract::payload;
use crate::contract::room::{Deny, RoomContext};
use crate::engine::{DecideFn, HandlerFn, Plan, PresenceFn, RoomPlan, Socket};
use crate::future::BoxFuture;
use crate::wire::error::{BuildError, Rejection};
use crate::wire::key::RoomKey;
use crate::wire::stream::History;

/// A handler as declared: the socket, the app's state and the raw payload in.
type DeclaredHandler<S> =
    dyn Fn(Socket, &Arc<S>, Box<RawValue>) -> BoxFuture<'static, Result<Box<RawValue>, Rejection>> + Send + Sync;
/// A room decision as declared: the socket, the app's state and the raw payload in.
type DeclaredRoom<S> =
    dyn Fn(Socket, &Arc<S>, Option<Box<RawValue>>) -> BoxFuture<'static, Result<RoomKey, Rejection>> + Send + Sync;

/// What a contract declares, under construction: its handlers and rooms; the argument and result of
/// [`Contract::socket`]. Its methods ([`from_client`](Declarations::from_client),
/// [`private`](Declarations::private), [`auto_join`](Declarations::auto_join),
/// [`expose`](Declarations::expose)) are the contract's declarations.
pub struct Declarations<C: Contract> {
    handlers: Vec<(Arc<DeclaredHandler<C::State>>, HandlerInfo)>,
    rooms: Vec<(Arc<DeclaredRoom<C::State>>, RoomInfo)>,
    /// Rooms that list their members: the room's name and what a member shows.
    presence: Vec<(String, PresenceFn, TsType)>,
    /// Rooms that keep history.
    history: Vec<(String, History)>,
}

impl<C: Contract> Declarations<C> {
    pub(crate) fn new() -> Declarations<C> {
        Declarations { handlers: Vec::new(), rooms: Vec::new(), presence: Vec::new(), history: Vec::new() }
    }

    /// Adds a page -> server handler (the tutorial's `fromClient`). The page calls
    /// `room.<name>(payload)`; the payload is decoded into `T` and validated (garde) before the
    /// handler runs; the handler's `Ok` is the page's typed reply, its `Err` the page's error.
    /// Calls of one socket run one at a time, in the order sent.
    ///
    /// ```
    /// use liverpc::{Context, Contract, Declarations, Rejection};
    ///
    /// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
    /// struct Add { #[garde(range(max = 1000))] a: u32, #[garde(range(max = 1000))] b: u32 }
    ///
    /// struct Calc;
    /// impl Contract for Calc {
    ///     const ROUTE: &'static str = "/calc";
    ///     const NAME: &'static str = "calc";
    ///     type Locals = ();
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket.from_client("add", |_cx, Add { a, b }| async move { Ok::<u32, Rejection>(a + b) })
    ///     }
    /// }
    /// ```
    pub fn from_client<T, R, F, Fut>(mut self, name: &str, handler: F) -> Declarations<C>
    where
        T: DeserializeOwned + garde::Validate + ts_rs::TS + Send + 'static,
        T::Context: Default,
        R: Serialize + ts_rs::TS + 'static,
        F: Fn(Context<C>, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Rejection>> + Send + 'static,
    {
        let call = move |socket: Socket,
                         state: &Arc<C::State>,
                         raw: Box<RawValue>|
              -> BoxFuture<'static, Result<Box<RawValue>, Rejection>> {
            let cx = Context::new(socket, state.clone());
            let reply = payload::decode::<T>(raw.get()).map(|data| handler(cx, data));
            Box::pin(async move {
                let reply = reply?.await?;
                serde_json::value::to_raw_value(&reply).map_err(|e| {
                    tracing::error!(error = %e, "could not serialize a handler's reply");
                    Rejection::internal()
                })
            })
        };
        let info = HandlerInfo { name: name.to_owned(), payload: TsType::of::<T>(), reply: TsType::of::<R>() };
        self.handlers.push((Arc::new(call), info));
        self
    }

    /// Adds a private room: the server computes the key from the URL's params, the locals and
    /// the state; the page never sends it. The page joins by name only
    /// (`room.join.tenant()`), or server code joins it ([`Context::join`]).
    ///
    /// ```
    /// use liverpc::{key, Contract, Declarations, Deny};
    ///
    /// struct Locals { tenant_id: Option<u64> }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = Locals;
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket.private("tenant", |cx| async move {
    ///             let tenant_id = cx.locals().tenant_id.ok_or(Deny)?;
    ///             Ok(key!["tenant", tenant_id])
    ///         })
    ///     }
    /// }
    /// ```
    pub fn private<F, Fut>(self, name: &str, decide: F) -> Declarations<C>
    where
        F: Fn(RoomContext<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Deny>> + Send + 'static,
    {
        self.private_room(name, decide, false)
    }

    /// Adds a private room that every connection joins when it connects (the tutorial's
    /// `room.private(fn, { autoJoin: true })`). A denied auto-join is reported to the page, and
    /// the connection stays.
    ///
    /// ```
    /// use liverpc::{key, Contract, Declarations};
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = ();
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         // The URL's [roomId] chooses the room: /rooms/general joins ["chat", "general"].
    ///         socket.auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
    ///     }
    /// }
    /// ```
    pub fn auto_join<F, Fut>(self, name: &str, decide: F) -> Declarations<C>
    where
        F: Fn(RoomContext<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Deny>> + Send + 'static,
    {
        self.private_room(name, decide, true)
    }

    fn private_room<F, Fut>(mut self, name: &str, decide: F, auto_join: bool) -> Declarations<C>
    where
        F: Fn(RoomContext<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Deny>> + Send + 'static,
    {
        let run = move |socket: Socket,
                        state: &Arc<C::State>,
                        _: Option<Box<RawValue>>|
              -> BoxFuture<'static, Result<RoomKey, Rejection>> {
            let decided = decide(RoomContext::new(socket, state.clone()));
            Box::pin(async move { decided.await.map_err(|Deny| Rejection::join_denied()) })
        };
        self.rooms.push((Arc::new(run), RoomInfo { name: name.to_owned(), payload: None, auto_join }));
        self
    }

    /// Adds an exposed room: the page sends a `T` (`room.join.project({ projectId })`); the
    /// server decodes and validates it, then `authorize` returns the key or [`Deny`]. The
    /// payload is a request, not proof of access. A refused join answers exactly `forbidden`.
    ///
    /// ```
    /// use liverpc::{key, Contract, Declarations, Deny};
    ///
    /// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
    /// #[serde(rename_all = "camelCase")]
    /// struct ProjectJoin {
    ///     #[garde(length(min = 1, max = 64))]
    ///     project_id: String,
    /// }
    ///
    /// struct Locals { project_ids: Vec<String> }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = Locals;
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket.expose("project", |cx, join: ProjectJoin| async move {
    ///             if !cx.locals().project_ids.contains(&join.project_id) {
    ///                 return Err(Deny);
    ///             }
    ///             Ok(key!["project", join.project_id])
    ///         })
    ///     }
    /// }
    /// ```
    pub fn expose<T, F, Fut>(mut self, name: &str, authorize: F) -> Declarations<C>
    where
        T: DeserializeOwned + garde::Validate + ts_rs::TS + 'static,
        T::Context: Default,
        F: Fn(RoomContext<C>, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RoomKey, Deny>> + Send + 'static,
    {
        let run = move |socket: Socket,
                        state: &Arc<C::State>,
                        raw: Option<Box<RawValue>>|
              -> BoxFuture<'static, Result<RoomKey, Rejection>> {
            let raw = raw.as_deref().map_or("null", RawValue::get);
            let decided =
                payload::decode::<T>(raw).map(|data| authorize(RoomContext::new(socket, state.clone()), data));
            Box::pin(async move { decided?.await.map_err(|Deny| Rejection::join_denied()) })
        };
        let info = RoomInfo { name: name.to_owned(), payload: Some(TsType::of::<T>()), auto_join: false };
        self.rooms.push((Arc::new(run), info));
        self
    }
}

impl<C: Contract> Declarations<C> {
    /// Makes room `name` list its members to each other (presence): each member shows what
    /// `show` derives from its connection's locals, never anything the page sends. A member
    /// receives the room's members when it joins, then every join and leave, on every node
    /// (the `liverpc:presence` event, docs/architecture.md). A member whose locals show
    /// nothing (`show` returns `None`) is not listed.
    ///
    /// ```
    /// use liverpc::{key, Contract, Declarations};
    ///
    /// struct Locals { name: Option<String> }
    ///
    /// /// What the others see of a member (`room.presence.chat` on the page).
    /// #[derive(serde::Serialize, ts_rs::TS)]
    /// struct Member { name: String }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = Locals;
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket
    ///             .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
    ///             // Signed-in members show their name; anonymous pages are not listed.
    ///             .presence("chat", |locals| locals.name.clone().map(|name| Member { name }))
    ///     }
    /// }
    /// ```
    pub fn presence<P, F>(mut self, room: &str, show: F) -> Declarations<C>
    where
        P: Serialize + ts_rs::TS + 'static,
        F: Fn(&C::Locals) -> Option<P> + Send + Sync + 'static,
    {
        let erased = move |locals: &crate::engine::Locals| {
            let shown = show(locals.downcast_ref::<C::Locals>()?)?;
            serde_json::value::to_raw_value(&shown).ok()
        };
        self.presence.push((room.to_owned(), Arc::new(erased), TsType::of::<P>()));
        self
    }
}

impl<C: Contract> Declarations<C> {
    /// Makes room `name` keep history: each message emitted to one of its keys (a key whose
    /// first part is `name`, as `key!["chat", id]` for room `chat`) gets a position, the last
    /// `history.size` are kept for `history.ttl`, and a page that reconnects gets what it
    /// missed, in order, before anything live; past the window it is told (`recovered: false`
    /// in its room state, and the `missed` event). [`Emitter::history`](crate::Emitter::history)
    /// reads it for a server-rendered page.
    ///
    /// ```
    /// use liverpc::{key, Contract, Declarations, History};
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = ();
    ///     type State = ();
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket
    ///             .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
    ///             .history("chat", History::last(100))
    ///     }
    /// }
    /// ```
    pub fn history(mut self, room: &str, history: History) -> Declarations<C> {
        self.history.push((room.to_owned(), history));
        self
    }
}

/// Compiles contract `C` to the engine's plan (checking every name) and to its description
/// for code generation; `state` is what `cx.state()` returns.
pub(crate) fn compile<C: Contract>(state: Arc<C::State>) -> Result<(Plan, ContractInfo), BuildError> {
    let declared = C::socket(Declarations::new());
    let mut plan = Plan::new(C::ROUTE, C::NAME)?;
    let mut info = ContractInfo {
        rust: std::any::type_name::<C>(),
        route: C::ROUTE,
        name: C::NAME,
        namespace: plan.namespace.clone(),
        events: Vec::new(),
        handlers: Vec::new(),
        rooms: Vec::new(),
        presence: Vec::new(),
    };
    for event in C::ToClient::describe() {
        plan.event(event.name)?;
        info.events.push((event.name, event.payload));
    }
    for (handler, handler_info) in declared.handlers {
        let state = state.clone();
        let call: HandlerFn = Arc::new(move |socket: Socket, raw| handler(socket, &state, raw));
        plan.handler(&handler_info.name, call)?;
        info.handlers.push(handler_info);
    }
    for (decide, room_info) in declared.rooms {
        let state = state.clone();
        let run: DecideFn = Arc::new(move |socket: Socket, raw| decide(socket, &state, raw));
        let exposed = room_info.payload.is_some();
        let room = RoomPlan { exposed, auto_join: room_info.auto_join, decide: run, presence: None, history: None };
        plan.room(&room_info.name, room)?;
        info.rooms.push(room_info);
    }
    for (room, show, shown) in declared.presence {
        plan.presence(&room, show)?;
        info.presence.push((room, shown));
    }
    for (room, history) in declared.history {
        plan.history(&room, history)?;
    }
    Ok((plan, info))
}
