//! The benchmark's chat on liverpc, on the system allocator. Prints `listening <addr>` once
//! bound.
//!
//! Usage: `liverpc-server [--addr 127.0.0.1:0] [--default-limits] [--redis URL]`:
//! `--default-limits` serves with every limit at liverpc's default (the soak) instead of the
//! benchmark's raised call rate and connection caps; `--redis` puts the rooms on Redis.

fn main() -> std::io::Result<()> {
    liverpc_bench::peers::liverpc_chat::main_from_args()
}
