//! One or more tests per Rule of docs/security.md (security and reliability), against a real
//! server: Rules 1 to 5 here. The others have their own suites: Rule 6
//! (docs/security.md#rule-6) and order across nodes in tests/multinode.rs (on a redis-server
//! it starts), Rule 7 (docs/security.md#rule-7) and Rule 8 (docs/security.md#rule-8) in
//! tests/engine.rs, and the limits' hostile cases in tests/hardening*.rs.

mod common;

use common::{Chat, Message, Notice};
use liverpc::testing::{TestClient, TestError};
use liverpc::{ErrorCode, Limits, Rejection, key};
use serde_json::{Value, json};

async fn tab(addr: std::net::SocketAddr, session: Option<&str>, path: &str) -> TestClient {
    let mut builder = TestClient::builder(addr);
    if let Some(session) = session {
        builder = builder.cookie("session", session);
    }
    let client = builder.connect::<Chat>(path).await.expect("connects");
    let (event, _) = client.recv().await.expect("the chat room's status");
    assert_eq!(event, "liverpc:room");
    client
}

fn code(result: Result<Value, TestError>) -> ErrorCode {
    match result {
        Err(TestError::Rejected(r)) => r.code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// Rule 1 (docs/security.md#rule-1): the page never supplies a private room's key, a param, or an identity.

#[tokio::test]
async fn rule1_params_and_identity_come_from_the_server_only() {
    let addr = common::start(Limits::default()).await.addr;
    // Extra auth fields claiming another room and another user are ignored.
    let auth =
        json!({ "path": "/rooms/general", "roomId": "random", "params": { "roomId": "random" }, "user": "alice" });
    let client = TestClient::builder(addr).connect_namespace("/rooms/[roomId]/chat", Some(auth)).await.unwrap();
    client.recv().await.unwrap();
    assert_eq!(client.call("whoami", Value::Null).await.unwrap(), Value::Null, "no identity from auth");
    client.call("send", json!({ "text": "hi" })).await.unwrap();
    assert_eq!(client.recv_event::<Message>().await.unwrap().room, "general", "the room comes from the path");
}

#[tokio::test]
async fn rule1_a_private_room_key_cannot_be_sent() {
    let addr = common::start(Limits::default()).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    for data in [json!(["chat", "random"]), json!({ "roomId": "random" }), json!("random")] {
        let err = alice.join("chat", Some(data)).await.unwrap_err();
        assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::InvalidPayload));
    }
    // Still in general only: the send reaches alice alone.
    assert_eq!(alice.call("send", json!({ "text": "x" })).await.unwrap(), json!({ "delivered": 1 }));
    assert_eq!(alice.recv_event::<Message>().await.unwrap().room, "general");
}

// Rule 2 (docs/security.md#rule-2): a refused join answers exactly forbidden; the socket receives nothing of that room.

#[tokio::test]
async fn rule2_refusals_are_identical_and_exact() {
    let addr = common::start(Limits::default()).await.addr;
    let anonymous = tab(addr, None, "/rooms/general").await;
    let bob = tab(addr, Some("bob"), "/rooms/general").await;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();
    let answers = [
        anonymous.emit_with_ack(&json!(["liverpc:join", { "room": "tenant" }])).await.unwrap(),
        anonymous
            .emit_with_ack(&json!(["liverpc:join", { "room": "project", "data": { "projectId": "apollo" } }]))
            .await
            .unwrap(),
        bob.emit_with_ack(&json!(["liverpc:join", { "room": "project", "data": { "projectId": "gemini" } }]))
            .await
            .unwrap(),
        bob.emit_with_ack(&json!(["liverpc:join", { "room": "project", "data": { "projectId": "no-such" } }]))
            .await
            .unwrap(),
    ];
    for answer in answers {
        assert_eq!(answer, json!({ "ok": false, "error": { "code": "forbidden", "message": "forbidden" } }));
    }
}

// Rule 3 (docs/security.md#rule-3): invalid input gets a clear code and affects nothing else; panics answer `internal`.

