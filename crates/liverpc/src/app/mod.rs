//! The app: contracts, the connection hook, the state, limits and origin policy, compiled to
//! the engine and mounted on an axum router ([`serve`] runs it; [`caps`] bounds its TCP
//! connections).

pub(crate) mod caps;
mod proxy;
pub(crate) mod serve;
pub(crate) mod shutdown;

use std::collections::HashMap;
use std::sync::Arc;

#[cfg(feature = "redis")]
use crate::bus::RedisBus;
use crate::bus::{Bus, LocalBus};
use crate::codegen::ContractInfo;
use crate::contract::emit::Emitter;
use crate::contract::hooks::Hook;
use crate::contract::{Contract, declarations};
use crate::engine::{Engine, HookFn, Hub, Locals, Plan};
use crate::future::BoxFuture;
use crate::spec::{ContractSpec, RawEmitter};
use crate::transport::engineio::EngineIo;
use crate::wire::error::{BuildError, EmitError};
use crate::wire::handshake::{Handshake, Refuse};
use crate::wire::limits::Limits;
use crate::wire::origin::OriginPolicy;
use crate::wire::protocol;
use caps::Caps;
use proxy::{Cidr, TrustedProxies};
use shutdown::Lifecycle;

/// Where the endpoint is served unless [`AppBuilder::endpoint`] says otherwise.
const DEFAULT_ENDPOINT: &str = "/socket.io/";

type Compile<S> = fn(Arc<S>) -> Result<(Plan, ContractInfo), BuildError>;

/// A contract to compile at build: a Rust contract type, or a plan built by another front-end.
enum Pending<S> {
    Typed(Compile<S>),
    Values(Box<Plan>),
}
type TypedHook<S, L> = dyn Fn(Handshake, &S) -> BoxFuture<'static, Result<L, Refuse>> + Send + Sync;

/// Builds an [`App`]. Start with [`App::builder`]; call [`state`](Self::state), then
/// [`hook`](Self::hook), then [`contract`](Self::contract) for each contract. Out of that
/// order, [`build`](Self::build) fails with the [`BuildError`] that names the fix: contracts
/// are typed by the state and the hook's locals, so none is ever dropped silently.
pub struct AppBuilder<L, S> {
    hook: Arc<TypedHook<S, L>>,
    state: Arc<S>,
    contracts: Vec<Pending<S>>,
    settings: Settings,
}

/// The builder's untyped part, moved whole from one typestate to the next.
struct Settings {
    hooked: bool,
    limits: Limits,
    origins: OriginPolicy,
    polling: bool,
    /// The endpoint's path.
    endpoint: String,
    /// Peers whose `X-Forwarded-For` is believed; none by default.
    proxies: Vec<Cidr>,
    /// Redis URL of the bus across nodes; `None`: one node.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis: Option<String>,
    /// The first misuse of the builder, reported by `build()`.
    error: Option<BuildError>,
}

impl Settings {
    /// Records `error` when `misused` (keeping an earlier one).
    fn fail_if(mut self, misused: bool, error: BuildError) -> Settings {
        if misused && self.error.is_none() {
            self.error = Some(error);
        }
        self
    }
}

/// The realtime side of a liverpc server: every contract, served over Socket.IO.
///
/// ```
/// use liverpc::{App, Contract, Declarations};
///
/// struct Lobby;
/// impl Contract for Lobby {
///     type Locals = ();
///     type State = ();
///     type ToClient = ();
///     const ROUTE: &'static str = "/";
///     const NAME: &'static str = "lobby";
///     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::builder().contract::<Lobby>().build()?;
/// let router: axum::Router = app.attach(axum::Router::new());
/// let listener = liverpc::listen("127.0.0.1:0".parse()?).await?;
/// # drop(listener); let _ = router;
/// // app.serve(listener, router).await?;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct App {
    /// The transport serving `/socket.io/`: liverpc's own Engine.IO / Socket.IO.
    transport: EngineIo,
    hubs: HashMap<String, Hub>,
    contracts: Vec<ContractInfo>,
    /// Connections open, shared by every way the app is served.
    pub(crate) caps: Arc<Caps>,
    /// Peers whose forwarded client address is believed.
    pub(crate) proxies: Arc<TrustedProxies>,
    /// Running, shutting down, or shut down.
    pub(crate) lifecycle: Arc<Lifecycle>,
}

impl App {
    /// A builder with no state and no hook: every connection's locals are `()`.
    pub fn builder() -> AppBuilder<(), ()> {
        let settings = Settings {
            hooked: false,
            limits: Limits::default(),
            origins: OriginPolicy::default(),
            polling: false,
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            proxies: Vec::new(),
            redis: None,
            error: None,
        };
        AppBuilder { hook: no_hook(), state: Arc::new(()), contracts: Vec::new(), settings }
    }

