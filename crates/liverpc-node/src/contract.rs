//! TypeScript contracts as the engine's values: each `socket({ ... })` the JavaScript side
//! registered becomes a [`ContractSpec`] whose handlers and room functions are requests over
//! the [`bridge`](crate::bridge). Fan-out stays in Rust: a handler's emits come back as a list
//! the engine sends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use liverpc::spec::{Call, Cancelled, ContractSpec};
use liverpc::{BuildError, ErrorCode, Handshake, History, Refuse, Rejection, RoomKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bridge::{BridgeError, Js, Shown, Token};

/// One contract as the TypeScript side describes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContractInfo {
    pub(crate) route: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) events: Vec<String>,
    #[serde(default)]
    pub(crate) handlers: Vec<String>,
    #[serde(default)]
    pub(crate) rooms: Vec<RoomInfo>,
}

/// One room of a contract.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoomInfo {
    pub(crate) name: String,
    pub(crate) exposed: bool,
    #[serde(default)]
    pub(crate) auto_join: bool,
    /// The room lists its members; what each shows comes with the hook's answer.
    #[serde(default)]
    pub(crate) presence: bool,
    /// The room keeps history (`history: { size, ttlMs }`).
    #[serde(default)]
    pub(crate) history: Option<HistoryInfo>,
}

/// A room's `history`, as the TypeScript side declares it (defaults: 100 messages, 10 min).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HistoryInfo {
    #[serde(default = "default_size")]
    size: usize,
    #[serde(default = "default_ttl_ms")]
    ttl_ms: u64,
}

fn default_size() -> usize {
    100
}

fn default_ttl_ms() -> u64 {
    u64::try_from(History::DEFAULT_TTL.as_millis()).unwrap_or(u64::MAX)
}

/// A call of a room function or a handler, and the socket it runs for (the engine asks the
/// TypeScript side to run it).
#[derive(Serialize)]
struct CallRequest<'a> {
    t: &'static str,
    contract: &'a str,
    name: &'a str,
    token: u64,
    socket: &'a str,
    params: ParamsJson<'a>,
    data: Option<&'a RawValue>,
}

impl<'a> CallRequest<'a> {
    fn new(t: &'static str, contract: &'a str, name: &'a str, call: &'a Call, data: Option<&'a RawValue>) -> Self {
        let token = call.locals::<Token>().map_or(0, |token| token.id);
        CallRequest { t, contract, name, token, socket: call.id(), params: ParamsJson(call.params()), data }
    }
}

/// A URL's params as a JSON object, written straight from the engine's list.
struct ParamsJson<'a>(&'a liverpc::Params);

impl Serialize for ParamsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

/// A room function's answer: the key, or the refusal. (Not an untagged enum: serde would
/// buffer the whole answer to try each variant.)
#[derive(Deserialize)]
struct Decided {
    key: Option<Vec<String>>,
    error: Option<Rejection>,
}

/// A handler's answer: the reply and the emits it asked for, in order, or the refusal. (Not an
/// untagged enum: serde cannot buffer a `RawValue` to try variants.)
#[derive(Deserialize)]
struct Answered {
    ok: bool,
    data: Option<Box<RawValue>>,
    #[serde(default)]
    emits: Vec<Emit>,
    error: Option<Rejection>,
}

/// One emit a handler made: to a room its socket holds (by name or key), or to itself.
#[derive(Deserialize)]
struct Emit {
    room: Option<String>,
    key: Option<Vec<String>>,
    /// Everyone in the room but this socket (socket.io's `socket.to(room)`).
    #[serde(default)]
    others: bool,
    event: String,
    payload: Box<RawValue>,
}

