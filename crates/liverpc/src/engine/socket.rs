//! One socket of one contract: its params and locals, the rooms it holds, and the queue that
//! runs its calls, joins and leaves one at a time, in the order the page sent them.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use serde_json::value::RawValue;
use tokio::task::AbortHandle;

use super::{Cancel, Cancelled, Guarded, Hub, Work, guarded, id, patient, rejection, timed_out};
use crate::bus::{Interest, Joined, Place, StreamAt};
use crate::future::BoxFuture;
use crate::transport::{Ack, Inbound, Link, LinkId};
use crate::wire::error::{ErrorCode, Rejection};
use crate::wire::key::RoomKey;
use crate::wire::limits::RateLimiter;
use crate::wire::protocol::{self, Answer, PresenceEvent, PresenceMember, RoomStatus};
use crate::wire::route::Params;
use crate::wire::stream::{History, Position, stream_id};

/// A connection's locals, whatever the front-end's type for them.
pub(crate) type Locals = Arc<dyn Any + Send + Sync>;

/// A handle to one open socket; what handlers and room deciders receive. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Socket(Arc<SocketInner>);

struct SocketInner {
    id: crate::wire::id::Id,
    /// The contract's plan, and what every contract of the app shares.
    hub: Hub,
    params: Params,
    locals: Locals,
    link: Arc<dyn Link>,
    limiter: Arc<RateLimiter>,
    held: Mutex<Held>,
    queue: Mutex<Jobs>,
    /// The running job's cancellation: a new one per job, made when first asked for (most
    /// jobs never are: only code cancelled by asking waits on it).
    cancel: Mutex<Option<Cancel>>,
    /// What its connect leaves to report once the page is told it is connected.
    opening: Mutex<Opening>,
}

/// A socket's auto-joins, reported (and its rooms with history replayed) once the page is
/// connected; taken then.
#[derive(Default)]
struct Opening {
    /// How each went, in the plan's order of its auto-joined rooms (a joined room's key is
    /// its entry's).
    auto: Vec<Result<(), Rejection>>,
    /// The positions the page's handshake carried, for its auto-joined rooms with history.
    since: Vec<Position>,
}

/// Where a socket that joined a room with history is in its stream, and whether what it
/// missed was replayed (`None`: it sent no position of that stream).
type InStream = Joined;

/// The rooms a socket holds: one entry per join request (room name and payload digest).
/// A `Vec`: at most `max_rooms` entries, where a scan is as fast as a map and costs less.
#[derive(Default)]
struct Held {
    entries: Vec<Entry>,
    /// Set when the socket is gone: nothing joins any more.
    closed: bool,
}

struct Entry {
    /// The plan's name of the room.
    name: Arc<str>,
    digest: u128,
    /// The room's key, encoded as the transport names the room (shared with the transport's
    /// index): the key itself is decoded from it when asked for, not kept twice.
    room: Arc<str>,
    /// Keeps the room's traffic from other nodes coming to this node while the entry lives.
    _interest: Interest,
    /// This entry lists the socket in the room's presence (one entry per room at most).
    listed: bool,
}

impl Held {
    fn holds(&self, room: &str) -> bool {
        self.entries.iter().any(|e| *e.room == *room)
    }

    fn position(&self, name: &str, digest: u128) -> Option<usize> {
        self.entries.iter().position(|e| &*e.name == name && e.digest == digest)
    }
}

/// Work waiting for this socket, and who is running it.
#[derive(Default)]
struct Jobs {
    jobs: VecDeque<Job>,
    /// Jobs queued or running: bounded by `max_in_flight`.
    in_flight: usize,
    worker: Worker,
    closed: bool,
}

/// Who drains a socket's queue.
#[derive(Default)]
enum Worker {
    /// No one: the queue is empty.
    #[default]
    Idle,
    /// The transport's task, inside [`Inbound::event`], until the job has to wait.
    Inline,
    /// A task of its own (a job that had to wait, and those queued behind it).
    Task(AbortHandle),
}

