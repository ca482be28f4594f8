//! Room streams across nodes on one Redis (issue 20): each test starts a real `redis-server` on
//! a free loopback port and two apps in this process, each with `.redis(url)`. A room with
//! history (the fixture's `feed`, 256 messages) keeps its stream in Redis, so every node gives
//! a message the same position and a page recovers on whichever node it reconnects to. No test
//! waits on a sleep: every wait is for an event, with a deadline.

mod common;
mod redis_server;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Chat, Message, Notice, Users};
use liverpc::testing::TestClient;
use liverpc::{App, Contract, Declarations, History, Limits, OriginPolicy, Position, key};
use redis_server::{Gate, RedisCluster, RedisServer};
use serde_json::{Value, json};
use tokio::time::Instant;

/// One node of the app.
struct Node {
    addr: SocketAddr,
    app: App,
}

async fn node(redis: &RedisServer) -> Node {
    node_at(&redis.url()).await
}

async fn node_at(url: &str) -> Node {
    let limits = Limits { send_buffer: 8192, ..Limits::default() };
    let app = App::builder()
        .hook(common::hook(Users::default()))
        .contract::<Chat>()
        .contract::<Feed>()
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

/// A page of `user` on `/rooms/general`, past its auto-joined chat room's report.
async fn page(node: &Node, user: &str) -> TestClient {
    page_in(node, user, "general").await
}

/// A page of `user` on `/rooms/<room>`, past its auto-joined chat room's report.
async fn page_in(node: &Node, user: &str, room: &str) -> TestClient {
    let path = format!("/rooms/{room}");
    let page = TestClient::builder(node.addr).cookie("session", user).connect::<Chat>(&path).await.expect("connects");
    let (event, status) = page.recv().await.expect("the auto-join's report");
    assert_eq!((event.as_str(), &status["status"]), ("liverpc:room", &json!("joined")), "{status}");
    page
}

/// Joins the general feed, carrying `since` as the page's client does on a rejoin; the answer's
/// data (`{ position, recovered? }`).
async fn join_feed(page: &TestClient, since: Option<&Position>) -> Value {
    let mut request = json!({ "room": "feed" });
    if let Some(since) = since {
        request["since"] = json!([since]);
    }
    let answer = page.emit_with_ack(&json!(["liverpc:join", request])).await.expect("an answer");
    assert_eq!(answer["ok"], json!(true), "{answer}");
    answer["data"].clone()
}

fn position_of(answer: &Value) -> Position {
    serde_json::from_value(answer["position"].clone()).expect("a position")
}

/// The next message's text and position.
async fn next(page: &TestClient) -> (String, Option<Position>) {
    let (event, data, position) = page.recv_positioned().await.expect("a message");
    assert_eq!(event, "message", "{data}");
    (data["text"].as_str().expect("a text").to_owned(), position)
}

fn message(text: impl Into<String>) -> Message {
    Message { room: "feed/general".into(), from: "server".into(), text: text.into() }
}

/// Emits `label-1` to `label-n` to the general feed from `node`.
async fn fill(node: &Node, label: &str, n: usize) {
    let feed = node.app.emitter::<Chat>().expect("registered");
    for i in 1..=n {
        feed.to(&key!["feed", "general"]).emit(&message(format!("{label}-{i}"))).await.expect("emitted");
    }
}

/// Reads `label-1` to `label-n` from `page`, in order, with consecutive offsets after `after`;
/// returns the last position.
async fn read(page: &TestClient, label: &str, n: usize, after: &Position) -> Position {
    let mut last = after.clone();
    for i in 1..=n {
        let (text, position) = next(page).await;
        assert_eq!(text, format!("{label}-{i}"));
        let position = position.expect("a message of a room with history has a position");
        assert_eq!((&position.epoch, position.offset), (&last.epoch, last.offset + 1), "{label}-{i}");
        last = position;
    }
    last
}

#[tokio::test]
async fn every_node_gives_a_message_the_same_position_and_a_killed_page_recovers_200_on_the_other() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let alice = page(&a, "alice").await;
    let start = position_of(&join_feed(&alice, None).await);
    let watcher = page(&b, "bob").await;
    assert_eq!(position_of(&join_feed(&watcher, None).await), start, "both nodes read one stream");

    fill(&b, "before", 1).await;
    let seen = read(&alice, "before", 1, &start).await;
    assert_eq!(read(&watcher, "before", 1, &start).await, seen, "the same position on node A and node B");

    // Alice's websocket dies; 200 messages are sent to her room from node B meanwhile.
    drop(alice);
    fill(&b, "missed", 200).await;
    let top = read(&watcher, "missed", 200, &seen).await;

    // She comes back on node B, with her last position: all 200, in order, once, then live.
    let alice = page(&b, "alice").await;
    let answer = join_feed(&alice, Some(&seen)).await;
    assert_eq!(answer["recovered"], json!(true), "{answer}");
    assert_eq!(read(&alice, "missed", 200, &seen).await, top);
    assert_eq!(position_of(&answer), top, "the answer's position is after the replay");
    fill(&a, "live", 1).await;
    assert_eq!(read(&alice, "live", 1, &top).await.offset, top.offset + 1, "nothing twice before it");
    assert_eq!(read(&watcher, "live", 1, &top).await.offset, top.offset + 1);
}

