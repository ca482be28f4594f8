//! The bus across processes, on Redis pub/sub (feature `redis`).
//!
//! - **Channels**: one per room (`liverpc:{<stream id>}:room:<len>:<namespace><room key>`), subscribed while
//!   this node has a member in the room; a join is answered once its channel is subscribed
//!   (see [`channels`]).
//! - **Publishing**: [`Bus::publish`] encodes the message once ([`envelope`]) and puts it on a
//!   bounded queue; one task sends what is queued as a pipeline, in order, so the messages of one
//!   node reach the others in the order they were emitted (Rule 7 (docs/security.md#rule-7)). A
//!   full queue drops and counts, it never grows or blocks the caller.
//! - **Receiving**: Redis pushes (RESP3) are decoded on the connection's task and handed to the
//!   engine's sink, which fans out through the same bounded per-socket path as a local emit.
//!   A node skips its own echo by the envelope's origin id.
//! - **Failure** (Rule 6 (docs/security.md#rule-6)): redis-rs's `ConnectionManager` reconnects with backoff and
//!   resubscribes by itself; a heartbeat notices an outage and its end (one line each, see
//!   [`health`]), and subscribes again whatever this node wants. While Redis is down, messages
//!   to other nodes are dropped and counted: at-most-once across nodes, local delivery unharmed.
//! - **Presence**: a hash per room and a heartbeat key per node (see [`presence`]).
//! - **Streams** of rooms with history: in Redis, so every node agrees on positions; appends
//!   and reads go on the same ordered queue (see [`streams`]).
//! - **Cluster**: a comma-separated list of URLs is a Redis Cluster: sharded pub/sub, batches
//!   sent command by command (see [`conn`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::{Bus, Interest, Member, Place, RoomMessage, Sink};
use crate::future::BoxFuture;

mod channels;
mod conn;
mod envelope;
mod health;
mod presence;
mod streams;

use channels::Channels;
use conn::{Batch, Conn};
use health::{Health, Recovered};
pub(crate) use streams::RedisStreams;

/// Messages waiting to be sent to Redis; past this, messages to other nodes are dropped.
const PUBLISH_QUEUE: usize = 16 * 1024;
/// Messages sent to Redis in one round trip, at most.
const BATCH: usize = 512;
/// How often Redis is asked whether it is there (an outage's end is noticed this fast).
const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long a command may take before Redis counts as unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a join waits for its room's subscription at most.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(3);
/// Subscribed channels a cluster's heartbeat touches per beat (see `Conn::beat`).
const CLUSTER_PROBES: usize = 8;
/// Every key and channel of liverpc starts with this.
const PREFIX: &str = "liverpc";

/// One node's handle on Redis.
pub(crate) struct RedisBus {
    /// This node's id: the origin of what it publishes.
    node: String,
    target: Target,
    queue: mpsc::Sender<Outgoing>,
    /// The queue's other end, until [`Bus::start`] takes it.
    outgoing: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    common: Arc<Common>,
    /// The background tasks stop when this is gone.
    alive: Arc<()>,
}

/// Where the bus connects: one Redis, or the nodes a Redis Cluster is discovered from.
enum Target {
    Single(redis::Client),
    Cluster(Vec<ConnectionInfo>),
}

/// What the background tasks share with the bus.
struct Common {
    /// This node's id.
    node: String,
    /// Redis's address, for log lines (never the password).
    addr: String,
    health: Health,
    channels: Arc<Channels>,
    /// The connection, once started.
    manager: OnceLock<Conn>,
    /// The presence entries this node listed.
    listed: presence::Listed,
    /// The streams this node could not append to (Redis down): their epochs end once Redis
    /// is back, so no page takes what it missed for recovered.
    unkept: streams::Unkept,
    /// Appends queued whose message has not reached this node's members yet.
    appending: AtomicUsize,
}

