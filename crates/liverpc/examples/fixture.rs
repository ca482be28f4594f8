//! A liverpc server with the tutorial's contract, for the Node-driven tests.
//!
//! - `fixture`: binds `LIVERPC_FIXTURE_ADDR` (default `127.0.0.1:0`), prints
//!   `listening on <addr>` once ready, and serves until killed.
//!   `POST /admin/revoke/{user}/{project}` takes a right away, `POST /admin/unavailable/{n}`
//!   refuses the next `n` handshakes `unavailable`; `LIVERPC_FIXTURE_MAX_ROOMS` sets
//!   `Limits::max_rooms`.
//! - `fixture gen <dir>` / `fixture check <dir>`: writes, or checks the freshness of, the
//!   contract's TypeScript module twice, which the npm runtime's tests import: for the core
//!   entry at `<dir>/core/rooms/[roomId]/chat.socket.ts` (runtime `liverpc`) and for the
//!   SvelteKit entry at `<dir>/sveltekit/rooms/[roomId]/chat.socket.ts` (`liverpc/sveltekit`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;

use liverpc::codegen::{self, Options};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => serve().await,
        [command @ ("gen" | "check"), root] => generate(command, root),
        _ => {
            eprintln!("usage: fixture [gen|check <web root>]");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let addr = std::env::var("LIVERPC_FIXTURE_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let Ok(addr) = addr.parse() else {
        eprintln!("LIVERPC_FIXTURE_ADDR must be host:port, got {addr}");
        return ExitCode::from(2);
    };
    // `LIVERPC_FIXTURE_MAX_ROOMS`: a tight room limit, so that Node tests can get joins
    // answered `rate_limited` on demand.
    let mut limits = liverpc::Limits::default();
    if let Some(max) = std::env::var("LIVERPC_FIXTURE_MAX_ROOMS").ok().and_then(|v| v.parse().ok()) {
        limits.max_rooms = max;
    }
    let server = common::start_at(addr, limits).await;
    println!("listening on {}", server.addr);
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}

fn generate(command: &str, root: &str) -> ExitCode {
    let app = common::app(liverpc::Limits::default(), common::Users::default());
    let result =
        [("core", "liverpc"), ("sveltekit", "liverpc/sveltekit")].into_iter().try_for_each(|(dir, runtime)| {
            let options = Options {
                runtime: runtime.to_owned(),
                routes: ".".into(),
                shared_types: "lib/types.ts".into(),
                ..Options::default()
            };
            let root = std::path::Path::new(root).join(dir);
            let files = codegen::generate(app.contracts(), &options)?;
            if command == "gen" {
                codegen::write(&root, &options, &files).map(drop)
            } else {
                codegen::check(&root, &options, &files)
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
