//! Bounds on what one connection may cost: Rule 5 (docs/security.md#rule-5). Every limit has
//! a documented default.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Limits applied to every connection.
///
/// | limit | default | beyond it |
/// |---|---|---|
/// | `max_payload` | 64 KiB | a call or join answered `too_large`; a message over twice this closes the connection |
/// | `max_rooms` | 32 rooms per socket | a join answered `rate_limited` |
/// | `calls_per_second` / `burst` | 20 / 40 per socket | a call or join answered `rate_limited` |
/// | `max_in_flight` | 16 calls, joins and leaves per socket, queued or running | answered `rate_limited` |
/// | `handler_timeout` | 10 s per call, join, hook or room decision | answered `timeout` (a hook: refused `unavailable`) |
/// | `max_handshakes` | 256 connects being decided at once | refused `unavailable` (the page retries) |
/// | `max_handshakes_per_connection` | 8 connects of one connection being decided at once | refused `unavailable` |
/// | `handshakes_per_second` | 10 connects per connection per second, in bursts of twice that | refused `unavailable` |
/// | `max_partial_bytes` | 64 MiB held for websocket messages not fully arrived, across all connections | the connections holding the most are closed (1013) |
/// | `max_connections` | 10,000 TCP connections, and at most the descriptor limit less 64 | closed at accept |
/// | `max_connections_per_address` | 1,000 TCP connections per remote IP address | closed at accept |
/// | `send_buffer` | 256 messages per connection | the slow reader is disconnected |
/// | `send_buffer_bytes` | 1 MiB per connection | the slow reader is disconnected |
/// | `ping_interval` / `ping_timeout` | 25 s / 20 s | a silent connection is closed (at most a quarter of the shortest of these three times late) |
/// | `connect_timeout` | 10 s | a transport that never connects a namespace is closed (likewise) |
///
/// ```
/// let limits = liverpc::Limits { max_rooms: 8, ..liverpc::Limits::default() };
/// let app = liverpc::App::builder().limits(limits).build().unwrap();
/// # let _ = app;
/// ```
///
/// Its serde shape is the one the TypeScript side passes (and `wire.ts` declares): camelCase
/// names, durations as integer milliseconds under names ending in `Ms`, every field optional
/// (a missing one keeps its default), an unknown one refused by name.
///
/// ```
/// let limits: liverpc::Limits = serde_json::from_str(r#"{ "maxRooms": 8, "pingIntervalMs": 5000 }"#).unwrap();
/// assert_eq!((limits.max_rooms, limits.ping_interval.as_millis()), (8, 5000));
/// assert_eq!(limits.burst, liverpc::Limits::default().burst);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Limits {
    /// Largest payload of one call or join, in bytes.
    pub max_payload: usize,
    /// Most rooms one socket may be in, counted as join requests held (two payloads that
    /// map to the same key count twice).
    pub max_rooms: usize,
    /// Sustained calls and joins per second per socket.
    pub calls_per_second: u32,
    /// Calls and joins allowed in a burst above the sustained rate.
    pub burst: u32,
    /// Messages queued for one connection before it is disconnected as a slow reader (the
    /// sockets of a page's contracts share their connection's queue).
    pub send_buffer: usize,
    /// Bytes queued for one connection before it is disconnected as a slow reader (raised to
    /// two of the largest messages, twice `max_payload` each, if it is lower).
    pub send_buffer_bytes: usize,
    /// Interval between the server's pings.
    #[serde(rename = "pingIntervalMs", with = "millis")]
    #[ts(type = "number")]
    pub ping_interval: Duration,
    /// How long the server waits for a pong.
    #[serde(rename = "pingTimeoutMs", with = "millis")]
    #[ts(type = "number")]
    pub ping_timeout: Duration,
    /// How long a new transport may take to connect to a namespace.
    #[serde(rename = "connectTimeoutMs", with = "millis")]
    #[ts(type = "number")]
    pub connect_timeout: Duration,
    /// Calls, joins and leaves of one socket queued or running at once (they run one at a
    /// time, in the order sent).
    pub max_in_flight: usize,
    /// How long a handler, a room decision or the connection hook may take.
    #[serde(rename = "handlerTimeoutMs", with = "millis")]
    #[ts(type = "number")]
    pub handler_timeout: Duration,
    /// Handshakes (hook and auto-joins) being decided at once, for the whole app.
    pub max_handshakes: usize,
    /// Handshakes of one connection being decided at once (a page opens one per contract it
    /// shows, at once). A namespace the page leaves while its handshake is decided cancels it.
    pub max_handshakes_per_connection: usize,
    /// Handshakes one connection may start per second, in bursts of twice this; a socket that
    /// leaves and connects its namespace again keeps its call limits (`calls_per_second`).
    pub handshakes_per_second: u32,
    /// Bytes held for websocket messages that have not fully arrived (a frame cut by the
    /// network, a fragmented message), across all connections. Past it the connections
    /// holding the most are closed, with code 1013 (try again later).
    pub max_partial_bytes: usize,
    /// TCP connections served at once by [`App::serve`](crate::App::serve). Also capped at the process's
    /// open-file limit less 64, so a flood cannot take the descriptors accepting needs.
    pub max_connections: usize,
    /// TCP connections served at once from one remote IP address. Behind a reverse proxy every
    /// connection comes from the proxy's address: name the proxy in
    /// [`AppBuilder::trusted_proxies`](crate::AppBuilder::trusted_proxies) (each websocket then
    /// counts for the client's forwarded address), or hand sockets over with the client's
    /// address ([`App::serve_connection`](crate::App::serve_connection)).
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_payload: 64 * 1024,
            max_rooms: 32,
            calls_per_second: 20,
            burst: 40,
            send_buffer: 256,
            send_buffer_bytes: 1024 * 1024,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            max_in_flight: 16,
            handler_timeout: Duration::from_secs(10),
            max_handshakes: 256,
            max_handshakes_per_connection: 8,
            handshakes_per_second: 10,
            max_partial_bytes: 64 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_address: 1_000,
        }
    }
}

