//! The engine without a network: plans built by hand (as a front-end builds them) served on an
//! in-memory transport, and two engines joined by the in-process bus.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use super::*;
use crate::bus::{LocalBus, MemoryStreams};
use crate::transport::{Ack, LinkId};
use crate::wire::protocol;

/// A transport in memory: a room index and, per socket, what it was sent.
#[derive(Default)]
struct Memory {
    acceptors: Mutex<HashMap<String, Arc<dyn Acceptor>>>,
    /// (namespace, room) -> the ids of its members.
    rooms: Mutex<HashMap<(String, String), Vec<String>>>,
}

struct Page {
    id: String,
    namespace: String,
    transport: std::sync::Weak<Memory>,
    sent: Mutex<Vec<(String, String)>>,
}

impl Link for Page {
    fn id(&self) -> LinkId {
        LinkId(crate::wire::id::Id::parse(&self.id).expect("a made id"))
    }

    fn join(&self, room: &Arc<str>) {
        let Some(memory) = self.transport.upgrade() else { return };
        let mut rooms = memory.rooms.lock().unwrap();
        let members = rooms.entry((self.namespace.clone(), room.to_string())).or_default();
        if !members.contains(&self.id) {
            members.push(self.id.clone());
        }
    }

    fn leave(&self, room: &str) {
        let Some(memory) = self.transport.upgrade() else { return };
        if let Some(members) = memory.rooms.lock().unwrap().get_mut(&(self.namespace.clone(), room.to_owned())) {
            members.retain(|m| *m != self.id);
        }
    }

    fn send(&self, event: &str, payload: &RawValue) {
        self.sent.lock().unwrap().push((event.to_owned(), payload.get().to_owned()));
    }

    fn send_with(&self, event: &str, payload: &RawValue, meta: &RawValue) {
        self.sent.lock().unwrap().push((event.to_owned(), format!("{},{}", payload.get(), meta.get())));
    }
}

impl Transport for Memory {
    fn mount(&self, namespace: &str, acceptor: Arc<dyn Acceptor>) {
        self.acceptors.lock().unwrap().insert(namespace.to_owned(), acceptor);
    }

    fn broadcast(
        &self,
        namespace: &str,
        room: &str,
        event: &str,
        payload: &RawValue,
        meta: Option<&RawValue>,
        except: Option<&LinkId>,
    ) -> usize {
        let rooms = self.rooms.lock().unwrap();
        let members = rooms.get(&(namespace.to_owned(), room.to_owned())).cloned().unwrap_or_default();
        drop(rooms);
        let pages = PAGES.lock().unwrap();
        let mut sent = 0;
        for member in members.iter().filter(|m| except.is_none_or(|id| *id.0 != ***m)) {
            if let Some(page) = pages.get(member) {
                match meta {
                    Some(meta) => page.send_with(event, payload, meta),
                    None => page.send(event, payload),
                }
                sent += 1;
            }
        }
        sent
    }

    fn disconnect_room(&self, namespace: &str, room: &str, _except: Option<&LinkId>) -> usize {
        self.rooms.lock().unwrap().remove(&(namespace.to_owned(), room.to_owned())).map_or(0, |m| m.len())
    }
}

/// Every page by id, so that a broadcast finds the page that records what it was sent.
static PAGES: std::sync::LazyLock<Mutex<HashMap<String, Arc<Page>>>> = std::sync::LazyLock::new(Mutex::default);

impl Memory {
    /// Connects a page to `namespace` at URL `path`.
    async fn connect(self: &Arc<Memory>, namespace: &str, path: &str) -> (Arc<Page>, Arc<dyn Inbound>) {
        let page = Arc::new(Page {
            id: id::socket_id().to_string(),
            namespace: namespace.to_owned(),
            transport: Arc::downgrade(self),
            sent: Mutex::default(),
        });
        PAGES.lock().unwrap().insert(page.id.clone(), page.clone());
        let acceptor = self.acceptors.lock().unwrap().get(namespace).cloned().expect("mounted");
        let auth = serde_json::value::to_raw_value(&serde_json::json!({ "path": path })).unwrap();
        let inbound = acceptor.open(page.clone(), Handshake::new(http::HeaderMap::new(), None), Some(auth)).await;
        let inbound = inbound.unwrap_or_else(|refusal| panic!("refused {refusal}"));
        inbound.clone().connected();
        (page, inbound)
    }
}

