//! The benchmark's chat written with no library (the floor). Prints `listening <addr>` once bound.
//!
//! Usage: `floor-server [--addr 127.0.0.1:0]`

use liverpc_bench::args::Args;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::from_env();
    let addr = args.get("addr", std::net::SocketAddr::from(([127, 0, 0, 1], 0))).map_err(std::io::Error::other)?;
    let (local, serve) = liverpc_bench::peers::floor::bind(addr).await?;
    println!("listening {local}");
    serve.await
}
