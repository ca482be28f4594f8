//! The heartbeat: one task per transport pings every session each ping interval and closes
//! the sessions that do not answer within the ping timeout, or that connect no namespace within
//! the connect timeout. A session holds no timer of its own (a timer was 112 bytes on the heap
//! and a timer-wheel entry per connection), only its [`Beat`]: two deadlines and a verdict.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Milliseconds since the heartbeat began: the unit of a [`Beat`]'s deadlines.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(super) fn start() -> Clock {
        Clock { epoch: Instant::now() }
    }

    pub(super) fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// A deadline `after` from now.
    pub(super) fn after(&self, after: Duration) -> u64 {
        deadline(self.now(), after)
    }
}

/// `after` from `now`, never 0 (which a [`Beat`] reads as none).
fn deadline(now: u64, after: Duration) -> u64 {
    now.saturating_add(millis(after)).max(1)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One session's part of the heartbeat, shared by its task (which reads the verdict and notes
/// connects and pongs) and the heartbeat's task (which sets both deadlines and the verdict).
#[derive(Debug)]
pub(super) struct Beat {
    /// When the session is closed if no namespace connected by then (0: one did).
    connect_due: AtomicU64,
    /// When the session is closed if the outstanding ping is not answered (0: none is).
    pong_due: AtomicU64,
    expired: AtomicU8,
}

const ALIVE: u8 = 0;
const NO_CONNECT: u8 = 1;
const NO_PONG: u8 = 2;

/// What a tick asks of a session.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    Nothing,
    /// Send it a ping (its pong is now awaited).
    Ping,
    /// It has expired: wake its task, which ends it.
    Expire,
}

impl Beat {
    /// A session that must connect a namespace by `connect_due` (from [`Clock::after`]).
    pub(super) fn new(connect_due: u64) -> Beat {
        Beat { connect_due: AtomicU64::new(connect_due), pong_due: AtomicU64::new(0), expired: AtomicU8::new(ALIVE) }
    }

    /// A namespace connected: the connect deadline is lifted for good.
    pub(super) fn connected(&self) {
        self.connect_due.store(0, Ordering::Release);
    }

    /// The page answered the ping.
    pub(super) fn ponged(&self) {
        self.pong_due.store(0, Ordering::Release);
    }

    /// Why the session must end, once it must.
    pub(super) fn expired(&self) -> Option<&'static str> {
        match self.expired.load(Ordering::Acquire) {
            NO_CONNECT => Some("no namespace connected within the connect timeout"),
            NO_PONG => Some("no pong within the ping timeout"),
            _ => None,
        }
    }

    /// A tick at `now`; `ping`: the ping interval is up. A session already awaiting a pong is
    /// not pinged again.
    pub(super) fn tick(&self, now: u64, ping: bool, ping_timeout: Duration) -> Due {
        let connect_due = self.connect_due.load(Ordering::Acquire);
        if connect_due != 0 && now >= connect_due {
            return self.expire(NO_CONNECT);
        }
        let pong_due = self.pong_due.load(Ordering::Acquire);
        if pong_due != 0 {
            return if now >= pong_due { self.expire(NO_PONG) } else { Due::Nothing };
        }
        // The deadline is set before the ping is sent, so a pong can never come before it.
        if ping
            && self
                .pong_due
                .compare_exchange(0, deadline(now, ping_timeout), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Due::Ping;
        }
        Due::Nothing
    }

    fn expire(&self, why: u8) -> Due {
        self.expired.store(why, Ordering::Release);
        Due::Expire
    }
}

/// The heartbeat's ticks: a quarter of the shortest of the three times (at least a
/// millisecond), so a session is closed at most that late; every ping interval, a ping.
pub(super) struct Ticks {
    clock: Clock,
    interval: Interval,
    ping_interval: Duration,
    next_ping: Instant,
}

impl Ticks {
    pub(super) fn new(
        clock: Clock,
        ping_interval: Duration,
        ping_timeout: Duration,
        connect_timeout: Duration,
    ) -> Ticks {
        let period = (ping_interval.min(ping_timeout).min(connect_timeout) / 4).max(Duration::from_millis(1));
        let mut interval = tokio::time::interval_at(clock.epoch + period, period);
        // A late tick (a busy runtime) is not made up for with a burst of ticks.
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ticks { clock, interval, ping_interval, next_ping: clock.epoch + ping_interval }
    }

    /// Waits for the next tick: its time, and whether it pings.
    pub(super) async fn next(&mut self) -> (u64, bool) {
        let at = self.interval.tick().await;
        let ping = at >= self.next_ping;
        if ping {
            self.next_ping = at + self.ping_interval;
        }
        (self.clock.now(), ping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(100);

    #[test]
    fn a_session_that_never_connects_expires_at_its_deadline() {
        let beat = Beat::new(50);
        assert_eq!(beat.tick(49, false, TIMEOUT), Due::Nothing);
        assert_eq!(beat.expired(), None);
        assert_eq!(beat.tick(50, false, TIMEOUT), Due::Expire);
        assert_eq!(beat.expired(), Some("no namespace connected within the connect timeout"));
    }

    #[test]
    fn a_connected_session_is_pinged_and_kept_while_it_answers() {
        let beat = Beat::new(50);
        beat.connected();
        assert_eq!(beat.tick(10, false, TIMEOUT), Due::Nothing, "no ping before the interval is up");
        assert_eq!(beat.tick(1000, true, TIMEOUT), Due::Ping);
        assert_eq!(beat.tick(1050, true, TIMEOUT), Due::Nothing, "one ping outstanding at a time");
        beat.ponged();
        assert_eq!(beat.tick(1099, true, TIMEOUT), Due::Ping, "answered: pinged again");
        beat.ponged();
        assert_eq!(beat.tick(5000, false, TIMEOUT), Due::Nothing);
        assert_eq!(beat.expired(), None);
    }

    #[test]
    fn a_ping_not_answered_within_the_timeout_expires_the_session() {
        let beat = Beat::new(0);
        assert_eq!(beat.tick(1000, true, TIMEOUT), Due::Ping);
        assert_eq!(beat.tick(1099, false, TIMEOUT), Due::Nothing);
        assert_eq!(beat.tick(1100, false, TIMEOUT), Due::Expire);
        assert_eq!(beat.expired(), Some("no pong within the ping timeout"));
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_come_every_quarter_of_the_shortest_time_and_ping_every_interval() {
        let clock = Clock::start();
        let mut ticks =
            Ticks::new(clock, Duration::from_millis(400), Duration::from_millis(800), Duration::from_secs(9));
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(ticks.next().await);
        }
        let pings: Vec<u64> = seen.iter().filter(|(_, ping)| *ping).map(|(at, _)| *at).collect();
        assert_eq!(seen.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [100, 200, 300, 400, 500, 600, 700, 800]);
        assert_eq!(pings, [400, 800]);
    }
}
