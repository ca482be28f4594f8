//! Hardening (issue 6): hostile handshakes, malformed packets, floods, panics, unauthorized
//! joins and silent peers, each against a running server through raw websocket and HTTP
//! clients. Memory and latency measurements are in `hardening_load.rs`; property tests in
//! `hardening_props.rs`. docs/security.md maps every case to its test.

mod common;
mod hardening_raw;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Chat, Users};
use hardening_raw::{Logs, NS, Next, Polling, WAIT, Ws, marker};
use liverpc::testing::{TestClient, TestError};
use liverpc::{App, Contract, Declarations, Deny, ErrorCode, Handshake, Limits, OriginPolicy, Rejection, key};
use serde_json::{Value, json};

const CONNECT_GENERAL: &str = r#"40/rooms/[roomId]/chat,{"path":"/rooms/general"}"#;

async fn tab(addr: std::net::SocketAddr, session: &str) -> TestClient {
    let client = TestClient::builder(addr)
        .cookie("session", session)
        .connect::<Chat>("/rooms/general")
        .await
        .expect("test setup");
    client.recv().await.expect("the chat room's status");
    client
}

fn refusal(code: &str) -> String {
    format!("44{NS},{{\"message\":\"{code}\"}}")
}

// 1. Cross-site handshakes.

#[tokio::test]
async fn cross_site_websocket_handshake_is_refused_before_the_hook() {
    let addr = common::start(Limits::default()).await.addr;
    // `session=panic` makes the fixture's hook panic: a `forbidden_origin` answer proves the
    // hook never ran (it would have answered `internal`).
    let mut evil = Ws::open(addr, &[("origin", "https://evil.example"), ("cookie", "session=panic")]).await;
    evil.send(CONNECT_GENERAL).await;
    assert_eq!(evil.recv_packet(WAIT).await, Next::Text(refusal("forbidden_origin")));
    // Nothing of the room reached it, and it is not connected: a call is not answered.
    evil.send(&format!("42{NS},1[\"whoami\",null]")).await;
    let mut seen = Vec::new();
    let next = tokio::time::timeout(Duration::from_millis(300), evil.until_ack(1, &mut seen)).await;
    assert!(matches!(next, Err(_) | Ok(None)), "a refused socket answered: {next:?}");
    assert!(seen.iter().all(|p| !p.contains("liverpc:room")), "{seen:?}");

    // Control: the same cookie from the server's own origin reaches the hook, which panics.
    let own = format!("http://{addr}");
    let mut same = Ws::open(addr, &[("origin", &own), ("cookie", "session=panic")]).await;
    same.send(CONNECT_GENERAL).await;
    assert_eq!(same.recv_packet(WAIT).await, Next::Text(refusal("internal")));
}

#[tokio::test]
async fn cross_site_polling_handshake_is_refused_before_the_hook() {
    let addr = common::start(Limits::default()).await.addr;
    let evil = Polling::open(addr, &[("origin", "https://evil.example"), ("cookie", "session=panic")]).await;
    let posted = evil.post(&[CONNECT_GENERAL]).await.unwrap();
    assert_eq!((posted.status, posted.body.as_str()), (200, "ok"));
    assert_eq!(evil.until("4").await, Some(refusal("forbidden_origin")));

    // Control: same origin and a real user connect over polling, so the refusal above is the
    // origin's doing.
    let own = format!("http://{addr}");
    let good = Polling::open(addr, &[("origin", &own), ("cookie", "session=alice")]).await;
    good.post(&[CONNECT_GENERAL]).await.unwrap();
    let connected = good.until("4").await.expect("connected");
    assert!(connected.starts_with(&format!("40{NS},{{\"sid\":")), "{connected}");
    good.post(&[&format!("42{NS},3[\"whoami\",null]")]).await.unwrap();
    let answer = good.until(&format!("43{NS},3")).await.expect("answered");
    assert_eq!(answer, format!("43{NS},3[{{\"ok\":true,\"data\":\"alice\"}}]"));
}

// 4. Malformed packets: closed or answered with an error; nothing else affected; never logged.

