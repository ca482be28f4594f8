//! A liverpc server with the tutorial's contract, for the Node-driven tests.
//! Binds `LIVERPC_FIXTURE_ADDR` (default `127.0.0.1:0`), prints `listening on <addr>` once
//! ready, and serves until killed. `POST /admin/revoke/{user}/{project}` takes a right away.

#[path = "../tests/common/mod.rs"]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::var("LIVERPC_FIXTURE_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let addr = addr.parse().expect("LIVERPC_FIXTURE_ADDR must be host:port");
    let server = common::start_at(addr, liverpc::Limits::default()).await;
    println!("listening on {}", server.addr);
    std::future::pending::<()>().await;
}