    /// Mounts the realtime endpoint (`/socket.io/`, or the path given to
    /// [`AppBuilder::endpoint`]) on an axum router.
    pub fn attach<S: Clone + Send + Sync + 'static>(&self, router: axum::Router<S>) -> axum::Router<S> {
        self.transport.attach(router)
    }

    /// A typed emitter for contract `C`, found by its namespace.
    pub fn emitter<C: Contract>(&self) -> Result<Emitter<C>, EmitError> {
        self.hubs
            .get(&protocol::namespace(C::ROUTE, C::NAME))
            .map(|hub| Emitter::new(hub.clone()))
            .ok_or_else(|| EmitError::UnknownContract(std::any::type_name::<C>().to_owned()))
    }

    /// An untyped emitter for the contract served on `namespace` (for contracts built as values by other
    /// front-ends; Rust contracts use [`emitter`](App::emitter)).
    pub fn raw_emitter(&self, namespace: &str) -> Option<RawEmitter> {
        self.hubs.get(namespace).map(|hub| RawEmitter(hub.clone()))
    }

    /// Every Rust contract as the page sees it, in registration order: what
    /// [`codegen`](crate::codegen) generates the TypeScript clients from.
    pub fn contracts(&self) -> &[ContractInfo] {
        &self.contracts
    }
}

impl AppBuilder<(), ()> {
    /// Gives the app its state (a database pool, a store): contracts with
    /// `type State = S` reach it as `cx.state()`, and a hook can take it as
    /// [`State<S>`](crate::State). Call it first.
    ///
    /// ```
    /// use liverpc::{key, App, Contract, Declarations, Deny};
    ///
    /// struct Store { open_rooms: Vec<String> }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = ();
    ///     type State = Store;
    ///     type ToClient = ();
    ///     fn socket(socket: Declarations<Self>) -> Declarations<Self> {
    ///         socket.auto_join("chat", |cx| async move {
    ///             let room = cx.param("roomId")?;
    ///             if !cx.state().open_rooms.iter().any(|r| r == room) { return Err(Deny) }
    ///             Ok(key!["chat", room])
    ///         })
    ///     }
    /// }
    ///
    /// let app = App::builder().state(Store { open_rooms: vec!["general".into()] }).contract::<Chat>().build();
    /// assert!(app.is_ok());
    /// ```
    pub fn state<S: Send + Sync + 'static>(self, state: S) -> AppBuilder<(), S> {
        let (contracts, hooked) = (!self.contracts.is_empty(), self.settings.hooked);
        let settings = self
            .settings
            .fail_if(contracts, BuildError::StateAfterContracts)
            .fail_if(hooked, BuildError::StateAfterHook);
        AppBuilder { hook: no_hook(), state: Arc::new(state), contracts: Vec::new(), settings }
    }
}

impl<S: Send + Sync + 'static> AppBuilder<(), S> {
    /// Sets the connection hook (the tutorial's `hooks.socket.ts`); its output is every
    /// contract's `Locals`. Call it before [`contract`](Self::contract).
    pub fn hook<L, H, M>(self, hook: H) -> AppBuilder<L, S>
    where
        L: Send + Sync + 'static,
        H: Hook<S, L, M>,
    {
        let mut settings = self.settings.fail_if(!self.contracts.is_empty(), BuildError::HookAfterContracts);
        settings.hooked = true;
        let hook = Arc::new(move |handshake, state: &S| hook.call(handshake, state));
        AppBuilder { hook, state: self.state, contracts: Vec::new(), settings }
    }
}

/// The hook of an app that sets none: every connection's locals are `()`.
fn no_hook<S>() -> Arc<TypedHook<S, ()>> {
    Arc::new(|_: Handshake, _: &S| Box::pin(async { Ok::<(), Refuse>(()) }))
}

impl<L: Send + Sync + 'static, S: Send + Sync + 'static> AppBuilder<L, S> {
    /// Serves contract `C`.
    pub fn contract<C: Contract<Locals = L, State = S>>(mut self) -> AppBuilder<L, S> {
        self.contracts.push(Pending::Typed(declarations::compile::<C>));
        self
    }

    /// Serves a contract built as values (see [`spec`](crate::spec)), e.g. by the TypeScript
    /// front-end. Its handlers and rooms see the hook's locals as [`Call::locals`](crate::spec::Call::locals).
    pub fn spec(mut self, spec: ContractSpec) -> AppBuilder<L, S> {
        self.contracts.push(Pending::Values(Box::new(spec.plan)));
        self
    }

    /// Replaces the limits (see [`Limits`] for the defaults).
    pub fn limits(mut self, limits: Limits) -> AppBuilder<L, S> {
        self.settings.limits = limits;
        self
    }

    /// Replaces the origin policy (default: same origin only).
    pub fn origins(mut self, origins: OriginPolicy) -> AppBuilder<L, S> {
        self.settings.origins = origins;
        self
    }

    /// Serves the endpoint on `path` instead of `/socket.io/` (e.g. under the site's base
    /// path: `/app/socket.io/`); the page's client connects with the same `path`. It must start
    /// and end with `/`.
    ///
    /// ```
    /// let app = liverpc::App::builder().endpoint("/app/socket.io/").build();
    /// assert!(app.is_ok());
    /// assert!(liverpc::App::builder().endpoint("socket.io").build().is_err());
    /// ```
    pub fn endpoint(mut self, path: impl Into<String>) -> AppBuilder<L, S> {
        let path = path.into();
        let valid = path.starts_with('/') && path.ends_with('/') && !path.contains(['?', '#', '{', '}', '*']);
        self.settings = self.settings.fail_if(!valid, BuildError::Endpoint(path.clone()));
        self.settings.endpoint = path;
        self
    }