#[tokio::test]
async fn rule3_invalid_calls_are_answered_and_harmless() {
    let addr = common::start(Limits::default()).await.addr;
    let client = tab(addr, Some("alice"), "/rooms/general").await;
    let other = tab(addr, Some("bob"), "/rooms/general").await;

    assert_eq!(code(client.call("nope", Value::Null).await), ErrorCode::NotFound);
    assert_eq!(code(client.call("liverpc:nope", Value::Null).await), ErrorCode::NotFound);
    assert_eq!(code(client.call("send", json!({ "text": 5 })).await), ErrorCode::InvalidPayload);
    assert_eq!(code(client.call("send", json!({ "text": "" })).await), ErrorCode::InvalidPayload);
    assert_eq!(code(client.call("send", json!({ "text": "a", "admin": true })).await), ErrorCode::InvalidPayload);
    assert_eq!(code(client.call("send", json!("text")).await), ErrorCode::InvalidPayload);
    assert_eq!(code(client.call("send", Value::Null).await), ErrorCode::InvalidPayload);
    assert_eq!(code(client.emit_with_ack(&json!(["send"])).await.and_then(answer)), ErrorCode::InvalidPayload);
    let issues = match client.call("send", json!({ "text": 5 })).await {
        Err(TestError::Rejected(Rejection { issues: Some(issues), .. })) => issues,
        other => panic!("expected issues, got {other:?}"),
    };
    assert_eq!(issues[0].path, "text");
    assert_eq!(code(client.join("nope", None).await.map(|()| Value::Null)), ErrorCode::NotFound);
    assert_eq!(
        code(client.emit_with_ack(&json!(["liverpc:join", "tenant"])).await.and_then(answer)),
        ErrorCode::InvalidPayload
    );
    assert_eq!(
        code(client.emit_with_ack(&json!(["liverpc:join", { "room": "tenant", "extra": 1 }])).await.and_then(answer)),
        ErrorCode::InvalidPayload
    );

    // Both sockets still work.
    assert_eq!(client.call("whoami", Value::Null).await.unwrap(), json!("alice"));
    assert_eq!(other.call("whoami", Value::Null).await.unwrap(), json!("bob"));
}

fn answer(envelope: Value) -> Result<Value, TestError> {
    match envelope["ok"].as_bool() {
        Some(true) => Ok(envelope["data"].clone()),
        _ => Err(TestError::Rejected(serde_json::from_value(envelope["error"].clone()).expect("an error envelope"))),
    }
}

#[tokio::test]
async fn rule3_malformed_packets_leave_everyone_else_unaffected() {
    let addr = common::start(Limits::default()).await.addr;
    let other = tab(addr, Some("bob"), "/rooms/general").await;
    for frame in [
        "4abc",
        "42{}",
        "42abc[",
        "42[1,2]",
        "42[{\"x\":1}]",
        "4299999999999999999999[\"whoami\",null]",
        "451-[\"send\",{\"_placeholder\":true,\"num\":0}]",
    ] {
        let victim = tab(addr, Some("alice"), "/rooms/general").await;
        let prefixed = format!("{}{}{}", &frame[..2], victim.namespace_prefix(), &frame[2..]);
        victim.send_raw(&prefixed).unwrap();
        // Either the server closes this socket or it keeps answering; never anything else.
        match victim.call("whoami", Value::Null).await {
            Ok(name) => assert_eq!(name, json!("alice"), "after {frame}"),
            Err(TestError::Closed) => {}
            Err(e) => panic!("after {frame}: {e}"),
        }
        assert_eq!(other.call("whoami", Value::Null).await.unwrap(), json!("bob"), "after {frame}");
    }
    // Deep nesting is refused by the JSON parser's depth limit, not by a stack overflow.
    let victim = tab(addr, Some("alice"), "/rooms/general").await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let answer = victim.call("send", serde_json::value::RawValue::from_string(deep).unwrap()).await;
    assert!(matches!(answer, Err(TestError::Rejected(_) | TestError::Closed)), "{answer:?}");
    assert_eq!(other.call("whoami", Value::Null).await.unwrap(), json!("bob"));
}

#[tokio::test]
async fn rule3_panics_are_caught_and_answered_internal() {
    let addr = common::start(Limits::default()).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    // In a handler.
    assert_eq!(
        alice.call("boom", Value::Null).await.unwrap_err().rejection(),
        Some(&Rejection::new(ErrorCode::Internal, "internal server error"))
    );
    // In an authorizer.
    let err = alice.join("project", Some(json!({ "projectId": "panic" }))).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::Internal));
    // In the hook: the handshake is refused `internal`.
    let refused = TestClient::builder(addr).cookie("session", "panic").connect::<Chat>("/rooms/general").await;
    assert!(matches!(refused, Err(TestError::Refused(ref c)) if c == "internal"), "{:?}", refused.err());
    // The server and the socket are fine.
    assert_eq!(alice.call("whoami", Value::Null).await.unwrap(), json!("alice"));
}