/// A contract built as a front-end builds one: `/rooms/[roomId]/chat`, auto-joining
/// `["chat", roomId]`, with a `say` handler that emits `said` to that room.
fn chat() -> Plan {
    let mut plan = Plan::new("/rooms/[roomId]", "chat").unwrap();
    plan.event("said").unwrap();
    let decide: DecideFn = Arc::new(|socket: Socket, _| {
        Box::pin(async move {
            let room = socket.params().get("roomId").ok_or_else(Rejection::internal)?.to_owned();
            Ok(RoomKey::new(["chat".to_owned(), room]))
        })
    });
    plan.room("chat", RoomPlan { exposed: false, auto_join: true, decide, presence: None, history: None }).unwrap();
    let say: HandlerFn = Arc::new(|socket: Socket, raw: Box<RawValue>| {
        Box::pin(async move {
            let room = socket.room_key("chat").ok_or_else(Rejection::internal)?;
            socket.hub().emit(&room, "said", &raw, None).map_err(|_| Rejection::internal())?;
            Ok(raw)
        })
    });
    plan.handler("say", say).unwrap();
    plan
}

fn engine(memory: &Arc<Memory>, bus: LocalBus) -> Engine {
    let hook: HookFn = Arc::new(|_| Box::pin(async { Ok(Arc::new(()) as Locals) }));
    let limits = Limits { calls_per_second: 1_000_000, burst: 1_000_000, max_in_flight: 1_000, ..Limits::default() };
    Engine::new(
        hook,
        limits,
        OriginPolicy::default(),
        memory.clone(),
        Arc::new(bus),
        Arc::new(MemoryStreams::default()),
    )
}

fn ack(answers: &Arc<Mutex<Vec<String>>>) -> Ack {
    let answers = answers.clone();
    Ack::new(move |answer| answers.lock().unwrap().push(answer.get().to_owned()))
}

#[tokio::test]
async fn a_spec_serves_auto_joins_and_ordered_calls_without_a_network() {
    let memory = Arc::new(Memory::default());
    let hub = engine(&memory, LocalBus::new()).serve(chat());
    let (sender, inbound) = memory.connect("/rooms/[roomId]/chat", "/rooms/general").await;
    let (member, _member_inbound) = memory.connect("/rooms/[roomId]/chat", "/rooms/general").await;
    assert_eq!(sender.sent.lock().unwrap()[0].0, protocol::ROOM_STATUS, "the auto-join is reported");

    let answers = Arc::new(Mutex::new(Vec::new()));
    for n in 0..100 {
        let payload = serde_json::value::to_raw_value(&n).unwrap();
        inbound.clone().event("say".to_owned(), Some(payload), ack(&answers));
    }
    let key = RoomKey::new(["chat", "general"]);
    // A barrier through the same queue: once it is answered, every earlier call has been.
    let (done, barrier) = tokio::sync::oneshot::channel();
    let mut done = Some(done);
    inbound.clone().event(
        "say".to_owned(),
        Some(RawValue::from_string("100".into()).unwrap()),
        Ack::new(move |_| {
            if let Some(done) = done.take() {
                let _ = done.send(());
            }
        }),
    );
    barrier.await.unwrap();
    let got: Vec<String> = member.sent.lock().unwrap().iter().skip(1).map(|(_, p)| p.clone()).collect();
    assert_eq!(got, (0..=100).map(|n| n.to_string()).collect::<Vec<_>>(), "in send order");
    let answers = answers.lock().unwrap();
    assert!(answers.iter().enumerate().all(|(n, a)| *a == format!(r#"{{"ok":true,"data":{n}}}"#)), "{answers:?}");

    inbound.closed();
    assert_eq!(
        hub.emit(&key, "said", &RawValue::from_string("0".into()).unwrap(), None).unwrap(),
        1,
        "only the member"
    );
}

#[tokio::test]
async fn a_room_spans_the_engines_on_one_bus() {
    let (a, b) = (Arc::new(Memory::default()), Arc::new(Memory::default()));
    let bus = LocalBus::new();
    let hub_a = engine(&a, bus.node()).serve(chat());
    let _hub_b = engine(&b, bus).serve(chat());
    let (on_b, _inbound) = b.connect("/rooms/[roomId]/chat", "/rooms/general").await;
    let (on_b_elsewhere, _other) = b.connect("/rooms/[roomId]/chat", "/rooms/random").await;
    let payload = RawValue::from_string(r#"{"text":"hi"}"#.into()).unwrap();
    assert_eq!(hub_a.emit(&RoomKey::new(["chat", "general"]), "said", &payload, None).unwrap(), 0, "none on A");
    assert_eq!(on_b.sent.lock().unwrap().last().cloned(), Some(("said".to_owned(), r#"{"text":"hi"}"#.to_owned())));
    assert_eq!(on_b_elsewhere.sent.lock().unwrap().len(), 1, "only its auto-join report");
    let undeclared = hub_a.emit(&RoomKey::new(["chat", "general"]), "nope", &payload, None);
    assert!(matches!(undeclared, Err(EmitError::UnknownEvent { .. })));
}
