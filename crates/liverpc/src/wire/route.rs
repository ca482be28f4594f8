//! SvelteKit route ids and the params matched from a concrete URL path.
//!
//! A contract belongs to one page route, written as SvelteKit writes it in `src/routes`:
//!
//! | segment          | meaning                                         | example URL part |
//! |------------------|-------------------------------------------------|------------------|
//! | `rooms`          | literal                                         | `rooms`          |
//! | `[roomId]`       | required param (one segment, may sit in text)   | `general`        |
//! | `[[lang]]`       | optional param (a whole segment)                | `fr` or nothing  |
//! | `[...rest]`      | rest param (zero or more segments)              | `a/b/c`          |
//! | `(group)`        | layout group, not part of the URL               |                  |
//! | `[id=integer]`   | a param whose value SvelteKit's matcher `src/params/integer` must accept (any kind above) | `42` |
//!
//! A matcher runs in JavaScript: the route keeps the (param, matcher) pairs
//! ([`Route::matchers`]) for the front-end that can run them (the TypeScript one).
//!
//! The page sends only its URL path; the server matches it here and derives the params, so
//! the page never supplies a param itself (Rule 1 (docs/security.md#rule-1)).

use std::fmt;

use percent_encoding::percent_decode_str;
use regex::Regex;

/// The longest URL path accepted in a handshake, in bytes.
pub(crate) const MAX_PATH_LEN: usize = 2048;

/// A parsed SvelteKit route id, e.g. `/rooms/[roomId]`.
///
/// ```
/// use liverpc::Route;
///
/// let route = Route::parse("/rooms/[roomId]").unwrap();
/// let params = route.matches("/rooms/general").unwrap();
/// assert_eq!(params.get("roomId"), Some("general"));
/// assert!(route.matches("/rooms").is_none());
/// ```
#[derive(Clone)]
pub struct Route {
    id: String,
    regex: Regex,
    names: Vec<String>,
    /// `(param, matcher)` for every `[param=matcher]`.
    matchers: Vec<(String, String)>,
}

/// Why a route id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The id does not start with `/`.
    #[error("route id `{0}` must start with `/`")]
    NotAbsolute(String),
    /// A `[` without its `]`, or a bracket inside a param name.
    #[error("route id `{id}` has an unbalanced or misplaced bracket in segment `{segment}`")]
    Brackets {
        /// The route id.
        id: String,
        /// The offending segment.
        segment: String,
    },
    /// A param name that is not an identifier.
    #[error("route id `{id}`: param name `{name}` must be an identifier (letters, digits, _)")]
    ParamName {
        /// The route id.
        id: String,
        /// The offending name.
        name: String,
    },
    /// The same param name twice.
    #[error("route id `{id}` declares param `{name}` twice")]
    DuplicateParam {
        /// The route id.
        id: String,
        /// The repeated name.
        name: String,
    },
    /// `[[optional]]` and `[...rest]` must fill a whole segment.
    #[error("route id `{id}`: `{segment}` must be a whole segment (`/[[x]]/`, `/[...x]/`)")]
    PartialSegment {
        /// The route id.
        id: String,
        /// The offending segment.
        segment: String,
    },
    /// `[param=matcher]` whose matcher name is not an identifier (`src/params/<name>.ts`).
    #[error("route id `{id}`: matcher name `{name}` is not an identifier (letters, digits, _)")]
    Matcher {
        /// The route id.
        id: String,
        /// The matcher name as written.
        name: String,
    },
    /// An empty segment (`//`).
    #[error("route id `{0}` has an empty segment")]
    EmptySegment(String),
}