#[tokio::test]
async fn a_page_that_missed_more_than_the_window_is_told_it_was_not_recovered() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let alice = page(&a, "alice").await;
    let start = position_of(&join_feed(&alice, None).await);
    drop(alice);
    // The feed keeps 256: 300 later, what she missed is gone.
    let watcher = page(&b, "bob").await;
    join_feed(&watcher, None).await;
    fill(&a, "gone", 300).await;
    let top = read(&watcher, "gone", 300, &start).await;

    let alice = page(&b, "alice").await;
    let answer = join_feed(&alice, Some(&start)).await;
    assert_eq!(answer["recovered"], json!(false), "{answer}");
    assert_eq!(position_of(&answer), top, "live messages start after the stream's position");
    // No replay: the next message is the live one.
    fill(&a, "live", 1).await;
    assert_eq!(read(&alice, "live", 1, &top).await.offset, top.offset + 1);
}

#[tokio::test]
async fn a_redis_restarted_empty_gives_the_stream_a_new_epoch_and_the_page_is_told() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let alice = page(&a, "alice").await;
    let start = position_of(&join_feed(&alice, None).await);
    fill(&a, "before", 3).await;
    let seen = read(&alice, "before", 3, &start).await;
    drop(alice);

    redis.restart().await;
    // Both nodes are back on Redis once a message emitted on A reaches a member on B.
    let watcher = page(&b, "bob").await;
    join_feed(&watcher, None).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        fill(&a, "probe", 1).await;
        if let Ok(Ok((_, data, Some(position)))) =
            tokio::time::timeout(Duration::from_millis(200), watcher.recv_positioned()).await
        {
            assert_eq!(data["text"], "probe-1");
            break position;
        }
        assert!(Instant::now() < deadline, "node B never received node A's messages after the restart");
    };
    assert_ne!(after.epoch, seen.epoch, "a stream lost with Redis has a new epoch");

    let alice = page(&b, "alice").await;
    let answer = join_feed(&alice, Some(&seen)).await;
    assert_eq!(answer["recovered"], json!(false), "{answer}");
    assert_eq!(position_of(&answer).epoch, after.epoch);
}

