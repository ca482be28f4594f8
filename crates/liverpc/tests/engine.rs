//! The engine core: order (Rule 7 (docs/security.md#rule-7)), bounds (Rule 5
//! (docs/security.md#rule-5)), cancellation and membership on disconnect (Rule 8
//! (docs/security.md#rule-8)), async deciders over the app's state, and the hardening of the
//! handshake (unavailable, own socket ids, websocket only, connection caps).
// The helpers below are test code too: an unwrap that fails is the test failing.
#![allow(clippy::unwrap_used)]

mod hardening_raw;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use hardening_raw::http;
use liverpc::testing::{TestClient, TestError};
use liverpc::{
    App, Context, Contract, Declarations, Deny, ErrorCode, Event, Handshake, Limits, Refuse, Rejection, key,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

/// The app's state: project rights behind an async lookup (with a delay, as a database has),
/// and a gate that holds `held` joins until the test opens it.
#[derive(Default)]
struct Store {
    rights: Mutex<HashSet<(String, String)>>,
    lookups: Mutex<usize>,
    gate: Notify,
    decided: Notify,
    cancelled: Notify,
}

impl Store {
    async fn may_follow(&self, user: &str, project: &str) -> bool {
        tokio::time::sleep(Duration::from_millis(20)).await;
        *self.lookups.lock().expect("not poisoned") += 1;
        self.rights.lock().expect("not poisoned").contains(&(user.to_owned(), project.to_owned()))
    }

    fn grant(&self, user: &str, project: &str) {
        self.rights.lock().expect("not poisoned").insert((user.to_owned(), project.to_owned()));
    }

    fn revoke(&self, user: &str, project: &str) {
        self.rights.lock().expect("not poisoned").remove(&(user.to_owned(), project.to_owned()));
    }
}

/// Notifies `cancelled` when a decision's future is dropped before it finished.
struct Cancelled<'a>(&'a Store, bool);

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.notify_one();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
struct Said {
    n: u32,
}
impl Event for Said {
    const NAME: &'static str = "said";
}

#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
struct Say {
    #[garde(skip)]
    n: u32,
    /// Work a little (yield to the runtime several times) before emitting.
    #[garde(skip)]
    slow: bool,
}

#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
struct Project {
    #[garde(length(min = 1, max = 64))]
    id: String,
}

struct Lab;

impl Contract for Lab {
    const ROUTE: &'static str = "/lab/[room]";
    const NAME: &'static str = "lab";
    type Locals = Option<String>;
    type State = Arc<Store>;
    type ToClient = (Said,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("say", say)
            .from_client("stall", |_cx: Context<Lab>, ()| std::future::pending::<Result<(), Rejection>>())
            .from_client("id", |cx: Context<Lab>, ()| {
                let id = cx.id().to_owned();
                async move { Ok::<_, Rejection>(id) }
            })
            .auto_join("room", |cx| async move { Ok(key!["room", cx.param("room")?]) })
            .expose("project", |cx, Project { id }| async move {
                let user = cx.locals().clone().ok_or(Deny)?;
                if !cx.state().may_follow(&user, &id).await {
                    return Err(Deny);
                }
                Ok(key!["project", id])
            })
            .expose("held", |cx, Project { id }| async move {
                let store = cx.state().clone();
                let mut guard = Cancelled(&store, false);
                store.decided.notify_one();
                store.gate.notified().await;
                guard.1 = true;
                Ok(key!["held", id])
            })
    }
}

async fn say(cx: Context<Lab>, Say { n, slow }: Say) -> Result<u32, Rejection> {
    if slow {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }
    let room = cx.room("room")?;
    cx.within(&room).emit(&Said { n }).await?;
    Ok(n)
}

async fn hook(handshake: Handshake) -> Result<Option<String>, Refuse> {
    match handshake.cookie("session") {
        Some("down") => Err(Refuse::Unavailable),
        user => Ok(user.map(str::to_owned)),
    }
}

struct Running {
    addr: SocketAddr,
    app: App,
    store: Arc<Store>,
}

async fn start(limits: Limits, polling: bool) -> Running {
    let store = Arc::new(Store::default());
    let app = App::builder()
        .state(store.clone())
        .hook(hook)
        .contract::<Lab>()
        .limits(limits)
        .long_polling(polling)
        .build()
        .expect("the lab contract is valid");
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("test setup")).await.expect("test setup");
    let addr = listener.local_addr().expect("test setup");
    tokio::spawn(app.serve(listener, router));
    Running { addr, app, store }
}

fn fast() -> Limits {
    // A send buffer that holds the whole burst: this is about order, not slow readers.
    Limits {
        calls_per_second: 1_000_000,
        burst: 1_000_000,
        max_in_flight: 4096,
        send_buffer: 8192,
        ..Limits::default()
    }
}