impl Route {
    /// Parses a SvelteKit route id.
    ///
    /// ```
    /// use liverpc::Route;
    ///
    /// assert!(Route::parse("/(app)/docs/[...path]").is_ok());
    /// assert!(Route::parse("rooms").is_err());
    /// ```
    pub fn parse(id: &str) -> Result<Route, RouteError> {
        if !id.starts_with('/') {
            return Err(RouteError::NotAbsolute(id.to_owned()));
        }
        let mut pattern = String::from("^");
        let mut names: Vec<String> = Vec::new();
        let mut matchers: Vec<(String, String)> = Vec::new();
        let mut add_name = |name: &str, names: &mut Vec<String>| -> Result<(), RouteError> {
            let name = match name.split_once('=') {
                Some((name, matcher)) => {
                    if !is_identifier(matcher) {
                        return Err(RouteError::Matcher { id: id.to_owned(), name: matcher.to_owned() });
                    }
                    matchers.push((name.to_owned(), matcher.to_owned()));
                    name
                }
                None => name,
            };
            if !is_identifier(name) {
                return Err(RouteError::ParamName { id: id.to_owned(), name: name.to_owned() });
            }
            if names.iter().any(|n| n == name) {
                return Err(RouteError::DuplicateParam { id: id.to_owned(), name: name.to_owned() });
            }
            names.push(name.to_owned());
            Ok(())
        };
        let trimmed = id.trim_end_matches('/');
        let segments: Vec<&str> = if trimmed.is_empty() { Vec::new() } else { trimmed[1..].split('/').collect() };
        for segment in segments {
            if segment.is_empty() {
                return Err(RouteError::EmptySegment(id.to_owned()));
            }
            if segment.starts_with('(') && segment.ends_with(')') {
                continue;
            }
            if let Some(name) = whole(segment, "[[", "]]") {
                add_name(name, &mut names)?;
                pattern.push_str("(?:/([^/]+))?");
                continue;
            }
            if let Some(name) = whole(segment, "[...", "]") {
                add_name(name, &mut names)?;
                pattern.push_str("(?:/(.+?))?");
                continue;
            }
            if segment.contains("[[") || segment.contains("[...") {
                return Err(RouteError::PartialSegment { id: id.to_owned(), segment: segment.to_owned() });
            }
            pattern.push('/');
            let mut rest = segment;
            while let Some(open) = rest.find('[') {
                let (literal, after) = rest.split_at(open);
                if literal.contains(']') {
                    return Err(brackets(id, segment));
                }
                pattern.push_str(&regex::escape(literal));
                let close = after.find(']').ok_or_else(|| brackets(id, segment))?;
                let name = &after[1..close];
                if name.contains('[') {
                    return Err(brackets(id, segment));
                }
                add_name(name, &mut names)?;
                pattern.push_str("([^/]+?)");
                rest = &after[close + 1..];
            }
            if rest.contains(']') {
                return Err(brackets(id, segment));
            }
            pattern.push_str(&regex::escape(rest));
        }
        // SvelteKit accepts a trailing slash on any page URL.
        pattern.push_str("/?$");
        let regex = Regex::new(&pattern).map_err(|_| brackets(id, id))?;
        Ok(Route { id: id.to_owned(), regex, names, matchers })
    }

    /// The route id as written.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every `[param=matcher]` of the route, as `(param, matcher)`, in order: a URL belongs to
    /// the route only when each matcher accepts its param's value (the front-end checks them).
    ///
    /// ```
    /// let route = liverpc::Route::parse("/items/[id=integer]/[[lang=lang]]").unwrap();
    /// assert_eq!(route.matchers().collect::<Vec<_>>(), [("id", "integer"), ("lang", "lang")]);
    /// assert_eq!(route.matches("/items/42").unwrap().get("id"), Some("42"));
    /// ```
    pub fn matchers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.matchers.iter().map(|(p, m)| (p.as_str(), m.as_str()))
    }

    /// The names of the route's params, in order.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Matches a concrete URL path (no query, no fragment) and returns its params, decoded.
    ///
    /// Returns `None` when the path does not belong to this route.
    pub fn matches(&self, path: &str) -> Option<Params> {
        if path.len() > MAX_PATH_LEN || !path.starts_with('/') {
            return None;
        }
        let captures = self.regex.captures(path)?;
        let mut params = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            if let Some(m) = captures.get(i + 1) {
                let decoded = percent_decode_str(m.as_str()).decode_utf8().ok()?;
                params.push((name.clone(), decoded.into_owned()));
            }
        }
        Some(Params(params))
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Route").field(&self.id).finish()
    }
}

fn whole<'a>(segment: &'a str, open: &str, close: &str) -> Option<&'a str> {
    segment.strip_prefix(open)?.strip_suffix(close)
}