#[tokio::test]
async fn an_emit_to_a_room_without_history_does_not_overtake_an_earlier_one_with_history() {
    // Rule 7: on Redis, a room with history reaches this node's members back from its channel;
    // a later emit to a room without history, delivered here at once, must wait behind it.
    let redis = RedisServer::start().await;
    let a = node(&redis).await;
    let alice = page(&a, "alice").await;
    join_feed(&alice, None).await;
    let emitter = a.app.emitter::<Chat>().expect("registered");
    let chat = |text: String| Message { room: "chat/general".into(), from: "server".into(), text };
    // Runs of each (kept, kept, plain, plain, kept, ...), queued before the bus sends any.
    let mut expected = Vec::new();
    for i in 1..=40 {
        if matches!(i % 5, 3 | 4) {
            expected.push(format!("plain-{i}"));
            emitter.to(&key!["chat", "general"]).emit(&chat(format!("plain-{i}"))).await.expect("emitted");
        } else {
            expected.push(format!("kept-{i}"));
            emitter.to(&key!["feed", "general"]).emit(&message(format!("kept-{i}"))).await.expect("emitted");
        }
    }
    let mut texts = Vec::new();
    for _ in 0..expected.len() {
        texts.push(next(&alice).await.0);
    }
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn history_read_on_one_node_has_what_another_node_sent() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let room = key!["feed", "general"];
    fill(&a, "kept", 5).await;
    // A node's reads follow its own emits: node A's read has all five, so Redis has them.
    let on_a = a.app.emitter::<Chat>().expect("registered").history(&room, 3).await.expect("a history");
    let on_b = b.app.emitter::<Chat>().expect("registered").history(&room, 3).await.expect("a history");
    let texts: Vec<String> =
        on_b.messages.iter().map(|m| m.payload.get().to_owned()).filter_map(|p| text_of(&p)).collect();
    assert_eq!(texts, ["kept-3", "kept-4", "kept-5"]);
    let offsets: Vec<u64> = on_b.messages.iter().map(|m| m.position.offset).collect();
    assert_eq!(offsets, [3, 4, 5]);
    assert_eq!(on_b.position, on_a.position);
    assert_eq!(on_b.position.offset, 5);

    // A page handed that position joins exactly after it.
    let alice = page(&b, "alice").await;
    let answer = join_feed(&alice, Some(&on_b.position)).await;
    assert_eq!(answer["recovered"], json!(true), "{answer}");
    fill(&a, "next", 1).await;
    assert_eq!(read(&alice, "next", 1, &on_b.position).await.offset, 6);
}

#[tokio::test]
async fn after_an_outage_a_room_its_node_could_not_append_to_has_a_new_epoch() {
    let redis = RedisServer::start().await;
    // Node A reaches Redis through a gate that can hold what A sends; Redis keeps its data.
    let gate = Gate::to(&redis).await;
    let (a, b) = (node_at(&gate.url()).await, node(&redis).await);
    let carol = page(&a, "carol").await;
    let start = position_of(&join_feed(&carol, None).await);
    let (alice, bob) = (page(&b, "alice").await, page(&b, "bob").await);
    join_feed(&alice, None).await;
    join_feed(&bob, None).await;
    fill(&a, "before", 1).await;
    let seen = read(&alice, "before", 1, &start).await;
    assert_eq!(read(&carol, "before", 1, &start).await, seen);
    assert_eq!(read(&bob, "before", 1, &start).await, seen);
    drop(alice);

    gate.close();
    // Node A's appends do not reach Redis: its own members get them, without a position.
    fill(&a, "during", 3).await;
    for i in 1..=3 {
        assert_eq!(next(&carol).await, (format!("during-{i}"), None));
    }
    gate.open();
    // Once node A is back, the stream it could not append to starts a new epoch, and bob, who
    // stayed connected on node B and missed what A sent meanwhile, is told so before it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut told = None;
    let after = loop {
        fill(&a, "probe", 1).await;
        while let Ok(Ok((event, data, position))) =
            tokio::time::timeout(Duration::from_millis(200), bob.recv_positioned()).await
        {
            if event == "liverpc:room" {
                told = Some(data);
                continue;
            }
            let position = position.expect("a positioned message");
            if position.epoch != seen.epoch {
                break;
            }
            assert!(told.is_none(), "told before the new epoch: {told:?}");
        }
        if let Some(status) = &told {
            break position_of(status);
        }
        assert!(Instant::now() < deadline, "the stream kept its epoch after the outage");
    };
    let status = told.expect("told");
    assert_eq!((&status["room"], &status["recovered"]), (&json!("feed"), &json!(false)), "{status}");
    assert_ne!(after.epoch, seen.epoch);
    assert_eq!(after.offset, 0, "the position before the new epoch's first message");

    // Alice missed it too: her rejoin is not recovered, never handed a stream with a hole.
    let alice = page(&b, "alice").await;
    let answer = join_feed(&alice, Some(&seen)).await;
    assert_eq!(answer["recovered"], json!(false), "{answer}");
    assert_eq!(position_of(&answer).epoch, after.epoch);
}