#[tokio::test]
async fn refused_handshakes_carry_a_code() {
    let addr = common::start(Limits::default()).await.addr;
    let refusal = |r: Result<TestClient, TestError>| match r {
        Err(TestError::Refused(code)) => code,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    };
    assert_eq!(refusal(TestClient::builder(addr).connect::<Chat>("/nope").await), "not_found");
    assert_eq!(refusal(TestClient::builder(addr).connect::<Chat>("/rooms").await), "not_found");
    assert_eq!(refusal(TestClient::builder(addr).connect_namespace("/rooms/[roomId]/chat", None).await), "not_found");
    let mallory = TestClient::builder(addr).cookie("session", "mallory").connect::<Chat>("/rooms/general").await;
    assert_eq!(refusal(mallory), "unauthenticated");
    // An unknown namespace is refused by the transport.
    assert!(TestClient::builder(addr).connect_namespace("/rooms/general/chat", None).await.is_err());
}

#[tokio::test]
async fn a_second_connect_on_the_namespace_changes_nothing() {
    let addr = common::start(Limits::default()).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();
    alice.send_raw(&format!("40{}{}", alice.namespace_prefix(), json!({ "path": "/rooms/random" }))).unwrap();
    // Same identity, same rooms: the chat room is still general's, the project still joined.
    assert_eq!(alice.call("whoami", Value::Null).await.unwrap(), json!("alice"));
    alice.call("send", json!({ "text": "still here" })).await.unwrap();
    assert_eq!(alice.recv_event::<Message>().await.unwrap().room, "general");
    let sent = alice.call("post", json!({ "room": "project", "text": "p" })).await.unwrap();
    assert_eq!(sent, json!({ "delivered": 0 }), "in the project room (nobody else is)");
}

// Rule 4 (docs/security.md#rule-4): origin policy on by default.

#[tokio::test]
async fn rule4_cross_site_handshakes_are_refused_before_the_hook() {
    let addr = common::start(Limits::default()).await.addr;
    let connect = |origin: String, session: &'static str| {
        TestClient::builder(addr).header("origin", &origin).cookie("session", session).connect::<Chat>("/rooms/general")
    };
    // "panic" would make the hook panic: refused `forbidden_origin` proves the hook never ran.
    let evil = connect("https://evil.example".into(), "panic").await;
    assert!(matches!(evil, Err(TestError::Refused(ref c)) if c == "forbidden_origin"), "{:?}", evil.err());
    let evil = connect("null".into(), "alice").await;
    assert!(matches!(evil, Err(TestError::Refused(ref c)) if c == "forbidden_origin"), "{:?}", evil.err());
    assert!(connect(format!("http://{addr}"), "alice").await.is_ok(), "same origin");
    assert!(connect("http://allowed.example".into(), "alice").await.is_ok(), "configured origin");
}

// Rule 5 (docs/security.md#rule-5): bounded everything.

#[tokio::test]
async fn rule5_payload_size_is_bounded() {
    let limits = Limits { max_payload: 1024, ..Limits::default() };
    let addr = common::start(limits).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    let big = "x".repeat(1500);
    assert_eq!(code(alice.call("send", json!({ "text": big })).await), ErrorCode::TooLarge);
    assert_eq!(alice.call("whoami", Value::Null).await.unwrap(), json!("alice"));
    // Over twice the limit, the transport closes the connection.
    let huge = "x".repeat(10_000);
    assert!(matches!(alice.call("send", json!({ "text": huge })).await, Err(TestError::Closed)));
}

#[tokio::test]
async fn rule5_rooms_per_socket_are_bounded() {
    let addr = common::start(Limits { max_rooms: 2, ..Limits::default() }).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await; // chat: 1 room
    alice.join("project", Some(json!({ "projectId": "apollo" }))).await.unwrap(); // 2 rooms
    alice.join("project", Some(json!({ "projectId": "apollo" }))).await.unwrap(); // same room again: fine
    let err = alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::RateLimited));
    alice.leave("project", Some(json!({ "projectId": "apollo" }))).await.unwrap();
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();
}