/// What the publishing task sends, in order.
enum Outgoing {
    Publish {
        channel: String,
        body: Vec<u8>,
    },
    /// Sets a presence field, then reads the room's hash for `reply`.
    List {
        hash: String,
        field: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Vec<(Vec<u8>, Vec<u8>)>>,
    },
    Unlist {
        hash: String,
        field: String,
    },
    /// Appends to a room's stream (the script publishes it); `unpositioned` delivers it on
    /// this node only, when Redis does not take it.
    Append {
        call: streams::Call,
        unpositioned: Box<dyn FnOnce() + Send>,
    },
    /// Reads a room's stream for `reply` (dropped when Redis does not answer).
    Read {
        call: streams::Call,
        reply: oneshot::Sender<Value>,
    },
    /// A delivery to this node's members of a room without history, run once the appends
    /// queued before it have reached them (see `Streams::after_appends`).
    Local(Box<dyn FnOnce() + Send>),
}

/// Who waits for an answer of a pipeline, in order.
enum Reply {
    List(oneshot::Sender<Vec<(Vec<u8>, Vec<u8>)>>),
    Read(oneshot::Sender<Value>),
}

impl RedisBus {
    /// A bus on the Redis at `url` (`redis://host:port/db`); nothing connects until
    /// [`Bus::start`], and nothing waits for Redis then either.
    pub(crate) fn new(url: &str) -> Result<RedisBus, String> {
        // Pushes (RESP3) let one connection publish, subscribe and be resubscribed by redis-rs.
        let resp3 = |url: &str| -> Result<ConnectionInfo, String> {
            let info = url.trim().into_connection_info().map_err(|e| e.to_string())?;
            let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
            Ok(info.set_redis_settings(settings))
        };
        // `redis://a:6379,redis://b:6379,...`: the nodes of a Redis Cluster.
        let nodes = url.split(',').map(resp3).collect::<Result<Vec<_>, _>>()?;
        let addr = nodes.iter().map(|n| n.addr().to_string()).collect::<Vec<_>>().join(",");
        let target = match <[ConnectionInfo; 1]>::try_from(nodes) {
            Ok([info]) => Target::Single(redis::Client::open(info).map_err(|e| e.to_string())?),
            Err(nodes) => Target::Cluster(nodes),
        };
        let (queue, outgoing) = mpsc::channel(PUBLISH_QUEUE);
        let node = node_id();
        let common = Arc::new(Common {
            node: node.clone(),
            addr,
            health: Health::new(),
            channels: Arc::default(),
            manager: OnceLock::new(),
            listed: presence::Listed::default(),
            unkept: streams::Unkept::default(),
            appending: AtomicUsize::new(0),
        });
        Ok(RedisBus { node, target, queue, outgoing: Mutex::new(Some(outgoing)), common, alive: Arc::new(()) })
    }

    /// The streams of rooms with history, kept in this Redis: their commands share the bus's
    /// queue, so a node's emits to rooms with and without history stay in order.
    pub(crate) fn streams(&self) -> Arc<dyn crate::bus::Streams> {
        Arc::new(RedisStreams::new(self.node.clone(), self.queue.clone(), self.common.clone()))
    }

    /// Queues `message` for Redis; dropped and counted when Redis is down or the queue is full.
    fn send(&self, message: Outgoing) {
        if self.common.health.is_down() {
            return self.common.health.dropped(1);
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(message) {
            self.common.health.dropped(1);
        }
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        // Wakes the subscribing task, which then sees that the bus is gone.
        self.common.channels.changed.notify_one();
    }
}

impl Bus for RedisBus {
    fn publish(&self, message: &RoomMessage<'_>) {
        if self.common.health.is_down() {
            return self.common.health.dropped(1);
        }
        let body = match envelope::encode(&self.node, message) {
            Ok(body) => body,
            Err(e) => return tracing::error!(error = %e, "could not encode a room message for Redis"),
        };
        let channel = envelope::channel(PREFIX, message.namespace, message.room);
        self.send(Outgoing::Publish { channel, body });
    }

