//! Room streams on the Rust front-end (`Declarations::history`), over the wire as the page's
//! client speaks it: a websocket killed while 200 messages are sent gets all 200 on rejoin,
//! in order, once, before anything live (`recovered: true`); past the window it is told
//! (`recovered: false`, from which the page's client raises `missed`); a room without history
//! is unchanged; history read by [`Emitter::history`] and a join from its position continue
//! with no gap and no duplicate. Every wait is for a packet, never a sleep.
//!
//! The page here is a raw websocket (Engine.IO v4 / Socket.IO v5 by hand) because these tests
//! read what [`liverpc::testing::TestClient`] does not show: each message's position (the
//! event's second argument) and the rejoin's `since`.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use liverpc::{App, Contract, Declarations, Deny, Emitter, Event, History, Position, RoomKey, key};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The contract's namespace (`ROUTE` + `/` + `NAME`).
const NS: &str = "/feeds/[feedId]/feeds";
/// Messages each stream keeps.
const KEPT: usize = 256;
/// The longest any single wait may take before it is a failure (never a pace).
const WAIT: Duration = Duration::from_secs(10);

/// A numbered message.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
struct Numbered {
    text: String,
}

impl Event for Numbered {
    const NAME: &'static str = "numbered";
}

/// What the page asks to follow.
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
struct TopicJoin {
    #[garde(length(min = 1, max = 32))]
    name: String,
}

struct Feeds;

impl Contract for Feeds {
    const ROUTE: &'static str = "/feeds/[feedId]";
    const NAME: &'static str = "feeds";
    type Locals = ();
    type State = ();
    type ToClient = (Numbered,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            // Every page joins its URL's feed at once; the feed keeps its last messages.
            .auto_join("feed", |cx| async move { Ok(key!["feed", cx.param("feedId")?]) })
            .history("feed", History::last(KEPT))
            // A room the page asks for (its join carries `since`), with history too; `secret`
            // is never granted.
            .expose("topic", |_cx, TopicJoin { name }| async move {
                if name == "secret" {
                    return Err(Deny);
                }
                Ok(key!["topic", name])
            })
            .history("topic", History::last(KEPT))
            // A room without history: as before streams existed.
            .auto_join("plain", |cx| async move { Ok(key!["plain", cx.param("feedId")?]) })
    }
}

/// A server of [`Feeds`] on loopback, and its emitter.
async fn start() -> (SocketAddr, Emitter<Feeds>) {
    let app = App::builder().contract::<Feeds>().build().expect("the contract is valid");
    let feeds: Emitter<Feeds> = app.emitter().expect("Feeds is registered");
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("an address")).await.expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(app.serve(listener, router));
    (addr, feeds)
}

/// Emits `<label>-1` to `<label>-n` to `room`, in order.
async fn send(feeds: &Emitter<Feeds>, room: &RoomKey, label: &str, n: usize) {
    for i in 1..=n {
        feeds.to(room).emit(&Numbered { text: format!("{label}-{i}") }).await.expect("emitted");
    }
}

fn numbered(label: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{label}-{i}")).collect()
}

/// What the server sent a page, in order.
#[derive(Debug)]
enum Packet {
    /// A contract's event: its payload's text and its position (rooms with history only).
    Message { text: String, position: Option<Position> },
    /// `liverpc:room`: an auto-joined room's status.
    Room(Value),
    /// The answer to the call with this id.
    Ack(u64, Value),
    /// Anything else (presence, ...).
    Other,
}

