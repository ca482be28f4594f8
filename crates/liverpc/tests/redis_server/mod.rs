//! A real `redis-server` on a free loopback port, for the multi-node tests: started by the
//! test, killed (SIGKILL) and restarted on the same port on demand, killed when dropped.
#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long `redis-server` may take to answer its first PING.
const START: Duration = Duration::from_secs(10);

/// One `redis-server` process, without persistence.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub async fn start() -> RedisServer {
        // A port the kernel just handed out and took back: free, unless something races us.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut server = RedisServer { port, child: None };
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`kill`](Self::kill)) and waits for PONG.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start `redis-server` ({e}): the multi-node tests need it \
                     (Debian: apt-get install redis-server; `cargo xtask test` installs it when run as root)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + START;
        loop {
            if self.command(&["PING"]).await.as_deref() == Some("+PONG") {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer PING", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await; // polling a process start-up
        }
    }

    /// Sends one command (RESP) and returns the first line of the reply, if any.
    pub async fn command(&self, args: &[&str]) -> Option<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        tcp.write_all(request.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        while !reply.ends_with(b"\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await.ok()?.ok()?;
            if n == 0 {
                return None;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(reply).ok().map(|r| r.lines().next().unwrap_or_default().to_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of a Redis server whose client -> server direction can be held: what
/// a node sends waits while the gate is closed (a slow network to Redis, on demand).
pub struct Gate {
    port: u16,
    open: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    /// A proxy to `server`, open.
    pub async fn to(server: &RedisServer) -> Gate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let port = listener.local_addr().expect("bound").port();
        let (open, watch) = tokio::sync::watch::channel(true);
        let upstream = server.port;
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let Ok(n) = from_client.read(&mut buf).await else { return };
                        if n == 0 || watch.wait_for(|open| *open).await.is_err() {
                            return;
                        }
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Gate { port, open }
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Holds what clients send from now on.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets it through, in order.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// A Redis Cluster of three masters (and optionally a replica each) on free loopback ports,
/// made with `redis-cli --cluster create`, each node's state in a temporary folder; killed
/// when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    /// Starts three `redis-server --cluster-enabled yes`, joins them, and waits until every
    /// node reports `cluster_state:ok`.
    pub async fn start() -> RedisCluster {
        RedisCluster::start_with(0).await
    }

    /// The same, with `replicas` replicas per master; a node unreachable for a second counts
    /// as failed (`--cluster-node-timeout 1000`), so a replica takes over a killed master fast.
    pub async fn start_with(replicas: usize) -> RedisCluster {
        let dir = std::env::temp_dir().join(format!("liverpc-cluster-{}-{}", std::process::id(), next_id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder for the cluster's state");
        let mut nodes = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            let port =
                std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let config = dir.join(format!("nodes-{port}.conf"));
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000", "--cluster-config-file"])
                .arg(&config)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            let node = RedisServer { port, child: Some(child) };
            node.wait_for(&["PING"], "+PONG").await;
            nodes.push(node);
        }
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs (Debian: it comes with redis-server)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = RedisCluster { nodes, dir };
        for node in &cluster.nodes {
            node.wait_for_info(&["cluster", "info"], "cluster_state:ok").await;
        }
        // A replica that never synced with its master would not take over from it.
        for node in cluster.nodes.iter().filter(|n| !n.is_master()) {
            node.wait_for_info(&["info", "replication"], "master_link_status:up").await;
        }
        cluster
    }

    /// The nodes' URLs, comma-separated: what `.redis(...)` takes for a cluster.
    pub fn url(&self) -> String {
        self.nodes.iter().map(RedisServer::url).collect::<Vec<_>>().join(",")
    }

    /// Every node, masters and replicas.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes that are masters now.
    pub async fn masters(&self) -> Vec<usize> {
        let mut masters = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if node.child.is_some() && node.command(&["ROLE"]).await.is_some() && node.is_master() {
                masters.push(i);
            }
        }
        masters
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Waits until every live node reports `cluster_state:ok` again (after a failover).
    pub async fn settled(&self) {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            node.wait_for_info(&["cluster", "info"], "cluster_state:ok").await;
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl RedisServer {
    /// Polls `args` until the reply's first line is `expected` (a process start-up).
    async fn wait_for(&self, args: &[&str], expected: &str) {
        let deadline = Instant::now() + START;
        while self.command(args).await.as_deref() != Some(expected) {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer {args:?}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await; // polling a process start-up
        }
    }

    /// Polls `command` (`CLUSTER INFO`, `INFO replication`) until its answer has the line
    /// `line` (a cluster forming, a replica syncing).
    async fn wait_for_info(&self, command: &[&str], line: &str) {
        let deadline = Instant::now() + START;
        loop {
            let info = Command::new("redis-cli")
                .args(["-p", &self.port.to_string()])
                .args(command)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if info.lines().any(|l| l.trim() == line) {
                return;
            }
            assert!(Instant::now() < deadline, "node {} never reported {line}", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await; // polling a cluster forming
        }
    }

    /// Whether this node is a master (`ROLE`'s first element).
    fn is_master(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "role"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().next() == Some("master"))
            .unwrap_or(false)
    }

    /// `DBSIZE`: how many keys this node holds.
    pub async fn keys(&self) -> u64 {
        let reply = self.command(&["DBSIZE"]).await.unwrap_or_default();
        reply.trim_start_matches(':').parse().unwrap_or(0)
    }
}