/// Builds the engine's spec of `info`; every function calls into `js`.
pub(crate) fn compile(info: &ContractInfo, js: &Js) -> Result<ContractSpec, BuildError> {
    let mut spec = ContractSpec::new(&info.route, &info.name)?;
    // JavaScript cannot be stopped from here: it is asked to (its `signal`), and waited for.
    spec.cancel_by_signal();
    let namespace: Arc<str> = spec.namespace().into();
    for event in &info.events {
        spec.event(event)?;
    }
    // `[id=integer]`: SvelteKit's matchers (`src/params/*`) run in JavaScript.
    let route =
        liverpc::Route::parse(&info.route).map_err(|source| BuildError::Route { name: info.name.clone(), source })?;
    if route.matchers().next().is_some() {
        let (js, namespace) = (js.clone(), namespace.clone());
        spec.params_check(move |params: liverpc::Params| {
            let (js, namespace) = (js.clone(), namespace.clone());
            async move {
                let params: BTreeMap<&str, &str> = params.iter().collect();
                let request = MatchRequest { t: "match", contract: &namespace, params };
                match js.request::<_, Matched>(&request, None::<std::future::Ready<Cancelled>>).await {
                    Ok(Matched { ok }) => Ok(ok),
                    Err(BridgeError::Busy(_) | BridgeError::Closed) => Err(Refuse::Unavailable),
                    Err(e) => {
                        tracing::error!(contract = %namespace, error = %e, "the route's param matchers failed; refused `not_found`");
                        Ok(false)
                    }
                }
            }
        });
    }
    for handler in &info.handlers {
        let (js, namespace, name): (Js, Arc<str>, Arc<str>) = (js.clone(), namespace.clone(), handler.as_str().into());
        spec.handler(handler, move |call: Call, payload: Box<RawValue>| {
            let (js, namespace, name) = (js.clone(), namespace.clone(), name.clone());
            async move {
                let request = CallRequest::new("call", &namespace, &name, &call, Some(&payload));
                let cancelled = call.cancelled();
                let gave_up = Arc::new(AtomicBool::new(false));
                let noted = gave_up.clone();
                let cancelled = async move {
                    let why = cancelled.await;
                    noted.store(true, Ordering::Release);
                    why
                };
                let answered = js.request::<_, Answered>(&request, Some(cancelled)).await;
                // The page was answered `timeout` (or is gone): what the handler sent is not.
                if gave_up.load(Ordering::Acquire) {
                    return Err(Rejection::internal());
                }
                match answered {
                    Ok(Answered { ok: true, data, emits, .. }) => {
                        send(&call, emits).map(|()| data.unwrap_or_else(|| RawValue::NULL.to_owned()))
                    }
                    Ok(Answered { error, .. }) => Err(error.unwrap_or_else(Rejection::internal)),
                    Err(BridgeError::Busy(_)) => Err(busy()),
                    Err(BridgeError::Closed) => Err(Rejection::new(ErrorCode::Unavailable, "the server is shutting down")),
                    Err(e) => {
                        tracing::error!(contract = %namespace, handler = %name, error = %e, "a handler failed; answered `internal`");
                        Err(Rejection::internal())
                    }
                }
            }
        })?;
    }
    for room in &info.rooms {
        let (js, namespace, name): (Js, Arc<str>, Arc<str>) =
            (js.clone(), namespace.clone(), room.name.as_str().into());
        let decide = move |call: Call, data: Option<Box<RawValue>>| {
            let (js, namespace, name) = (js.clone(), namespace.clone(), name.clone());
            async move {
                let request = CallRequest::new("room", &namespace, &name, &call, data.as_deref());
                match js.request::<_, Decided>(&request, Some(call.cancelled())).await {
                    Ok(Decided { key: Some(key), .. }) => Ok(RoomKey::new(key)),
                    Ok(Decided { error: Some(error), .. }) => Err(error),
                    Ok(Decided { key: None, error: None }) => {
                        tracing::error!(contract = %namespace, room = %name, "a room function answered neither a key nor an error; the join is refused");
                        Err(Rejection::forbidden("forbidden"))
                    }
                    // Not a refusal of rights: the page asks again later.
                    Err(BridgeError::Busy(_)) => Err(busy()),
                    Err(e) => {
                        // Rule 2 (docs/security.md#rule-2): whatever went wrong, the page learns
                        // only that it may not join.
                        tracing::error!(contract = %namespace, room = %name, error = %e, "a room function failed; the join is refused");
                        Err(Rejection::forbidden("forbidden"))
                    }
                }
            }
        };
        if room.exposed {
            spec.expose(&room.name, move |call, data| decide(call, Some(data)))?;
        } else {
            spec.private(&room.name, room.auto_join, move |call| decide(call, None))?;
        }
        if room.presence {
            let (namespace, name) = (spec.namespace().to_owned(), room.name.clone());
            spec.presence(&room.name, move |locals| locals.downcast_ref::<Token>()?.shown(&namespace, &name))?;
        }
        if let Some(history) = &room.history {
            let ttl = std::time::Duration::from_millis(history.ttl_ms);
            spec.history(&room.name, History { size: history.size, ttl })?;
        }
    }
    Ok(spec)
}

