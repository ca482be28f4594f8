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

    /// The request headers (of a handshake made by the server: those whose value is text, less
    /// the websocket handshake's own, `Connection`, `Upgrade` and `Sec-WebSocket-Key`,
    /// `-Version` and `-Extensions`, which a polling connect does not have either).
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

    /// The values of header `name` (any case), in order. A line is `name:value` and names hold
    /// no `:`, so a line is this header's when `:` follows the name's length: the line starts
    /// are found in one vectorized pass and each is checked with one comparison (a connect
    /// reads three headers this way).
    fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        // A name with a `:` is no header's (it would match a line's name and part of its value).
        let text = if name.contains(':') { "" } else { &*self.text };
        let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|end| end + 1));
        starts.filter_map(move |start| {
            let line = text.get(start..)?;
            let value = line.get(name.len()..)?.strip_prefix(':')?;
            if !line[..name.len()].eq_ignore_ascii_case(name) {
                return None;
            }
            Some(&value[..memchr::memchr(b'\n', value.as_bytes()).unwrap_or(value.len())])
        })
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
    pack_kept(headers, |_| true)
}

/// [`pack`], of the headers `keep` keeps.
pub(crate) fn pack_kept(headers: &HeaderMap, keep: impl Fn(&HeaderName) -> bool) -> Arc<str> {
    thread_local! {
        /// Where a handshake is packed before its copy: each value is checked once, and the
        /// one allocation a connection keeps is the only one made.
        static PACKING: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    PACKING.with_borrow_mut(|packing| {
        packing.clear();
        for (name, value) in headers {
            if !keep(name) {
                continue;
            }
            if let Ok(value) = value.to_str() {
                packing.push_str(name.as_str());
                packing.push(':');
                packing.push_str(value);
                packing.push('\n');
            }
        }
        let packed = Arc::from(packing.as_str());
        // A large head's buffer is not kept by the thread (heads are at most 16 KiB).
        if packing.capacity() > 4096 {
            *packing = String::new();
        }
        packed
    })
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
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A lookup finds what a walk of the headers in order finds, for names of any case,
        /// prefixes of one another, and values holding `:` and other names.
        #[test]
        fn a_lookup_finds_every_value_of_its_name_in_order(
            headers in proptest::collection::vec(("(a|ab|abc|x-a)", "[ -~]{0,12}"), 0..8),
            name in "(a|A|ab|aB|abc|x-a|b|a:b|)",
        ) {
            let mut map = HeaderMap::new();
            for (n, v) in &headers {
                map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v.trim()).unwrap());
            }
            let handshake = Handshake::new(map.clone(), None);
            let walked: Vec<&str> = map
                .iter()
                .filter(|(n, _)| n.as_str().eq_ignore_ascii_case(&name))
                .map(|(_, v)| v.to_str().unwrap())
                .collect();
            prop_assert_eq!(handshake.values(&name).collect::<Vec<_>>(), walked);
        }
    }

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
        let mut headers = HeaderMap::new();
        headers.append("x-a", "b:c".parse().unwrap());
        let h = Handshake::new(headers, None);
        assert_eq!(h.header("X-A"), Some("b:c"));
        assert_eq!(h.header("x-a:b"), None, "nor a name and the start of a value");
    }
}
