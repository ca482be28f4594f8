//! The Node.js addon of liverpc: the TypeScript front-end's contracts served by the Rust engine
//! in the Node process. A thin binding: the TypeScript side (`liverpc/server`) describes its
//! contracts and answers the engine's requests (hook, room functions, handlers) through one
//! dispatch function; this crate compiles the descriptions to [`liverpc::spec::ContractSpec`]s,
//! adopts the sockets Node accepted, and emits to rooms. Connections, protocol, rooms, limits
//! and fan-out stay in the engine; no frame passes through JavaScript.

mod bridge;
mod contract;
mod socket;

use std::sync::{Arc, Mutex};

use liverpc::{App, Limits, OriginPolicy, RoomKey};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::bridge::{Dispatch, Js};
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
}

/// An app of TypeScript contracts on the engine.
#[napi]
pub struct NativeApp {
    app: Arc<App>,
    router: axum::Router,
    proxy: Mutex<Option<u16>>,
}

#[napi]
impl NativeApp {
    /// Builds the app: `description` is the JSON of the contracts (route, name, events,
    /// handlers, rooms); `dispatch` answers the engine's requests. Throws on an invalid
    /// contract, with the engine's message.
    #[napi(constructor)]
    pub fn new(dispatch: Dispatch, description: String) -> napi::Result<NativeApp> {
        logging();
        let info: AppInfo = serde_json::from_str(&description).map_err(|e| invalid(format!("bad description: {e}")))?;
        let js = Js::new(dispatch);
        let mut origins = OriginPolicy::same_origin();
        for origin in &info.origins {
            origins = if origin == "*" { OriginPolicy::any() } else { origins.allow(origin.clone()) };
        }
        let mut builder = App::builder()
            .hook(contract::hook(js.clone()))
            .origins(origins)
            .long_polling(info.long_polling)
            .limits(info.limits);
        if let Some(url) = &info.redis {
            builder = builder.redis(url);
        }
        for contract in &info.contracts {
            builder = builder.spec(contract::compile(contract, &js).map_err(|e| invalid(e.to_string()))?);
        }
        let app = napi::bindgen_prelude::within_runtime_if_available(|| builder.build())
            .map_err(|e| invalid(e.to_string()))?;
        let router = app.attach(axum::Router::new());
        Ok(NativeApp { app: Arc::new(app), router, proxy: Mutex::new(None) })
    }

    /// Emits `event` with `payload` (JSON text) to room `key` of the contract on `namespace`;
    /// returns how many sockets of this node it reached.
    #[napi]
    pub fn emit(&self, namespace: String, key: Vec<String>, event: String, payload: String) -> napi::Result<u32> {
        let emitter = self
            .app
            .raw_emitter(&namespace)
            .ok_or_else(|| invalid(format!("no contract is served on `{namespace}`")))?;
        let payload = RawValue::from_string(payload).map_err(|e| invalid(format!("payload is not JSON: {e}")))?;
        let sent = emitter.emit(&RoomKey::new(key), &event, &payload).map_err(|e| invalid(e.to_string()))?;
        Ok(u32::try_from(sent).unwrap_or(u32::MAX))
    }

    /// Serves the TCP socket behind Node's file descriptor `fd` (duplicated: Node may destroy
    /// its socket object right after); `head` is what Node already read from it.
    #[napi]
    pub fn adopt(&self, fd: i32, head: Buffer) -> napi::Result<()> {
        socket::adopt(&self.app, &self.router, fd, head.to_vec())
            .map_err(|e| invalid(format!("cannot adopt the socket: {e}")))
    }

    /// The loopback port to proxy a connection to (when its descriptor cannot be adopted).
    #[napi]
    pub fn proxy_port(&self) -> napi::Result<u32> {
        let mut port = self.proxy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(port) = *port {
            return Ok(port.into());
        }
        let bound = socket::proxy(&self.app, &self.router)
            .map_err(|e| invalid(format!("cannot listen for proxied connections: {e}")))?;
        *port = Some(bound);
        Ok(bound.into())
    }
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
