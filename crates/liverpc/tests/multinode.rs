//! Several nodes on one Redis (issue 12): each test starts a real `redis-server` on a free loopback
//! port and two or three apps in this process, each with `.redis(url)` on its own port. Rooms span
//! the nodes; Redis going away degrades to local delivery and comes back by itself (Rule 6
//! (docs/security.md#rule-6)); order and exactly-once hold across nodes (Rule 7
//! (docs/security.md#rule-7)). No test waits on a sleep: every wait is for an event, with a
//! deadline.

mod common;
mod hardening_raw;
mod redis_server;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Chat, Notice, Users};
use hardening_raw::{Logs, NS, Next, WAIT, Ws};
use liverpc::testing::TestClient;
use liverpc::{App, Contract, Declarations, Limits, OriginPolicy, key};
use redis_server::{Gate, RedisServer};
use serde_json::{Value, json};
use tokio::time::Instant;

/// One node of the app.
struct Node {
    addr: SocketAddr,
    app: App,
}

async fn node(redis: &RedisServer, limits: Limits) -> Node {
    node_at(&redis.url(), limits).await
}

async fn node_at(url: &str, limits: Limits) -> Node {
    let app = App::builder()
        .hook(common::hook(Users::default()))
        .contract::<Chat>()
        .contract::<Lobby>()
        .limits(limits)
        .origins(OriginPolicy::any())
        .redis(url)
        .build()
        .expect("the fixture contract is valid");
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("an address")).await.expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(app.serve(listener, router));
    Node { addr, app }
}

/// Limits that let a burst of calls through: these tests are about delivery, not rate limits.
fn fast() -> Limits {
    Limits {
        calls_per_second: 1_000_000,
        burst: 1_000_000,
        max_in_flight: 4096,
        send_buffer: 8192,
        ..Limits::default()
    }
}

/// A page of `user` on `path`, past its auto-joined chat room's `joined` report.
async fn tab(node: &Node, user: &str, path: &str) -> TestClient {
    let page = TestClient::builder(node.addr).cookie("session", user).connect::<Chat>(path).await.expect("connects");
    let (event, status) = page.recv().await.expect("the auto-join's report");
    assert_eq!((event.as_str(), &status["status"]), ("liverpc:room", &json!("joined")), "{status}");
    page
}

/// The text of the next `message` event.
async fn next_text(page: &TestClient) -> String {
    let (event, data) = page.recv().await.expect("a message");
    assert_eq!(event, "message", "{data}");
    data["text"].as_str().expect("a text").to_owned()
}

async fn send(page: &TestClient, text: &str) -> Value {
    page.call("send", json!({ "text": text })).await.expect("sent")
}

#[tokio::test]
async fn a_message_sent_on_one_node_reaches_the_room_on_every_node_and_no_other_room() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let general_a = tab(&a, "alice", "/rooms/general").await;
    let general_b = tab(&b, "bob", "/rooms/general").await;
    let random_a = tab(&a, "alice", "/rooms/random").await;
    let random_b = tab(&b, "carol", "/rooms/random").await;

    // `delivered` counts this node's members: bob alone on node B.
    assert_eq!(send(&general_b, "hello from b").await, json!({ "delivered": 1 }));
    assert_eq!(next_text(&general_a).await, "hello from b");
    assert_eq!(next_text(&general_b).await, "hello from b");
    assert_eq!(send(&general_a, "hello from a").await, json!({ "delivered": 1 }));
    assert_eq!(next_text(&general_b).await, "hello from a");
    assert_eq!(next_text(&general_a).await, "hello from a");

    // A barrier sent by node B after its general message: had the general message reached the
    // random room, it would come first (messages of one node arrive in order).
    send(&random_b, "random barrier").await;
    assert_eq!(next_text(&random_a).await, "random barrier");
    assert_eq!(next_text(&random_b).await, "random barrier");
}

#[tokio::test]
async fn an_exposed_join_on_one_node_receives_the_typed_emitter_of_another_at_once() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let chat_b = b.app.emitter::<Chat>().expect("registered");
    for round in 0..20 {
        let alice = tab(&a, "alice", "/rooms/general").await;
        let project = format!("apollo-{round}");
        // Alice may follow apollo only; any other project is refused as usual.
        alice.join("project", Some(json!({ "projectId": "apollo" }))).await.expect("alice follows apollo");
        // No wait between the join's answer and the emit on the other node: `ok` means every
        // later message of the room reaches the socket.
        let notice = Notice { text: format!("deploy {round}") };
        assert_eq!(chat_b.to(&key!["project", "apollo"]).emit(&notice).await.expect("emitted"), 0, "none on B");
        assert_eq!(alice.recv_event::<Notice>().await.expect("the notice"), notice, "{project}");
        alice.close();
    }
}

