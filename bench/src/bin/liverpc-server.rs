//! The benchmark's chat on liverpc. Prints `listening <addr>` once bound.
//!
//! Usage: `liverpc-server [--addr 127.0.0.1:0] [--default-limits] [--redis URL]`:
//! `--default-limits` serves with every limit at liverpc's default (the soak) instead of the
//! benchmark's raised call rate and connection caps; `--redis` puts the rooms on Redis.

use liverpc_bench::args::Args;
use liverpc_bench::peers::liverpc_chat;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::from_env();
    let addr = args.get("addr", std::net::SocketAddr::from(([127, 0, 0, 1], 0))).map_err(std::io::Error::other)?;
    let users = liverpc_bench::peers::users();
    let limits = if args.flag("default-limits") { liverpc::Limits::default() } else { liverpc_chat::bench_limits() };
    let app = liverpc_chat::app_with(users, limits, args.value("redis"));
    let (local, serve) = liverpc_chat::bind_app(addr, app).await?;
    println!("listening {local}");
    serve.await
}
