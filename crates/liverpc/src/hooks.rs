//! The connection hook (the tutorial's `src/hooks.socket.ts`) and the origin policy.
//!
//! When a page connects, liverpc checks the handshake's `Origin` (Rule 4), then calls the hook
//! with the [`Handshake`]; the hook returns the app's locals (the signed-in user, or none) or
//! refuses the connection with [`Refuse`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use http::HeaderMap;

/// The handshake request of a connecting page: headers, cookies, remote address.
///
/// ```
/// use liverpc::Handshake;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", "theme=dark; session=abc123".parse().unwrap());
/// let handshake = Handshake::new(headers, None);
/// assert_eq!(handshake.cookie("session"), Some("abc123"));
/// assert_eq!(handshake.cookie("missing"), None);
/// ```
#[derive(Debug, Clone)]
pub struct Handshake {
    headers: HeaderMap,
    remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// A handshake from its parts (for tests of a hook).
    pub fn new(headers: HeaderMap, remote_addr: Option<SocketAddr>) -> Handshake {
        Handshake { headers, remote_addr }
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// A cookie's value, from every `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }

    /// The peer's address, when the server was started with [`serve`](crate::serve).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}

/// A refused connection. The page's `connect_error` carries the code as its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refuse {
    /// No valid identity: `unauthenticated`.
    #[error("unauthenticated")]
    Unauthenticated,
    /// An identity that may not connect: `forbidden`.
    #[error("forbidden")]
    Forbidden,
    /// The hook cannot decide now (e.g. the session store is down): `unavailable`. The page's
    /// client retries with backoff instead of showing a refusal.
    #[error("unavailable")]
    Unavailable,
}

/// A boxed future, as returned by hooks.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The connection hook: handshake in, locals out. Implemented for every
/// `async fn(Handshake) -> Result<L, Refuse>`.
///
/// ```
/// use liverpc::{Handshake, Refuse};
///
/// #[derive(Clone)]
/// struct Locals { user: Option<String> }
///
/// async fn hook(handshake: Handshake) -> Result<Locals, Refuse> {
///     // Look the session up in your store; here the cookie is the user name.
///     Ok(Locals { user: handshake.cookie("session").map(str::to_owned) })
/// }
///
/// let app = liverpc::App::builder().hook(hook).build().unwrap();
/// # let _ = app;
/// ```
pub trait Hook<L>: Send + Sync + 'static {
    /// Reads the handshake and returns the connection's locals, or refuses it.
    fn call(&self, handshake: Handshake) -> BoxFuture<'static, Result<L, Refuse>>;
}

impl<L, F, Fut> Hook<L> for F
where
    F: Fn(Handshake) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<L, Refuse>> + Send + 'static,
{
    fn call(&self, handshake: Handshake) -> BoxFuture<'static, Result<L, Refuse>> {
        Box::pin(self(handshake))
    }
}

/// Which browser origins may open a connection (Rule 4).
///
/// By default only the server's own origin (the `Origin` header matching the `Host` header).
/// Requests without an `Origin` header are not from a browser page and are allowed; the hook
/// still decides who they are.
///
/// ```
/// use liverpc::OriginPolicy;
///
/// let policy = OriginPolicy::same_origin().allow("http://localhost:5173");
/// assert!(policy.allows(Some("http://localhost:5173"), Some("localhost:3000")));
/// assert!(policy.allows(Some("http://localhost:3000"), Some("localhost:3000")));
/// assert!(!policy.allows(Some("https://evil.example"), Some("localhost:3000")));
/// ```
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
    any: bool,
}

impl OriginPolicy {
    /// Only the server's own origin (the default).
    pub fn same_origin() -> OriginPolicy {
        OriginPolicy::default()
    }

    /// Any origin. Only for servers that authenticate without cookies.
    pub fn any() -> OriginPolicy {
        OriginPolicy { allowed: Vec::new(), any: true }
    }

    /// Also allows `origin` (scheme, host and port, e.g. `http://localhost:5173`).
    pub fn allow(mut self, origin: impl Into<String>) -> OriginPolicy {
        self.allowed.push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// Whether a request with these `Origin` and `Host` headers may connect.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.any {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        if self.allowed.contains(&origin) {
            return true;
        }
        // Behind TLS termination the scheme is not known here, so either matches the host.
        let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        matches!((authority, host), (Some(a), Some(h)) if a == h.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_policy() {
        let p = OriginPolicy::same_origin();
        assert!(p.allows(None, Some("a:1")), "non-browser clients send no Origin");
        assert!(p.allows(Some("http://A:1"), Some("a:1")));
        assert!(!p.allows(Some("null"), Some("a:1")));
        assert!(!p.allows(Some("http://a:1.evil"), Some("a:1")));
        assert!(!p.allows(Some("http://a:1"), None));
        assert!(OriginPolicy::any().allows(Some("null"), None));
    }

    #[test]
    fn cookies() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", "a=1; b=\"2\"".parse().unwrap());
        headers.append("cookie", "c=3".parse().unwrap());
        let h = Handshake::new(headers, None);
        assert_eq!((h.cookie("a"), h.cookie("b"), h.cookie("c")), (Some("1"), Some("2"), Some("3")));
        assert_eq!(h.cookie(""), None);
    }
}