#[tokio::test]
async fn a_join_is_answered_only_once_its_room_is_subscribed() {
    let redis = RedisServer::start().await;
    // Node A reaches Redis through a gate that can hold what A sends.
    let gate = Gate::to(&redis).await;
    let (a, b) = (node_at(&gate.url(), Limits::default()).await, node(&redis, Limits::default()).await);
    let alice = tab(&a, "alice", "/rooms/general").await;
    gate.close();
    let join = alice.join("project", Some(json!({ "projectId": "apollo" })));
    tokio::pin!(join);
    // Held (well under the 2 s after which a node counts Redis as down): no answer, because
    // node A's SUBSCRIBE has not reached Redis, and a message sent now would not reach alice.
    let early = tokio::time::timeout(Duration::from_millis(300), &mut join).await;
    assert!(early.is_err(), "answered before the room's channel was subscribed: {early:?}");
    gate.open();
    join.await.expect("alice follows apollo");
    let notice = Notice { text: "right after the join".into() };
    b.app.emitter::<Chat>().expect("registered").to(&key!["project", "apollo"]).emit(&notice).await.expect("emitted");
    assert_eq!(alice.recv_event::<Notice>().await.expect("the notice"), notice);
}

#[tokio::test]
async fn a_thousand_messages_reach_every_member_on_every_node_once_and_in_order() {
    const COUNT: usize = 1000;
    let redis = RedisServer::start().await;
    let nodes = [node(&redis, fast()).await, node(&redis, fast()).await, node(&redis, fast()).await];
    let sender = tab(&nodes[1], "bob", "/rooms/general").await;
    let mut members = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        members.push((i, tab(node, "alice", "/rooms/general").await));
        members.push((i, tab(node, "carol", "/rooms/general").await));
    }
    // Back to back, without waiting for answers.
    for n in 0..COUNT {
        let frame = format!("42{}{n}[\"send\",{{\"text\":\"{n}\"}}]", sender.namespace_prefix());
        sender.send_raw(&frame).expect("sent");
    }
    send(&sender, "end").await;
    for (node, member) in members.iter().chain(std::iter::once(&(1, sender))) {
        for n in 0..COUNT {
            assert_eq!(next_text(member).await, n.to_string(), "a member on node {node}, message {n}");
        }
        // Nothing twice: the next message is the one sent after the last.
        assert_eq!(next_text(member).await, "end", "a member on node {node}");
    }
}

#[tokio::test]
async fn broadcast_disconnect_on_one_node_drops_the_rooms_sockets_on_every_node() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let follower = tab(&a, "alice", "/rooms/general").await;
    follower.join("project", Some(json!({ "projectId": "apollo" }))).await.expect("alice follows apollo");
    let bystander = tab(&a, "bob", "/rooms/general").await;

    let dropped = b.app.emitter::<Chat>().expect("registered").to(&key!["project", "apollo"]).disconnect();
    assert_eq!(dropped, 0, "no member on node B");
    follower.closed().await.expect("the follower on node A is disconnected");
    assert_eq!(bystander.call("whoami", Value::Null).await.expect("answered"), json!("bob"));
}

/// A member of general on `node` that reads through a 4 KiB window, and then stops reading.
async fn slow_member(node: &Node) -> Ws {
    let mut slow = Ws::open_small_window(node.addr, 4096).await;
    slow.send(&format!("40{NS},{{\"path\":\"/rooms/general\"}}")).await;
    assert!(matches!(slow.recv_packet(WAIT).await, Next::Text(t) if t.starts_with("40")));
    assert!(matches!(slow.recv_packet(WAIT).await, Next::Text(t) if t.contains("liverpc:room")));
    slow
}

