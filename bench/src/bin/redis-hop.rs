//! The added latency of the Redis hop: two liverpc nodes in this process on one Redis, a
//! sender and a member on node A, a member on node B. Each message is timed from the send to
//! its arrival at A's member (local delivery) and at B's member (through Redis); the
//! difference is what the hop adds. One message in flight at a time: latency, not throughput.
//!
//! Usage: `redis-hop [--redis redis://127.0.0.1:6379] [--messages 2000]`; without `--redis`
//! it starts `redis-server` on a free loopback port (and stops it at the end).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use liverpc::testing::TestClient;
use liverpc::{App, Context, Contract, Declarations, Event, Limits, Rejection, key};
use liverpc_bench::args::Args;

#[derive(serde::Serialize, ts_rs::TS)]
struct Hop {
    n: u64,
}

impl Event for Hop {
    const NAME: &'static str = "hop";
}

#[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
struct Send {
    #[garde(skip)]
    n: u64,
}

struct Bench;

impl Contract for Bench {
    const ROUTE: &'static str = "/hop";
    const NAME: &'static str = "hop";
    type Locals = ();
    type State = ();
    type ToClient = (Hop,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket.auto_join("hop", |_cx| async move { Ok(key!["hop"]) }).from_client(
            "send",
            |cx: Context<Bench>, Send { n }: Send| async move {
                let room = cx.room("hop")?;
                cx.within(&room).emit(&Hop { n }).await?;
                Ok::<(), Rejection>(())
            },
        )
    }
}

/// A `redis-server` this run started; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn node(url: &str) -> std::net::SocketAddr {
    let limits = Limits { calls_per_second: 1_000_000, burst: 1_000_000, ..Limits::default() };
    let app = App::builder().contract::<Bench>().limits(limits).redis(url).build().expect("the bench contract");
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().expect("an address")).await.expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(app.serve(listener, router));
    addr
}

async fn member(addr: std::net::SocketAddr) -> TestClient {
    let page = TestClient::builder(addr).connect::<Bench>("/hop").await.expect("connects");
    page.recv().await.expect("the auto-join's report");
    page
}

/// When `page`'s next event arrived, counted from `start`.
async fn arrival(page: &TestClient, start: Instant) -> Result<Duration, String> {
    page.recv().await.map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args = Args::from_env();
    let messages: u64 = args.get("messages", 2000)?;
    let (url, _server) = match args.value("redis") {
        Some(url) => (url.to_owned(), None),
        None => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("could not start redis-server ({e}); pass --redis URL"))?;
            let server = Server(child);
            let url = format!("redis://127.0.0.1:{port}");
            while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await; // waiting for a process to start
            }
            (url, Some(server))
        }
    };
    let (a, b) = (node(&url).await, node(&url).await);
    let (sender, local, remote) = (member(a).await, member(a).await, member(b).await);
    let (mut near, mut far) = (Vec::new(), Vec::new());
    for n in 0..messages + 100 {
        let start = Instant::now();
        let frame = format!("42{}[\"send\",{{\"n\":{n}}}]", sender.namespace_prefix());
        sender.send_raw(&frame).map_err(|e| e.to_string())?;
        let (l, r, s) = tokio::join!(arrival(&local, start), arrival(&remote, start), arrival(&sender, start));
        let (l, r) = (l?, r?);
        s?;
        if n >= 100 {
            // The first 100 warm up the connections.
            near.push(l);
            far.push(r);
        }
    }
    near.sort();
    far.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{messages} messages, one in flight, two nodes in one process on {url}");
    println!("same node   p50 {:.3} ms  p99 {:.3} ms", ms(percentile(&near, 0.5)), ms(percentile(&near, 0.99)));
    println!("other node  p50 {:.3} ms  p99 {:.3} ms", ms(percentile(&far, 0.5)), ms(percentile(&far, 0.99)));
    println!(
        "Redis hop adds p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&far, 0.5)) - ms(percentile(&near, 0.5)),
        ms(percentile(&far, 0.99)) - ms(percentile(&near, 0.99))
    );
    Ok(())
}
