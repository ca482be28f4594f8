//! Errors: what a call or join answers on the wire ([`Rejection`]), and what can go wrong
//! building an app ([`BuildError`]) or emitting ([`EmitError`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The error codes a page can receive, as in the ack `{ ok: false, error: { code, .. } }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The payload failed to decode or validate; `issues` says where.
    InvalidPayload,
    /// The server refused: a join that was not authorized, or a handler's refusal.
    Forbidden,
    /// Unknown event or room name, or a URL that matches no route.
    NotFound,
    /// Too many calls or joins for this socket.
    RateLimited,
    /// The payload is larger than the configured limit.
    TooLarge,
    /// The handler or room decision took longer than the configured limit.
    Timeout,
    /// The server cannot decide now (e.g. a store is down); retrying later may succeed.
    Unavailable,
    /// The server failed; details are in the server's log, never in the answer.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a payload: where (`path`, dotted, as the page spelled the field) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Issue {
    /// Dotted path to the field, e.g. `items.2.name`; empty for the payload itself.
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// A refusal answered to the page: `{ ok: false, error: <Rejection> }`.
///
/// Handlers return it to refuse a call; liverpc returns it for every invalid input.
///
/// ```
/// use liverpc::{ErrorCode, Rejection};
///
/// let r = Rejection::forbidden("only the author may edit this message");
/// assert_eq!(r.code, ErrorCode::Forbidden);
/// assert_eq!(
///     serde_json::to_string(&r).unwrap(),
///     r#"{"code":"forbidden","message":"only the author may edit this message"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Rejection {
    /// The error code.
    pub code: ErrorCode,
    /// What happened, for a person.
    pub message: String,
    /// For `invalid_payload`: each problem found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub issues: Option<Vec<Issue>>,
}