#[tokio::test]
async fn rule5_calls_per_second_are_bounded() {
    let addr = common::start(Limits { calls_per_second: 1, burst: 5, ..Limits::default() }).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    let answers = futures_util::future::join_all((0..20).map(|_| alice.call("whoami", Value::Null))).await;
    let ok = answers.iter().filter(|a| a.is_ok()).count();
    let limited =
        answers.iter().filter(|a| matches!(a, Err(TestError::Rejected(r)) if r.code == ErrorCode::RateLimited)).count();
    assert!((5..=6).contains(&ok), "burst of 5 (+1 refill): {ok} ok");
    assert_eq!(ok + limited, 20);
    // Another socket has its own budget.
    let bob = tab(addr, Some("bob"), "/rooms/general").await;
    assert_eq!(bob.call("whoami", Value::Null).await.unwrap(), json!("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule5_a_slow_reader_is_disconnected_and_others_get_everything() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;

    let server = common::start(Limits { send_buffer: 8, ..Limits::default() }).await;
    let reader = tab(server.addr, Some("bob"), "/rooms/general").await;

    // A raw client that joins general and then never reads again.
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut slow, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    slow.next().await.unwrap().unwrap(); // open
    slow.send(Frame::text(r#"40/rooms/[roomId]/chat,{"path":"/rooms/general"}"#)).await.unwrap();
    // Until the auto-join's report (the first ping may come before the CONNECT answer).
    loop {
        let frame = slow.next().await.unwrap().unwrap().into_text().unwrap();
        if frame.contains("liverpc:room") {
            break;
        }
    }

    let chat = server.app.emitter::<Chat>().unwrap();
    let room = key!["chat", "general"];
    let text = "x".repeat(60_000);
    let mut dropped_after = None;
    for i in 0..2_000 {
        let notice = Notice { text: format!("{i} {text}") };
        let delivered = chat.to(&room).emit(&notice).await.unwrap();
        // The reading member gets every message, in order.
        let got = reader.recv_event::<Notice>().await.unwrap();
        assert!(got.text.starts_with(&format!("{i} ")));
        if delivered == 1 {
            dropped_after = Some(i);
            break;
        }
    }
    let dropped_after = dropped_after.expect("the slow reader must be disconnected");
    assert!(dropped_after > 8, "not before its buffer filled: {dropped_after}");
    // The next broadcast reaches only the reader: the slow socket left the room.
    assert_eq!(chat.to(&room).emit(&Notice { text: "after".into() }).await.unwrap(), 1);
    drop(slow);
}

// Emitting from anywhere, and typed emitters.

#[tokio::test]
async fn an_emitter_reaches_a_room_from_outside_any_socket() {
    let server = common::start(Limits::default()).await;
    let general = tab(server.addr, None, "/rooms/general").await;
    let random = tab(server.addr, None, "/rooms/random").await;
    let chat = server.app.emitter::<Chat>().unwrap();
    let delivered = chat.to(&key!["chat", "general"]).emit(&Notice { text: "from a timer".into() }).await.unwrap();
    assert_eq!(delivered, 1);
    assert_eq!(general.recv_event::<Notice>().await.unwrap().text, "from a timer");
    chat.to(&key!["chat", "random"]).emit(&Notice { text: "marker".into() }).await.unwrap();
    assert_eq!(random.recv_event::<Notice>().await.unwrap().text, "marker", "random got nothing before");
    // Room keys are injective: ["chat:general"] is not ["chat", "general"].
    assert_eq!(chat.to(&key!["chat:general"]).emit(&Notice { text: "x".into() }).await.unwrap(), 0);
    assert_eq!(chat.to(&key!["chat\",\"general"]).emit(&Notice { text: "x".into() }).await.unwrap(), 0);
}

#[tokio::test]
async fn leave_stops_delivery_and_is_idempotent() {
    let addr = common::start(Limits::default()).await.addr;
    let alice = tab(addr, Some("alice"), "/rooms/general").await;
    let alice2 = tab(addr, Some("alice"), "/rooms/general").await;
    let project = json!({ "projectId": "gemini" });
    alice.join("project", Some(project.clone())).await.unwrap();
    alice2.join("project", Some(project.clone())).await.unwrap();
    // Key order does not matter to match the join.
    alice.leave("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();
    alice.leave("project", Some(project)).await.unwrap();
    assert_eq!(
        alice2.call("post", json!({ "room": "project", "text": "p" })).await.unwrap(),
        json!({ "delivered": 0 })
    );
}

#[tokio::test]
async fn an_app_can_disconnect_a_room_so_revoked_rights_take_effect() {
    let server = common::start(Limits::default()).await;
    let alice = tab(server.addr, Some("alice"), "/rooms/general").await;
    let bob = tab(server.addr, Some("bob"), "/rooms/general").await;
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();

    assert!(server.users.revoke("alice", "gemini"));
    let chat = server.app.emitter::<Chat>().unwrap();
    assert_eq!(chat.to(&key!["project", "gemini"]).disconnect(), 1);
    alice.closed().await.unwrap();
    // Others stay; the room is empty now.
    assert_eq!(bob.call("whoami", Value::Null).await.unwrap(), json!("bob"));
    assert_eq!(chat.to(&key!["project", "gemini"]).emit(&Notice { text: "x".into() }).await.unwrap(), 0);
    // Reconnected, alice's request is re-authorized with fresh locals: refused.
    let alice = tab(server.addr, Some("alice"), "/rooms/general").await;
    let err = alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap_err();
    assert_eq!(err.rejection(), Some(&Rejection::forbidden("forbidden")));
}