/// The sequence number of a `notice` frame whose text is `"<seq> ..."`.
fn notice_seq(frame: &str) -> Option<u64> {
    let text = frame.strip_prefix(&format!("42{NS},[\"notice\",{{\"text\":\""))?;
    text.split(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_fed_from_another_node_is_disconnected_and_the_others_get_everything() {
    const COUNT: u64 = 400;
    let redis = RedisServer::start().await;
    let limits = Limits { send_buffer: 8, ..Limits::default() };
    let (a, b) = (node(&redis, limits.clone()).await, node(&redis, limits).await);
    let mut reader = Ws::chat(a.addr, Some("bob"), "/rooms/general").await;
    let mut slow = slow_member(&a).await;
    let chat_b = b.app.emitter::<Chat>().expect("registered");
    let room = key!["chat", "general"];
    let padding = "x".repeat(32 * 1024);
    // Each emit on B waits until the reader on A has the one before: the reader is never
    // behind, whatever the machine's load; only the member that does not read falls behind.
    for seq in 0..COUNT {
        chat_b.to(&room).emit(&Notice { text: format!("{seq} {padding}") }).await.expect("emit");
        match reader.recv_packet(WAIT).await {
            Next::Text(t) => assert_eq!(notice_seq(&t), Some(seq)),
            other => panic!("the reading member lost message {seq}: {other:?}"),
        }
    }
    // The slow member reads now: an unbroken prefix, then its disconnect, never a gap.
    let mut got = Vec::new();
    let end = loop {
        match slow.recv(WAIT).await {
            Next::Text(t) if t == format!("41{NS},") => break "disconnect packet",
            Next::Text(t) => got.extend(notice_seq(&t)),
            Next::Closed => break "closed",
            Next::Timeout => break "still connected",
        }
    };
    assert_ne!(end, "still connected", "the slow reader on node A was never disconnected");
    let expected: Vec<u64> = (0..got.len() as u64).collect();
    assert_eq!(got, expected, "an unbroken prefix");
    assert!((got.len() as u64) < COUNT, "dropped before the end: got {}", got.len());
}

/// Sends probes from `from` until `to` receives one (deadline `within`), then a barrier that
/// `to` reads up to: afterwards both pages have nothing pending. Returns how long it took.
async fn until_delivered(from: &TestClient, to: &TestClient, within: Duration, tag: &str) -> Duration {
    let started = Instant::now();
    let deadline = started + within;
    let mut probe = 0;
    let probing = loop {
        let text = format!("{tag} probe {probe}");
        send(from, &text).await;
        assert_eq!(next_text(from).await, text, "local delivery on the sending node");
        let arrived = tokio::time::timeout(Duration::from_millis(200), to.recv()).await;
        if let Ok(Ok((_, data))) = arrived {
            break data;
        }
        assert!(Instant::now() < deadline, "{tag}: cross-node delivery did not resume within {within:?}");
        probe += 1;
    };
    let took = started.elapsed();
    assert!(probing["text"].as_str().is_some_and(|t| t.starts_with(&format!("{tag} probe"))), "{probing}");
    let barrier = format!("{tag} barrier");
    send(from, &barrier).await;
    loop {
        let text = next_text(to).await;
        if text == barrier {
            break;
        }
        assert!(text.starts_with(&format!("{tag} probe")), "only probes before the barrier: {text}");
    }
    assert_eq!(next_text(from).await, barrier);
    took
}

/// The log lines of this test that contain `what`.
fn lines(logs: &Logs, what: &str) -> usize {
    logs.this_test().lines().filter(|l| l.contains(what)).count()
}

const OUTAGE: &str = "Redis is unreachable";
const BACK: &str = "Redis is back";

#[tokio::test]
async fn redis_killed_local_delivery_goes_on_and_restarted_cross_node_delivery_resumes() {
    let logs = Logs::capture();
    let mut redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let on_a = tab(&a, "alice", "/rooms/general").await;
    let also_on_a = tab(&a, "carol", "/rooms/general").await;
    let on_b = tab(&b, "bob", "/rooms/general").await;
    until_delivered(&on_b, &on_a, WAIT, "before").await;
    assert_eq!(next_text(&also_on_a).await, "before probe 0");
    assert_eq!(next_text(&also_on_a).await, "before barrier");

    redis.kill();
    // Local delivery goes on at once on each node, whatever Redis does.
    for round in 0..5 {
        let text = format!("during {round}");
        assert_eq!(send(&on_a, &text).await, json!({ "delivered": 2 }));
        assert_eq!(next_text(&on_a).await, text);
        assert_eq!(next_text(&also_on_a).await, text);
        assert_eq!(send(&on_b, &text).await, json!({ "delivered": 1 }));
        assert_eq!(next_text(&on_b).await, text);
    }
    // Both nodes notice the outage (an event to wait for, with a deadline).
    let deadline = Instant::now() + Duration::from_secs(15);
    while lines(&logs, OUTAGE) < 2 {
        assert!(Instant::now() < deadline, "the outage was not logged:\n{}", logs.this_test());
        tokio::time::sleep(Duration::from_millis(50)).await; // polling the log
    }
    // What node B sent during the outage never reaches node A: at most once.
    redis.restart().await;
    let resumed_ab = until_delivered(&on_a, &on_b, Duration::from_secs(5), "after a->b").await;
    let resumed_ba = until_delivered(&on_b, &on_a, Duration::from_secs(5), "after b->a").await;
    eprintln!("cross-node delivery resumed {resumed_ab:?} after Redis answered again (then b->a: {resumed_ba:?})");
    // carol on A saw a's own messages and b's after-outage ones only; drain them.
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(100), also_on_a.recv()).await {}

    let text = logs.this_test();
    assert_eq!(lines(&logs, OUTAGE), 2, "one error line per node for the outage:\n{text}");
    assert_eq!(lines(&logs, "ERROR"), 2, "no other error:\n{text}");
    assert_eq!(lines(&logs, BACK), 2, "one line per node for its end:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[tokio::test]
async fn killed_pubsub_connections_are_resubscribed_without_restarting_a_node() {
    let logs = Logs::capture();
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let on_a = tab(&a, "alice", "/rooms/general").await;
    let on_b = tab(&b, "bob", "/rooms/general").await;
    until_delivered(&on_b, &on_a, WAIT, "before").await;

    let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]).await.expect("an answer");
    assert!(killed.starts_with(':') && killed != ":0", "both nodes' subscribed connections: {killed}");
    until_delivered(&on_b, &on_a, Duration::from_secs(5), "after b->a").await;
    until_delivered(&on_a, &on_b, Duration::from_secs(5), "after a->b").await;

    let text = logs.this_test();
    assert!(lines(&logs, OUTAGE) <= 2, "at most one error line per node:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
}

// Presence.

/// What a lobby member shows the others.
#[derive(serde::Serialize, ts_rs::TS)]
struct Shown {
    name: String,
}

/// A lobby per URL whose members see each other's names (from the locals, never the page).
struct Lobby;

impl Contract for Lobby {
    const ROUTE: &'static str = "/lobby/[roomId]";
    const NAME: &'static str = "lobby";
    type Locals = common::Locals;
    type State = ();
    type ToClient = (Notice,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .auto_join("lobby", |cx| async move { Ok(key!["lobby", cx.param("roomId")?]) })
            .presence("lobby", |locals| locals.user.as_ref().map(|u| Shown { name: u.name.clone() }))
    }
}

/// A page of `user` in the general lobby, past its `joined` report.
async fn lobby(node: SocketAddr, user: &str) -> TestClient {
    let page =
        TestClient::builder(node).cookie("session", user).connect::<Lobby>("/lobby/general").await.expect("connects");
    let (event, status) = page.recv().await.expect("the auto-join's report");
    assert_eq!((event.as_str(), &status["status"]), ("liverpc:room", &json!("joined")), "{status}");
    page
}

/// The next `liverpc:presence` event's payload.
async fn presence(page: &TestClient) -> Value {
    let (event, data) = page.recv().await.expect("a presence event");
    assert_eq!(event, "liverpc:presence", "{data}");
    data
}

/// A snapshot's members as (id, name), sorted by name.
fn members(snapshot: &Value) -> Vec<(String, String)> {
    let mut members: Vec<(String, String)> = snapshot["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (m["id"].as_str().unwrap_or_default().to_owned(), m["data"]["name"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    members.sort_by(|a, b| a.1.cmp(&b.1));
    members
}

#[tokio::test]
async fn presence_spans_nodes_snapshot_on_join_then_joins_and_leaves() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, Limits::default()).await, node(&redis, Limits::default()).await);
    let alice = lobby(a.addr, "alice").await;
    let mine = presence(&alice).await;
    let alice_id = mine["self"].as_str().expect("its own id").to_owned();
    assert_eq!(mine["room"], "lobby");
    assert_eq!(members(&mine), [(alice_id.clone(), "alice".to_owned())]);

    let bob = lobby(b.addr, "bob").await;
    let his = presence(&bob).await;
    let bob_id = his["self"].as_str().expect("its own id").to_owned();
    assert_eq!(members(&his), [(alice_id.clone(), "alice".to_owned()), (bob_id.clone(), "bob".to_owned())]);
    assert_eq!(presence(&alice).await, json!({ "room": "lobby", "join": { "id": bob_id, "data": { "name": "bob" } } }));

    bob.close();
    assert_eq!(presence(&alice).await, json!({ "room": "lobby", "leave": bob_id }));
    // A later member on either node sees alice alone.
    let carol = lobby(b.addr, "carol").await;
    let names: Vec<String> = members(&presence(&carol).await).into_iter().map(|(_, name)| name).collect();
    assert_eq!(names, ["alice", "carol"]);
}

