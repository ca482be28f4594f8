//! `liverpc-server` on jemalloc with its background thread, which gives freed memory back to
//! the system once it has been unused for its decay time (10 s). glibc's allocator keeps most
//! of what closed connections freed, and so does mimalloc 3 with its defaults (measured:
//! BENCHMARKS.md, "Partial frames"). The same options as `liverpc-server`.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::io::Result<()> {
    // Without it, jemalloc purges only when the process allocates again: an idle server would
    // keep what its closed connections freed.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("jemalloc's background thread could not be started: {e}");
    }
    liverpc_bench::peers::liverpc_chat::main_from_args()
}
