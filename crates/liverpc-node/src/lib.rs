//! The Node.js addon of liverpc: the TypeScript front-end's contracts served by the Rust engine
//! in the Node process. A thin binding: the TypeScript side (`liverpc/server`) describes its
//! contracts and answers the engine's requests (hook, room functions, handlers) through one
//! dispatch function; this crate compiles the descriptions to [`liverpc::spec::ContractSpec`]s,
//! adopts the sockets Node accepted, and emits to rooms. Connections, protocol, rooms, limits
//! and fan-out stay in the engine; no frame passes through JavaScript.

mod bridge;
mod contract;
mod socket;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liverpc::{App, Limits, OriginPolicy, RoomKey};
use napi::bindgen_prelude::{Buffer, Function};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::bridge::{DEFAULT_MAX_PENDING, Js, SharedOutbox};
use crate::contract::ContractInfo;

/// What the TypeScript side registers: its contracts and the app's options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppInfo {
    contracts: Vec<ContractInfo>,
    #[serde(default)]
    long_polling: bool,
    /// `["https://example.com", ...]` allowed besides the same origin; `["*"]`: any.
    #[serde(default)]
    origins: Vec<String>,
    /// Limits in their serde shape (camelCase, durations in `...Ms`); a missing field keeps
    /// its default, an unknown one is refused by name.
    #[serde(default)]
    limits: Limits,
    /// `redis://host:port`: this process is one node of several sharing their rooms.
    #[serde(default)]
    redis: Option<String>,
    /// The endpoint's path (default `/socket.io/`).
    #[serde(default)]
    endpoint: Option<String>,
    /// Requests queued for or running in JavaScript at once (default 1024).
    #[serde(default)]
    max_pending_js: Option<usize>,
}

/// An app of TypeScript contracts on the engine.
#[napi]
pub struct NativeApp {
    /// The app and its router; `None` once closed (then the engine is freed).
    served: Mutex<Option<(Arc<App>, axum::Router)>>,
    js: Js,
    /// The loopback listener for proxied connections, once asked for: its port, and what
    /// stops it.
    proxy: Mutex<Option<(u16, Arc<tokio::sync::Notify>)>>,
}

/// Engines whose Rust side is alive (their hook is held), for tests of `close()`.
static ALIVE: AtomicUsize = AtomicUsize::new(0);

/// Counted in [`ALIVE`] while it lives.
pub(crate) struct Alive(());

impl Alive {
    pub(crate) fn new() -> Alive {
        ALIVE.fetch_add(1, Ordering::Relaxed);
        Alive(())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many engines of this process are alive on the Rust side (not yet freed).
#[napi]
pub fn live_engines() -> u32 {
    u32::try_from(ALIVE.load(Ordering::Relaxed)).unwrap_or(u32::MAX)
}

#[napi]
impl NativeApp {
    /// Builds the app: `description` is the JSON of the contracts (route, name, events,
    /// handlers, rooms); `dispatch` takes the engine's requests, a JSON array of them per call,
    /// and their answers come back through [`NativeApp::answer`]. Throws on an invalid
    /// contract, with the engine's message.
    #[napi(constructor)]
    pub fn new(dispatch: Function<String, ()>, description: String) -> napi::Result<NativeApp> {
        logging();
        let info: AppInfo = serde_json::from_str(&description).map_err(|e| invalid(format!("bad description: {e}")))?;
        let outbox = SharedOutbox::default();
        let taken = outbox.clone();
        let dispatch = dispatch
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |_| Ok(bridge::take(&taken)))?;
        let js = Js::new(dispatch, outbox, info.max_pending_js.unwrap_or(DEFAULT_MAX_PENDING));
        let mut origins = OriginPolicy::same_origin();
        for origin in &info.origins {
            origins = if origin == "*" { OriginPolicy::any() } else { origins.allow(origin.clone()) };
        }
        let mut builder = App::builder()
            .hook(contract::hook(js.clone()))
            .origins(origins)
            .long_polling(info.long_polling)
            .limits(info.limits);
        if let Some(endpoint) = &info.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(url) = &info.redis {
            builder = builder.redis(url);
        }
        for contract in &info.contracts {
            builder = builder.spec(contract::compile(contract, &js).map_err(|e| invalid(e.to_string()))?);
        }
        let app = napi::bindgen_prelude::within_runtime_if_available(|| builder.build())
            .map_err(|e| invalid(e.to_string()))?;
        let router = app.attach(axum::Router::new());
        Ok(NativeApp { served: Mutex::new(Some((Arc::new(app), router))), js, proxy: Mutex::new(None) })
    }

    fn served(&self) -> napi::Result<(Arc<App>, axum::Router)> {
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| napi::Error::new(napi::Status::GenericFailure, "liverpc: the engine is closed"))
    }

