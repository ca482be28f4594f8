//! The bridge to JavaScript: one threadsafe function, the `dispatch` the TypeScript side gives
//! the engine. Every request is a JSON text, every answer a promise of one; a throw or a
//! rejection arrives here as an `Err`, never as a crash. The connection token lives here too.

use std::sync::Arc;

use napi::Status;
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde::Serialize;

/// `(request: string) => Promise<string>`, callable from any thread. Weak: it does not keep
/// Node's event loop alive on its own (the HTTP server does).
pub(crate) type Dispatch = ThreadsafeFunction<String, Promise<String>, String, Status, false, true>;

/// Why JavaScript gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BridgeError {
    /// The request could not be written (cannot happen for our own types; kept typed anyway).
    #[error("could not encode the request: {0}")]
    Encode(serde_json::Error),
    /// The call threw, rejected, or Node is shutting down.
    #[error("the JavaScript side failed: {0}")]
    Js(napi::Error),
    /// The answer was not the JSON the protocol says.
    #[error("the JavaScript side answered something unexpected: {0}")]
    Decode(serde_json::Error),
}

/// The JavaScript side of an app.
#[derive(Clone)]
pub(crate) struct Js(Arc<Dispatch>);

impl Js {
    pub(crate) fn new(dispatch: Dispatch) -> Js {
        Js(Arc::new(dispatch))
    }

    /// Sends a request and waits for its answer.
    pub(crate) async fn request<Q: Serialize, A: serde::de::DeserializeOwned>(
        &self,
        request: &Q,
    ) -> Result<A, BridgeError> {
        let text = serde_json::to_string(request).map_err(BridgeError::Encode)?;
        let promise = self.0.call_async_catch(text).await.map_err(BridgeError::Js)?;
        let answer = promise.await.map_err(BridgeError::Js)?;
        serde_json::from_str(&answer).map_err(BridgeError::Decode)
    }

    /// Sends a request whose answer nobody waits for (freeing a token).
    fn notify<Q: Serialize>(&self, request: &Q) {
        let Ok(text) = serde_json::to_string(request) else { return };
        // NonBlocking: a Drop must never wait on the JS thread (it may be that thread).
        let status = self.0.call_with_return_value(text, ThreadsafeFunctionCallMode::NonBlocking, |_, _| Ok(()));
        if status != Status::Ok {
            tracing::debug!(?status, "could not tell JavaScript to free a connection's locals");
        }
    }
}

/// A connection's locals, as the engine holds them: the key of the JavaScript object the hook
/// returned, kept in a map on the JavaScript side. Dropped with the connection, it tells
/// JavaScript to forget that object.
pub(crate) struct Token {
    pub(crate) id: u64,
    js: Js,
}

impl Token {
    pub(crate) fn new(id: u64, js: Js) -> Token {
        Token { id, js }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.js.notify(&Free { t: "free", token: self.id });
    }
}

#[derive(Serialize)]
struct Free {
    t: &'static str,
    token: u64,
}