/// A page on `path`, past the report of its auto-joined room.
async fn page(addr: SocketAddr, user: &str, path: &str) -> TestClient {
    let page = TestClient::builder(addr).cookie("session", user).connect::<Lab>(path).await.expect("connects");
    let (event, status) = page.recv().await.expect("the auto-join's report");
    assert_eq!((event.as_str(), &status["status"]), ("liverpc:room", &json!("joined")));
    page
}

/// Sends `count` `say` calls back to back (raw frames, no waiting), `slow` for the first of
/// each pair when asked; asserts every member received every message once, in send order,
/// and the sender's acks came in order too.
async fn in_order(slow_first_of_pair: bool) {
    let lab = start(fast(), false).await;
    let sender = page(lab.addr, "alice", "/lab/a").await;
    let member = page(lab.addr, "bob", "/lab/a").await;
    let count = 2000u32;
    for n in 0..count {
        let slow = slow_first_of_pair && n % 2 == 0;
        let frame = format!("42{}{n}[\"say\",{{\"n\":{n},\"slow\":{slow}}}]", sender.namespace_prefix());
        sender.send_raw(&frame).expect("test setup");
    }
    for n in 0..count {
        let (event, data) = member.recv().await.expect("a message");
        assert_eq!((event.as_str(), data), ("said", json!({ "n": n })), "member, message {n}");
    }
    for n in 0..count {
        let (event, data) = sender.recv().await.expect("its own message");
        assert_eq!((event.as_str(), data), ("said", json!({ "n": n })), "sender, message {n}");
    }
    drop(lab.app);
}

#[tokio::test]
async fn calls_of_one_socket_run_in_the_order_sent_and_their_emits_arrive_in_order() {
    in_order(false).await;
}

#[tokio::test]
async fn order_holds_when_the_first_call_of_each_pair_is_slow() {
    in_order(true).await;
}

#[tokio::test]
async fn acks_come_back_in_the_order_sent() {
    let lab = start(fast(), false).await;
    let sender = page(lab.addr, "alice", "/lab/b").await;
    let calls: Vec<_> = (0..200u32).map(|n| sender.call("say", json!({ "n": n, "slow": n % 2 == 0 }))).collect();
    let answers = futures_util::future::join_all(calls).await;
    for (n, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.expect("answered"), json!(n));
    }
    let typed: u32 = sender.call_as("say", json!({ "n": 200, "slow": false })).await.unwrap();
    assert_eq!(typed, 200);
}

#[tokio::test]
async fn an_async_decider_reads_the_state_and_a_revoked_right_is_refused_at_the_next_join() {
    let lab = start(Limits::default(), false).await;
    lab.store.grant("alice", "apollo");
    let alice = page(lab.addr, "alice", "/lab/a").await;
    alice.join("project", Some(json!({ "id": "apollo" }))).await.expect("granted in the store");
    let refused = alice.join("project", Some(json!({ "id": "gemini" }))).await.unwrap_err();
    assert_eq!(refused.rejection().map(|r| r.code), Some(ErrorCode::Forbidden));

    lab.store.revoke("alice", "apollo");
    alice.leave("project", Some(json!({ "id": "apollo" }))).await.unwrap();
    let refused = alice.join("project", Some(json!({ "id": "apollo" }))).await.unwrap_err();
    assert_eq!(refused.rejection().map(|r| r.code), Some(ErrorCode::Forbidden), "the store said no");
    assert_eq!(*lab.store.lookups.lock().expect("not poisoned"), 3, "every join asked the store");
}

#[tokio::test]
async fn a_held_join_does_not_hold_other_sockets() {
    let lab = start(Limits::default(), false).await;
    let waiting = page(lab.addr, "carol", "/lab/c").await;
    let other = page(lab.addr, "dave", "/lab/c").await;
    let held = waiting.join("held", Some(json!({ "id": "h" })));
    let others = async {
        lab.store.decided.notified().await;
        // While carol's join waits on the store, dave's calls and deliveries go on.
        assert_eq!(other.call("say", json!({ "n": 7, "slow": false })).await.unwrap(), json!(7));
        assert_eq!(other.recv().await.unwrap(), ("said".to_owned(), json!({ "n": 7 })));
        lab.store.gate.notify_one();
    };
    let (joined, ()) = tokio::join!(held, others);
    joined.expect("the held join completes once released");
    let chat = lab.app.emitter::<Lab>().unwrap();
    assert_eq!(chat.to(&key!["held", "h"]).emit(&Said { n: 1 }).await.unwrap(), 1);
}

