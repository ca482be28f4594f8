//! Benchmarks of liverpc against the same chat written by hand on socketioxide and on Node's
//! socket.io: the peers ([`peers`]).

pub mod args;
pub mod peers;
