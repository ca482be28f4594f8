//! Property tests (issue 6): route matching never panics on any route id or URL path, and a
//! generated route id with generated param values matches the URL built from them, giving
//! back exactly those values. Room-key encoding is property-tested in src/room.rs (the
//! encoding is crate-private); payload decoding has a fuzz target in fuzz/ and a property test
//! below through the same entry point.

use liverpc::Route;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

/// One segment of a generated route id.
#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Group(String),
    Param(String),
    Optional(String),
    Rest(Vec<String>),
}

fn segment() -> impl Strategy<Value = Segment> {
    let value = || "\\PC{1,8}";
    prop_oneof![
        "[a-z0-9_-]{1,6}".prop_map(Segment::Literal),
        "[a-z]{1,4}".prop_map(Segment::Group),
        value().prop_map(Segment::Param),
        value().prop_map(Segment::Optional),
        prop::collection::vec(value(), 1..4).prop_map(Segment::Rest),
    ]
}

/// A route id, the URL path of a page on it, and the params that path must give back. Param
/// names are generated (`p0`, `p1`, ...); at most one rest param, as more would be ambiguous.
fn route_and_path() -> impl Strategy<Value = (String, String, Vec<(String, String)>)> {
    prop::collection::vec(segment(), 0..6).prop_map(|segments| {
        let (mut id, mut path, mut params) = (String::new(), String::new(), Vec::new());
        let mut rest_seen = false;
        for (i, segment) in segments.into_iter().enumerate() {
            let name = format!("p{i}");
            let encode = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
            match segment {
                Segment::Literal(lit) => {
                    id.push_str(&format!("/{lit}"));
                    path.push_str(&format!("/{lit}"));
                }
                Segment::Group(group) => id.push_str(&format!("/({group})")),
                Segment::Param(value) => {
                    id.push_str(&format!("/[{name}]"));
                    path.push_str(&format!("/{}", encode(&value)));
                    params.push((name, value));
                }
                Segment::Optional(value) => {
                    id.push_str(&format!("/[[{name}]]"));
                    path.push_str(&format!("/{}", encode(&value)));
                    params.push((name, value));
                }
                Segment::Rest(values) if !rest_seen => {
                    rest_seen = true;
                    id.push_str(&format!("/[...{name}]"));
                    let encoded: Vec<String> = values.iter().map(|v| encode(v)).collect();
                    path.push_str(&format!("/{}", encoded.join("/")));
                    params.push((name, values.join("/")));
                }
                Segment::Rest(_) => {}
            }
        }
        if id.is_empty() {
            id.push('/');
        }
        if path.is_empty() {
            path.push('/');
        }
        params.sort();
        (id, path, params)
    })
}

/// Text that looks like route ids and paths: brackets, dots, slashes, percents, parens.
fn routeish() -> impl Strategy<Value = String> {
    "/?([a-z\\[\\]().=%_/]|\\[\\[|\\]\\]|\\[\\.\\.\\.|%[0-9A-Fa-f]{2}|\\PC){0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn route_parsing_and_matching_never_panic(id in routeish(), path in routeish(), any_id in "\\PC{0,30}") {
        for id in [&id, &any_id] {
            if let Ok(route) = Route::parse(id) {
                let _ = route.matches(&path);
                let _ = route.matches(id);
                let _ = route.matches(&format!("/{path}"));
            }
        }
    }

    #[test]
    fn generated_routes_round_trip_their_params((id, path, params) in route_and_path()) {
        let route = Route::parse(&id).map_err(|e| TestCaseError::fail(format!("{id}: {e}")))?;
        let matched = route.matches(&path);
        prop_assert!(matched.is_some(), "{} does not match {}", id, path);
        let matched = matched.unwrap_or_default();
        let got: Vec<(String, String)> = matched.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&got, &params, "{} on {}", id, path);
        // SvelteKit accepts a trailing slash on any page URL.
        let slashed = if path == "/" { path.clone() } else { format!("{path}/") };
        prop_assert_eq!(route.matches(&slashed), Some(matched));
    }
}

#[cfg(feature = "fuzzing")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The fuzz target's entry point on arbitrary bytes and on JSON-shaped text.
    #[test]
    fn payload_decoding_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        text in "\\[(\"[a-z:]{0,12}\"|[0-9\\[\\]{}\",:nultrefas_-]|\\\\u[0-9a-fA-F]{4}|\\PC){0,80}",
    ) {
        liverpc::__fuzz::event_arguments(&bytes);
        liverpc::__fuzz::event_arguments(text.as_bytes());
    }
}

#[cfg(feature = "fuzzing")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The websocket fuzz target's entry point: arbitrary bytes, and bytes shaped like masked
    /// client frames (the mask bit set, so that decoding gets past the first check).
    #[test]
    fn websocket_framing_never_panics(
        mut bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in 1usize..64,
    ) {
        liverpc::__fuzz::websocket_frames(&bytes, cut);
        if let Some(second) = bytes.get_mut(1) {
            *second |= 0x80;
        }
        liverpc::__fuzz::websocket_frames(&bytes, cut);
    }
}

/// Hostile shapes the fuzz target must survive, run on every `cargo test --all-features`.
#[cfg(feature = "fuzzing")]
#[test]
fn payload_decoding_survives_hostile_inputs() {
    let deep = |open: &str, close: &str| format!("[\"send\",{}1{}]", open.repeat(100_000), close.repeat(100_000));
    let inputs = [
        String::new(),
        "[".to_owned(),
        "[\"send\"]".to_owned(),
        "[\"send\",{\"text\":\"\\ud800\"}]".to_owned(),
        "[\"liverpc:join\",{\"room\":\"project\",\"data\":{\"__proto__\":1}}]".to_owned(),
        "[\"liverpc:join\",{\"room\":\"project\",\"data\":{\"b\":1,\"a\":[2,{\"c\":3}]}}]".to_owned(),
        "[\"send\",{\"_placeholder\":true,\"num\":18446744073709551616}]".to_owned(),
        deep("[", "]"),
        deep("{\"a\":", "}"),
        format!("[\"send\",\"{}\"]", "x".repeat(1 << 20)),
    ];
    for input in inputs {
        liverpc::__fuzz::event_arguments(input.as_bytes());
    }
}