/// What a hostile frame is allowed to cause.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The server closes the connection.
    Closed,
    /// The server ignores it and keeps serving the socket.
    Ignored,
    /// The call (ack id 7) is answered with this error code; the socket keeps working.
    Answered(&'static str),
}

#[tokio::test]
async fn malformed_packets_are_refused_and_never_logged() {
    let logs = Logs::capture();
    // A payload limit above the 100k-deep nesting's size, so the JSON parser meets it.
    let addr = common::start(Limits { max_payload: 1024 * 1024, ..Limits::default() }).await.addr;
    let bob = tab(addr, "bob").await;
    let deep = |m: &str| format!("{}\"{m}\"{}", "[".repeat(100_000), "]".repeat(100_000));
    type Case = (&'static str, Box<dyn Fn(&str) -> String>, Outcome);
    let cases: Vec<Case> = vec![
        ("unknown packet type", Box::new(|m| format!("4abc{m}")), Outcome::Closed),
        ("payload not an array", Box::new(|m| format!("42{NS},{{\"{m}\":1}}")), Outcome::Closed),
        ("not JSON", Box::new(|m| format!("42{NS},abc[{m}")), Outcome::Closed),
        ("numeric event name", Box::new(|m| format!("42{NS},7[1,\"{m}\"]")), Outcome::Closed),
        ("object event name", Box::new(|m| format!("42{NS},7[{{\"{m}\":1}},null]")), Outcome::Closed),
        ("null event name", Box::new(|m| format!("42{NS},7[null,\"{m}\"]")), Outcome::Closed),
        ("empty event array", Box::new(|_| format!("42{NS},7[]")), Outcome::Closed),
        ("unknown event", Box::new(|m| format!("42{NS},7[\"{m}\",null]")), Outcome::Answered("not_found")),
        (
            "placeholder in a text packet",
            Box::new(|m| format!("42{NS},7[\"send\",{{\"_placeholder\":true,\"num\":0,\"{m}\":1}}]")),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "declared binary attachment",
            Box::new(|m| format!("451-{NS},7[\"send\",{{\"_placeholder\":true,\"num\":0}},\"{m}\"]")),
            Outcome::Closed,
        ),
        (
            "placeholder beyond zero attachments",
            Box::new(|m| format!("450-{NS},7[\"send\",{{\"_placeholder\":true,\"num\":9,\"x\":\"{m}\"}}]")),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "100k-deep nesting",
            Box::new(move |m| format!("42{NS},7[\"send\",{}]", deep(m))),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "100k-deep nesting in a join",
            Box::new(move |m| format!("42{NS},7[\"liverpc:join\",{{\"room\":\"project\",\"data\":{}}}]", deep(m))),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "100k-deep object nesting",
            Box::new(|m| format!("42{NS},7[\"send\",{}\"{m}\"{}]", "{\"text\":".repeat(100_000), "}".repeat(100_000))),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "ack id beyond u64",
            Box::new(|m| format!("42{NS},99999999999999999999999[\"whoami\",\"{m}\"]")),
            Outcome::Ignored,
        ),
        ("ack id u64::MAX", Box::new(|m| format!("42{NS},18446744073709551615[\"whoami\",\"{m}\"]")), Outcome::Ignored),
        (
            "__proto__ in a payload",
            Box::new(|m| format!("42{NS},7[\"send\",{{\"__proto__\":{{\"text\":\"{m}\"}},\"text\":\"hi\"}}]")),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "__proto__ in a join payload",
            Box::new(|m| {
                format!(
                    "42{NS},7[\"liverpc:join\",{{\"room\":\"project\",\"data\":{{\"projectId\":\"apollo\",\"__proto__\":{{\"admin\":\"{m}\"}}}}}}]"
                )
            }),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "__proto__ in a join request",
            Box::new(|m| {
                format!("42{NS},7[\"liverpc:join\",{{\"__proto__\":{{\"room\":\"tenant\"}},\"room\":\"{m}\"}}]")
            }),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "duplicate keys",
            Box::new(|m| format!("42{NS},7[\"send\",{{\"text\":\"a\",\"text\":\"{m}\"}}]")),
            Outcome::Answered("invalid_payload"),
        ),
        (
            "lone surrogate",
            Box::new(|m| format!("42{NS},7[\"send\",{{\"text\":\"\\ud800{m}\"}}]")),
            Outcome::Answered("invalid_payload"),
        ),
        ("ack for nothing", Box::new(|m| format!("43{NS},5[\"{m}\"]")), Outcome::Ignored),
        ("event on the undeclared root namespace", Box::new(|m| format!("42[\"whoami\",\"{m}\"]")), Outcome::Ignored),
        ("engine.io upgrade on a websocket", Box::new(|m| format!("5{m}")), Outcome::Closed),
        ("engine.io unknown type", Box::new(|m| format!("9{m}")), Outcome::Closed),
    ];
    let mut markers = Vec::new();
    for (what, frame, expected) in &cases {
        let m = marker("malformed");
        markers.push(m.clone());
        let mut victim = Ws::chat(addr, Some("alice"), "/rooms/general").await;
        victim.send(&frame(&m)).await;
        let mut seen = Vec::new();
        // A probe call after the frame: either it is answered or the connection closes.
        victim.send(&format!("42{NS},900[\"whoami\",null]")).await;
        let probe = victim.until_ack(900, &mut seen).await;
        let ack7 = seen.iter().find_map(|p| p.strip_prefix(&format!("43{NS},7")).map(str::to_owned));
        let outcome = match (&probe, ack7) {
            (None, None) => Outcome::Closed,
            (Some(_), None) => Outcome::Ignored,
            (Some(_), Some(answer)) => {
                let answer: Value = serde_json::from_str(&answer).expect("ack json");
                assert_eq!(answer[0]["ok"], json!(false), "{what}: {answer}");
                let code = answer[0]["error"]["code"].as_str().unwrap_or_default().to_owned();
                Outcome::Answered(Box::leak(code.into_boxed_str()))
            }
            (None, Some(answer)) => panic!("{what}: answered {answer} then closed"),
        };
        assert_eq!(outcome, *expected, "{what}");
        if let Some(probe) = probe {
            assert_eq!(probe, json!({ "ok": true, "data": "alice" }), "{what}: the socket still works");
        }
        // Every other socket is unaffected.
        assert_eq!(bob.call("whoami", Value::Null).await.unwrap(), json!("bob"), "after {what}");
    }
    // A binary frame that no packet announced closes the connection.
    let m = marker("binary");
    markers.push(m.clone());
    let mut victim = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    let _ = victim.try_send_binary(m.clone().into_bytes()).await;
    assert!(victim.closed_within(WAIT).await.is_some(), "an unannounced binary frame closes the connection");
    assert_eq!(bob.call("whoami", Value::Null).await.unwrap(), json!("bob"));

    // The capture sees the server's logs (a panic is logged), and no marker ever reached them.
    assert!(bob.call("boom", Value::Null).await.is_err());
    assert!(logs.this_test().contains("a handler panicked"), "the log capture sees the server");
    let text = logs.text();
    for m in &markers {
        assert!(!text.contains(m.as_str()), "a payload reached the logs: {m}");
    }
}

// 5. A second CONNECT on the same namespace.

/// The fixture app, with a hook that counts its invocations.
async fn start_counting_hook(limits: Limits) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner = common::hook(Users::default());
    let app = App::builder()
        .hook(move |handshake: Handshake| {
            counted.fetch_add(1, Ordering::SeqCst);
            inner(handshake)
        })
        .contract::<Chat>()
        .limits(limits)
        .build()
        .expect("test setup");
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("test setup")).await.expect("test setup");
    let addr = listener.local_addr().expect("test setup");
    tokio::spawn(app.serve(listener, app.attach(axum::Router::new())));
    (addr, calls)
}