    /// Shuts the engine down gracefully (`App::shutdown`): nothing new is accepted, what is in
    /// flight is answered within `timeout_ms`, then every connection is closed. Then the
    /// dispatch function is released and the app freed, so nothing keeps the JavaScript side
    /// alive. Calling it again resolves at once.
    #[napi]
    pub async fn close(&self, timeout_ms: u32) -> napi::Result<()> {
        // Kept while draining: handlers finishing may still emit, and a socket handed over now is
        // closed by the app itself (it no longer admits any).
        let served = self.served.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((_, stop)) = self.proxy.lock().unwrap_or_else(|p| p.into_inner()).take() {
            stop.notify_one();
        }
        if let Some((app, _)) = served {
            app.shutdown(Duration::from_millis(u64::from(timeout_ms))).await;
        }
        self.served.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.js.release();
        Ok(())
    }

    /// JavaScript's answers to the requests `dispatch` was given, `[[id, answer], ...]` (JSON
    /// text), as many as settled since its last call.
    #[napi]
    pub fn answer(&self, answers: String) -> napi::Result<()> {
        self.js.answer(&answers).map_err(|e| invalid(format!("answers are not the JSON the protocol says: {e}")))
    }

    /// Emits `event` with `payload` (JSON text) to room `key` of the contract on `namespace`;
    /// returns how many sockets of this node it reached.
    #[napi]
    pub fn emit(&self, namespace: String, key: Vec<String>, event: String, payload: String) -> napi::Result<u32> {
        let (app, _) = self.served()?;
        let emitter =
            app.raw_emitter(&namespace).ok_or_else(|| invalid(format!("no contract is served on `{namespace}`")))?;
        let payload = RawValue::from_string(payload).map_err(|e| invalid(format!("payload is not JSON: {e}")))?;
        let sent = emitter.emit(&RoomKey::new(key), &event, &payload).map_err(|e| invalid(e.to_string()))?;
        Ok(u32::try_from(sent).unwrap_or(u32::MAX))
    }

    /// The last `limit` messages of room `key` of the contract on `namespace`, with their
    /// positions, and the position after them, as JSON (`{ messages: [{ event, payload,
    /// position }], position }`). Throws when the key has no stream.
    #[napi]
    pub async fn history(&self, namespace: String, key: Vec<String>, limit: u32) -> napi::Result<String> {
        let (app, _) = self.served()?;
        let emitter =
            app.raw_emitter(&namespace).ok_or_else(|| invalid(format!("no contract is served on `{namespace}`")))?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let recent = emitter.history(&RoomKey::new(key), limit).await.map_err(|e| invalid(e.to_string()))?;
        serde_json::to_string(&recent).map_err(|e| invalid(format!("could not encode the history: {e}")))
    }

    /// Serves the TCP socket behind Node's file descriptor `fd` (duplicated: Node may destroy
    /// its socket object right after); `head` is what Node already read from it. `remote` is
    /// the client's address as the caller decided it (`ip` or `ip:port`, e.g. from a trusted
    /// proxy's header); without it, the socket's peer. It is what the per-address cap counts
    /// and the hook's `remote`.
    #[napi]
    pub fn adopt(&self, fd: i32, head: Buffer, remote: Option<String>) -> napi::Result<()> {
        let (app, router) = self.served()?;
        let remote = remote.as_deref().and_then(|text| {
            let parsed = client_address(text);
            if parsed.is_none() {
                tracing::warn!("a handed-over socket's remote address is not an address; its peer's is used");
            }
            parsed
        });
        socket::adopt(&app, &router, fd, head.to_vec(), remote)
            .map_err(|e| invalid(format!("cannot adopt the socket: {e}")))
    }

    /// The loopback port to proxy a connection to (when its descriptor cannot be adopted).
    #[napi]
    pub fn proxy_port(&self) -> napi::Result<u32> {
        let (app, router) = self.served()?;
        let mut proxy = self.proxy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((port, _)) = &*proxy {
            return Ok((*port).into());
        }
        let stop = Arc::new(tokio::sync::Notify::new());
        let bound = socket::proxy(&app, &router, stop.clone())
            .map_err(|e| invalid(format!("cannot listen for proxied connections: {e}")))?;
        *proxy = Some((bound, stop));
        Ok(bound.into())
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678` as an address (port 0 when there is none).
fn client_address(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    text.parse::<SocketAddr>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
}

fn invalid(message: String) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, message)
}

/// The engine's log lines go to stderr, filtered by `LIVERPC_LOG` (default `warn`).
fn logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LIVERPC_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