    fn start(&self, sink: Arc<dyn Sink>) {
        let Some(outgoing) = self.outgoing.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            return tracing::error!("the Redis bus needs a Tokio runtime: build the app inside one");
        }
        let sweeper = Sweeper { sink: Arc::downgrade(&sink), queue: self.queue.downgrade() };
        let run = Run { common: self.common.clone(), alive: Arc::downgrade(&self.alive), outgoing, sweeper };
        let push = receiver(self.node.clone(), Arc::downgrade(&sink));
        match &self.target {
            Target::Single(client) => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_push_sender(push)
                    .set_automatic_resubscription()
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1))
                    // About 5 s of attempts; then the next heartbeat starts another round.
                    .set_number_of_retries(8)
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(COMMAND_TIMEOUT));
                // Lazy: start-up does not wait for Redis, the first command connects.
                match ConnectionManager::new_lazy_with_config(client.clone(), config) {
                    Ok(manager) => run.start(Conn::Single(manager)),
                    Err(e) => tracing::error!(error = %e, "could not set up the Redis connection"),
                }
            }
            Target::Cluster(nodes) => {
                let builder = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(push)
                    .connection_timeout(Duration::from_secs(1))
                    .response_timeout(COMMAND_TIMEOUT);
                match builder.build() {
                    // A cluster connection connects when made: start-up does not wait for it.
                    Ok(client) => drop(tokio::spawn(connect_cluster(client, run))),
                    Err(e) => tracing::error!(error = %e, "could not set up the Redis Cluster connection"),
                }
            }
        }
    }

    fn interest(&self, namespace: &str, room: &str) -> Interest {
        let channel = envelope::channel(PREFIX, namespace, room);
        let channels = &self.common.channels;
        let waiter = channels.hold(&channel, !self.common.health.is_down());
        let ready = waiter.map(|rx| -> crate::future::BoxFuture<'static, ()> {
            Box::pin(async move {
                let _ = tokio::time::timeout(SUBSCRIBE_WAIT, rx).await;
            })
        });
        Interest::new(ready, Box::new(Release { channels: channels.clone(), channel }))
    }

    fn present(&self, at: Place<'_>, member: &str, data: &RawValue) -> BoxFuture<'static, Vec<Member>> {
        let hash = presence::hash(PREFIX, at.namespace, at.room);
        let field = presence::field(&self.node, member);
        let bytes = data.get().as_bytes().to_vec();
        self.common.listed.list(&hash, (at.namespace, at.room, at.name), &field, &bytes);
        let (reply, fields) = oneshot::channel();
        self.send(Outgoing::List { hash, field, data: bytes, reply });
        let me = Member { id: member.to_owned(), data: data.to_owned() };
        let common = self.common.clone();
        Box::pin(async move {
            match fields.await {
                Ok(fields) => presence::snapshot(common.manager.get().cloned(), PREFIX, &common.node, fields).await,
                // Redis is down: this node knows only this member.
                Err(_) => vec![me],
            }
        })
    }

    fn absent(&self, namespace: &str, room: &str, member: &str) {
        let hash = presence::hash(PREFIX, namespace, room);
        let field = presence::field(&self.node, member);
        self.common.listed.unlist(&hash, &field);
        self.send(Outgoing::Unlist { hash, field });
    }
}

/// What the background tasks need, until a connection starts them.
struct Run {
    common: Arc<Common>,
    alive: Weak<()>,
    outgoing: mpsc::Receiver<Outgoing>,
    sweeper: Sweeper,
}

impl Run {
    /// Starts the publishing, subscribing and heartbeat tasks on `conn`.
    fn start(self, conn: Conn) {
        let Run { common, alive, outgoing, sweeper } = self;
        let _ = common.manager.set(conn.clone());
        tokio::spawn(publish(conn.clone(), outgoing, common.clone()));
        tokio::spawn(subscribe(conn.clone(), common.clone(), alive.clone()));
        tokio::spawn(heartbeat(conn, common, alive, sweeper));
    }
}