#[tokio::test]
async fn a_second_connect_with_other_auth_is_ignored_and_the_hook_runs_once() {
    let (addr, hook_calls) = start_counting_hook(Limits::default()).await;
    let mut alice = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    let joined = alice.call(1, "liverpc:join", r#"{"room":"project","data":{"projectId":"gemini"}}"#).await;
    assert_eq!(joined, Some(json!({ "ok": true, "data": null })));
    assert_eq!(hook_calls.load(Ordering::SeqCst), 1);

    // Other auth: another path, another path with a claimed identity, no auth at all.
    for auth in [r#"{"path":"/rooms/random"}"#, r#"{"path":"/rooms/random","user":"carol"}"#, ""] {
        alice.send(&format!("40{NS},{auth}")).await;
        let mut seen = Vec::new();
        alice.send(&format!("42{NS},2[\"whoami\",null]")).await;
        assert_eq!(alice.until_ack(2, &mut seen).await, Some(json!({ "ok": true, "data": "alice" })));
        alice.send(&format!("42{NS},3[\"send\",{{\"text\":\"still\"}}]")).await;
        assert_eq!(alice.until_ack(3, &mut seen).await, Some(json!({ "ok": true, "data": { "delivered": 1 } })));
        alice.send(&format!("42{NS},4[\"post\",{{\"room\":\"project\",\"text\":\"p\"}}]")).await;
        assert_eq!(alice.until_ack(4, &mut seen).await, Some(json!({ "ok": true, "data": { "delivered": 0 } })));
        // No second CONNECT answer, no second auto-join, and the chat room is still general's.
        assert!(seen.iter().all(|p| !p.starts_with("40") && !p.contains("liverpc:room")), "{auth}: {seen:?}");
        let message = seen.iter().find(|p| p.contains("\"message\"")).expect("the chat message");
        assert!(message.contains("\"room\":\"general\""), "{message}");
        assert_eq!(hook_calls.load(Ordering::SeqCst), 1, "the hook ran again for {auth:?}");
    }

    // Two CONNECTs back to back, the second before the first is answered: one socket, one hook run.
    let mut racer = Ws::open(addr, &[("cookie", "session=bob")]).await;
    racer.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
    racer.send(&format!("40{NS},{{\"path\":\"/rooms/random\"}}")).await;
    let first = racer.recv_packet(WAIT).await;
    assert!(matches!(&first, Next::Text(t) if t.starts_with(&format!("40{NS},"))), "{first:?}");
    let mut seen = Vec::new();
    racer.send(&format!("42{NS},9[\"whoami\",null]")).await;
    let answer = racer.until_ack(9, &mut seen).await;
    assert_eq!(answer, Some(json!({ "ok": true, "data": "bob" })), "{seen:?}");
    let connects = seen.iter().filter(|p| p.starts_with("40") || p.starts_with("44")).count();
    assert_eq!(connects, 0, "a single CONNECT answer: {seen:?}");
    assert_eq!(hook_calls.load(Ordering::SeqCst), 2, "one more hook run for bob's socket");
}

// 6. Flooding calls and joins.

#[derive(Debug, serde::Serialize, serde::Deserialize, ts_rs::TS)]
struct Tick {
    n: u32,
}

impl liverpc::Event for Tick {
    const NAME: &'static str = "tick";
}

/// An exposed room keyed by `id` only: `note` does not change the key.
#[derive(Debug, serde::Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
struct TopicJoin {
    #[garde(length(min = 1, max = 64))]
    id: String,
    #[garde(length(max = 1000))]
    #[serde(default)]
    note: String,
}

/// Any page may join any topic: only the limits stand between a flood and the server.
struct Topics;

impl Contract for Topics {
    const ROUTE: &'static str = "/topics";
    const NAME: &'static str = "feed";
    type Locals = ();
    type State = ();
    type ToClient = (Tick,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket.expose("topic", |_cx, join: TopicJoin| async move { Ok::<_, Deny>(key!["topic", join.id]) })
    }
}

async fn start_topics(limits: Limits) -> (std::net::SocketAddr, liverpc::Emitter<Topics>) {
    let app =
        App::builder().contract::<Topics>().limits(limits).origins(OriginPolicy::any()).build().expect("test setup");
    let emitter = app.emitter::<Topics>().expect("test setup");
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("test setup")).await.expect("test setup");
    let addr = listener.local_addr().expect("test setup");
    tokio::spawn(app.serve(listener, app.attach(axum::Router::new())));
    (addr, emitter)
}

