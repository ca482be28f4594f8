//! The handshake of a connecting page (headers, cookies, remote address) and the ways a
//! connection hook can refuse it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderName, HeaderValue};

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
/// assert_eq!(handshake.header("Cookie"), Some("theme=dark; session=abc123"));
/// ```
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The headers whose values are text, as `name:value\n` lines (names lowercase, and hold
    /// no `:`; text values hold no `\n`): one allocation, shared with the connection that
    /// keeps it for its namespace connects, read without building a map.
    text: Arc<str>,
    /// The map, made on the first call of [`Handshake::headers`].
    map: OnceLock<HeaderMap>,
    remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// A handshake from its parts (for tests of a hook).
    pub fn new(headers: HeaderMap, remote_addr: Option<SocketAddr>) -> Handshake {
        let text = pack(&headers);
        Handshake { text, map: OnceLock::from(headers), remote_addr }
    }

    /// A handshake from headers packed by [`pack`]; its map is made only if asked for.
    pub(crate) fn packed(text: Arc<str>, remote_addr: Option<SocketAddr>) -> Handshake {
        Handshake { text, map: OnceLock::new(), remote_addr }
    }

    /// The request headers (of a handshake made by the server: those whose value is text).
    pub fn headers(&self) -> &HeaderMap {
        self.map.get_or_init(|| {
            let mut map = HeaderMap::new();
            for (name, value) in self.text_headers() {
                if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                    map.append(name, value);
                }
            }
            map
        })
    }

    /// Every header whose value is text, as `(name, value)` in the request's order (names in
    /// lowercase; a repeated header once per value).
    pub fn text_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text.split_terminator('\n').filter_map(|line| line.split_once(':'))
    }

    /// One header as text (the first, if repeated), if present and valid UTF-8. The name is
    /// matched whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// A cookie's value, from every `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.values("cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }

    /// The values of header `name` (any case), in order.
    fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.text_headers().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The client's address, when the server was started with [`App::serve`](crate::App::serve)
    /// (or handed the connection with its address): the TCP peer's, or, behind a proxy named in
    /// [`AppBuilder::trusted_proxies`](crate::AppBuilder::trusted_proxies), the one it forwarded
    /// (with port 0).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}

/// The headers whose values are text, packed for [`Handshake::packed`] in one allocation of
/// their exact size. Values that are not text are left out: hooks read headers as text.
pub(crate) fn pack(headers: &HeaderMap) -> Arc<str> {
    let text = || headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let len = text().map(|(name, value)| name.len() + value.len() + 2).sum();
    let mut packed = String::with_capacity(len);
    for (name, value) in text() {
        packed.push_str(name);
        packed.push(':');
        packed.push_str(value);
        packed.push('\n');
    }
    Arc::from(packed)
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
        assert_eq!(h.header("Cookie"), Some("a=1; b=\"2\""));
        assert_eq!(h.header("cookie:a=1; b"), None, "a name with a colon matches no header");
        assert_eq!(h.header("cooki"), None);
    }
}
