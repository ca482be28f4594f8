//! Benchmarks of liverpc against the same chat written by hand on socketioxide and on Node's
//! socket.io: a lean Socket.IO load generator ([`client`], [`scenario`]), the Rust peers
//! ([`peers`]), what a process costs ([`procfs`]), the liverpc server as a child process
//! ([`server`]), and the fault soak's hostile mix ([`soak`]).
//!
//! `cargo xtask bench` runs everything and writes `BENCHMARKS.md`; see `bench/README.md`.

pub mod args;
pub mod client;
pub mod history;
pub mod peers;
pub mod procfs;
pub mod scenario;
pub mod server;
pub mod soak;