/// Connects to the cluster, again and again until it answers (one error line, as an outage),
/// then starts the tasks; what is sent meanwhile waits on the bounded queue.
async fn connect_cluster(client: redis::cluster::ClusterClient, run: Run) {
    loop {
        if run.alive.strong_count() == 0 {
            return;
        }
        match client.get_async_connection().await {
            Ok(conn) => {
                run.common.health.answered(&run.common.addr);
                return run.start(Conn::Cluster(conn));
            }
            Err(e) => run.common.health.failed(&run.common.addr, &e, 0),
        }
        tokio::time::sleep(HEARTBEAT).await; // a reconnect's backoff, not a synchronisation
    }
}

/// What the heartbeat needs to announce the leaves of dead nodes' members.
struct Sweeper {
    sink: Weak<dyn Sink>,
    queue: mpsc::WeakSender<Outgoing>,
}

/// Gives one hold on a channel back when dropped.
struct Release {
    channels: Arc<Channels>,
    channel: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.channels.release(&self.channel);
    }
}

/// What redis-rs calls with every push: room messages of other nodes go to the sink, in the
/// order Redis sent them.
fn receiver(node: String, sink: Weak<dyn Sink>) -> impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static {
    move |push: PushInfo| {
        let Some(sink) = sink.upgrade() else { return Err(()) };
        if push.kind != PushKind::Message && push.kind != PushKind::SMessage {
            return Ok(());
        }
        let Some(Value::BulkString(body)) = push.data.get(1) else { return Ok(()) };
        let Some(received) = envelope::Received::decode(body) else {
            tracing::debug!("ignored a message on a liverpc channel that is not an envelope");
            return Ok(());
        };
        // A stream's message reaches every node from Redis, its sender's included.
        if let Some(position) = received.position() {
            if let Some(message) = received.streamed(&position, received.node() == node) {
                sink.streamed(&message);
            }
            return Ok(());
        }
        if received.node() != node
            && let Some(message) = received.message()
        {
            sink.deliver(&message);
        }
        Ok(())
    }
}

/// Sends the queue to Redis, in order, a batch per round trip.
async fn publish(mut manager: Conn, mut outgoing: mpsc::Receiver<Outgoing>, common: Arc<Common>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut scripts = None;
    // Ends when the bus, which holds the sending side, is dropped.
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        // A local delivery queued behind an append of the same batch runs once that append is
        // back: the batch goes in parts, each ending at such a delivery (a round trip each).
        while let Some(end) = part_end(&batch) {
            let rest = batch.split_off(end);
            send(&mut manager, &mut batch, &mut scripts, &common, false).await;
            batch = rest;
        }
        send(&mut manager, &mut batch, &mut scripts, &common, outgoing.is_empty()).await;
    }
}

/// Where the first part of `batch` ends when a local delivery follows an append in it (just
/// after that delivery, when more follows it).
fn part_end(batch: &[Outgoing]) -> Option<usize> {
    let first_append = batch.iter().position(|m| matches!(m, Outgoing::Append { .. }))?;
    let local = first_append + batch[first_append..].iter().position(|m| matches!(m, Outgoing::Local(_)))?;
    (local + 1 < batch.len()).then_some(local + 1)
}

