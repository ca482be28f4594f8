//! The connection hook (the tutorial's `src/hooks.socket.ts`).
//!
//! When a page connects, liverpc checks the handshake's `Origin` (Rule 4
//! (docs/security.md#rule-4)), then calls the hook with the [`Handshake`]; the hook returns the
//! app's locals (the signed-in user, or none) or refuses the connection with [`Refuse`]. A hook may
//! also take the app's [`State`].

use std::future::Future;

use crate::future::BoxFuture;
use crate::wire::handshake::{Handshake, Refuse};

/// The app's state, as a hook argument (axum's `State`): `async fn hook(h: Handshake,
/// State(db): State<Db>)`.
///
/// ```
/// use liverpc::{Handshake, Refuse, State};
///
/// #[derive(Clone)]
/// struct Sessions;
/// impl Sessions {
///     async fn user(&self, id: &str) -> Result<Option<String>, std::io::Error> { Ok(Some(id.into())) }
/// }
///
/// async fn hook(handshake: Handshake, State(sessions): State<Sessions>) -> Result<Option<String>, Refuse> {
///     let Some(id) = handshake.cookie("socket") else { return Ok(None) };
///     // The store is down: the page retries later instead of showing a refusal.
///     sessions.user(id).await.map_err(|_| Refuse::Unavailable)
/// }
///
/// let app = liverpc::App::builder().state(Sessions).hook(hook).build().unwrap();
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

/// The connection hook: handshake (and, optionally, the app's [`State`]) in, locals out.
/// Implemented for every `async fn(Handshake) -> Result<L, Refuse>` and every
/// `async fn(Handshake, State<S>) -> Result<L, Refuse>`; `M` tells the two apart and is
/// inferred.
///
/// ```
/// use liverpc::{Handshake, Refuse};
///
/// #[derive(Clone)]
/// struct Locals { user: Option<String> }
///
/// async fn hook(handshake: Handshake) -> Result<Locals, Refuse> {
///     // Look the socket up in your store; here the cookie is the user name.
///     Ok(Locals { user: handshake.cookie("socket").map(str::to_owned) })
/// }
///
/// let app = liverpc::App::builder().hook(hook).build().unwrap();
/// # let _ = app;
/// ```
pub trait Hook<S, L, M>: Send + Sync + 'static {
    /// Reads the handshake and returns the connection's locals, or refuses it.
    fn call(&self, handshake: Handshake, state: &S) -> BoxFuture<'static, Result<L, Refuse>>;
}

impl<S, L, F, Fut> Hook<S, L, ()> for F
where
    F: Fn(Handshake) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<L, Refuse>> + Send + 'static,
{
    fn call(&self, handshake: Handshake, _: &S) -> BoxFuture<'static, Result<L, Refuse>> {
        Box::pin(self(handshake))
    }
}

impl<S, L, F, Fut> Hook<S, L, State<S>> for F
where
    S: Clone,
    F: Fn(Handshake, State<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<L, Refuse>> + Send + 'static,
{
    fn call(&self, handshake: Handshake, state: &S) -> BoxFuture<'static, Result<L, Refuse>> {
        Box::pin(self(handshake, State(state.clone())))
    }
}