struct Job {
    event: String,
    data: Option<Box<RawValue>>,
    ack: Ack,
}

impl Socket {
    /// A socket whose handshake was accepted; decides and joins its auto-joined rooms, so they
    /// are held before the page can send its first call.
    pub(super) async fn open(
        hub: Hub,
        link: Arc<dyn Link>,
        params: Params,
        locals: Locals,
        since: Vec<Position>,
    ) -> Socket {
        let limits = &hub.shared.limits;
        let limiter =
            link.limiter().unwrap_or_else(|| Arc::new(RateLimiter::new(limits.calls_per_second, limits.burst)));
        let plan = hub.plan.clone();
        let socket = Socket(Arc::new(SocketInner {
            id: id::socket_id(),
            hub,
            params,
            locals,
            link,
            limiter,
            held: Mutex::default(),
            queue: Mutex::default(),
            cancel: Mutex::default(),
            opening: Mutex::default(),
        }));
        let mut auto = Vec::with_capacity(plan.auto_join.len());
        for name in &plan.auto_join {
            let held = socket.decide(name, None, &mut None).await.and_then(|key| {
                socket.check_stream(name, &key)?;
                socket.hold(name, protocol::digest(None), &key).map(|(_, ready)| ready)
            });
            // Subscribed before the page is told it is connected, so that `joined` holds.
            let joined = match held {
                Ok(ready) => {
                    if let Some(ready) = ready {
                        ready.await;
                    }
                    Ok(())
                }
                Err(refused) => Err(refused),
            };
            auto.push(joined);
        }
        *lock(&socket.0.opening) = Opening { auto, since };
        socket
    }

    /// This socket's id (the engine's own; not the transport's socket id).
    pub(crate) fn id(&self) -> &str {
        &self.0.id
    }

    pub(crate) fn params(&self) -> &Params {
        &self.0.params
    }

    pub(crate) fn locals(&self) -> &Locals {
        &self.0.locals
    }

    pub(crate) fn link_id(&self) -> LinkId {
        // Asked of the transport (only a broadcast to the others needs it): not kept twice.
        self.0.link.id()
    }

    /// Emits to the contract's rooms.
    pub(crate) fn hub(&self) -> Hub {
        self.0.hub.clone()
    }

    /// Sends an event to this socket alone.
    pub(crate) fn emit(&self, event: &str, payload: &RawValue) {
        self.0.link.send(event, payload);
    }

    /// Decides and joins room `name`; `data` is the page's payload for an exposed room.
    pub(crate) async fn join(&self, name: &str, data: Option<Box<RawValue>>) -> Result<RoomKey, Rejection> {
        self.join_answering(name, data, &[], &mut None).await.map(|(key, _)| key)
    }

    /// A join the page asked for: `ack` is answered `timeout` at the deadline when the decision
    /// is waited for past it.
    /// `since` holds the page's last positions: a room with history replays what the page
    /// missed after its position, before anything live.
    async fn join_answering(
        &self,
        name: &str,
        data: Option<Box<RawValue>>,
        since: &[Position],
        ack: &mut Option<Ack>,
    ) -> Result<(RoomKey, InStream), Rejection> {
        let data = data.filter(|raw| raw.get().trim() != "null");
        let digest = protocol::digest(data.as_deref().map(RawValue::get));
        let key = self.decide(name, data, ack).await?;
        self.check_stream(name, &key)?;
        // Answered once the room's messages from other nodes reach this one too (Rule 6 (docs/security.md#rule-6)).
        let (room, ready) = self.hold(name, digest, &key)?;
        if let Some(ready) = ready {
            ready.await;
        }
        let joined = match self.0.hub.plan.stream_of(&key) {
            Some(history) => self.recover(&room, history, since).await,
            None => None,
        };
        self.list(name, &room);
        Ok((key, joined))
    }

