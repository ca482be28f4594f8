//! Benchmarks of liverpc against the same chat written by hand on socketioxide and on Node's
//! socket.io: a lean Socket.IO load generator ([`client`], [`scenario`]), the peers ([`peers`]),
//! and what a process costs ([`procfs`]).

pub mod args;
pub mod client;
pub mod peers;
pub mod procfs;
pub mod scenario;
