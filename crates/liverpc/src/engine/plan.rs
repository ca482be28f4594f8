//! A contract as values: what every front-end compiles to and the engine executes.
//!
//! Handlers, room deciders and the hook are type-erased async functions over JSON, so a Rust
//! `impl Contract` and a TypeScript `socket({ ... })` become the same [`Plan`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::socket::{Locals, Socket};
use crate::future::BoxFuture;
use crate::wire::error::{BuildError, Rejection};
use crate::wire::handshake::{Handshake, Refuse};
use crate::wire::key::RoomKey;
use crate::wire::protocol::{self, RESERVED_NAMES, RESERVED_PREFIX};
use crate::wire::route::{Params, Route, is_identifier};

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
}

/// One contract: its namespace, route, events, handlers and rooms.
pub(crate) struct Plan {
    pub(crate) namespace: String,
    pub(crate) route: Route,
    pub(crate) events: Vec<String>,
    pub(crate) handlers: HashMap<String, HandlerFn>,
    pub(crate) rooms: HashMap<String, RoomPlan>,
    /// Auto-joined rooms, in declaration order.
    pub(crate) auto_join: Vec<String>,
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
            handlers: HashMap::new(),
            rooms: HashMap::new(),
            auto_join: Vec::new(),
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
        if self.rooms.insert(name.to_owned(), room).is_some() {
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
        RoomPlan { exposed, auto_join, decide, presence: None }
    }

    #[test]
    fn an_exposed_room_cannot_auto_join() {
        let mut plan = Plan::new("/", "chat").unwrap();
        assert!(matches!(plan.room("p", room(true, true)), Err(BuildError::AutoJoinExposed { .. })));
        plan.room("chat", room(false, true)).unwrap();
        assert_eq!(plan.auto_join, ["chat"]);
        assert!(matches!(plan.room("chat", room(false, false)), Err(BuildError::Duplicate { what: "room", .. })));
    }
}
