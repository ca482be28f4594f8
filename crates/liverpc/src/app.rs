//! The app: contracts, the connection hook, limits and origin policy; mounted on an axum
//! router and served with a listen backlog fit for connect bursts.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::codegen::{ContractInfo, HandlerInfo, RoomInfo};
use crate::contract::{Contract, Socket};
use crate::emit::Emitter;
use crate::error::{BuildError, EmitError};
use crate::event::Events;
use crate::hooks::{Handshake, Hook, OriginPolicy, Refuse};
use crate::limits::Limits;
use crate::protocol::{self, RESERVED_NAMES, RESERVED_PREFIX};
use crate::route::{Route, is_identifier};
use crate::session::{Endpoint, Runtime, Served};
use crate::transport::{self, Hub, Layer, Transport};

type Compile<L> = fn(&Setup<L>) -> Result<Compiled, BuildError>;

struct Compiled {
    type_id: TypeId,
    endpoint: Arc<dyn Endpoint>,
    info: ContractInfo,
}

struct Setup<L> {
    hook: Arc<dyn Hook<L>>,
    limits: Limits,
    origins: Arc<OriginPolicy>,
    transport: Transport,
}

/// Builds an [`App`]. Start with [`App::builder`].
pub struct AppBuilder<L> {
    hook: Arc<dyn Hook<L>>,
    contracts: Vec<Compile<L>>,
    limits: Limits,
    origins: OriginPolicy,
    error: Option<BuildError>,
}

/// The realtime side of a liverpc server: every contract, served over Socket.IO.
///
/// ```
/// use liverpc::{App, Contract, Socket};
///
/// struct Lobby;
/// impl Contract for Lobby {
///     type Locals = ();
///     type ToClient = ();
///     const ROUTE: &'static str = "/";
///     const NAME: &'static str = "lobby";
///     fn socket(socket: Socket<Self>) -> Socket<Self> { socket }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder().contract::<Lobby>().build()?;
/// let router: axum::Router = app.attach(axum::Router::new());
/// let listener = liverpc::listen("127.0.0.1:0".parse()?).await?;
/// # drop(listener); let _ = router;
/// // liverpc::serve(listener, router).await?;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct App {
    layer: Layer,
    hubs: HashMap<TypeId, Hub>,
    contracts: Vec<ContractInfo>,
}

impl App {
    /// A builder with no hook: every connection's locals are `()`.
    pub fn builder() -> AppBuilder<()> {
        AppBuilder {
            hook: Arc::new(|_: Handshake| async { Ok::<(), Refuse>(()) }),
            contracts: Vec::new(),
            limits: Limits::default(),
            origins: OriginPolicy::default(),
            error: None,
        }
    }

    /// Mounts the realtime endpoint (`/socket.io/`) on an axum router.
    pub fn attach<S: Clone + Send + Sync + 'static>(&self, router: axum::Router<S>) -> axum::Router<S> {
        // The outer layer runs first: it copies the handshake's parts before the transport keeps them.
        router.layer(self.layer.clone()).layer(axum::middleware::map_request(transport::detach))
    }

    /// A typed emitter for contract `C`.
    pub fn emitter<C: Contract>(&self) -> Result<Emitter<C>, EmitError> {
        self.hubs
            .get(&TypeId::of::<C>())
            .map(|hub| Emitter::new(hub.clone()))
            .ok_or_else(|| EmitError::UnknownContract(std::any::type_name::<C>().to_owned()))
    }

    /// Every contract as the page sees it, in registration order: what
    /// [`codegen`](crate::codegen) generates the TypeScript clients from.
    pub fn contracts(&self) -> &[ContractInfo] {
        &self.contracts
    }
}

impl AppBuilder<()> {
    /// Sets the connection hook (the tutorial's `hooks.socket.ts`); its output is every
    /// contract's `Locals`. Call it before [`contract`](Self::contract).
    pub fn hook<L, H>(self, hook: H) -> AppBuilder<L>
    where
        L: Send + Sync + 'static,
        H: Hook<L>,
    {
        let error = self.error.or((!self.contracts.is_empty()).then_some(BuildError::HookAfterContracts));
        AppBuilder { hook: Arc::new(hook), contracts: Vec::new(), limits: self.limits, origins: self.origins, error }
    }
}