/// One page's connection to [`Feeds`]: a raw websocket.
struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// Opens the page at URL `path`, its handshake carrying `since` (the positions it last
    /// saw), and waits for the namespace's CONNECT.
    async fn open(addr: SocketAddr, path: &str, since: &[Position]) -> Page {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket upgrade");
        let mut page = Page { ws, next_id: 0 };
        let open = page.frame().await;
        assert!(open.starts_with("0{"), "the Engine.IO open packet, not {open:?}");
        let auth = if since.is_empty() { json!({ "path": path }) } else { json!({ "path": path, "since": since }) };
        page.send(&format!("40{NS},{auth}")).await;
        let connected = page.frame().await;
        assert!(connected.starts_with(&format!("40{NS},{{")), "the CONNECT, not {connected:?}");
        page
    }

    /// Kills the websocket: no Socket.IO disconnect, no close frame (a dropped network, a
    /// killed tab).
    fn kill(self) {
        drop(self.ws);
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Frame::text(text)).await.expect("the server is there");
    }

    /// The next text frame that is not a ping (pings are answered).
    async fn frame(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next()).await;
            match next {
                Err(_) => panic!("nothing from the server within {WAIT:?}"),
                Ok(Some(Ok(Frame::Text(text)))) if text.as_str() == "2" => self.send("3").await,
                Ok(Some(Ok(Frame::Text(text)))) => return text.to_string(),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("the connection ended: {other:?}"),
            }
        }
    }

    /// The next packet of the namespace.
    async fn next(&mut self) -> Packet {
        let frame = self.frame().await;
        let Some(body) = frame.strip_prefix(&format!("42{NS},")) else {
            if let Some(ack) = frame.strip_prefix(&format!("43{NS},")) {
                let digits = ack.find(|c: char| !c.is_ascii_digit()).unwrap_or(ack.len());
                let id = ack[..digits].parse().expect("an ack id");
                let answer: Value = serde_json::from_str(&ack[digits..]).expect("an ack's JSON");
                return Packet::Ack(id, answer[0].clone());
            }
            return Packet::Other;
        };
        let args: Vec<Value> = serde_json::from_str(body).expect("an event's JSON");
        match args.first().and_then(Value::as_str) {
            Some("numbered") => Packet::Message {
                text: args[1]["text"].as_str().expect("a text").to_owned(),
                position: args.get(2).map(|at| serde_json::from_value(at.clone()).expect("a position")),
            },
            Some("liverpc:room") => Packet::Room(args[1].clone()),
            _ => Packet::Other,
        }
    }

    /// Reads until `room`'s status; returns it and the messages that came first.
    async fn status(&mut self, room: &str) -> (Value, Vec<(String, Option<Position>)>) {
        let mut before = Vec::new();
        loop {
            match self.next().await {
                Packet::Room(status) if status["room"] == room => return (status, before),
                Packet::Message { text, position } => before.push((text, position)),
                _ => {}
            }
        }
    }

    /// Reads messages until one with `text`; returns them all, that one included.
    async fn until(&mut self, text: &str) -> Vec<(String, Option<Position>)> {
        let mut seen = Vec::new();
        loop {
            if let Packet::Message { text: got, position } = self.next().await {
                let done = got == text;
                seen.push((got, position));
                if done {
                    return seen;
                }
            }
        }
    }

    /// Joins `topic` `name` with `since`; the ack's envelope and the messages before it.
    async fn join_topic(&mut self, name: &str, since: &[Position]) -> (Value, Vec<(String, Option<Position>)>) {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!(["liverpc:join", { "room": "topic", "data": { "name": name }, "since": since }]);
        self.send(&format!("42{NS},{id}{request}")).await;
        let mut before = Vec::new();
        loop {
            match self.next().await {
                Packet::Ack(got, answer) if got == id => return (answer, before),
                Packet::Message { text, position } => before.push((text, position)),
                _ => {}
            }
        }
    }
}

fn texts(messages: &[(String, Option<Position>)]) -> Vec<String> {
    messages.iter().map(|(text, _)| text.clone()).collect()
}

/// The offsets of messages that all carry a position of one stream and one epoch.
fn offsets(messages: &[(String, Option<Position>)], of: &Position) -> Vec<u64> {
    messages
        .iter()
        .map(|(text, position)| {
            let position = position.as_ref().unwrap_or_else(|| panic!("{text} carries no position"));
            assert_eq!((&position.stream, &position.epoch), (&of.stream, &of.epoch), "{text}: another stream");
            position.offset
        })
        .collect()
}

fn position(value: &Value) -> Position {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("a position, not {value}: {e}"))
}