    /// A room declared with history must decide keys that start with its name (the stream of
    /// a key is its first part's room's): otherwise the join is refused, so a room can never
    /// run without the stream it declared.
    fn check_stream(&self, name: &str, key: &RoomKey) -> Result<(), Rejection> {
        let declared = self.0.hub.plan.rooms.get(name).is_some_and(|r| r.history.is_some());
        if declared && key.parts().first().map(String::as_str) != Some(name) {
            tracing::error!(
                namespace = %self.0.hub.plan.namespace,
                room = name,
                "room `{name}` keeps history, but its key does not start with `{name}`; the join is refused `internal` (start the key with the room's name)"
            );
            return Err(Rejection::internal());
        }
        Ok(())
    }

    /// Joins the stream of `room` (held already, not yet in the transport's room): under the
    /// stream's lock, queues what the page missed after its position in `since`, then adds the
    /// socket to the room, so every later message reaches it live and none twice or out of
    /// order. `None` when the socket left the room (or closed) meanwhile.
    async fn recover(&self, room: &Arc<str>, history: History, since: &[Position]) -> InStream {
        let namespace = &self.0.hub.plan.namespace;
        let stream = stream_id(namespace, room);
        let since = since.iter().find(|p| p.stream == stream);
        let (socket, joining) = (self.clone(), room.clone());
        let at = StreamAt { namespace, room, history };
        let join = Box::new(move |replay: &crate::bus::Replay<'_>| {
            let held = lock(&socket.0.held);
            if held.closed || !held.holds(&joining) {
                return false;
            }
            for message in &replay.messages {
                let at = Position { offset: message.offset, ..replay.position.clone() };
                if let Ok(meta) = serde_json::value::to_raw_value(&at) {
                    socket.0.link.send_with(&message.event, &message.payload, &meta);
                }
            }
            socket.0.link.join(&joining);
            true
        });
        self.0.hub.shared.streams.join(at, since, join).await
    }

    /// Leaves what the page joined with this name and payload; leaving twice is not an error.
    pub(crate) fn leave(&self, name: &str, data: Option<&RawValue>) -> Result<(), Rejection> {
        if !self.0.hub.plan.rooms.contains_key(name) {
            return Err(unknown_room(name));
        }
        let digest = protocol::digest(data.map(RawValue::get).filter(|raw| raw.trim() != "null"));
        let mut held = lock(&self.0.held);
        if let Some(i) = held.position(name, digest) {
            let entry = held.entries.swap_remove(i);
            if !held.holds(&entry.room) {
                self.0.link.leave(&entry.room);
            }
            self.unlist(&entry, &mut held);
        }
        Ok(())
    }

    /// The key this socket holds under room `name` (the first, for an exposed room joined with
    /// several payloads).
    pub(crate) fn room_key(&self, name: &str) -> Option<RoomKey> {
        lock(&self.0.held).entries.iter().find(|e| &*e.name == name).and_then(|e| RoomKey::decode(&e.room))
    }

    /// Whether this socket is in room `key`.
    pub(crate) fn holds(&self, key: &RoomKey) -> bool {
        let room = key.encode();
        lock(&self.0.held).entries.iter().any(|e| *e.room == *room)
    }

    /// Every room this socket is in, as `(room name, key)`.
    pub(crate) fn rooms(&self) -> Vec<(String, RoomKey)> {
        let held = lock(&self.0.held);
        held.entries.iter().filter_map(|e| Some((e.name.to_string(), RoomKey::decode(&e.room)?))).collect()
    }

    /// Runs room `name`'s decision under the handler deadline.
    async fn decide(
        &self,
        name: &str,
        data: Option<Box<RawValue>>,
        ack: &mut Option<Ack>,
    ) -> Result<RoomKey, Rejection> {
        let room = self.0.hub.plan.rooms.get(name).ok_or_else(|| unknown_room(name))?;
        if !room.exposed && data.is_some() {
            return Err(Rejection::invalid("", "a private room is joined by name only, without a payload"));
        }
        let decide = async { (room.decide)(self.clone(), data).await };
        self.supervise(decide, ack)
            .await
            .unwrap_or_else(|why| Err(rejection(why, &self.0.hub.plan.namespace, Work::Room(name))))
    }

    /// User code under the handler deadline: dropped at it, or, for a plan whose code is
    /// cancelled by asking, asked to stop and waited for (its page answered at the deadline).
    async fn supervise<T>(&self, work: impl Future<Output = T>, ack: &mut Option<Ack>) -> Result<T, Guarded> {
        let limit = self.0.hub.shared.limits.handler_timeout;
        if !self.0.hub.plan.cancel_by_signal {
            return guarded(limit, work).await;
        }
        let cancel = self.cancel();
        patient(limit, &cancel, work, || {
            if let Some(ack) = ack.take() {
                answer(ack, &Err(timed_out()));
            }
        })
        .await
    }

    /// The running job's cancellation.
    pub(crate) fn cancel(&self) -> Cancel {
        lock(&self.0.cancel).get_or_insert_with(Cancel::default).clone()
    }

    /// Records a decided join and adds the socket to the room, unless the socket is gone.
    /// Returns the room's name as the transport knows it (the key encoded, once per join), and
    /// what to wait for before answering (this node subscribing to the room), if anything.
    fn hold(
        &self,
        name: &str,
        digest: u128,
        key: &RoomKey,
    ) -> Result<(Arc<str>, Option<BoxFuture<'static, ()>>), Rejection> {
        let limits = &self.0.hub.shared.limits;
        let mut held = lock(&self.0.held);
        if held.closed {
            // The page left while its join was decided: it must not be put back in a room.
            return Err(Rejection::new(ErrorCode::Unavailable, "the connection is closing"));
        }
        // Decided rooms are declared ones (the decision looked the name up).
        let name = self
            .0
            .hub
            .plan
            .rooms
            .get_key_value(name)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| unknown_room(name))?;
        let room: Arc<str> = key.encode().into();
        let streamed = self.0.hub.plan.stream_of(key).is_some();
        let position = held.position(&name, digest);
        if position.is_some_and(|i| *held.entries[i].room == *room) {
            return Ok((room, None));
        }
        // Every held request counts, not only distinct keys: requests whose payloads differ
        // in a field the key ignores are each kept (so that each leave matches its join).
        if position.is_none() && held.entries.len() >= limits.max_rooms {
            return Err(Rejection::new(
                ErrorCode::RateLimited,
                format!("room limit reached: a socket may be in at most {} rooms", limits.max_rooms),
            ));
        }
        let mut interest = self.0.hub.shared.bus.interest(&self.0.hub.plan.namespace, &room);
        let ready = interest.ready();
        let entry = Entry { name, digest, room: room.clone(), _interest: interest, listed: false };
        match position {
            Some(i) => {
                // Same request, new key (the rights or locals changed): leave the old room.
                let old = std::mem::replace(&mut held.entries[i], entry);
                if !held.holds(&old.room) {
                    self.0.link.leave(&old.room);
                }
                self.unlist(&old, &mut held);
            }
            None => {
                // Grown one at a time: an entry is large, and most sockets hold one or two
                // rooms for their lifetime (a doubling `Vec` would keep room for four).
                held.entries.reserve_exact(1);
                held.entries.push(entry);
            }
        }
        // Under the lock: `closed` cannot slip in between the check and the join. A room with
        // history is joined by its recovery (`recover`), after its replay.
        if !streamed {
            self.0.link.join(&room);
        }
        Ok((room, ready))
    }

    /// Lists this socket in room `name`'s presence (when the room declares it and the locals
    /// show something): the socket receives the room's members, the others its join.
    fn list(&self, name: &str, room: &str) {
        let Some(show) = self.0.hub.plan.rooms.get(name).and_then(|r| r.presence.as_ref()) else { return };
        let Some(data) = show(&self.0.locals) else { return };
        let namespace = &self.0.hub.plan.namespace;
        let snapshot = {
            let mut held = lock(&self.0.held);
            if held.closed || held.entries.iter().any(|e| *e.room == *room && e.listed) {
                return;
            }
            let Some(entry) = held.entries.iter_mut().find(|e| &*e.name == name && *e.room == *room) else { return };
            entry.listed = true;
            // Under the lock: the unlisting of a leave or close cannot be ordered before it.
            let place = Place { namespace, room, name };
            let snapshot = self.0.hub.shared.bus.present(place, &self.0.id, &data);
            let join = PresenceEvent::Join { room: name, join: PresenceMember { id: &self.0.id, data: &data } };
            if let Ok(join) = serde_json::value::to_raw_value(&join) {
                self.hub().reserved(room, protocol::PRESENCE, &join, Some(self));
            }
            snapshot
        };
        let (link, me, name) = (self.0.link.clone(), self.0.id, name.to_owned());
        tokio::spawn(async move {
            let members = snapshot.await;
            let members = members.iter().map(|m| PresenceMember { id: &m.id, data: &m.data }).collect();
            let snapshot = PresenceEvent::Snapshot { room: &name, me: &me, members };
            if let Ok(snapshot) = serde_json::value::to_raw_value(&snapshot) {
                link.send(protocol::PRESENCE, &snapshot);
            }
        });
    }

    /// `entry` is gone from `held`: if it listed the socket, another entry of the same room
    /// does now, or the socket leaves the room's presence.
    fn unlist(&self, entry: &Entry, held: &mut Held) {
        if !entry.listed {
            return;
        }
        if let Some(other) = held.entries.iter_mut().find(|e| e.room == entry.room) {
            other.listed = true;
            return;
        }
        self.0.hub.shared.bus.absent(&self.0.hub.plan.namespace, &entry.room, &self.0.id);
        let leave = PresenceEvent::Leave { room: &entry.name, leave: &self.0.id };
        if let Ok(leave) = serde_json::value::to_raw_value(&leave) {
            self.hub().reserved(&entry.room, protocol::PRESENCE, &leave, Some(self));
        }
    }

    /// Drains the queue, one job at a time; the task ends when the queue is empty.
    async fn drain(self) {
        loop {
            let job = {
                let mut queue = lock(&self.0.queue);
                match queue.jobs.pop_front() {
                    // Its cancellation is new, under the queue's lock: a close (which takes
                    // the queue first) fires this job's, never the one before.
                    Some(job) => {
                        *lock(&self.0.cancel) = None;
                        job
                    }
                    None => {
                        queue.worker = Worker::Idle;
                        return;
                    }
                }
            };
            let mut ack = Some(job.ack);
            let result = self.run(&job.event, job.data, &mut ack).await;
            // Only now is the slot free: user code that ran past its deadline has settled.
            lock(&self.0.queue).in_flight -= 1;
            if let Some(ack) = ack {
                answer(ack, &result);
            }
        }
    }

    /// One call, join or leave, under the handler deadline.
    async fn run(
        &self,
        event: &str,
        data: Option<Box<RawValue>>,
        ack: &mut Option<Ack>,
    ) -> Result<Box<RawValue>, Rejection> {
        let namespace = &self.0.hub.plan.namespace;
        match event {
            protocol::JOIN => {
                let request = protocol::room_request(data.as_deref().map(RawValue::get))?;
                let since = protocol::positions(request.since.as_deref(), self.0.hub.shared.limits.max_rooms);
                let (_, joined) = self.join_answering(&request.room, request.data, &since, ack).await?;
                Ok(match joined {
                    Some((position, recovered)) => {
                        serde_json::value::to_raw_value(&protocol::Joined { position: &position, recovered })
                            .unwrap_or_else(|_| protocol::null())
                    }
                    None => protocol::null(),
                })
            }
            protocol::LEAVE => {
                let request = protocol::room_request(data.as_deref().map(RawValue::get))?;
                self.leave(&request.room, request.data.as_deref()).map(|()| protocol::null())
            }
            _ => {
                let handler = match self.0.hub.plan.handlers.get(event) {
                    Some(h) if !event.starts_with(protocol::RESERVED_PREFIX) => h,
                    _ => return Err(Rejection::not_found(format!("unknown event `{}`", protocol::printable(event)))),
                };
                let call = async { handler(self.clone(), data.unwrap_or_else(protocol::null)).await };
                self.supervise(call, ack)
                    .await
                    .unwrap_or_else(|why: Guarded| Err(rejection(why, namespace, Work::Handler(event))))
            }
        }
    }
}