fn rejected_code(result: &Result<(), TestError>) -> Option<ErrorCode> {
    result.as_ref().err().and_then(|e| e.rejection()).map(|r| r.code)
}

/// How many of `topics` the server delivers to (each to this one page).
async fn rooms_held(emitter: &liverpc::Emitter<Topics>, topics: impl Iterator<Item = String>) -> usize {
    let mut held = 0;
    for id in topics {
        held += emitter.to(&key!["topic", id]).emit(&Tick { n: 0 }).await.expect("test setup");
    }
    held
}

#[tokio::test]
async fn join_floods_are_rate_limited() {
    let (addr, emitter) = start_topics(Limits { calls_per_second: 1, burst: 5, ..Limits::default() }).await;
    let page = TestClient::builder(addr).connect::<Topics>("/topics").await.unwrap();
    let joins = (0..40).map(|i| page.join("topic", Some(json!({ "id": format!("t{i}") }))));
    let answers = futures_util::future::join_all(joins).await;
    let ok = answers.iter().filter(|a| a.is_ok()).count();
    let limited = answers.iter().filter(|a| rejected_code(a) == Some(ErrorCode::RateLimited)).count();
    assert!((5..=6).contains(&ok), "a burst of 5 (+1 refill): {ok} joined");
    assert_eq!(ok + limited, 40, "every other join is answered rate_limited");
    // Refused joins joined nothing.
    assert_eq!(rooms_held(&emitter, (0..40).map(|i| format!("t{i}"))).await, ok);
}

