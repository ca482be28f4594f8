//! The bus between the nodes of one process: an app on one node has no other node to tell;
//! tests run several engines in one process through it.

use std::sync::{Arc, Mutex};

use super::{Bus, RoomMessage, Sink};

/// The nodes of one in-process bus, by number.
type Nodes = Arc<Mutex<Vec<(usize, Arc<dyn Sink>)>>>;

/// One node's handle on an in-process bus. [`LocalBus::new`] makes the first node; each
/// [`LocalBus::node`] another node of the same bus.
#[derive(Default)]
pub(crate) struct LocalBus {
    nodes: Nodes,
    me: usize,
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
        LocalBus { nodes: self.nodes.clone(), me }
    }
}

impl Bus for LocalBus {
    fn publish(&self, message: &RoomMessage<'_>) {
        // Delivery runs under the lock: the messages of one node reach the others in order.
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        for (_, sink) in nodes.iter().filter(|(n, _)| *n != self.me) {
            sink.deliver(message);
        }
    }

    fn start(&self, sink: Arc<dyn Sink>) {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).push((self.me, sink));
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