/// The transport holds the socket itself (one allocation), and hands it back to each call.
impl Inbound for SocketInner {
    fn connected(self: Arc<Self>) {
        Socket(self).connected();
    }

    fn event(self: Arc<Self>, event: String, data: Option<Box<RawValue>>, ack: Ack) {
        Socket(self).event(event, data, ack);
    }

    fn closed(self: Arc<Self>) {
        Socket(self).closed();
    }
}

impl Socket {
    /// What the transport holds of it.
    pub(super) fn into_inbound(self) -> Arc<dyn Inbound> {
        self.0
    }

    fn connected(&self) {
        let Opening { auto, since } = std::mem::take(&mut *lock(&self.0.opening));
        let plan = &self.0.hub.plan;
        // Rooms without history are reported here and now (no future, no task): the usual page.
        if plan.streams.is_empty() {
            for (name, outcome) in plan.auto_join.iter().zip(&auto) {
                self.report(name, outcome, None);
            }
            return;
        }
        let socket = self.clone();
        let report = async move {
            let plan = &socket.0.hub.plan;
            for (name, outcome) in plan.auto_join.iter().zip(auto) {
                // Now that the page is told it is connected: a replay before the CONNECT would
                // be dropped by its client.
                let room = outcome.as_ref().ok().and_then(|()| socket.auto_room(name));
                let joined = match room.as_ref().and_then(|room| Some((room, plan.stream_of_encoded(room)?))) {
                    Some((room, history)) => socket.recover(room, history, &since).await,
                    None => None,
                };
                socket.report(name, &outcome, joined);
            }
        };
        // At once when the streams are on this node; a shared stream (Redis) is read first.
        let mut report: BoxFuture<'static, ()> = Box::pin(report);
        if futures_util::FutureExt::now_or_never(&mut report).is_none() {
            tokio::spawn(report);
        }
    }