/// Durations as integer milliseconds (`pingIntervalMs: 25000`).
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// A token bucket shared between threads: `rate` tokens per second, holding at most `burst`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: u32,
    burst: u32,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    pub(crate) fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter { rate, burst, bucket: Mutex::new(Bucket::full(burst)) }
    }

    /// Takes a token; `false` when the bucket is empty.
    pub(crate) fn try_take(&self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        bucket.take_at(self.rate, self.burst, now)
    }
}

/// A token bucket's state, for one owner (the rate and burst are the owner's to pass): what a
/// connection's own reader keeps, with no lock.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A bucket holding `burst` tokens (at least one).
    pub(crate) fn full(burst: u32) -> Bucket {
        Bucket { tokens: f64::from(burst.max(1)), last: Instant::now() }
    }

    /// Takes a token, refilled at `rate` per second up to `burst`; `false` when empty.
    pub(crate) fn try_take(&mut self, rate: u32, burst: u32) -> bool {
        self.take_at(rate, burst, Instant::now())
    }

    fn take_at(&mut self, rate: u32, burst: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(burst.max(1)));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_deserialize_every_field_and_refuse_an_unknown_one() {
        let json = r#"{
            "maxPayload": 1, "maxRooms": 2, "callsPerSecond": 3, "burst": 4, "sendBuffer": 5,
            "sendBufferBytes": 6, "pingIntervalMs": 7, "pingTimeoutMs": 8, "connectTimeoutMs": 9,
            "maxInFlight": 10, "handlerTimeoutMs": 11, "maxHandshakes": 12, "maxConnections": 13,
            "maxConnectionsPerAddress": 14, "maxHandshakesPerConnection": 15, "handshakesPerSecond": 16,
            "maxPartialBytes": 17
        }"#;
        let limits: Limits = serde_json::from_str(json).unwrap();
        let ms = Duration::from_millis;
        let expected = Limits {
            max_payload: 1,
            max_rooms: 2,
            calls_per_second: 3,
            burst: 4,
            send_buffer: 5,
            send_buffer_bytes: 6,
            ping_interval: ms(7),
            ping_timeout: ms(8),
            connect_timeout: ms(9),
            max_in_flight: 10,
            handler_timeout: ms(11),
            max_handshakes: 12,
            max_handshakes_per_connection: 15,
            handshakes_per_second: 16,
            max_partial_bytes: 17,
            max_connections: 13,
            max_connections_per_address: 14,
        };
        assert_eq!(limits, expected);
        // Every field is in the object above: serializing gives back exactly its keys.
        let keys = |value: serde_json::Value| value.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let given: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(keys(serde_json::to_value(&limits).unwrap()), keys(given));

        let err = serde_json::from_str::<Limits>(r#"{ "maxRoom": 2 }"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `maxRoom`"), "{err}");
        assert_eq!(serde_json::from_str::<Limits>("{}").unwrap(), Limits::default());
    }

    #[test]
    fn bucket_refills_at_rate() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.take_at(t0)));
        assert!(!limiter.take_at(t0), "burst exhausted");
        assert!(limiter.take_at(t0 + Duration::from_millis(100)), "one token per 100 ms");
        assert!(!limiter.take_at(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| limiter.take_at(later)).count(), 3, "capped at burst");
    }
}
