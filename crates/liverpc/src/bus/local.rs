//! The bus between the nodes of one process: an app on one node has no other node to tell;
//! tests run several engines in one process through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::value::RawValue;

use super::{Bus, Interest, Member, Place, RoomMessage, Sink};
use crate::future::BoxFuture;

/// Every node of one bus, by number, with where it receives. Weak: the sink (an engine) holds
/// this bus, and an engine no one holds any more must be freed.
type Nodes = Arc<Mutex<Vec<(usize, Weak<dyn Sink>)>>>;
/// The members listed in each (namespace, room), in the order they came.
type Presence = Arc<Mutex<HashMap<(String, String), Vec<Member>>>>;

/// One node's handle on an in-process bus. [`LocalBus::new`] makes the first node; each
/// [`LocalBus::node`] another node of the same bus.
#[derive(Default)]
pub(crate) struct LocalBus {
    nodes: Nodes,
    me: usize,
    listed: Presence,
}

impl LocalBus {
    /// A bus with one node: this one.
    pub(crate) fn new() -> LocalBus {
        LocalBus::default()
    }

    /// Another node on the same bus.
    #[cfg(test)]
    pub(crate) fn node(&self) -> LocalBus {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let me = nodes.iter().map(|(n, _)| n + 1).max().unwrap_or(0).max(self.me + 1);
        LocalBus { nodes: self.nodes.clone(), me, listed: self.listed.clone() }
    }
}

impl Bus for LocalBus {
    fn publish(&self, message: &RoomMessage<'_>) {
        // Delivery runs under the lock: the messages of one node reach the others in order.
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        for (_, sink) in nodes.iter().filter(|(n, _)| *n != self.me) {
            if let Some(sink) = sink.upgrade() {
                sink.deliver(message);
            }
        }
    }

    fn start(&self, sink: Arc<dyn Sink>) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.retain(|(_, sink)| sink.strong_count() > 0);
        nodes.push((self.me, Arc::downgrade(&sink)));
    }

    fn interest(&self, _namespace: &str, _room: &str) -> Interest {
        // Every node's sink sees every message: there is nothing to subscribe.
        Interest::none()
    }

    fn present(&self, at: Place<'_>, member: &str, data: &RawValue) -> BoxFuture<'static, Vec<Member>> {
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        let members = listed.entry((at.namespace.to_owned(), at.room.to_owned())).or_default();
        members.retain(|m| m.id != member);
        members.push(Member { id: member.to_owned(), data: data.to_owned() });
        let snapshot = members.clone();
        Box::pin(std::future::ready(snapshot))
    }

    fn absent(&self, namespace: &str, room: &str, member: &str) {
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        let key = (namespace.to_owned(), room.to_owned());
        if let Some(members) = listed.get_mut(&key) {
            members.retain(|m| m.id != member);
            if members.is_empty() {
                listed.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Action;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl Sink for Seen {
        fn deliver(&self, message: &RoomMessage<'_>) {
            self.0.lock().unwrap().push(message.room.to_owned());
        }
    }

    #[test]
    fn members_are_listed_on_every_node_until_absent() {
        let first = LocalBus::new();
        let second = first.node();
        let data = RawValue::from_string(r#"{"name":"a"}"#.to_owned()).unwrap();
        let at = Place { namespace: "/chat", room: "r", name: "chat" };
        drop(first.present(at, "m1", &data));
        let snapshot = futures_util::FutureExt::now_or_never(second.present(at, "m2", &data)).unwrap();
        assert_eq!(snapshot.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m1", "m2"]);
        first.absent("/chat", "r", "m1");
        let snapshot = futures_util::FutureExt::now_or_never(first.present(at, "m3", &data)).unwrap();
        assert_eq!(snapshot.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m2", "m3"]);
    }

    #[test]
    fn a_message_reaches_every_other_node_in_order_and_not_its_own() {
        let (a, b, c) = (Arc::new(Seen::default()), Arc::new(Seen::default()), Arc::new(Seen::default()));
        let first = LocalBus::new();
        let (second, third) = (first.node(), first.node());
        first.start(a.clone());
        second.start(b.clone());
        third.start(c.clone());
        let emit = Action::Disconnect;
        for room in ["r1", "r2"] {
            first.publish(&RoomMessage { namespace: "/chat", room, action: emit });
        }
        assert!(a.0.lock().unwrap().is_empty());
        assert_eq!(*b.0.lock().unwrap(), ["r1", "r2"]);
        assert_eq!(*c.0.lock().unwrap(), ["r1", "r2"]);
    }
}