fn brackets(id: &str, segment: &str) -> RouteError {
    RouteError::Brackets { id: id.to_owned(), segment: segment.to_owned() }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The params of a matched URL, e.g. `{ roomId: "general" }` for `/rooms/general`, in the
/// route's order (a `Vec`: routes have a handful of params, and every connection holds them).
///
/// ```
/// use liverpc::Route;
///
/// let params = Route::parse("/docs/[[lang]]/[...path]").unwrap().matches("/docs/a/b").unwrap();
/// assert_eq!(params.get("lang"), Some("a"));
/// assert_eq!(params.get("path"), Some("b"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The value of a param, or `None` if the route has no such param or an optional one
    /// was absent from the URL.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// All params, in the route's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, path: &str) -> Option<Vec<(String, String)>> {
        let params = Route::parse(id).unwrap().matches(path)?;
        Some(params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    fn p(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn literal_and_param() {
        assert_eq!(m("/rooms/[roomId]", "/rooms/general"), p(&[("roomId", "general")]));
        assert_eq!(m("/rooms/[roomId]", "/rooms/general/"), p(&[("roomId", "general")]));
        assert_eq!(m("/rooms/[roomId]", "/rooms/"), None);
        assert_eq!(m("/rooms/[roomId]", "/rooms/a/b"), None);
        assert_eq!(m("/rooms/[roomId]", "/other/a"), None);
        assert_eq!(m("/", "/"), p(&[]));
        assert_eq!(m("/", "/x"), None);
    }

    #[test]
    fn params_inside_text() {
        assert_eq!(m("/v[major].[minor]", "/v1.2"), p(&[("major", "1"), ("minor", "2")]));
        assert_eq!(m("/a.b", "/aXb"), None, "literal dots are escaped");
    }

    #[test]
    fn optional_rest_and_group() {
        assert_eq!(m("/(app)/[[lang]]/about", "/about"), p(&[]));
        assert_eq!(m("/(app)/[[lang]]/about", "/fr/about"), p(&[("lang", "fr")]));
        assert_eq!(m("/files/[...path]", "/files"), p(&[]));
        assert_eq!(m("/files/[...path]", "/files/a/b/c"), p(&[("path", "a/b/c")]));
        assert_eq!(m("/[...rest]/edit", "/a/b/edit"), p(&[("rest", "a/b")]));
    }

    #[test]
    fn decoding() {
        assert_eq!(m("/rooms/[roomId]", "/rooms/caf%C3%A9"), p(&[("roomId", "café")]));
        assert_eq!(m("/rooms/[roomId]", "/rooms/%FF"), None, "invalid UTF-8 is not a match");
        assert_eq!(m("/rooms/[roomId]", "/rooms/a%2Fb"), p(&[("roomId", "a/b")]));
    }

    #[test]
    fn bad_ids() {
        assert!(matches!(Route::parse("rooms"), Err(RouteError::NotAbsolute(_))));
        assert!(matches!(Route::parse("/[a"), Err(RouteError::Brackets { .. })));
        assert!(matches!(Route::parse("/a]"), Err(RouteError::Brackets { .. })));
        assert!(matches!(Route::parse("/[a-b]"), Err(RouteError::ParamName { .. })));
        assert!(matches!(Route::parse("/[a]/[a]"), Err(RouteError::DuplicateParam { .. })));
        assert!(matches!(Route::parse("/x[[a]]"), Err(RouteError::PartialSegment { .. })));
        assert!(matches!(Route::parse("/[id=1int]"), Err(RouteError::Matcher { .. })));
        assert!(matches!(Route::parse("/[id=]"), Err(RouteError::Matcher { .. })));
        assert!(matches!(Route::parse("/[=int]"), Err(RouteError::ParamName { .. })));
        let route = Route::parse("/a/[id=int]/[...rest=path]").unwrap();
        assert_eq!(route.param_names(), ["id", "rest"]);
        assert_eq!(route.matches("/a/7/x/y").unwrap().get("rest"), Some("x/y"));
        assert!(matches!(Route::parse("/a//b"), Err(RouteError::EmptySegment(_))));
    }

    #[test]
    fn long_paths_are_not_matched() {
        let route = Route::parse("/[...rest]").unwrap();
        assert!(route.matches(&"/a".repeat(MAX_PATH_LEN)).is_none());
    }
}