/// Sends one batch as a pipeline, then runs its local deliveries; `last`: nothing else is
/// queued (Redis has caught up).
async fn send(
    manager: &mut Conn,
    batch: &mut Vec<Outgoing>,
    scripts: &mut Option<streams::Loaded>,
    common: &Common,
    last: bool,
) {
    let count = batch.len() as u64;
    // Every append of the batch has reached this node's members once the batch is done:
    // from its channel's push, which Redis sends on this connection before the script's
    // reply, or without a position when Redis did not take it.
    let appended = batch.iter().filter(|m| matches!(m, Outgoing::Append { .. })).count();
    let _done = AppendsDone { common, count: appended };
    if common.health.is_down() {
        common.health.dropped(count);
        // Waiters learn it from their dropped reply; appends reach this node's members.
        unpositioned(batch);
        return;
    }
    // The stream scripts, loaded once per connection (again after an outage).
    let scripted = batch.iter().any(|m| matches!(m, Outgoing::Append { .. } | Outgoing::Read { .. }));
    if scripted && scripts.is_none() {
        match tokio::time::timeout(COMMAND_TIMEOUT, streams::load(manager)).await {
            Ok(Ok(loaded)) => *scripts = Some(loaded),
            failed => {
                unpositioned(batch);
                match failed {
                    Ok(Err(e)) => common.failed(&e, count),
                    _ => common.failed(&"no answer in time", count),
                }
                return;
            }
        }
    }
    let mut pipe = Batch::default();
    let mut replies = Vec::new();
    let mut appends = Vec::new();
    let mut locals = Vec::new();
    let publish = manager.publish();
    for message in batch.drain(..) {
        match message {
            Outgoing::Publish { channel, body } => {
                pipe.ignore(redis::cmd(publish).arg(channel).arg(body).to_owned());
            }
            Outgoing::List { hash, field, data, reply } => {
                pipe.ignore(redis::cmd("HSET").arg(&hash).arg(field).arg(data).to_owned());
                pipe.answer(redis::cmd("HGETALL").arg(hash).to_owned());
                replies.push(Reply::List(reply));
            }
            Outgoing::Unlist { hash, field } => {
                pipe.ignore(redis::cmd("HDEL").arg(hash).arg(field).to_owned());
            }
            Outgoing::Append { call, unpositioned } => match scripts {
                Some(loaded) => {
                    pipe.ignore(call.cmd(loaded, publish));
                    appends.push(unpositioned);
                }
                None => unpositioned(),
            },
            Outgoing::Read { call, reply } => {
                if let Some(loaded) = scripts {
                    pipe.answer(call.cmd(loaded, publish));
                    replies.push(Reply::Read(reply));
                }
            }
            // Behind no append of this pipeline: its turn is now.
            Outgoing::Local(deliver) if appends.is_empty() => deliver(),
            Outgoing::Local(deliver) => locals.push(deliver),
        }
    }
    let lost = |appends: Vec<Box<dyn FnOnce() + Send>>| appends.into_iter().for_each(|deliver| deliver());
    match tokio::time::timeout(COMMAND_TIMEOUT, manager.run(pipe)).await {
        Ok(Ok(answers)) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                match reply {
                    Reply::List(reply) => drop(reply.send(presence::pairs(answer))),
                    Reply::Read(reply) => drop(reply.send(answer)),
                }
            }
            if last {
                common.health.drained();
            }
        }
        Ok(Err(e)) => {
            lost(appends);
            // A Redis restarted meanwhile has no scripts (`NOSCRIPT`): load them again.
            *scripts = None;
            common.failed(&e, count);
        }
        Err(_) => {
            lost(appends);
            *scripts = None;
            common.failed(&"no answer in time", count);
        }
    }
    locals.into_iter().for_each(|deliver| deliver());
}

/// Counts a batch's appends as delivered when dropped, whichever way the batch ended.
struct AppendsDone<'a> {
    common: &'a Common,
    count: usize,
}

impl Drop for AppendsDone<'_> {
    fn drop(&mut self) {
        self.common.appending.fetch_sub(self.count, Ordering::AcqRel);
    }
}

/// Redis is down: the batch's appends reach this node's members without a position, in order,
/// and so do its local deliveries; everything else is dropped.
fn unpositioned(batch: &mut Vec<Outgoing>) {
    for message in batch.drain(..) {
        match message {
            Outgoing::Append { unpositioned, .. } => unpositioned(),
            Outgoing::Local(deliver) => deliver(),
            _ => {}
        }
    }
}

