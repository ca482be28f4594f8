//! Which browser origins may open a connection (Rule 4 (docs/security.md#rule-4)): cookie-authenticated websockets are
//! otherwise open to cross-site hijacking.

/// Which browser origins may open a connection (Rule 4 (docs/security.md#rule-4)).
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
        self.admits(origin, || host)
    }

    /// [`allows`](OriginPolicy::allows), reading `Host` only when it decides (a request with
    /// an `Origin` no listed origin matches).
    pub(crate) fn admits<'h>(&self, origin: Option<&str>, host: impl FnOnce() -> Option<&'h str>) -> bool {
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
        matches!((authority, host()), (Some(a), Some(h)) if a == h.to_ascii_lowercase())
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
}
