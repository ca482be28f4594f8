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
