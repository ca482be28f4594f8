//! `cargo xtask <command>`: the repository's front door.
//!
//! - `test`: every test of the repository (Rust, doctests, lints, Node suites), installing the
//!   npm packages they need.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The Node packages whose `npm test` is part of `cargo xtask test`, relative to the root.
const NODE_SUITES: &[&str] = &["packages/liverpc", "tests/compat"];

/// Generators: a cargo binary that takes `gen|check <web root>`, and its web root.
const GENERATORS: &[(&[&str], &str)] =
    &[(&["-p", "liverpc", "--features", "testing", "--example", "fixture"], "packages/liverpc/test/fixture")];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("gen") => generators("gen"),
        _ => {
            eprintln!("usage: cargo xtask test | gen");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a step; a failing step stops the run with its name.
fn run(name: &str, dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    run_env(name, dir, ("", ""), program, args)
}

/// [`run`] with one environment variable set (none when its name is empty).
fn run_env(name: &str, dir: &Path, env: (&str, &str), program: &str, args: &[&str]) -> Result<(), String> {
    println!("\n==> {name}: {program} {}", args.join(" "));
    let started = Instant::now();
    let mut command = Command::new(program);
    if !env.0.is_empty() {
        command.env(env.0, env.1);
    }
    let status = command
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("{name}: could not start `{program}`: {e}"))?;
    println!(
        "==> {name}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if status.success() { Ok(()) } else { Err(format!("step `{name}` failed ({status})")) }
}

fn test() -> Result<(), String> {
    let root = root();
    let started = Instant::now();
    run("format", &root, "cargo", &["fmt", "--all", "--check"])?;
    run("lint", &root, "cargo", &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])?;
    run("rust tests", &root, "cargo", &["test", "--workspace", "--all-features"])?;
    run_env(
        "docs",
        &root,
        ("RUSTDOCFLAGS", "-D warnings"),
        "cargo",
        &["doc", "-p", "liverpc", "--no-deps", "--all-features"],
    )?;
    run("fixture", &root, "cargo", &["build", "-p", "liverpc", "--features", "testing", "--example", "fixture"])?;
    generators("check").map_err(|e| format!("{e}: generated clients are stale, run `cargo xtask gen`"))?;
    let suites: Vec<&str> =
        NODE_SUITES.iter().copied().filter(|s| root.join(s).join("package.json").exists()).collect();
    if !suites.is_empty() {
        require("npm", "Node.js 20 with npm is needed for the TypeScript and browser-compatibility tests")?;
    }
    for suite in suites {
        let dir = root.join(suite);
        npm_install(&dir)?;
        run(&format!("{suite} tests"), &dir, "npm", &["test"])?;
    }
    println!("\nall tests passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs every generator with `gen` (write) or `check` (fail when stale).
fn generators(command: &str) -> Result<(), String> {
    let root = root();
    for (package, web_root) in GENERATORS {
        let mut args = vec!["run", "--quiet"];
        args.extend_from_slice(package);
        args.extend_from_slice(&["--", command, web_root]);
        run(&format!("{command} {web_root}"), &root, "cargo", &args)?;
    }
    Ok(())
}

/// Installs a package's npm dependencies from its lock file when they are missing or stale.
fn npm_install(dir: &Path) -> Result<(), String> {
    let installed = dir.join("node_modules/.package-lock.json");
    let lock = dir.join("package-lock.json");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    if installed.exists() && modified(&installed) >= modified(&lock) {
        return Ok(());
    }
    run(&format!("npm ci in {}", dir.display()), dir, "npm", &["ci", "--no-audit", "--no-fund"])
}

fn require(program: &str, why: &str) -> Result<(), String> {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!("`{program}` not found: {why}")),
    }
}