    /// The room auto-joined room `name` is held as (its key encoded).
    fn auto_room(&self, name: &str) -> Option<Arc<str>> {
        let digest = protocol::digest(None);
        lock(&self.0.held).entries.iter().find(|e| *e.name == *name && e.digest == digest).map(|e| e.room.clone())
    }

    /// Tells the page how its auto-join of `name` went, and lists it in the room's presence.
    fn report(&self, name: &str, outcome: &Result<(), Rejection>, joined: InStream) {
        let (position, recovered) = match &joined {
            Some((position, recovered)) => (Some(position), *recovered),
            None => (None, None),
        };
        let status = match outcome {
            Ok(()) => RoomStatus { room: name, status: "joined", error: None, position, recovered },
            Err(error) => {
                RoomStatus { room: name, status: "denied", error: Some(error), position: None, recovered: None }
            }
        };
        if let Ok(payload) = serde_json::value::to_raw_value(&status) {
            self.0.link.send(protocol::ROOM_STATUS, &payload);
        }
        if outcome.is_ok()
            && let Some(room) = self.auto_room(name)
        {
            self.list(name, &room);
        }
    }

    fn event(&self, event: String, data: Option<Box<RawValue>>, ack: Ack) {
        let limits = &self.0.hub.shared.limits;
        if !self.0.limiter.try_take() {
            return answer(ack, &Err(Rejection::new(ErrorCode::RateLimited, "too many calls: slow down")));
        }
        if data.as_ref().is_some_and(|raw| raw.get().len() > limits.max_payload) {
            let message = format!("payload larger than {} bytes", limits.max_payload);
            return answer(ack, &Err(Rejection::new(ErrorCode::TooLarge, message)));
        }
        let mut queue = lock(&self.0.queue);
        if queue.closed {
            return;
        }
        if queue.in_flight >= limits.max_in_flight {
            drop(queue);
            let message = format!("too many calls in flight: at most {}", limits.max_in_flight);
            return answer(ack, &Err(Rejection::new(ErrorCode::RateLimited, message)));
        }
        queue.in_flight += 1;
        queue.jobs.push_back(Job { event, data, ack });
        if !matches!(queue.worker, Worker::Idle) {
            return; // the running drain takes it, in order
        }
        // Run at once, here: most calls and joins never wait, so they are answered in this
        // poll of the connection's task (one write, no task spawned and woken per call). A job
        // that has to wait goes on in a task of its own, which then holds the queue's order.
        queue.worker = Worker::Inline;
        drop(queue);
        let mut drain: BoxFuture<'static, ()> = Box::pin(self.clone().drain());
        let polled = std::panic::AssertUnwindSafe(drain.as_mut()).catch_unwind().now_or_never();
        let mut queue = lock(&self.0.queue);
        match polled {
            Some(Ok(())) => {}
            Some(Err(_)) => {
                // User code is guarded inside the job; this is the engine's own bookkeeping.
                tracing::error!("a socket's queue panicked; its queued work is dropped");
                queue.jobs.clear();
                queue.in_flight = 0;
                queue.worker = Worker::Idle;
            }
            // Closed meanwhile: dropped, as an aborted worker is, unless its code is cancelled
            // by asking (then it runs until it settles: Rule 8 (docs/security.md#rule-8)).
            None if queue.closed && !self.0.hub.plan.cancel_by_signal => queue.worker = Worker::Idle,
            // Under the lock: the task cannot end (and reset the worker) before it is recorded.
            None => queue.worker = Worker::Task(tokio::spawn(drain).abort_handle()),
        }
    }