#[tokio::test]
async fn a_page_killed_while_200_are_sent_gets_all_200_in_order_once_before_anything_live() {
    let (addr, feeds) = start().await;
    let kept = key!["feed", "kept"];
    let mut page = Page::open(addr, "/feeds/kept", &[]).await;
    let (status, _) = page.status("feed").await;
    assert_eq!(status["status"], "joined");
    assert_eq!(status["position"]["offset"], 0, "{status}");
    assert!(status.get("recovered").is_none(), "a fresh join recovers nothing: {status}");
    send(&feeds, &kept, "before", 1).await;
    let seen = page.until("before-1").await;
    let last = seen[0].1.clone().expect("a message of a room with history carries its position");
    assert_eq!(last.offset, 1);

    page.kill();
    // To a dying connection, or to nobody: the page's position says where it stopped.
    send(&feeds, &kept, "away", 200).await;
    // Live messages race the rejoin: each one is either replayed or live, once, in order.
    let live = tokio::spawn({
        let (feeds, kept) = (feeds.clone(), kept.clone());
        async move { send(&feeds, &kept, "live", 50).await }
    });
    let mut page = Page::open(addr, "/feeds/kept", std::slice::from_ref(&last)).await;
    let (status, replayed) = page.status("feed").await;
    assert_eq!(status["recovered"], true, "{status}");
    assert!(replayed.len() >= 200, "the 200 missed come before the room's status: {:?}", texts(&replayed));
    assert_eq!(texts(&replayed[..200]), numbered("away", 200));
    live.await.expect("the live sender");
    let mut seen = replayed;
    if seen.last().map(|(text, _)| text.as_str()) != Some("live-50") {
        seen.extend(page.until("live-50").await);
    }
    // A barrier: nothing (no duplicate) arrives between the last live message and it.
    send(&feeds, &kept, "after", 1).await;
    seen.extend(page.until("after-1").await);

    let expected: Vec<String> = [numbered("away", 200), numbered("live", 50), numbered("after", 1)].concat();
    assert_eq!(texts(&seen), expected);
    assert_eq!(offsets(&seen, &last), (2..=252).collect::<Vec<u64>>(), "contiguous after the page's position");
    assert_eq!(feeds.history(&kept, 1).await.expect("history").position.offset, 252);
}

#[tokio::test]
async fn past_the_window_the_page_is_told_and_continues_live() {
    let (addr, feeds) = start().await;
    let lossy = key!["feed", "lossy"];
    let mut page = Page::open(addr, "/feeds/lossy", &[]).await;
    page.status("feed").await;
    send(&feeds, &lossy, "before", 1).await;
    let last = page.until("before-1").await[0].1.clone().expect("a position");

    page.kill();
    send(&feeds, &lossy, "away", KEPT + 44).await;
    let mut page = Page::open(addr, "/feeds/lossy", &[last]).await;
    let (status, replayed) = page.status("feed").await;
    // The page's client turns this into `missed` (its page refetches): nothing is replayed.
    assert_eq!(status["recovered"], false, "{status}");
    assert!(replayed.is_empty(), "a gap is reported, not partly filled: {:?}", texts(&replayed));
    let now = position(&status["position"]);
    assert_eq!(now.offset, 301, "live messages start after the stream's position");
    send(&feeds, &lossy, "after", 1).await;
    let seen = page.until("after-1").await;
    assert_eq!(texts(&seen), ["after-1"]);
    assert_eq!(offsets(&seen, &now), [302]);

    // Another epoch (the stream was lost, a restart): told, never taken for this one.
    page.kill();
    let other = Position { epoch: format!("{}-lost", now.epoch), ..now.clone() };
    let mut page = Page::open(addr, "/feeds/lossy", &[other]).await;
    let (status, replayed) = page.status("feed").await;
    assert_eq!(status["recovered"], false, "{status}");
    assert!(replayed.is_empty());
}

