//! The tutorial's three checkpoints, at the protocol level.

mod common;

use common::{Chat, Message};
use liverpc::testing::{TestClient, TestError};
use liverpc::{ErrorCode, Limits, Rejection};
use serde_json::json;

/// "Open /rooms/general and /rooms/random in separate tabs. A message in general should not
/// appear in random because the two URLs produce different room identifiers."
#[tokio::test]
async fn a_message_in_general_never_reaches_random() {
    let addr = common::start(Limits::default()).await.addr;
    let general_a = TestClient::builder(addr).connect::<Chat>("/rooms/general").await.unwrap();
    let general_b = TestClient::builder(addr).connect::<Chat>("/rooms/general").await.unwrap();
    let random = TestClient::builder(addr).connect::<Chat>("/rooms/random").await.unwrap();
    let random_sender = TestClient::builder(addr).connect::<Chat>("/rooms/random").await.unwrap();
    for client in [&general_a, &general_b, &random, &random_sender] {
        let (event, status) = client.recv().await.unwrap();
        assert_eq!((event.as_str(), &status), ("liverpc:room", &json!({ "room": "chat", "status": "joined" })));
    }

    let sent = general_a.call("send", json!({ "text": "hello general" })).await.unwrap();
    assert_eq!(sent, json!({ "delivered": 2 }), "both general tabs, the sender included");
    let expected = Message { room: "general".into(), from: "anonymous".into(), text: "hello general".into() };
    assert_eq!(general_b.recv_event::<Message>().await.unwrap(), expected);
    assert_eq!(general_a.recv_event::<Message>().await.unwrap(), expected);

    // The general broadcast completed before its ack; a later message in random is therefore
    // queued behind anything general could have sent to the random tab.
    random_sender.call("send", json!({ "text": "marker" })).await.unwrap();
    let first = random.recv_event::<Message>().await.unwrap();
    assert_eq!((first.room.as_str(), first.text.as_str()), ("random", "marker"));
}

/// "Connect without a valid session and confirm the tenant room fails on the server instead of
/// accepting a tenantId from the page."
#[tokio::test]
async fn the_tenant_room_fails_without_a_session() {
    let addr = common::start(Limits::default()).await.addr;
    let anonymous = TestClient::builder(addr).connect::<Chat>("/rooms/general").await.unwrap();
    let err = anonymous.join("tenant", None).await.unwrap_err();
    assert_eq!(err.rejection(), Some(&Rejection::forbidden("forbidden")));

    // A page cannot supply the tenant: a private room takes no payload.
    let err = anonymous.join("tenant", Some(json!({ "tenantId": "acme" }))).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::InvalidPayload));

    // Signed in, the same request joins the tenant of the session, and tenant messages arrive.
    let alice = TestClient::builder(addr).cookie("session", "alice").connect::<Chat>("/rooms/general").await.unwrap();
    let bob = TestClient::builder(addr).cookie("session", "bob").connect::<Chat>("/rooms/random").await.unwrap();
    let carol = TestClient::builder(addr).cookie("session", "carol").connect::<Chat>("/rooms/general").await.unwrap();
    for client in [&alice, &bob, &carol] {
        client.recv().await.unwrap(); // the chat room's status
        client.join("tenant", None).await.unwrap();
    }
    let sent = alice.call("post", json!({ "room": "tenant", "text": "acme only" })).await.unwrap();
    assert_eq!(sent, json!({ "delivered": 1 }), "bob, not alice herself, not carol of globex");
    let got = bob.recv_event::<Message>().await.unwrap();
    assert_eq!((got.room.as_str(), got.text.as_str()), ("tenant/acme", "acme only"));
}

/// "Try joining a project the user cannot access. The channel should reject the join without
/// leaking room state."
#[tokio::test]
async fn a_project_join_without_access_is_forbidden_and_leaks_nothing() {
    let addr = common::start(Limits::default()).await.addr;
    let alice = TestClient::builder(addr).cookie("session", "alice").connect::<Chat>("/rooms/general").await.unwrap();
    let bob = TestClient::builder(addr).cookie("session", "bob").connect::<Chat>("/rooms/general").await.unwrap();
    for client in [&alice, &bob] {
        client.recv().await.unwrap();
    }
    alice.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();

    // gemini exists and has a member; "nope" exists nowhere: the answers are identical.
    let exists = bob.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap_err();
    let missing = bob.join("project", Some(json!({ "projectId": "nope" }))).await.unwrap_err();
    let (TestError::Rejected(exists), TestError::Rejected(missing)) = (exists, missing) else {
        panic!("both joins must be answered with a rejection");
    };
    assert_eq!(exists, Rejection::forbidden("forbidden"));
    assert_eq!(exists, missing);
    assert_eq!(serde_json::to_value(&exists).unwrap(), json!({ "code": "forbidden", "message": "forbidden" }));

    // A member's socket receives the project's messages; bob's never does.
    let carol_free_member =
        TestClient::builder(addr).cookie("session", "alice").connect::<Chat>("/rooms/x").await.unwrap();
    carol_free_member.recv().await.unwrap();
    carol_free_member.join("project", Some(json!({ "projectId": "gemini" }))).await.unwrap();
    let sent = carol_free_member.call("post", json!({ "room": "project", "text": "secret" })).await.unwrap();
    assert_eq!(sent, json!({ "delivered": 1 }));
    let got = alice.recv_event::<Message>().await.unwrap();
    assert_eq!(got.text, "secret");
    // bob's next event is the marker from his own chat room, not the project's message.
    alice.call("send", json!({ "text": "marker" })).await.unwrap();
    let next = bob.recv_event::<Message>().await.unwrap();
    assert_eq!(next.text, "marker");
    // And bob cannot post to a room he is not in.
    let err = bob.call("post", json!({ "room": "project", "text": "let me in" })).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::Forbidden));
}
