//! A liverpc server with the tutorial's contract, for the Node compatibility tests.
//! Prints `listening on <addr>` once ready; serves until killed.

#[path = "../tests/common/mod.rs"]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (addr, app) = common::start(liverpc::Limits::default()).await;
    println!("listening on {addr}");
    let _app = app;
    std::future::pending::<()>().await;
}