impl<L: Send + Sync + 'static> AppBuilder<L> {
    /// Serves contract `C`.
    pub fn contract<C: Contract<Locals = L>>(mut self) -> AppBuilder<L> {
        self.contracts.push(compile::<C>);
        self
    }

    /// Replaces the limits (see [`Limits`] for the defaults).
    pub fn limits(mut self, limits: Limits) -> AppBuilder<L> {
        self.limits = limits;
        self
    }

    /// Replaces the origin policy (default: same origin only).
    pub fn origins(mut self, origins: OriginPolicy) -> AppBuilder<L> {
        self.origins = origins;
        self
    }

    /// Checks every contract (names, routes, reserved words) and builds the app.
    pub fn build(self) -> Result<App, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let transport = Transport::new(&self.limits);
        let setup = Setup { hook: self.hook, limits: self.limits, origins: Arc::new(self.origins), transport };
        let mut hubs = HashMap::new();
        let mut contracts: Vec<ContractInfo> = Vec::new();
        let mut endpoints = Vec::new();
        for compile in self.contracts {
            let Compiled { type_id, endpoint, info } = compile(&setup)?;
            if contracts.iter().any(|c| c.namespace == info.namespace) || hubs.contains_key(&type_id) {
                return Err(BuildError::DuplicateContract(info.namespace));
            }
            hubs.insert(type_id, setup.transport.hub(&info.namespace));
            contracts.push(info);
            endpoints.push(endpoint);
        }
        for endpoint in endpoints {
            setup.transport.mount(endpoint, setup.origins.clone());
        }
        Ok(App { layer: setup.transport.layer, hubs, contracts })
    }
}

fn compile<C: Contract>(setup: &Setup<C::Locals>) -> Result<Compiled, BuildError> {
    let socket = C::socket(Socket::new());
    let namespace = protocol::namespace(C::ROUTE, C::NAME);
    let check = |what: &'static str, name: &str| check_name(&namespace, what, name);
    check("contract", C::NAME)?;
    let route = Route::parse(C::ROUTE).map_err(|source| BuildError::Route { name: C::NAME.to_owned(), source })?;

    let mut info = ContractInfo {
        rust: std::any::type_name::<C>(),
        route: C::ROUTE,
        name: C::NAME,
        namespace: namespace.clone(),
        events: Vec::new(),
        handlers: Vec::new(),
        rooms: Vec::new(),
    };
    let mut seen = HashSet::new();
    for event in C::ToClient::describe() {
        check("event", event.name)?;
        if !seen.insert(event.name) {
            return Err(duplicate(&namespace, "event", event.name));
        }
        info.events.push((event.name, event.payload));
    }
    let mut handlers = HashMap::new();
    for (name, handler) in socket.handlers {
        check("handler", &name)?;
        info.handlers.push(HandlerInfo { name: name.clone(), payload: handler.payload, reply: handler.reply });
        if handlers.insert(name.clone(), handler).is_some() {
            return Err(duplicate(&namespace, "handler", &name));
        }
    }
    let mut rooms = HashMap::new();
    let mut auto_join = Vec::new();
    for (name, room) in socket.rooms {
        check("room", &name)?;
        if room.auto_join {
            if !room.is_private() {
                return Err(BuildError::AutoJoinExposed { contract: namespace.clone(), name });
            }
            auto_join.push(name.clone());
        }
        info.rooms.push(RoomInfo { name: name.clone(), payload: room.payload, auto_join: room.auto_join });
        if rooms.insert(name.clone(), room).is_some() {
            return Err(duplicate(&namespace, "room", &name));
        }
    }
    let runtime = Runtime::<C> {
        route,
        hub: setup.transport.hub(&namespace),
        namespace,
        handlers,
        rooms,
        auto_join,
        hook: setup.hook.clone(),
        limits: setup.limits.clone(),
    };
    Ok(Compiled { type_id: TypeId::of::<C>(), endpoint: Arc::new(Served(Arc::new(runtime))), info })
}

fn check_name(contract: &str, what: &'static str, name: &str) -> Result<(), BuildError> {
    if name.starts_with(RESERVED_PREFIX) || RESERVED_NAMES.contains(&name) {
        return Err(BuildError::Reserved { contract: contract.to_owned(), what, name: name.to_owned() });
    }
    if !is_identifier(name) {
        return Err(BuildError::Name { contract: contract.to_owned(), what, name: name.to_owned() });
    }
    Ok(())
}

fn duplicate(contract: &str, what: &'static str, name: &str) -> BuildError {
    BuildError::Duplicate { contract: contract.to_owned(), what, name: name.to_owned() }
}

/// Binds a TCP listener with a backlog of 1024, so a burst of connects is not dropped
/// (tokio's default backlog is 128).
///
/// ```
/// # async fn run() -> std::io::Result<()> {
/// let listener = liverpc::listen("127.0.0.1:0".parse().unwrap()).await?;
/// assert_ne!(listener.local_addr()?.port(), 0);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub async fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves a router with TCP_NODELAY on every connection and the peer address available to
/// the hook ([`Handshake::remote_addr`]).
pub fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
) -> impl Future<Output = std::io::Result<()>> + Send {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    async move { axum::serve(listener, service).await }
}