#[tokio::test]
async fn a_join_in_flight_when_the_page_leaves_is_cancelled_and_joins_nothing() {
    let lab = start(Limits::default(), false).await;
    let leaving = page(lab.addr, "carol", "/lab/c").await;
    leaving
        .send_raw(&format!(
            "42{}1[\"liverpc:join\",{{\"room\":\"held\",\"data\":{{\"id\":\"x\"}}}}]",
            leaving.namespace_prefix()
        ))
        .unwrap();
    lab.store.decided.notified().await;
    leaving.close();
    // The decision's future is dropped: the engine cancelled the socket's work.
    lab.store.cancelled.notified().await;
    lab.store.gate.notify_waiters();
    let chat = lab.app.emitter::<Lab>().unwrap();
    assert_eq!(chat.to(&key!["held", "x"]).emit(&Said { n: 1 }).await.unwrap(), 0, "no member");
    assert_eq!(chat.to(&key!["room", "c"]).emit(&Said { n: 1 }).await.unwrap(), 0, "not in its auto-joined room");
}

#[tokio::test]
async fn a_handler_over_its_time_is_answered_timeout_and_the_socket_goes_on() {
    let lab = start(Limits { handler_timeout: Duration::from_millis(200), ..Limits::default() }, false).await;
    let alice = page(lab.addr, "alice", "/lab/a").await;
    let err = alice.call("stall", Value::Null).await.unwrap_err();
    assert_eq!(err.rejection().map(|r| r.code), Some(ErrorCode::Timeout), "{err}");
    assert!(alice.call("id", Value::Null).await.is_ok());
}

#[tokio::test]
async fn calls_in_flight_per_socket_are_bounded() {
    let limits = Limits { max_in_flight: 4, handler_timeout: Duration::from_secs(1), ..Limits::default() };
    let lab = start(limits, false).await;
    let alice = page(lab.addr, "alice", "/lab/a").await;
    // One call runs (and stalls until its timeout), three wait: the next two are refused.
    let answers = futures_util::future::join_all(
        std::iter::once(alice.call("stall", Value::Null)).chain((0..5).map(|_| alice.call("id", Value::Null))),
    )
    .await;
    let codes: Vec<Option<ErrorCode>> =
        answers.iter().map(|a| a.as_ref().err().and_then(TestError::rejection).map(|r| r.code)).collect();
    let limited = Some(ErrorCode::RateLimited);
    assert_eq!(codes, [Some(ErrorCode::Timeout), None, None, None, limited, limited]);
}

#[tokio::test]
async fn a_hook_that_cannot_decide_now_refuses_unavailable() {
    let lab = start(Limits::default(), false).await;
    let refused = TestClient::builder(lab.addr).cookie("session", "down").connect::<Lab>("/lab/a").await;
    assert!(matches!(refused, Err(TestError::Refused(ref code)) if code == "unavailable"), "{:?}", refused.err());
}