#[tokio::test]
async fn joined_rooms_are_bounded_under_a_join_flood() {
    let limits = Limits { max_rooms: 8, calls_per_second: 100_000, burst: 100_000, ..Limits::default() };
    let (addr, emitter) = start_topics(limits).await;
    let page = TestClient::builder(addr).connect::<Topics>("/topics").await.unwrap();
    let joins = (0..200).map(|i| page.join("topic", Some(json!({ "id": format!("t{i}") }))));
    let answers = futures_util::future::join_all(joins).await;
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 8);
    assert_eq!(answers.iter().filter(|a| rejected_code(a) == Some(ErrorCode::RateLimited)).count(), 192);
    assert_eq!(rooms_held(&emitter, (0..200).map(|i| format!("t{i}"))).await, 8, "in exactly 8 rooms");
    // Leaving makes room for another.
    let held = answers.iter().position(Result::is_ok).unwrap();
    page.leave("topic", Some(json!({ "id": format!("t{held}") }))).await.unwrap();
    page.join("topic", Some(json!({ "id": "fresh" }))).await.unwrap();
    assert_eq!(
        rejected_code(&page.join("topic", Some(json!({ "id": "one-more" }))).await),
        Some(ErrorCode::RateLimited)
    );
}

#[tokio::test]
async fn join_requests_are_bounded_even_when_they_share_a_room() {
    // Payloads that differ only in a field the key ignores are distinct join requests (each is
    // kept so that its leave matches): they count against max_rooms, or they would pile up.
    let limits = Limits { max_rooms: 8, calls_per_second: 100_000, burst: 100_000, ..Limits::default() };
    let (addr, emitter) = start_topics(limits).await;
    let page = TestClient::builder(addr).connect::<Topics>("/topics").await.unwrap();
    let note = "n".repeat(900);
    let joins = (0..200).map(|i| page.join("topic", Some(json!({ "id": "same", "note": format!("{i}{note}") }))));
    let answers = futures_util::future::join_all(joins).await;
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 8);
    assert_eq!(answers.iter().filter(|a| rejected_code(a) == Some(ErrorCode::RateLimited)).count(), 192);
    assert_eq!(rooms_held(&emitter, ["same".to_owned()].into_iter()).await, 1);
    // Joining again with a held payload is still a no-op answered ok.
    let held = answers.iter().position(Result::is_ok).unwrap();
    page.join("topic", Some(json!({ "id": "same", "note": format!("{held}{note}") }))).await.unwrap();
}

// 8. Panics: answered `internal`, logged, server up.