/// The answer when the queue into JavaScript is full (Rule 5 (docs/security.md#rule-5)).
fn busy() -> Rejection {
    Rejection::new(ErrorCode::RateLimited, "the server is busy: too many calls are waiting for JavaScript; retry later")
}

/// Sends a handler's emits, after checking them all: one to a room the socket does not hold
/// sends nothing and refuses the call.
fn send(call: &Call, emits: Vec<Emit>) -> Result<(), Rejection> {
    let mut resolved = Vec::with_capacity(emits.len());
    for emit in emits {
        let key = match (&emit.room, &emit.key) {
            (Some(room), _) => {
                Some(call.room(room).ok_or_else(|| Rejection::forbidden(format!("not in room `{room}`")))?)
            }
            (None, Some(key)) => Some(RoomKey::new(key.iter().cloned())),
            (None, None) => None,
        };
        if let Some(key) = &key
            && !call.holds(key)
        {
            return Err(Rejection::forbidden("join the room first"));
        }
        resolved.push((key, emit));
    }
    for (key, emit) in resolved {
        match key {
            Some(key) if emit.others => call.to(&key, &emit.event, &emit.payload).map(drop)?,
            Some(key) => call.within(&key, &emit.event, &emit.payload).map(drop)?,
            None => call.emit(&emit.event, &emit.payload),
        }
    }
    Ok(())
}

/// A check of a URL's params against the route's matchers.
#[derive(Serialize)]
struct MatchRequest<'a> {
    t: &'static str,
    contract: &'a str,
    params: BTreeMap<&'a str, &'a str>,
}

/// Whether every matcher accepted its param.
#[derive(Deserialize)]
struct Matched {
    ok: bool,
}

/// The connection hook's request: the handshake, and the token the locals will be kept under.
#[derive(Serialize)]
struct HookRequest<'a> {
    t: &'static str,
    token: u64,
    headers: Vec<(&'a str, &'a str)>,
    remote: Option<String>,
}

/// The hook's answer: a refusal, or what the connection shows in the rooms with presence.
/// (Not an untagged enum: serde cannot buffer a `RawValue` to try variants.)
#[derive(Deserialize)]
struct Hooked {
    refuse: Option<String>,
    #[serde(default)]
    presence: Shown,
}

/// The app's hook: asks JavaScript for the locals of a connecting page.
pub(crate) fn hook(
    js: Js,
) -> impl Fn(Handshake) -> std::pin::Pin<Box<dyn Future<Output = Result<Token, Refuse>> + Send>> + Send + Sync + 'static
{
    let next = Arc::new(AtomicU64::new(1));
    // Lives as long as the engine holds its hook: what `liveEngines()` counts.
    let alive = crate::Alive::new();
    move |handshake: Handshake| {
        let _ = &alive;
        let js = js.clone();
        let id = next.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            // Made first: if this future is dropped (a timeout), the locals are freed.
            let mut token = Token::new(id, js.clone());
            let headers = handshake.text_headers().collect();
            // The address alone, as SvelteKit's `getClientAddress()` gives it (a forwarded one has
            // no port anyway).
            let remote = handshake.remote_addr().map(|a| a.ip().to_string());
            let request = HookRequest { t: "hook", token: id, headers, remote };
            match js.request::<_, Hooked>(&request, None::<std::future::Ready<Cancelled>>).await {
                Ok(Hooked { refuse: None, presence }) => {
                    token.show(presence);
                    Ok(token)
                }
                Ok(Hooked { refuse: Some(refuse), .. }) => Err(match refuse.as_str() {
                    "unauthenticated" => Refuse::Unauthenticated,
                    "forbidden" => Refuse::Forbidden,
                    "unavailable" => Refuse::Unavailable,
                    _ => Refuse::Internal,
                }),
                // The page's client retries with backoff.
                Err(BridgeError::Busy(_) | BridgeError::Closed) => Err(Refuse::Unavailable),
                Err(e) => {
                    tracing::error!(error = %e, "the connection hook failed; refused `internal`");
                    Err(Refuse::Internal)
                }
            }
        })
    }
}
