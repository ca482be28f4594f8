//! Trusted proxies (Rule 10 (docs/security.md#rule-10)): the client's address is read from
//! `X-Forwarded-For` only when the TCP peer is a proxy the deployment named.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// An address range, `10.0.0.0/8` or one address (`127.0.0.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// A trusted proxy that is neither an address nor a range of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadCidr(pub(crate) String);

impl fmt::Display for BadCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an IP address or a CIDR range (`10.0.0.0/8`, `::1`)", self.0)
    }
}

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(text: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(text.to_owned());
        let (net, prefix) = match text.trim().split_once('/') {
            Some((net, prefix)) => (net, Some(prefix)),
            None => (text.trim(), None),
        };
        let net: IpAddr = net.parse().map_err(|_| bad())?;
        let bits = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(bad)?,
            None => bits,
        };
        Ok(Cidr { net, prefix })
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer seen on a dual-stack socket (`::ffff:10.0.0.1`) is that IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` are the same.
fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xFFu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// The proxies an app trusts; none by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub(crate) fn new(ranges: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(ranges)
    }

    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// The client's address for a request from `peer`: when `peer` is trusted, the rightmost
    /// `X-Forwarded-For` entry that is not a trusted proxy (the leftmost when all are); else,
    /// or when no entry is an address, `None` (the peer is the client).
    pub(crate) fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.trusts(peer) {
            return None;
        }
        // Every X-Forwarded-For header, in order, as one list (RFC 9110 §5.3), read from the
        // right: what the trusted proxies appended; an entry that is no address ends it.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut leftmost = None;
        for entry in entries.into_iter().rev() {
            let ip = forwarded_ip(entry)?;
            if !self.trusts(ip) {
                return Some(ip);
            }
            leftmost = Some(ip);
        }
        leftmost
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|c| c.parse().unwrap()).collect())
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_contain() {
        let range: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(range.contains(ip("10.1.200.3")));
        assert!(!range.contains(ip("10.2.0.1")));
        assert!("10.0.0.0/12".parse::<Cidr>().unwrap().contains(ip("10.15.255.255")));
        assert!(!"10.0.0.0/12".parse::<Cidr>().unwrap().contains(ip("10.16.0.0")));
        assert!("::1".parse::<Cidr>().unwrap().contains(ip("::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("127.0.0.1".parse::<Cidr>().unwrap().contains(ip("::ffff:127.0.0.1")), "mapped IPv4");
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_entry_and_only_behind_a_trusted_peer() {
        let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(trusted.client(peer, &xff("203.0.113.9")), Some(ip("203.0.113.9")));
        // A client may send its own X-Forwarded-For: only what the proxies appended counts.
        assert_eq!(trusted.client(peer, &xff("6.6.6.6, 203.0.113.9, 10.0.0.2")), Some(ip("203.0.113.9")));
        assert_eq!(trusted.client(peer, &xff("10.0.0.3, 10.0.0.2")), Some(ip("10.0.0.3")), "all trusted");
        assert_eq!(trusted.client(peer, &xff("[2001:db8::1]:443, 198.51.100.1:80")), Some(ip("198.51.100.1")));
        assert_eq!(trusted.client(peer, &xff("garbage")), None);
        assert_eq!(trusted.client(peer, &HeaderMap::new()), None);
        assert_eq!(trusted.client(ip("192.0.2.1"), &xff("203.0.113.9")), None, "an untrusted peer");
        assert_eq!(TrustedProxies::default().client(peer, &xff("203.0.113.9")), None, "none by default");
    }
}