    /// Believes `X-Forwarded-For` from these peers (addresses or CIDR ranges, IPv4 or IPv6):
    /// for a connection from one of them, the client's address is the rightmost entry that is
    /// not itself a trusted proxy. The per-address connection cap and the hook's
    /// [`Handshake::remote_addr`] use it (port 0). Never trusted by default (Rule 10
    /// (docs/security.md#rule-10)): a client can write any `X-Forwarded-For` it likes. A
    /// proxy's own connection counts in the total cap; each websocket it carries counts for its
    /// client's address.
    ///
    /// ```
    /// let app = liverpc::App::builder().trusted_proxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).build();
    /// assert!(app.is_ok());
    /// assert!(liverpc::App::builder().trusted_proxies(["nginx"]).build().is_err());
    /// ```
    pub fn trusted_proxies<I>(mut self, proxies: I) -> AppBuilder<L, S>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for proxy in proxies {
            match proxy.as_ref().parse::<Cidr>() {
                Ok(range) => self.settings.proxies.push(range),
                Err(bad) => self.settings = self.settings.fail_if(true, BuildError::TrustedProxy(bad.0)),
            }
        }
        self
    }

    /// Also accepts HTTP long-polling (default: websocket only, which is what the generated
    /// client uses). Turn it on for clients behind proxies that break websockets.
    pub fn long_polling(mut self, on: bool) -> AppBuilder<L, S> {
        self.settings.polling = on;
        self
    }

    /// Spans rooms across every node of the app that uses the same Redis (feature `redis`): a
    /// message sent on one node reaches the room's members on all of them. Without it the app
    /// is one node. Nothing waits for Redis: the app starts and delivers locally while Redis is
    /// down, and delivers across nodes once it is up (see the crate's README, "Several nodes").
    ///
    /// ```
    /// # use liverpc::{App, Contract, Declarations};
    /// # struct Lobby;
    /// # impl Contract for Lobby {
    /// #     type Locals = ();
    /// #     type State = ();
    /// #     type ToClient = ();
    /// #     const ROUTE: &'static str = "/";
    /// #     const NAME: &'static str = "lobby";
    /// #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let url = std::env::var("LIVERPC_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    /// let app = App::builder().redis(url).contract::<Lobby>().build();
    /// assert!(app.is_ok()); // whether or not Redis is there yet
    /// # });
    /// ```
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<String>) -> AppBuilder<L, S> {
        self.settings.redis = Some(url.into());
        self
    }

    /// The bus this app's nodes share.
    fn bus(&self) -> Result<Arc<dyn Bus>, BuildError> {
        #[cfg(feature = "redis")]
        if let Some(url) = &self.settings.redis {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(BuildError::RedisWithoutRuntime);
            }
            return Ok(Arc::new(RedisBus::new(url).map_err(BuildError::RedisUrl)?));
        }
        Ok(Arc::new(LocalBus::new()))
    }

    /// Checks every contract (names, routes, reserved words) and builds the app.
    pub fn build(mut self) -> Result<App, BuildError> {
        if let Some(error) = self.settings.error.take() {
            return Err(error);
        }
        let bus = self.bus()?;
        let AppBuilder { hook, state, contracts: pending, settings } = self;
        let transport = EngineIo::new(&settings.limits, settings.polling, &settings.endpoint);
        let hook_state = state.clone();
        let erased: HookFn = Arc::new(move |handshake| {
            let locals = hook(handshake, &hook_state);
            Box::pin(async move { locals.await.map(|locals| Arc::new(locals) as Locals) })
        });
        let limits = settings.limits;
        let engine = Engine::new(erased, limits.clone(), settings.origins, Arc::new(transport.clone()), bus);
        let mut hubs = HashMap::new();
        let mut contracts: Vec<ContractInfo> = Vec::new();
        let mut plans = Vec::new();
        for pending in pending {
            let plan = match pending {
                Pending::Typed(compile) => {
                    let (plan, info) = compile(state.clone())?;
                    contracts.push(info);
                    plan
                }
                Pending::Values(plan) => *plan,
            };
            if let Some((_, matcher)) = plan.route.matchers().next()
                && plan.check.is_none()
            {
                return Err(BuildError::Matcher { contract: plan.namespace, matcher: matcher.to_owned() });
            }
            if plans.iter().any(|p: &Plan| p.namespace == plan.namespace) {
                return Err(BuildError::DuplicateContract(plan.namespace));
            }
            plans.push(plan);
        }
        for plan in plans {
            let hub = engine.serve(plan);
            hubs.insert(hub.namespace().to_owned(), hub);
        }
        let caps = Arc::new(Caps::new(limits.max_connections, limits.max_connections_per_address));
        let proxies = Arc::new(TrustedProxies::new(settings.proxies));
        Ok(App { transport, hubs, contracts, caps, proxies, lifecycle: Arc::default() })
    }
}
