//! A contract as values: what every front-end compiles to and the engine executes.
//!
//! Handlers, room deciders and the hook are type-erased async functions over JSON, so a Rust
//! `impl Contract` and a TypeScript `socket({ ... })` become the same [`Plan`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde_json::value::RawValue;

use super::socket::{Locals, Socket};
use crate::future::BoxFuture;
use crate::wire::error::{BuildError, Rejection};
use crate::wire::handshake::{Handshake, Refuse};
use crate::wire::key::RoomKey;
use crate::wire::protocol::{self, RESERVED_NAMES, RESERVED_PREFIX};
use crate::wire::route::{Params, Route, is_identifier};
use crate::wire::stream::History;

/// The connection hook: handshake in, locals out.
pub(crate) type HookFn = Arc<dyn Fn(Handshake) -> BoxFuture<'static, Result<Locals, Refuse>> + Send + Sync>;

/// A page -> server handler: the socket and the raw payload in, the raw reply out.
pub(crate) type HandlerFn =
    Arc<dyn Fn(Socket, Box<RawValue>) -> BoxFuture<'static, Result<Box<RawValue>, Rejection>> + Send + Sync>;

/// A room's decision: the socket and, for an exposed room, the page's raw payload in; the key
/// out, or the refusal.
pub(crate) type DecideFn =
    Arc<dyn Fn(Socket, Option<Box<RawValue>>) -> BoxFuture<'static, Result<RoomKey, Rejection>> + Send + Sync>;

/// Whether a matched URL's params pass the route's matchers (`[id=integer]`); `Err` when it
/// cannot be decided now.
pub(crate) type CheckFn = Arc<dyn Fn(Params) -> BoxFuture<'static, Result<bool, Refuse>> + Send + Sync>;

/// What a member of a room shows the others, from its connection's locals (`None`: nothing
/// can be shown, the member is not listed).
pub(crate) type PresenceFn = Arc<dyn Fn(&Locals) -> Option<Box<RawValue>> + Send + Sync>;

/// One room of a contract.
#[derive(Clone)]
pub(crate) struct RoomPlan {
    /// The page sends a payload (exposed) or only the name (private).
    pub(crate) exposed: bool,
    /// Joined on connect (private rooms only).
    pub(crate) auto_join: bool,
    pub(crate) decide: DecideFn,
    /// The room lists its members to each other (presence).
    pub(crate) presence: Option<PresenceFn>,
    /// The room keeps history: its keys (whose first part is the room's name) have a stream.
    pub(crate) history: Option<History>,
}

