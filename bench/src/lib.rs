//! Benchmarks of liverpc against the same chat written by hand on socketioxide and on Node's
//! socket.io: a lean Socket.IO load generator ([`client`], [`scenario`]), the Rust peers
//! ([`peers`]), and what a process costs ([`procfs`]).
//!
//! `cargo xtask bench` runs everything and writes `BENCHMARKS.md`; see `bench/README.md`.

pub mod args;
pub mod client;
pub mod history;
pub mod peers;
pub mod procfs;
pub mod scenario;