#[tokio::test]
async fn panics_are_answered_internal_and_logged() {
    let logs = Logs::capture();
    let addr = common::start(Limits::default()).await.addr;
    let alice = tab(addr, "alice").await;

    let internal = Some(Rejection::new(ErrorCode::Internal, "internal server error"));
    assert_eq!(alice.call("boom", Value::Null).await.unwrap_err().rejection().cloned(), internal);
    let err = alice.join("project", Some(json!({ "projectId": "panic" }))).await.unwrap_err();
    assert_eq!(err.rejection().cloned(), internal);
    let refused = TestClient::builder(addr).cookie("session", "panic").connect::<Chat>("/rooms/general").await;
    assert!(matches!(refused, Err(TestError::Refused(ref c)) if c == "internal"), "{:?}", refused.err());

    let logged = logs.this_test();
    let line = |needle: &str| logged.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let handler = line("a handler panicked").expect("the handler's panic is logged");
    assert!(handler.contains("ERROR") && handler.contains("event=\"boom\""), "{handler}");
    assert!(line("a room authorizer panicked").is_some_and(|l| l.contains("ERROR")), "{logged}");
    assert!(line("the connection hook panicked").is_some_and(|l| l.contains("ERROR")), "{logged}");

    // The server and the socket are fine.
    assert_eq!(alice.call("whoami", Value::Null).await.unwrap(), json!("alice"));
    assert!(TestClient::builder(addr).cookie("session", "bob").connect::<Chat>("/rooms/general").await.is_ok());
}

// 9. Unauthorized joins: the same answer whether the room exists, nothing of the room
// delivered. (How long they take is the benchmark's business, not the suite's.)

#[tokio::test]
async fn unauthorized_joins_answer_the_same_whether_the_room_exists() {
    let limits = Limits { calls_per_second: 100_000, burst: 100_000, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let alice = tab(addr, "alice").await;
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap(); // exists, has a member
    let bob = tab(addr, "bob").await;

    let forbidden = json!({ "ok": false, "error": { "code": "forbidden", "message": "forbidden" } });
    let join = |project: &str| json!(["liverpc:join", { "room": "project", "data": { "projectId": project } }]);
    for project in ["gemini", "no-such-project", "gemini"] {
        assert_eq!(bob.emit_with_ack(&join(project)).await.unwrap(), forbidden, "{project}");
    }

    // Nothing of the room reached bob: alice's post to the project has no other recipient, and
    // bob's next event is the chat message sent after it.
    let sent = alice.call("post", json!({ "room": "project", "text": "secret" })).await.unwrap();
    assert_eq!(sent, json!({ "delivered": 0 }));
    alice.call("send", json!({ "text": "public" })).await.unwrap();
    assert_eq!(bob.recv_event::<common::Message>().await.unwrap().text, "public");
}

// 10. Missing pongs and missing CONNECT.

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let interval = Duration::from_millis(300);
    let timeout = Duration::from_millis(200);
    let limits = Limits { ping_interval: interval, ping_timeout: timeout, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let mut silent = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    let mut live = Ws::chat(addr, Some("bob"), "/rooms/general").await;

    let silent_closed = silent.closed_within(WAIT);
    let live_pings = async {
        let mut pings = 0;
        while pings < 5 {
            match live.recv(WAIT).await {
                Next::Text(t) if t == "2" => {
                    pings += 1;
                    live.send("3").await;
                }
                Next::Text(_) => {}
                other => panic!("the live client was dropped: {other:?}"),
            }
        }
    };
    let (closed_after, ()) = tokio::join!(silent_closed, live_pings);
    let closed_after = closed_after.expect("the silent client is closed");
    assert!(closed_after < interval + timeout + Duration::from_secs(1), "{closed_after:?}");
    // Five ping periods later the live client still works.
    assert_eq!(live.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "bob" })));
}