/// Makes what is subscribed what this node wants, whenever that changes.
async fn subscribe(mut manager: Conn, common: Arc<Common>, alive: Weak<()>) {
    loop {
        common.channels.changed.notified().await;
        loop {
            if alive.strong_count() == 0 {
                return;
            }
            let plan = common.channels.plan();
            if plan.subscribe.is_empty() && plan.unsubscribe.is_empty() {
                break;
            }
            if common.health.is_down() {
                // Nobody waits; the heartbeat wakes this task when Redis is back.
                common.channels.unreachable();
                break;
            }
            if !plan.subscribe.is_empty() {
                match tokio::time::timeout(COMMAND_TIMEOUT, manager.subscribe(&plan.subscribe)).await {
                    Ok(Ok(())) => common.channels.subscribed(&plan.subscribe),
                    Ok(Err(e)) => break common.failed(&e, 0),
                    Err(_) => break common.failed(&"no answer in time", 0),
                }
            }
            if !plan.unsubscribe.is_empty() {
                match tokio::time::timeout(COMMAND_TIMEOUT, manager.unsubscribe(&plan.unsubscribe)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break common.failed(&e, 0),
                    Err(_) => break common.failed(&"no answer in time", 0),
                }
            }
        }
    }
}

/// Asks Redis whether it is there: notices an outage and its end, and resubscribes after one.
/// Also keeps this node's key alive (presence), writes its presence entries again after an
/// outage, and sweeps dead nodes' entries now and then.
async fn heartbeat(mut manager: Conn, common: Arc<Common>, alive: Weak<()>, sweeper: Sweeper) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let node_key = presence::node_key(PREFIX, &common.node);
    let ttl = presence::NODE_TTL.as_millis() as u64;
    let mut beats = 0u32;
    while alive.strong_count() > 0 {
        tick.tick().await;
        let beat = redis::cmd("SET").arg(&node_key).arg(1).arg("PX").arg(ttl).to_owned();
        let sampled = match &manager {
            Conn::Cluster(_) => common.channels.sample(CLUSTER_PROBES, beats as usize),
            Conn::Single(_) => Vec::new(),
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, manager.beat(beat, &sampled)).await {
            Ok(Ok(_)) => {
                if let Recovered::AfterOutage = common.health.answered(&common.addr) {
                    common.channels.changed.notify_one();
                    presence::resync(&mut manager, &common.listed, &common.node).await;
                    streams::end_unkept(&mut manager, &common.unkept).await;
                }
            }
            Ok(Err(e)) => common.failed(&e, 0),
            Err(_) => common.failed(&"no answer in time", 0),
        }
        beats = beats.wrapping_add(1);
        if beats.is_multiple_of(presence::SWEEP_EVERY) && !common.health.is_down() {
            let Some(sink) = sweeper.sink.upgrade() else { return };
            let publish = |message: &RoomMessage<'_>| {
                let Ok(body) = envelope::encode(&common.node, message) else { return };
                let channel = envelope::channel(PREFIX, message.namespace, message.room);
                if let Some(queue) = sweeper.queue.upgrade() {
                    let _ = queue.try_send(Outgoing::Publish { channel, body });
                }
            };
            presence::sweep(&mut manager, &common.listed, PREFIX, &common.node, sink.as_ref(), &publish).await;
        }
    }
}

impl Common {
    /// A command failed: Redis counts as down until the heartbeat hears from it again, and every
    /// wanted channel will be subscribed again then.
    fn failed(&self, error: &dyn std::fmt::Display, lost: u64) {
        self.health.failed(&self.addr, error, lost);
        self.channels.unreachable();
    }
}

/// A node id, unique across processes: random keys hashing the time and the process id.
fn node_id() -> String {
    use std::hash::BuildHasher;
    let seed = (std::process::id(), std::time::SystemTime::now());
    let (a, b) = (std::hash::RandomState::new(), std::hash::RandomState::new());
    format!("{:016x}{:016x}", a.hash_one(seed), b.hash_one(seed))
}
