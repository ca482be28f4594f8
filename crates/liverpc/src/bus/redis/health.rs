//! Whether Redis answers, and what was lost while it did not: one error line when an outage
//! starts, one line with the count when it ends (Rule 6 (docs/security.md#rule-6): logged once per outage, never per
//! message).

use std::sync::Mutex;
use std::time::Instant;

/// The bus's view of Redis.
pub(super) struct Health {
    state: Mutex<HealthState>,
}

struct HealthState {
    /// Since when Redis has not answered, if it has not.
    down_since: Option<Instant>,
    /// Messages not sent to other nodes in this outage (or in this overflow of the queue).
    lost: u64,
    /// The publish queue is full while Redis answers: Redis is slower than this node emits.
    overflowing: bool,
}

/// What changed when Redis answered again.
pub(super) enum Recovered {
    /// It had been down: subscriptions must be checked again.
    AfterOutage,
    /// Nothing had happened.
    No,
}

impl Health {
    pub(super) fn new() -> Health {
        // Optimistic at start: joins wait for their subscription (bounded) until Redis is known
        // to be down, and start-up itself never waits for Redis.
        Health { state: Mutex::new(HealthState { down_since: None, lost: 0, overflowing: false }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Redis is known to be unreachable now.
    pub(super) fn is_down(&self) -> bool {
        self.state().down_since.is_some()
    }

    /// A command failed; `lost` messages went with it. Logs the first failure of an outage.
    pub(super) fn failed(&self, url: &str, error: &dyn std::fmt::Display, lost: u64) {
        let mut state = self.state();
        state.lost += lost;
        if state.down_since.is_none() {
            state.down_since = Some(Instant::now());
            state.overflowing = false;
            tracing::error!(
                redis = url,
                %error,
                "Redis is unreachable: rooms are delivered on this node only until it is back \
                 (reconnecting in the background)"
            );
        }
    }

    /// `lost` messages could not be sent: Redis is down, or the queue is full.
    pub(super) fn dropped(&self, lost: u64) {
        let mut state = self.state();
        state.lost += lost;
        if state.down_since.is_none() && !state.overflowing {
            state.overflowing = true;
            tracing::warn!(
                "the Redis publish queue is full: messages to other nodes are dropped \
                 (local delivery goes on) until it drains"
            );
        }
    }

    /// A command succeeded. Logs the end of an outage, with what was lost.
    pub(super) fn answered(&self, url: &str) -> Recovered {
        let mut state = self.state();
        let Some(since) = state.down_since.take() else { return Recovered::No };
        let lost = std::mem::take(&mut state.lost);
        tracing::info!(
            redis = url,
            lost,
            seconds = since.elapsed().as_secs(),
            "Redis is back: delivery across nodes resumed; `lost` messages were not sent to other \
             nodes during the outage"
        );
        Recovered::AfterOutage
    }

    /// The publish queue is empty again. Logs the end of an overflow, with what was lost.
    pub(super) fn drained(&self) {
        let mut state = self.state();
        if state.down_since.is_none() && std::mem::take(&mut state.overflowing) {
            let lost = std::mem::take(&mut state.lost);
            tracing::info!(lost, "the Redis publish queue drained; `lost` messages were not sent to other nodes");
        }
    }
}