#[tokio::test]
async fn the_socket_id_is_not_the_engine_io_session_id() {
    let lab = start(Limits::default(), false).await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", lab.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = ws.next().await.unwrap().unwrap().into_text().unwrap();
    let open: Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    ws.send(Message::text(r#"40/lab/[room]/lab,{"path":"/lab/a"}"#)).await.unwrap();
    // As the official client does: call once the CONNECT is answered (the first ping may come
    // before the answer).
    loop {
        let text = ws.next().await.unwrap().unwrap().into_text().unwrap();
        if text.starts_with("40/lab/[room]/lab,") {
            break;
        }
    }
    ws.send(Message::text(r#"42/lab/[room]/lab,1["id",null]"#)).await.unwrap();
    let id = loop {
        let text = ws.next().await.unwrap().unwrap().into_text().unwrap();
        if let Some(ack) = text.strip_prefix("43/lab/[room]/lab,1") {
            let ack: Value = serde_json::from_str(ack).unwrap();
            break ack[0]["data"].as_str().unwrap().to_owned();
        }
    };
    assert_ne!(id, sid);
    assert!(!id.contains(&sid) && id.len() == 32, "{id} vs {sid}");
}

#[tokio::test]
async fn long_polling_is_off_unless_asked_for() {
    let polling = "/socket.io/?EIO=4&transport=polling";
    let off = start(Limits::default(), false).await;
    assert_eq!(http(off.addr, "GET", polling, &[], b"").await.unwrap().status, 400);
    let on = start(Limits::default(), true).await;
    assert_eq!(http(on.addr, "GET", polling, &[], b"").await.unwrap().status, 200);
}

#[tokio::test]
async fn room_names_echoed_in_errors_are_bounded_and_plain() {
    let lab = start(Limits::default(), false).await;
    let alice = page(lab.addr, "alice", "/lab/a").await;
    let name = format!("\u{202E}{}\u{0007}", "r".repeat(60_000));
    let err = alice.join(&name, None).await.unwrap_err();
    let rejection = err.rejection().expect("answered");
    assert_eq!(rejection.code, ErrorCode::NotFound);
    assert!(rejection.message.len() < 100, "{} chars", rejection.message.len());
    assert!(!rejection.message.contains('\u{202E}'));
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_while_another_address_connects() {
    let lab = start(Limits { max_connections_per_address: 8, ..Limits::default() }, false).await;
    let mut flood = Vec::new();
    for _ in 0..8 {
        flood.push(tokio::net::TcpStream::connect(lab.addr).await.unwrap());
    }
    // The ninth from the same address is closed at once, without an answer.
    let mut ninth = tokio::net::TcpStream::connect(lab.addr).await.unwrap();
    let _ = ninth.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut buf = [0u8; 64];
    assert_eq!(ninth.read(&mut buf).await.unwrap_or(0), 0, "closed unanswered");

    // Another address is served (Linux routes all of 127.0.0.0/8 to loopback).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(lab.addr).await.unwrap();
    other.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    other.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&response));

    // A slot frees when a connection closes.
    drop(flood.pop());
    let mut again = loop {
        let mut tcp = tokio::net::TcpStream::connect(lab.addr).await.unwrap();
        tcp.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
        let mut response = Vec::new();
        let _ = tcp.read_to_end(&mut response).await;
        if !response.is_empty() {
            break response;
        }
        // The server has not seen the close yet; try again once it has had a turn.
        tokio::task::yield_now().await;
    };
    assert!(again.starts_with(b"HTTP/1.1 404"));
    again.clear();
}

/// Connections handed over from another server (the TypeScript front-end's Node server hands
/// its websockets over so) count against the same caps as those the accept loop takes.
#[tokio::test]
async fn handed_over_connections_count_against_the_same_caps() {
    let lab = start(Limits { max_connections_per_address: 2, ..Limits::default() }, false).await;
    let router = lab.app.attach(axum::Router::new());
    let from = |ip: &str| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket
    };
    let request = b"GET /nothing HTTP/1.1\r\nhost: x\r\n\r\n";
    let answered = |mut tcp: tokio::net::TcpStream| async move {
        tcp.write_all(request).await.unwrap();
        let mut buf = [0u8; 12];
        let n = tcp.read(&mut buf).await.unwrap_or(0);
        (buf[..n].starts_with(b"HTTP/1.1 404"), tcp)
    };
    // One through the accept loop, kept alive once answered (so it is surely counted).
    let (served, _kept) = answered(from("127.0.0.3").connect(lab.addr).await.unwrap()).await;
    assert!(served);
    // Handed over: a listener of the test's own stands in for Node's.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hand_over = || async {
        let client = from("127.0.0.3").connect(elsewhere.local_addr().unwrap()).await.unwrap();
        let (tcp, peer) = elsewhere.accept().await.unwrap();
        (client, lab.app.serve_connection(router.clone(), tcp, Vec::new(), Some(peer)))
    };
    let (second, serving) = hand_over().await;
    let second_task = tokio::spawn(serving);
    let (second_served, second) = answered(second).await;
    assert!(second_served, "the second from the address is served");
    // The third is over the cap: closed at once, unanswered.
    let (mut third, serving) = hand_over().await;
    assert!(serving.now_or_never().is_some(), "refused without being served");
    let mut buf = [0u8; 16];
    assert_eq!(third.read(&mut buf).await.unwrap_or(0), 0, "closed unanswered");
    // A slot frees when a handed-over connection closes.
    drop(second);
    second_task.await.unwrap();
    let (fourth, serving) = hand_over().await;
    tokio::spawn(serving);
    assert!(answered(fourth).await.0, "served once a slot is free");
}

/// A page may call the moment it has its CONNECT answer: the socket's handlers are in place
/// before that answer is sent, so a call racing it is never dropped unanswered. 200 pages
/// each call at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_right_after_the_connect_answer_is_answered() {
    let lab = start(Limits::default(), false).await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", lab.addr);
    for n in 0..200 {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("upgrade");
        ws.next().await.expect("open").expect("open");
        ws.send(Message::text(r#"40/lab/[room]/lab,{"path":"/lab/a"}"#)).await.expect("send");
        let connected = loop {
            let text = ws.next().await.expect("answer").expect("answer").into_text().expect("text");
            if text != "2" {
                break text; // (the first Engine.IO ping comes at once)
            }
        };
        assert!(connected.starts_with("40/lab/[room]/lab,"), "{connected}");
        ws.send(Message::text(r#"42/lab/[room]/lab,1["id",null]"#)).await.expect("send");
        loop {
            let text = ws.next().await.expect("an ack").expect("an ack").into_text().expect("text");
            if text.starts_with("43/lab/[room]/lab,1") {
                break;
            }
            assert!(text.starts_with("42/lab/[room]/lab,[\"liverpc:room\"") || text == "2", "page {n}: {text}");
        }
    }
}
