//! `wire gen <dir>` / `wire check <dir>`: writes, or checks the freshness of, `<dir>/wire.ts`,
//! the wire vocabulary (codes, reserved names, limits) that the npm package imports from its
//! `src/` (see [`liverpc::codegen::wire`]). `cargo xtask gen` and `cargo xtask test` run it.

use std::path::Path;
use std::process::ExitCode;

use liverpc::codegen::{self, CodegenError};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wire = codegen::wire();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["gen", dir] => wire.write_under(Path::new(dir)).map(drop),
        ["check", dir] if wire.is_fresh_under(Path::new(dir)) => Ok(()),
        ["check", _] => Err(CodegenError::Stale(vec![wire.path.clone()])),
        _ => {
            eprintln!("usage: wire gen|check <dir>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wire: {e}");
            ExitCode::FAILURE
        }
    }
}