#[tokio::test]
async fn a_dead_nodes_members_leave_every_snapshot_at_once_and_live_pages_within_the_sweep() {
    let redis = RedisServer::start().await;
    let a = node(&redis, Limits::default()).await;
    let alice = lobby(a.addr, "alice").await;
    presence(&alice).await;
    // A member listed by a node whose key has expired (it died): never shown, then swept.
    let ns = "/lobby/[roomId]/lobby";
    let hash = format!("liverpc:presence:{}:{ns}[\"lobby\",\"general\"]", ns.len());
    let ghost = r#"{"name":"ghost"}"#;
    assert_eq!(redis.command(&["HSET", &hash, "deadnode|ghost", ghost]).await.as_deref(), Some(":1"));
    let bob = lobby(a.addr, "bob").await;
    let names: Vec<String> = members(&presence(&bob).await).into_iter().map(|(_, name)| name).collect();
    assert_eq!(names, ["alice", "bob"], "the dead node's member is not in the snapshot");
    // alice saw bob join; then the sweep (every 5 s) announces the ghost's leave, once.
    assert_eq!(presence(&alice).await["join"]["data"]["name"], "bob");
    let deadline = Instant::now() + Duration::from_secs(15);
    let leave = loop {
        match tokio::time::timeout(Duration::from_millis(500), alice.recv()).await {
            Ok(Ok((_, data))) => break data,
            _ => assert!(Instant::now() < deadline, "the dead node's member never left"),
        }
    };
    assert_eq!(leave, json!({ "room": "lobby", "leave": "ghost" }));
    assert_eq!(presence(&bob).await, json!({ "room": "lobby", "leave": "ghost" }));
    assert_eq!(redis.command(&["HEXISTS", &hash, "deadnode|ghost"]).await.as_deref(), Some(":0"), "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_node_that_dies_leave_within_the_documented_bound() {
    let redis = RedisServer::start().await;
    let a = node(&redis, Limits::default()).await;
    let alice = lobby(a.addr, "alice").await;
    presence(&alice).await;

    // Node B runs on its own runtime; dropping the runtime kills the node without a goodbye:
    // no leave is published, its Redis connection and heartbeat stop.
    let url = redis.url();
    let (started, addr) = tokio::sync::oneshot::channel();
    let (kill, killed) = tokio::sync::oneshot::channel::<()>();
    let b = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build();
        let runtime = runtime.expect("a runtime for node B");
        let node = runtime.block_on(node_at(&url, Limits::default()));
        let _ = started.send(node.addr);
        let _ = runtime.block_on(killed);
        drop(node);
        runtime.shutdown_background();
    });
    let b_addr = addr.await.expect("node B started");
    let bob = lobby(b_addr, "bob").await;
    let bob_id = presence(&bob).await["self"].as_str().expect("its own id").to_owned();
    assert_eq!(presence(&alice).await["join"]["id"], json!(bob_id));

    let _ = kill.send(());
    b.join().expect("node B's thread");
    // Node B's key expires 10 s after its last heartbeat; node A sweeps every 5 s: bob's leave
    // reaches alice within 15 s (a deadline for the event, with slack for a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(30);
    let leave = loop {
        match tokio::time::timeout(Duration::from_millis(500), alice.recv()).await {
            Ok(Ok((_, data))) => break data,
            _ => assert!(Instant::now() < deadline, "the dead node's member never left"),
        }
    };
    assert_eq!(leave, json!({ "room": "lobby", "leave": bob_id }));
    let carol = lobby(a.addr, "carol").await;
    let names: Vec<String> = members(&presence(&carol).await).into_iter().map(|(_, name)| name).collect();
    assert_eq!(names, ["alice", "carol"]);
}