impl Rejection {
    /// A rejection with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Rejection {
        Rejection { code, message: message.into(), issues: None }
    }

    /// `forbidden`, with a message for the page.
    pub fn forbidden(message: impl Into<String>) -> Rejection {
        Rejection::new(ErrorCode::Forbidden, message)
    }

    /// `not_found`, with a message for the page.
    pub fn not_found(message: impl Into<String>) -> Rejection {
        Rejection::new(ErrorCode::NotFound, message)
    }

    /// `invalid_payload` with one issue at `path`.
    ///
    /// ```
    /// let r = liverpc::Rejection::invalid("text", "must not be empty");
    /// assert_eq!(r.issues.unwrap()[0].path, "text");
    /// ```
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Rejection {
        Rejection::invalid_payload(vec![Issue { path: path.into(), message: message.into() }])
    }

    /// `invalid_payload` with the given issues.
    pub fn invalid_payload(issues: Vec<Issue>) -> Rejection {
        let message = match issues.as_slice() {
            [one] if one.path.is_empty() => format!("invalid payload: {}", one.message),
            [one] => format!("invalid payload: {}: {}", one.path, one.message),
            _ => format!("invalid payload: {} issues", issues.len()),
        };
        Rejection { code: ErrorCode::InvalidPayload, message, issues: Some(issues) }
    }

    /// `internal`. The page sees only a generic message; log the cause yourself.
    pub fn internal() -> Rejection {
        Rejection::new(ErrorCode::Internal, "internal server error")
    }

    /// The exact answer to a refused join (Rule 2 (docs/security.md#rule-2)): the same whether or not the room exists.
    pub(crate) fn join_denied() -> Rejection {
        Rejection::forbidden("forbidden")
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Rejection {}

/// Why an [`App`](crate::App) could not be built. Each names the contract and what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The contract's route id is not a valid SvelteKit route id.
    #[error("contract `{name}`: {source}")]
    Route {
        /// The contract name.
        name: String,
        /// The parse error.
        source: crate::wire::route::RouteError,
    },
    /// A contract, event, handler or room name that is not an identifier, so the generated
    /// client could not expose it as `room.<name>`.
    #[error("contract `{contract}`: {what} name `{name}` must be an identifier (letters, digits, _)")]
    Name {
        /// The contract's namespace.
        contract: String,
        /// `contract`, `event`, `handler` or `room`.
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// A name that liverpc or Socket.IO reserves (`liverpc:*`, `connect`, `on`, `join`, ...).
    #[error("contract `{contract}`: `{name}` is reserved; choose another {what} name")]
    Reserved {
        /// The contract's namespace.
        contract: String,
        /// `event`, `handler` or `room`.
        what: &'static str,
        /// The reserved name.
        name: String,
    },
    /// The same name declared twice in one contract.
    #[error("contract `{contract}`: {what} `{name}` is declared twice")]
    Duplicate {
        /// The contract's namespace.
        contract: String,
        /// `event`, `handler` or `room`.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// `auto_join()` on an exposed room, which needs the page's payload.
    #[error("contract `{contract}`: room `{name}` is exposed; only private rooms can auto-join")]
    AutoJoinExposed {
        /// The contract's namespace.
        contract: String,
        /// The room name.
        name: String,
    },
    /// `presence()` names a room the contract does not declare.
    #[error("contract `{contract}`: presence for room `{name}`, which the contract does not declare")]
    PresenceWithoutRoom {
        /// The contract's namespace.
        contract: String,
        /// The room name.
        name: String,
    },
    /// `history()` names a room the contract does not declare.
    #[error("contract `{contract}`: history for room `{name}`, which the contract does not declare")]
    HistoryWithoutRoom {
        /// The contract's namespace.
        contract: String,
        /// The room name.
        name: String,
    },
    /// A history that keeps nothing, or more than [`History::MAX_SIZE`](crate::History::MAX_SIZE)
    /// messages.
    #[error("contract `{contract}`: room `{name}` keeps {size} messages; keep 1 to {max}")]
    HistorySize {
        /// The contract's namespace.
        contract: String,
        /// The room name.
        name: String,
        /// The size asked for.
        size: usize,
        /// The largest size allowed.
        max: usize,
    },
    /// Two contracts for the same route id and name.
    #[error("contract `{0}` is registered twice")]
    DuplicateContract(String),
    /// `hook()` was called after `contract()`.
    #[error("call `hook()` before `contract()`: contracts are typed by the hook's locals")]
    HookAfterContracts,
    /// `state()` was called after `contract()`.
    #[error("call `state()` before `contract()`: contracts are typed by the app's state")]
    StateAfterContracts,
    /// `state()` was called after `hook()`.
    #[error("call `state()` before `hook()`: the hook may take the app's state")]
    StateAfterHook,
    /// A route with param matchers (`[id=integer]`) and nothing to run them: SvelteKit's
    /// matchers are JavaScript, which only the TypeScript front-end runs.
    #[error(
        "contract `{contract}`: its route has the param matcher `{matcher}`, which only the TypeScript front-end can run; match the param in the room or handler instead"
    )]
    Matcher {
        /// The contract's namespace.
        contract: String,
        /// The matcher's name.
        matcher: String,
    },
    /// A `trusted_proxies()` entry that is neither an IP address nor a CIDR range.
    #[error("trusted proxy `{0}` is not an IP address or a CIDR range (e.g. `10.0.0.0/8`, `::1`)")]
    TrustedProxy(String),
    /// An `endpoint()` path that does not start and end with `/`.
    #[error("endpoint `{0}` must be a path that starts and ends with `/` (e.g. `/socket.io/`)")]
    Endpoint(String),
    /// The URL given to `redis()` is not a Redis URL (the reason says why; the URL is not
    /// repeated, it may hold a password).
    #[cfg(feature = "redis")]
    #[error("the Redis URL is not valid ({0}); expected redis://[user:password@]host[:port][/db]")]
    RedisUrl(String),
    /// `redis()` was set but the app was built outside a Tokio runtime.
    #[cfg(feature = "redis")]
    #[error("an app with `redis()` starts its connection at `build()`: call it inside a Tokio runtime")]
    RedisWithoutRuntime,
}

/// Why a room's history could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The key has no stream: its first part names no room the contract declares with
    /// history (`["chat", id]` has one when room `chat` declares it).
    #[error("contract `{contract}` keeps no history for {key}: declare history on room `{room}`")]
    NoHistory {
        /// The contract's namespace.
        contract: String,
        /// The key, as JSON.
        key: String,
        /// The room whose history the key would take (its first part).
        room: String,
    },
}

/// Why an emit did not reach its room.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The payload could not be serialized to JSON.
    #[error("could not serialize the event payload: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The contract is not registered in the app that made this emitter.
    #[error("contract `{0}` is not registered in this app")]
    UnknownContract(String),
    /// The event is not one of the contract's server -> page events.
    #[error("contract `{contract}` declares no event `{event}`")]
    UnknownEvent {
        /// The contract's namespace.
        contract: String,
        /// The event name.
        event: String,
    },
}