fn text_of(payload: &str) -> Option<String> {
    serde_json::from_str::<Value>(payload).ok()?["text"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn with_redis_down_a_room_with_history_is_delivered_on_its_node_and_a_rejoin_is_not_recovered() {
    let mut redis = RedisServer::start().await;
    let a = node(&redis).await;
    let alice = page(&a, "alice").await;
    let start = position_of(&join_feed(&alice, None).await);
    fill(&a, "before", 1).await;
    let seen = read(&alice, "before", 1, &start).await;

    redis.kill();
    fill(&a, "during", 3).await;
    for i in 1..=3 {
        assert_eq!(next(&alice).await, (format!("during-{i}"), None), "local delivery, without a position");
    }
    let carol = page(&a, "carol").await;
    let answer = join_feed(&carol, Some(&seen)).await;
    assert_eq!(answer["recovered"], json!(false), "what was missed cannot be known: {answer}");
    assert!(
        a.app.emitter::<Chat>().expect("registered").history(&key!["feed", "general"], 10).await.is_err(),
        "history needs Redis"
    );
}

/// A feed per URL, auto-joined, that keeps its last 64 notices: its recovery rides on the
/// handshake (the page's client sends its positions in the connect's auth).
struct Feed;

impl Contract for Feed {
    const ROUTE: &'static str = "/feeds/[feedId]";
    const NAME: &'static str = "feed";
    type Locals = common::Locals;
    type State = ();
    type ToClient = (Notice,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .auto_join("feed", |cx| async move { Ok(key!["feed", cx.param("feedId")?]) })
            .history("feed", History::last(64))
    }
}

/// Connects to the `news` feed on `node` with the page's last positions.
async fn feed_page(node: &Node, since: Option<&Position>) -> TestClient {
    let mut auth = json!({ "path": "/feeds/news" });
    if let Some(since) = since {
        auth["since"] = json!([since]);
    }
    TestClient::builder(node.addr).connect_namespace("/feeds/[feedId]/feed", Some(auth)).await.expect("connects")
}

/// The next `notice` and its position.
async fn notice(page: &TestClient) -> (String, Position) {
    let (event, data, position) = page.recv_positioned().await.expect("a notice");
    assert_eq!(event, "notice", "{data}");
    (data["text"].as_str().expect("a text").to_owned(), position.expect("a position"))
}

/// The auto-join's report.
async fn report(page: &TestClient) -> Value {
    let (event, status) = page.recv().await.expect("the auto-join's report");
    assert_eq!((event.as_str(), &status["status"]), ("liverpc:room", &json!("joined")), "{status}");
    status
}

#[tokio::test]
async fn an_auto_joined_room_recovers_on_the_other_node_from_the_handshakes_positions() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let news = b.app.emitter::<Feed>().expect("registered");
    let send = |text: String| {
        let news = news.clone();
        async move { news.to(&key!["feed", "news"]).emit(&Notice { text }).await.expect("emitted") }
    };
    let page = feed_page(&a, None).await;
    let start: Position = serde_json::from_value(report(&page).await["position"].clone()).expect("a position");
    let watcher = feed_page(&b, None).await;
    report(&watcher).await;
    send("first".into()).await;
    let (_, seen) = notice(&page).await;
    assert_eq!(seen.offset, start.offset + 1);
    assert_eq!(notice(&watcher).await.1, seen);

    drop(page);
    for n in 0..50 {
        send(format!("missed {n}")).await;
    }
    for n in 0..50 {
        assert_eq!(notice(&watcher).await.0, format!("missed {n}"));
    }
    // Back on node B: the replay comes first, then the report says it was recovered.
    let page = feed_page(&b, Some(&seen)).await;
    for n in 0..50u64 {
        let (text, at) = notice(&page).await;
        assert_eq!((text, at.offset), (format!("missed {n}"), seen.offset + 1 + n));
    }
    let status = report(&page).await;
    assert_eq!(status["recovered"], json!(true), "{status}");
    assert_eq!(status["position"]["offset"], json!(seen.offset + 50));
    send("live".into()).await;
    assert_eq!(notice(&page).await, ("live".to_owned(), Position { offset: seen.offset + 51, ..seen }));
}

#[tokio::test]
async fn on_a_redis_cluster_rooms_spread_over_the_shards_and_recover_across_nodes() {
    const ROOMS: usize = 12;
    let cluster = RedisCluster::start().await;
    let (a, b) = (node_at(&cluster.url()).await, node_at(&cluster.url()).await);
    let feed = b.app.emitter::<Chat>().expect("registered");
    let mut pages = Vec::new();
    for i in 0..ROOMS {
        let room = format!("r{i}");
        let page = page_in(&a, "alice", &room).await;
        let start = position_of(&join_feed(&page, None).await);
        feed.to(&key!["feed", &room]).emit(&message(format!("{room} hello"))).await.expect("emitted");
        let (text, position) = next(&page).await;
        assert_eq!(text, format!("{room} hello"), "sharded pub/sub from node B to node A");
        let position = position.expect("a position");
        assert_eq!((&position.epoch, position.offset), (&start.epoch, start.offset + 1));
        pages.push((room, page, position));
    }
    // Each room's keys live on its slot's shard: every master holds some of them.
    for (i, master) in cluster.nodes().iter().enumerate() {
        assert!(master.keys().await > 0, "master {i} holds no room");
    }

    // A page killed while node B sends 20 to its room recovers them on node B.
    let (room, page, seen) = pages.swap_remove(0);
    drop(page);
    for n in 1..=20 {
        feed.to(&key!["feed", &room]).emit(&message(format!("missed-{n}"))).await.expect("emitted");
    }
    // Node B's read follows its own appends: all 20 are in the stream now.
    let top = feed.history(&key!["feed", &room], 1).await.expect("a history").position;
    assert_eq!(top.offset, seen.offset + 20);
    let page = page_in(&b, "alice", &room).await;
    let answer = join_feed(&page, Some(&seen)).await;
    assert_eq!(answer["recovered"], json!(true), "{answer}");
    assert_eq!(read(&page, "missed", 20, &seen).await, top);

    // Presence on the cluster: members listed from both nodes, joins announced across them.
    let alice = page_in(&a, "alice", "general").await;
    alice.join("team", None).await.expect("alice joins her team");
    assert_eq!(names(&next_presence(&alice).await), ["alice"]);
    let bob = page_in(&b, "bob", "general").await;
    bob.join("team", None).await.expect("bob joins his team");
    assert_eq!(names(&next_presence(&bob).await), ["alice", "bob"]);
    assert_eq!(next_presence(&alice).await["join"]["data"]["name"], "bob");
}

/// The next `liverpc:presence` event's payload.
async fn next_presence(page: &TestClient) -> Value {
    let (event, data) = page.recv().await.expect("a presence event");
    assert_eq!(event, "liverpc:presence", "{data}");
    data
}

/// A presence snapshot's member names, sorted.
fn names(snapshot: &Value) -> Vec<String> {
    let members = snapshot["members"].as_array().expect("members");
    let mut names: Vec<String> = members.iter().filter_map(|m| m["data"]["name"].as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

#[tokio::test]
async fn on_a_redis_cluster_a_killed_master_fails_over_and_delivery_goes_on_without_a_node_restart() {
    const ROOMS: usize = 6;
    let mut cluster = RedisCluster::start_with(1).await;
    let (a, b) = (node_at(&cluster.url()).await, node_at(&cluster.url()).await);
    let feed = b.app.emitter::<Chat>().expect("registered");
    let mut pages = Vec::new();
    for i in 0..ROOMS {
        let room = format!("f{i}");
        let page = page_in(&a, "alice", &room).await;
        join_feed(&page, None).await;
        feed.to(&key!["feed", &room]).emit(&message("before")).await.expect("emitted");
        assert_eq!(next(&page).await.0, "before");
        pages.push((room, page));
    }

    let masters = cluster.masters().await;
    assert_eq!(masters.len(), 3);
    cluster.kill(masters[0]);
    // Its replica takes over (an event to wait for, with a deadline).
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.masters().await.len() < 3 {
        assert!(Instant::now() < deadline, "no replica took over the killed master: {:?}", cluster.masters().await);
        tokio::time::sleep(Duration::from_millis(100)).await; // polling the cluster's state
    }
    cluster.settled().await;

    // Every room is delivered from node B to node A again, neither node restarted.
    for (room, page) in &pages {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut probe = 0;
        loop {
            feed.to(&key!["feed", room]).emit(&message(format!("after {probe}"))).await.expect("emitted");
            if let Ok(Ok((_, data, Some(_)))) =
                tokio::time::timeout(Duration::from_millis(200), page.recv_positioned()).await
            {
                assert!(data["text"].as_str().is_some_and(|t| t.starts_with("after")), "{data}");
                break;
            }
            assert!(Instant::now() < deadline, "room {room} was not delivered after the failover");
            probe += 1;
        }
    }
}
