//! The bus's connection: one Redis (redis-rs's `ConnectionManager`) or a Redis Cluster
//! (its `ClusterConnection`), both over RESP3 so that one connection publishes, subscribes and
//! receives. What differs is said here once: a cluster carries rooms on sharded pub/sub
//! (`SSUBSCRIBE`/`SPUBLISH`, a channel lives on its slot's shard) and runs a batch command by
//! command (a pipeline must stay within one slot).

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// A connection to the app's Redis.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Commands sent together, in order; `true` keeps a command's answer.
#[derive(Default)]
pub(super) struct Batch(Vec<(Cmd, bool)>);

impl Batch {
    /// Adds a command whose answer is kept.
    pub(super) fn answer(&mut self, cmd: Cmd) {
        self.0.push((cmd, true));
    }

    /// Adds a command whose answer is dropped.
    pub(super) fn ignore(&mut self, cmd: Cmd) {
        self.0.push((cmd, false));
    }
}

impl Conn {
    /// The command that publishes on a room's channel.
    pub(super) fn publish(&self) -> &'static str {
        match self {
            Conn::Single(_) => "PUBLISH",
            Conn::Cluster(_) => "SPUBLISH",
        }
    }

    /// Runs `batch` in order; the kept answers, in order. One round trip on one Redis; on a
    /// cluster every command is sent at once, in order (each slot's commands reach its shard in
    /// order), and the batch fails if any does.
    pub(super) async fn run(&mut self, batch: Batch) -> RedisResult<Vec<Value>> {
        match self {
            Conn::Single(manager) => {
                let mut pipe = Pipeline::with_capacity(batch.0.len());
                for (cmd, keep) in batch.0 {
                    pipe.add_command(cmd);
                    if !keep {
                        pipe.ignore();
                    }
                }
                pipe.query_async(manager).await
            }
            Conn::Cluster(cluster) => {
                let sent = batch.0.into_iter().map(|(cmd, keep)| {
                    let mut cluster = cluster.clone();
                    async move { cmd.query_async::<Value>(&mut cluster).await.map(|v| keep.then_some(v)) }
                });
                let answers = futures_util::future::try_join_all(sent).await?;
                Ok(answers.into_iter().flatten().collect())
            }
        }
    }

    /// The heartbeat: `cmd`, and on a cluster an `EXISTS` in the slot of each of `sampled`
    /// (some of this node's subscribed channels, a different few each beat). redis-rs moves
    /// sharded subscriptions to a slot's new owner only when a command of this connection
    /// meets the moved slot: after a failover, these commands make it do so for the rooms this
    /// node only listens to.
    pub(super) async fn beat(&mut self, cmd: Cmd, sampled: &[String]) -> RedisResult<Value> {
        let answer = cmd.query_async::<Value>(self).await?;
        if let Conn::Cluster(cluster) = self {
            for channel in sampled {
                redis::cmd("EXISTS").arg(channel).query_async::<Value>(cluster).await?;
            }
        }
        Ok(answer)
    }

    /// Subscribes this connection to `channels`.
    pub(super) async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Conn::Single(manager) => manager.subscribe(channels).await,
            Conn::Cluster(cluster) => {
                for channel in channels {
                    cluster.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    /// Unsubscribes this connection from `channels`.
    pub(super) async fn unsubscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Conn::Single(manager) => manager.unsubscribe(channels).await,
            Conn::Cluster(cluster) => {
                for channel in channels {
                    cluster.sunsubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(manager) => manager.req_packed_command(cmd),
            Conn::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(manager) => manager.req_packed_commands(cmd, offset, count),
            Conn::Cluster(cluster) => cluster.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(manager) => manager.get_db(),
            Conn::Cluster(cluster) => cluster.get_db(),
        }
    }
}