#[tokio::test]
async fn a_room_without_history_is_unchanged() {
    let (addr, feeds) = start().await;
    let plain = key!["plain", "quiet"];
    let mut page = Page::open(addr, "/feeds/quiet", &[]).await;
    let (status, _) = page.status("plain").await;
    assert_eq!(status, json!({ "room": "plain", "status": "joined" }), "no position, no recovered");
    send(&feeds, &plain, "before", 1).await;
    let seen = page.until("before-1").await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0].1.is_none(), "a message of a room without history carries no position");
    let err = feeds.history(&plain, 10).await.expect_err("no stream");
    assert!(err.to_string().contains("declare history on room `plain`"), "{err}");

    // Missed while away: gone, as before streams; the page is told nothing about it.
    page.kill();
    send(&feeds, &plain, "away", 5).await;
    let mut page = Page::open(addr, "/feeds/quiet", &[]).await;
    let (status, replayed) = page.status("plain").await;
    assert_eq!(status, json!({ "room": "plain", "status": "joined" }));
    assert!(replayed.is_empty(), "{:?}", texts(&replayed));
    send(&feeds, &plain, "after", 1).await;
    assert_eq!(texts(&page.until("after-1").await), ["after-1"]);
}

#[tokio::test]
async fn history_then_a_join_since_its_position_has_no_gap_and_no_duplicate() {
    let (addr, feeds) = start().await;
    let ssr = key!["feed", "ssr"];
    send(&feeds, &ssr, "old", 80).await;
    // What a server-rendered page shows.
    let history = feeds.history(&ssr, 50).await.expect("the feed keeps history");
    let shown: Vec<String> = history
        .messages
        .iter()
        .map(|m| {
            assert_eq!(m.event, "numbered");
            serde_json::from_str::<Numbered>(m.payload.get()).expect("a payload").text
        })
        .collect();
    assert_eq!(shown, numbered("old", 80)[30..]);
    assert_eq!(history.messages.iter().map(|m| m.position.offset).collect::<Vec<_>>(), (31..=80).collect::<Vec<_>>());
    assert_eq!(history.position.offset, 80);
    // Sent between the render and the page's join: the page must get exactly these.
    send(&feeds, &ssr, "meanwhile", 5).await;
    let mut page = Page::open(addr, "/feeds/ssr", std::slice::from_ref(&history.position)).await;
    let (status, mut seen) = page.status("feed").await;
    assert_eq!(status["recovered"], true, "{status}");
    send(&feeds, &ssr, "live", 1).await;
    seen.extend(page.until("live-1").await);
    assert_eq!(texts(&seen), [numbered("meanwhile", 5), numbered("live", 1)].concat());
    assert_eq!(offsets(&seen, &history.position), (81..=86).collect::<Vec<_>>());

    // The same through a join the page asks for: its ack says where the page is and whether
    // what it missed was replayed, which came before the ack.
    let topic = key!["topic", "rust"];
    send(&feeds, &topic, "old", 10).await;
    let history = feeds.history(&topic, 50).await.expect("the topic keeps history");
    assert_eq!(history.position.offset, 10);
    send(&feeds, &topic, "meanwhile", 3).await;
    let (answer, mut seen) = page.join_topic("rust", std::slice::from_ref(&history.position)).await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["data"]["recovered"], true, "{answer}");
    assert_eq!(position(&answer["data"]["position"]).offset, 13);
    send(&feeds, &topic, "live", 1).await;
    seen.extend(page.until("live-1").await);
    assert_eq!(texts(&seen), [numbered("meanwhile", 3), numbered("live", 1)].concat());
    assert_eq!(offsets(&seen, &history.position), [11, 12, 13, 14]);
}

#[tokio::test]
async fn a_refused_join_gets_nothing_of_the_stream_whatever_its_position() {
    let (addr, feeds) = start().await;
    let secret = key!["topic", "secret"];
    send(&feeds, &secret, "hidden", 3).await;
    let from = Position { offset: 0, ..feeds.history(&secret, 1).await.expect("history").position };
    let mut page = Page::open(addr, "/feeds/outside", &[]).await;
    page.status("feed").await;
    let (answer, replayed) = page.join_topic("secret", &[from]).await;
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
    assert!(replayed.is_empty(), "{:?}", texts(&replayed));
    // Nothing of it comes later either: the next message the page gets is its own feed's.
    send(&feeds, &secret, "hidden-later", 1).await;
    send(&feeds, &key!["feed", "outside"], "mine", 1).await;
    assert_eq!(texts(&page.until("mine-1").await), ["mine-1"]);
}