#[tokio::test]
async fn a_session_without_a_namespace_connect_is_closed() {
    let connect_timeout = Duration::from_millis(300);
    // Pings far apart, so only the connect timeout can close these sessions.
    let limits = Limits {
        connect_timeout,
        ping_interval: Duration::from_secs(20),
        ping_timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    let addr = common::start(limits).await.addr;
    let bound = connect_timeout + Duration::from_secs(2);

    // Websocket.
    let mut ws = Ws::open(addr, &[]).await;
    let closed_after = ws.closed_within(WAIT).await.expect("closed");
    assert!(closed_after >= connect_timeout / 3 && closed_after < bound, "{closed_after:?}");

    // Polling: the long-poll ends with the close packet.
    let start = Instant::now();
    let polling = Polling::open(addr, &[]).await;
    assert_eq!(polling.until("40").await, None);
    assert!(start.elapsed() >= connect_timeout / 3 && start.elapsed() < bound, "{:?}", start.elapsed());

    // A refused CONNECT leaves no namespace either: that session is closed the same way.
    let start = Instant::now();
    let refused = Polling::open(addr, &[("origin", "https://evil.example")]).await;
    refused.post(&[CONNECT_GENERAL]).await.unwrap();
    assert_eq!(refused.until("4").await, Some(refusal("forbidden_origin")));
    assert_eq!(refused.until("40").await, None);
    assert!(start.elapsed() < bound, "{:?}", start.elapsed());
    // The server still serves.
    let mut ok = Ws::chat(addr, Some("bob"), "/rooms/general").await;
    assert_eq!(ok.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "bob" })));
}

// Issue 21: connects a page starts and leaves.

/// Sends `frames` (Engine.IO packets) in one websocket write.
async fn send_together(ws: &mut Ws, frames: &[&str]) {
    use futures_util::SinkExt;
    for frame in frames {
        ws.stream.feed(tokio_tungstenite::tungstenite::Message::text(*frame)).await.expect("feed");
    }
    ws.stream.flush().await.expect("one write");
}

/// Reads until the namespace's CONNECT answer; every packet before it.
async fn until_connected(ws: &mut Ws) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match ws.recv_packet(WAIT).await {
            Next::Text(t) if t.starts_with(&format!("40{NS},")) => return seen,
            Next::Text(t) => seen.push(t),
            other => panic!("{other:?} before the CONNECT answer; saw {seen:?}"),
        }
    }
}

