//! Which room channels this node subscribes: a channel is wanted while the node has a member
//! in its room (Centrifugo's rule), so a room's traffic reaches only the nodes that deliver it.
//! Holds are counted here; one task turns the difference between wanted and subscribed into
//! SUBSCRIBE and UNSUBSCRIBE commands, so churn never queues commands (a room joined and left
//! while a command is in flight costs nothing more).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Wanted and subscribed channels.
#[derive(Default)]
pub(super) struct Channels {
    state: Mutex<ChannelsState>,
    /// Wakes the task that subscribes.
    pub(super) changed: tokio::sync::Notify,
}

#[derive(Default)]
struct ChannelsState {
    /// Holds per channel, and who waits for its subscription.
    wanted: HashMap<String, Want>,
    /// Confirmed by Redis (as far as this node knows).
    subscribed: HashSet<String>,
}

#[derive(Default)]
struct Want {
    holds: usize,
    waiters: Vec<oneshot::Sender<()>>,
}

/// What the subscribing task should do next.
pub(super) struct Changes {
    pub(super) subscribe: Vec<String>,
    pub(super) unsubscribe: Vec<String>,
}

impl Channels {
    fn state(&self) -> MutexGuard<'_, ChannelsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One more hold on `channel`. Returns what resolves once it is subscribed, or `None`
    /// when it is already (or when the caller should not wait: Redis is down).
    pub(super) fn hold(&self, channel: &str, wait: bool) -> Option<oneshot::Receiver<()>> {
        let mut state = self.state();
        let subscribed = state.subscribed.contains(channel);
        let want = state.wanted.entry(channel.to_owned()).or_default();
        want.holds += 1;
        let waiter = (!subscribed && wait).then(|| {
            let (tx, rx) = oneshot::channel();
            want.waiters.push(tx);
            rx
        });
        if !subscribed {
            drop(state);
            self.changed.notify_one();
        }
        waiter
    }

    /// One hold on `channel` fewer.
    pub(super) fn release(&self, channel: &str) {
        let mut state = self.state();
        let Some(want) = state.wanted.get_mut(channel) else { return };
        want.holds -= 1;
        if want.holds == 0 {
            state.wanted.remove(channel);
            if state.subscribed.contains(channel) {
                drop(state);
                self.changed.notify_one();
            }
        }
    }

    /// The commands that would make what is subscribed what is wanted. Channels about to be
    /// unsubscribed count as unsubscribed from now on: a hold taken meanwhile waits for the
    /// SUBSCRIBE that follows, instead of trusting a subscription that is going away.
    pub(super) fn plan(&self) -> Changes {
        let mut state = self.state();
        let subscribe = state.wanted.keys().filter(|c| !state.subscribed.contains(*c)).cloned().collect();
        let unsubscribe: Vec<String> =
            state.subscribed.iter().filter(|c| !state.wanted.contains_key(*c)).cloned().collect();
        for channel in &unsubscribe {
            state.subscribed.remove(channel);
        }
        Changes { subscribe, unsubscribe }
    }

    /// Redis confirmed these subscriptions: their waiters go on.
    pub(super) fn subscribed(&self, channels: &[String]) {
        let mut state = self.state();
        for channel in channels {
            if let Some(want) = state.wanted.get_mut(channel) {
                want.waiters.clear(); // dropping a sender resolves its waiter
            }
            state.subscribed.insert(channel.clone());
        }
    }

    /// Up to `count` subscribed channels, a different slice each call (`turn` counts the calls):
    /// what a cluster's heartbeat touches, so that every shard carrying this node's rooms is
    /// reached now and then.
    pub(super) fn sample(&self, count: usize, turn: usize) -> Vec<String> {
        let state = self.state();
        let len = state.subscribed.len();
        if len == 0 {
            return Vec::new();
        }
        let start = turn.wrapping_mul(count) % len;
        state.subscribed.iter().cycle().skip(start).take(count.min(len)).cloned().collect()
    }

    /// Redis is unreachable: nobody waits (delivery is local until it is back), and every
    /// wanted channel is subscribed again once it is.
    pub(super) fn unreachable(&self) {
        let mut state = self.state();
        for want in state.wanted.values_mut() {
            want.waiters.clear();
        }
        state.subscribed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_wanted_while_held_and_waiters_go_on_once_subscribed() {
        let channels = Channels::default();
        let mut first = channels.hold("a", true).expect("not subscribed yet");
        assert!(channels.hold("a", true).is_some());
        let plan = channels.plan();
        assert_eq!((plan.subscribe.as_slice(), plan.unsubscribe.len()), (["a".to_owned()].as_slice(), 0));
        channels.subscribed(&plan.subscribe);
        assert!(first.try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Closed), "resolved");
        assert!(channels.hold("a", true).is_none(), "already subscribed");
        for _ in 0..3 {
            channels.release("a");
        }
        let plan = channels.plan();
        assert_eq!((plan.subscribe.len(), plan.unsubscribe.as_slice()), (0, ["a".to_owned()].as_slice()));
        let plan = channels.plan();
        assert!(plan.subscribe.is_empty() && plan.unsubscribe.is_empty());
    }

    #[test]
    fn a_hold_taken_while_its_channel_is_being_unsubscribed_waits_for_the_next_subscribe() {
        let channels = Channels::default();
        let _ = channels.hold("a", true);
        channels.subscribed(&channels.plan().subscribe);
        channels.release("a");
        let going = channels.plan();
        assert_eq!(going.unsubscribe, ["a"]);
        // While that UNSUBSCRIBE is in flight, a member joins again.
        assert!(channels.hold("a", true).is_some(), "must wait: the subscription is going away");
        assert_eq!(channels.plan().subscribe, ["a"], "subscribed again after the unsubscribe");
    }

    #[test]
    fn samples_go_round_every_subscribed_channel() {
        let channels = Channels::default();
        assert!(channels.sample(2, 0).is_empty());
        let all: Vec<String> = ["a", "b", "c"].map(str::to_owned).into();
        channels.subscribed(&all);
        let mut seen: Vec<String> = (0..3).flat_map(|turn| channels.sample(2, turn)).collect();
        assert_eq!(seen.len(), 6);
        seen.sort();
        seen.dedup();
        assert_eq!(seen, all, "every channel within a few turns");
        assert_eq!(channels.sample(5, 0).len(), 3, "never more than are subscribed");
    }

    #[test]
    fn after_an_outage_every_wanted_channel_is_subscribed_again() {
        let channels = Channels::default();
        let _ = channels.hold("a", true);
        channels.subscribed(&["a".to_owned()]);
        channels.unreachable();
        assert_eq!(channels.plan().subscribe, ["a"]);
        assert!(channels.hold("b", false).is_none(), "no wait while Redis is down");
    }
}