/// A plan's table of what its contract declares, by name. Its keys are the contract's own
/// (few, short, fixed once served) and it is read on every connect, join and call: hashed
/// with FNV-1a, not SipHash, whose resistance to floods of colliding keys buys nothing for
/// a table a page cannot add to (a lookup of a page's name costs at most the table's size).
pub(crate) type ByName<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// FNV-1a, for [`ByName`].
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> NameHasher {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One contract: its namespace, route, events, handlers and rooms.
pub(crate) struct Plan {
    pub(crate) namespace: String,
    pub(crate) route: Route,
    pub(crate) events: Vec<String>,
    pub(crate) handlers: ByName<String, HandlerFn>,
    /// By name; a held room's entry shares the name.
    pub(crate) rooms: ByName<Arc<str>, RoomPlan>,
    /// Auto-joined rooms, in declaration order.
    pub(crate) auto_join: Vec<String>,
    /// Rooms with history, by name: a key whose first part is one of them has a stream.
    pub(crate) streams: ByName<String, History>,
    /// Its user code is stopped by asking, not by dropping it (see `engine::patient`).
    pub(crate) cancel_by_signal: bool,
    /// Runs the route's param matchers; a route with matchers has one.
    pub(crate) check: Option<CheckFn>,
}

impl Plan {
    /// An empty contract of `route` (a SvelteKit route id) named `name`.
    pub(crate) fn new(route: &str, name: &str) -> Result<Plan, BuildError> {
        let namespace = protocol::namespace(route, name);
        check_name(&namespace, "contract", name)?;
        let route = Route::parse(route).map_err(|source| BuildError::Route { name: name.to_owned(), source })?;
        Ok(Plan {
            namespace,
            route,
            events: Vec::new(),
            handlers: ByName::default(),
            rooms: ByName::default(),
            auto_join: Vec::new(),
            streams: ByName::default(),
            cancel_by_signal: false,
            check: None,
        })
    }

    /// Declares a server -> page event.
    pub(crate) fn event(&mut self, name: &str) -> Result<(), BuildError> {
        check_name(&self.namespace, "event", name)?;
        if self.events.iter().any(|e| e == name) {
            return Err(self.duplicate("event", name));
        }
        self.events.push(name.to_owned());
        Ok(())
    }

    /// Adds a page -> server handler.
    pub(crate) fn handler(&mut self, name: &str, handler: HandlerFn) -> Result<(), BuildError> {
        check_name(&self.namespace, "handler", name)?;
        if self.handlers.insert(name.to_owned(), handler).is_some() {
            return Err(self.duplicate("handler", name));
        }
        Ok(())
    }

    /// Adds a room.
    pub(crate) fn room(&mut self, name: &str, room: RoomPlan) -> Result<(), BuildError> {
        check_name(&self.namespace, "room", name)?;
        if room.auto_join && room.exposed {
            return Err(BuildError::AutoJoinExposed { contract: self.namespace.clone(), name: name.to_owned() });
        }
        let auto_join = room.auto_join;
        if self.rooms.insert(name.into(), room).is_some() {
            return Err(self.duplicate("room", name));
        }
        if auto_join {
            self.auto_join.push(name.to_owned());
        }
        Ok(())
    }

    /// Makes room `name` list its members, each showing what `show` derives from its locals.
    pub(crate) fn presence(&mut self, name: &str, show: PresenceFn) -> Result<(), BuildError> {
        let namespace = self.namespace.clone();
        let room = self
            .rooms
            .get_mut(name)
            .ok_or_else(|| BuildError::PresenceWithoutRoom { contract: namespace.clone(), name: name.to_owned() })?;
        if room.presence.replace(show).is_some() {
            return Err(BuildError::Duplicate { contract: namespace, what: "presence", name: name.to_owned() });
        }
        Ok(())
    }

    /// Makes room `name` keep history: every key whose first part is `name` gets a stream.
    pub(crate) fn history(&mut self, name: &str, history: History) -> Result<(), BuildError> {
        let contract = self.namespace.clone();
        if history.size == 0 || history.size > History::MAX_SIZE {
            let (name, size, max) = (name.to_owned(), history.size, History::MAX_SIZE);
            return Err(BuildError::HistorySize { contract, name, size, max });
        }
        let room = self
            .rooms
            .get_mut(name)
            .ok_or_else(|| BuildError::HistoryWithoutRoom { contract: contract.clone(), name: name.to_owned() })?;
        if room.history.replace(history).is_some() {
            return Err(BuildError::Duplicate { contract, what: "history", name: name.to_owned() });
        }
        self.streams.insert(name.to_owned(), history);
        Ok(())
    }

    /// The history of `key`'s stream, if it has one (its first part names a room with history).
    pub(crate) fn stream_of(&self, key: &RoomKey) -> Option<History> {
        self.streams.get(key.parts().first()?).copied()
    }

    /// The same, for a room as the transport names it (a key encoded as a JSON array).
    pub(crate) fn stream_of_encoded(&self, room: &str) -> Option<History> {
        if self.streams.is_empty() {
            return None;
        }
        let parts: Vec<String> = serde_json::from_str(room).ok()?;
        self.streams.get(parts.first()?).copied()
    }

    fn duplicate(&self, what: &'static str, name: &str) -> BuildError {
        BuildError::Duplicate { contract: self.namespace.clone(), what, name: name.to_owned() }
    }
}

fn check_name(contract: &str, what: &'static str, name: &str) -> Result<(), BuildError> {
    if name.starts_with(RESERVED_PREFIX) || RESERVED_NAMES.contains(&name) {
        return Err(BuildError::Reserved { contract: contract.to_owned(), what, name: name.to_owned() });
    }
    if !is_identifier(name) {
        return Err(BuildError::Name { contract: contract.to_owned(), what, name: name.to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(exposed: bool, auto_join: bool) -> RoomPlan {
        let decide: DecideFn = Arc::new(|_, _| Box::pin(async { Ok(RoomKey::new(["x"])) }));
        RoomPlan { exposed, auto_join, decide, presence: None, history: None }
    }

    #[test]
    fn names_hash_as_fnv_1a() {
        let hash = |bytes: &[u8]| {
            let mut hasher = NameHasher::default();
            hasher.write(bytes);
            hasher.finish()
        };
        // The published FNV-1a 64-bit values.
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn an_exposed_room_cannot_auto_join() {
        let mut plan = Plan::new("/", "chat").unwrap();
        assert!(matches!(plan.room("p", room(true, true)), Err(BuildError::AutoJoinExposed { .. })));
        plan.room("chat", room(false, true)).unwrap();
        assert_eq!(plan.auto_join, ["chat"]);
        assert!(matches!(plan.room("chat", room(false, false)), Err(BuildError::Duplicate { what: "room", .. })));
    }

    #[test]
    fn a_key_has_a_stream_when_its_first_part_names_a_room_with_history() {
        let mut plan = Plan::new("/", "chat").unwrap();
        plan.room("chat", room(false, true)).unwrap();
        plan.room("tenant", room(false, false)).unwrap();
        assert!(matches!(plan.history("nope", History::last(5)), Err(BuildError::HistoryWithoutRoom { .. })));
        assert!(matches!(plan.history("chat", History::last(0)), Err(BuildError::HistorySize { .. })));
        plan.history("chat", History::last(5)).unwrap();
        assert!(matches!(plan.history("chat", History::last(5)), Err(BuildError::Duplicate { what: "history", .. })));
        assert_eq!(plan.stream_of(&RoomKey::new(["chat", "general"])), Some(History::last(5)));
        assert_eq!(plan.stream_of_encoded(r#"["chat","general"]"#), Some(History::last(5)));
        assert_eq!(plan.stream_of(&RoomKey::new(["tenant", "acme"])), None);
        assert_eq!(plan.stream_of_encoded(r#"["general","chat"]"#), None);
    }
}