#[tokio::test]
async fn a_connect_the_page_left_is_cancelled_and_never_answered() {
    let (addr, hook_calls) = start_counting_hook(Limits::default()).await;
    let mut page = Ws::open(addr, &[("cookie", "session=alice")]).await;
    // A connect that would be accepted, left before it is decided: its hook never runs.
    send_together(&mut page, &[&format!("40{NS},{{\"path\":\"/rooms/general\"}}"), &format!("41{NS},")]).await;
    // One that would be refused (no route), left likewise: no CONNECT_ERROR comes.
    send_together(&mut page, &[&format!("40{NS},{{\"path\":\"/nowhere\"}}"), &format!("41{NS},")]).await;
    page.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
    let before = until_connected(&mut page).await;
    assert!(before.iter().all(|p| !p.starts_with("44")), "an answer to a connect the page left: {before:?}");
    assert_eq!(hook_calls.load(Ordering::SeqCst), 1, "the hook ran for a connect the page had left");
    assert_eq!(page.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn the_call_limits_are_kept_when_the_page_connects_its_namespace_again() {
    // No refill: five calls, ever, per socket (and per namespace of the connection).
    let limits = Limits { calls_per_second: 0, burst: 5, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let mut page = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    for id in 1..=5 {
        assert_eq!(page.call(id, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
    }
    assert_eq!(page.call(6, "whoami", "null").await.expect("answered")["error"]["code"], json!("rate_limited"));
    page.send(&format!("41{NS},")).await;
    page.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
    until_connected(&mut page).await;
    let answer = page.call(7, "whoami", "null").await.expect("answered");
    assert_eq!(answer["error"]["code"], json!("rate_limited"), "a reconnect refilled the bucket: {answer}");
    // Another connection has its own.
    let mut other = Ws::chat(addr, Some("alice"), "/rooms/general").await;
    assert_eq!(other.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
}

#[tokio::test]
async fn a_connect_loop_starts_few_decisions_while_other_pages_go_on() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;

    let limits = Limits::default();
    let (addr, hook_calls) = start_counting_hook(limits.clone()).await;
    let (mut sink, mut stream) = Ws::open(addr, &[("cookie", "session=bob")]).await.stream.split();
    // The attacker reads everything and counts the refusals. (Past its bounds each CONNECT is
    // refused `unavailable`; answers coming faster than they leave make it a slow reader, and
    // it is dropped.)
    let reader = tokio::spawn(async move {
        let mut refused = 0usize;
        while let Some(Ok(frame)) = stream.next().await {
            if let Frame::Text(text) = frame {
                refused += usize::from(text.starts_with(&format!("44{NS},")));
            }
        }
        refused
    });
    let started = Instant::now();
    let attack = tokio::spawn(async move {
        let (connect, disconnect) = (format!("40{NS},{{\"path\":\"/rooms/general\"}}"), format!("41{NS},"));
        for batch in 0..300 {
            for _ in 0..100 {
                if sink.feed(Frame::text(connect.as_str())).await.is_err()
                    || sink.feed(Frame::text(disconnect.as_str())).await.is_err()
                {
                    return batch * 100;
                }
            }
            if sink.flush().await.is_err() {
                return batch * 100;
            }
        }
        let _ = sink.close().await;
        30_000
    });
    // Meanwhile other pages connect and call.
    let mut bystanders = 0;
    while !attack.is_finished() || bystanders < 5 {
        let mut page = Ws::chat(addr, Some("alice"), "/rooms/general").await;
        assert_eq!(page.call(1, "whoami", "null").await, Some(json!({ "ok": true, "data": "alice" })));
        bystanders += 1;
    }
    let pairs = attack.await.expect("the attack ran");
    let elapsed = started.elapsed().as_secs_f64();
    let refused = tokio::time::timeout(WAIT, reader).await.expect("the attacker's reader ends").expect("ran");
    let decisions = hook_calls.load(Ordering::SeqCst) - bystanders;
    let rate = f64::from(limits.handshakes_per_second);
    let bound = (2.0 * rate + rate * elapsed).ceil() as usize;
    eprintln!(
        "{pairs} CONNECT/DISCONNECT pairs in {elapsed:.2} s: {decisions} decisions started (bound {bound}), {refused} refused; {bystanders} other pages served"
    );
    assert!(decisions <= bound, "{decisions} decisions started, bound {bound}");
}

#[tokio::test]
async fn the_engineio_session_id_is_never_logged() {
    let logs = Logs::capture();
    let addr = common::start(Limits::default()).await.addr;
    let session = Polling::open(addr, &[("cookie", "session=alice")]).await;
    session.post(&[CONNECT_GENERAL]).await.expect("connect posted");
    assert!(session.until("40").await.is_some(), "connected over polling");
    let closed = logs.count("connection closed");
    session.post(&["1"]).await.expect("close posted");
    logs.until_more("connection closed", closed).await;
    let ws = Ws::open(addr, &[]).await;
    drop(ws);
    assert!(!logs.this_test().contains(&session.sid), "the sid {} is in the log:\n{}", session.sid, logs.this_test());
}

#[tokio::test]
async fn connects_per_connection_are_bounded_per_second() {
    let limits = Limits { handshakes_per_second: 1, ..Limits::default() };
    let (addr, hook_calls) = start_counting_hook(limits).await;
    let mut page = Ws::open(addr, &[("cookie", "session=alice")]).await;
    let started = Instant::now();
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..30 {
        page.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
        loop {
            match page.recv_packet(WAIT).await {
                Next::Text(t) if t.starts_with(&format!("40{NS},")) => accepted += 1,
                Next::Text(t) if t == refusal("unavailable") => refused += 1,
                Next::Text(_) => continue,
                other => panic!("{other:?}"),
            }
            break;
        }
        page.send(&format!("41{NS},")).await;
    }
    let bound = 2 + started.elapsed().as_secs_f64().ceil() as usize;
    assert_eq!(accepted + refused, 30);
    assert!(accepted <= bound, "{accepted} connects accepted in {:?}, bound {bound}", started.elapsed());
    assert_eq!(hook_calls.load(Ordering::SeqCst), accepted, "a refused connect ran no decision");
}
