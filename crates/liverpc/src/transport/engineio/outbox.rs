//! A connection's send queue, bounded in packets and bytes. Its frames are encoded packets
//! (refcounted: one broadcast's bytes are shared by every member's queue); whoever writes them
//! (the websocket's task, or a polling GET) takes everything at once.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::task::AtomicWaker;

pub(super) struct Outbox {
    queue: Mutex<Queue>,
    /// The session's task: woken when there is something to write, or it must end.
    pub(super) session: AtomicWaker,
    /// A polling GET waiting for something to answer.
    pub(super) poll: AtomicWaker,
    max_packets: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Queue {
    frames: Frames,
    bytes: usize,
    flow: Flow,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    #[default]
    Open,
    /// Send what is queued, then close.
    Closing,
    /// Drop everything: the connection is gone or too slow.
    Aborted,
}

pub(super) enum Pushed {
    Queued,
    Closed,
    Overflow,
}

pub(super) enum Take {
    Frames(Frames),
    Empty,
    Closed,
    Aborted,
}

impl Outbox {
    pub(super) fn new(max_packets: usize, max_bytes: usize) -> Outbox {
        Outbox {
            queue: Mutex::default(),
            session: AtomicWaker::new(),
            poll: AtomicWaker::new(),
            max_packets: max_packets.max(1),
            max_bytes,
        }
    }

    pub(super) fn push(&self, frame: Bytes) -> Pushed {
        let mut queue = self.lock();
        if queue.flow != Flow::Open {
            return Pushed::Closed;
        }
        let len = frame.len();
        // One frame always fits an empty queue: a big answer is not a slow reader.
        let full = !queue.frames.is_empty()
            && (queue.frames.len() >= self.max_packets || queue.bytes.saturating_add(len) > self.max_bytes);
        if full {
            queue.flow = Flow::Aborted;
            queue.frames = Frames::default();
            queue.bytes = 0;
            drop(queue);
            self.wake();
            return Pushed::Overflow;
        }
        let was_empty = queue.frames.is_empty();
        queue.frames.push(frame);
        queue.bytes += len;
        drop(queue);
        if was_empty {
            self.wake();
        }
        Pushed::Queued
    }

    /// Everything queued, taken at once (the queue's memory goes with it).
    pub(super) fn take(&self) -> Take {
        let mut queue = self.lock();
        match queue.flow {
            Flow::Aborted => Take::Aborted,
            _ if !queue.frames.is_empty() => {
                queue.bytes = 0;
                Take::Frames(std::mem::take(&mut queue.frames))
            }
            Flow::Closing => Take::Closed,
            Flow::Open => Take::Empty,
        }
    }

    /// Nothing more is queued; what is queued is still sent.
    pub(super) fn close(&self) {
        let mut queue = self.lock();
        if queue.flow == Flow::Open {
            queue.flow = Flow::Closing;
        }
        drop(queue);
        self.wake();
    }

    /// Nothing more is sent.
    pub(super) fn abort(&self) {
        let mut queue = self.lock();
        queue.flow = Flow::Aborted;
        queue.frames = Frames::default();
        drop(queue);
        self.wake();
    }

    /// Open, closing (what was queued still goes out) or aborted (nothing more is sent).
    pub(super) fn flow(&self) -> Flow {
        self.lock().flow
    }

    /// Wakes whoever writes the queue (the session's task sees why: an expired heartbeat).
    pub(super) fn wake(&self) {
        self.session.wake();
        self.poll.wake();
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Queued frames, in order. The first is held inline: most batches are one frame (a message
/// to a page that reads), and taking one allocates nothing.
#[derive(Default)]
pub(super) struct Frames {
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl Frames {
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn push(&mut self, frame: Bytes) {
        if self.first.is_none() {
            self.first = Some(frame);
        } else {
            self.rest.push_back(frame);
        }
    }

    /// The frame, when there is exactly one.
    pub(super) fn single(&self) -> Option<&Bytes> {
        self.first.as_ref().filter(|_| self.rest.is_empty())
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.first.iter().chain(&self.rest)
    }
}

impl IntoIterator for Frames {
    type Item = Bytes;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Bytes>, std::collections::vec_deque::IntoIter<Bytes>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Bytes {
        Bytes::from("x".repeat(len))
    }

    #[test]
    fn the_queue_is_bounded_in_packets_and_the_overflow_drops_everything() {
        let outbox = Outbox::new(3, 1 << 20);
        assert!((0..3).all(|_| matches!(outbox.push(frame(10)), Pushed::Queued)));
        assert!(matches!(outbox.push(frame(10)), Pushed::Overflow), "the fourth packet does not fit");
        assert!(matches!(outbox.take(), Take::Aborted), "nothing queued is sent after an overflow");
        assert!(matches!(outbox.push(frame(1)), Pushed::Closed));
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_but_one_frame_always_fits() {
        let outbox = Outbox::new(100, 100);
        assert!(matches!(outbox.push(frame(500)), Pushed::Queued), "a big frame into an empty queue");
        match outbox.take() {
            Take::Frames(batch) => assert_eq!(batch.single().map(Bytes::len), Some(500)),
            _ => panic!("the frame is taken"),
        }
        assert!(matches!(outbox.push(frame(60)), Pushed::Queued));
        assert!(matches!(outbox.push(frame(60)), Pushed::Overflow), "120 bytes over a 100-byte bound");
    }

    #[test]
    fn a_closed_queue_hands_out_what_it_holds_then_ends() {
        let outbox = Outbox::new(10, 1000);
        assert!(matches!(outbox.push(frame(1)), Pushed::Queued));
        assert!(matches!(outbox.push(frame(2)), Pushed::Queued));
        outbox.close();
        assert!(matches!(outbox.push(frame(3)), Pushed::Closed), "nothing joins a closing queue");
        match outbox.take() {
            Take::Frames(batch) => assert_eq!(batch.iter().map(|f| f.len()).collect::<Vec<_>>(), [1, 2]),
            _ => panic!("the queued frames are taken"),
        }
        assert!(matches!(outbox.take(), Take::Closed));
    }
}
