//! The handshake of a connecting page (headers, cookies, remote address) and the ways a
//! connection hook can refuse it.

use std::net::SocketAddr;

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

    /// The client's address, when the server was started with [`App::serve`](crate::App::serve)
    /// (or handed the connection with its address): the TCP peer's, or, behind a proxy named in
    /// [`AppBuilder::trusted_proxies`](crate::AppBuilder::trusted_proxies), the one it forwarded
    /// (with port 0).
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
    /// The hook failed for a reason of its own (a bug, an unexpected error): `internal`. The
    /// page sees only the code; log the cause yourself.
    #[error("internal")]
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

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
