//! The benchmark's chat on liverpc with history on its `chat` room (the history scenarios'
//! server). Prints `listening <addr>` once bound.
//!
//! Usage: `liverpc-history-server [--addr 127.0.0.1:0] [--redis redis://..] [--plain]`
//! (`--redis`: streams and bus on that Redis; `--plain`: the chat without history).

use liverpc_bench::args::Args;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::from_env();
    let addr = args.get("addr", std::net::SocketAddr::from(([127, 0, 0, 1], 0))).map_err(std::io::Error::other)?;
    let (history, redis) = (!args.flag("plain"), args.value("redis"));
    let (local, serve) = liverpc_bench::peers::liverpc_history::bind(addr, history, redis).await?;
    println!("listening {local}");
    serve.await
}