    fn closed(&self) {
        let (worker, running) = {
            let mut queue = lock(&self.0.queue);
            queue.closed = true;
            queue.jobs.clear();
            match std::mem::take(&mut queue.worker) {
                Worker::Task(worker) => (Some(worker), true),
                // An inline run stops at its first await: it is then dropped, not spawned.
                Worker::Inline => (None, true),
                Worker::Idle => (None, false),
            }
        };
        // Cancels the running call, join or leave (Rule 8 (docs/security.md#rule-8)): at its next
        // await, or, for code cancelled by asking, by asking (the worker ends once it settles).
        // A job that has not asked yet finds it fired when it does; with no job, nothing can.
        let mut cancel = lock(&self.0.cancel);
        match cancel.as_ref() {
            Some(cancel) => cancel.cancel(Cancelled::Disconnected),
            None if running => cancel.insert(Cancel::default()).cancel(Cancelled::Disconnected),
            None => {}
        }
        drop(cancel);
        if let Some(worker) = worker
            && !self.0.hub.plan.cancel_by_signal
        {
            worker.abort();
        }
        let mut held = lock(&self.0.held);
        held.closed = true;
        let entries = std::mem::take(&mut held.entries);
        for entry in &entries {
            self.0.link.leave(&entry.room);
            self.unlist(entry, &mut held);
        }
    }
}

fn answer(ack: Ack, result: &Result<Box<RawValue>, Rejection>) {
    match serde_json::value::to_raw_value(&Answer::from_result(result)) {
        Ok(raw) => ack.send(&raw),
        Err(e) => tracing::error!(error = %e, "could not encode an answer"),
    }
}

fn unknown_room(name: &str) -> Rejection {
    Rejection::not_found(format!("unknown room `{}`", protocol::printable(name)))
}

/// Locks a mutex; a panic elsewhere does not poison a socket's bookkeeping.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
