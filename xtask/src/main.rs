//! `cargo xtask <command>`: the repository's front door.
//!
//! - `test`: every test of the repository (formatting, lints, Rust tests and doctests,
//!   the multi-node tests on a redis-server they start, generated-code freshness, the npm
//!   runtime, official socket.io-client compatibility, the example app's type check and build,
//!   the TypeScript example in production (adapter-node's variables, upgrades, shutdown),
//!   browser end-to-end, both examples behind a real nginx), installing what it needs.
//! - `gen`: regenerates every generated TypeScript file (the clients, and the npm package's
//!   `src/wire.ts`).
//! - `demo`: builds and runs the tutorial's app (TypeScript contracts, examples/chat-ts) on one
//!   port; `demo --rust` the same app with Rust contracts (examples/chat).
//! - `pack`: every tarball of a release in `target/pack/` (see [`pack`]).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Generators: a cargo binary that takes `gen|check <dir>`, and the directory it writes.
const GENERATORS: &[(&[&str], &str)] = &[
    (&["-p", "liverpc", "--features", "testing", "--example", "fixture"], "packages/liverpc/test/fixture"),
    (&["-p", "chat-server"], "examples/chat/web"),
    // The wire vocabulary (codes, reserved names, limits) the npm package imports.
    (&["-p", "liverpc", "--example", "wire"], "packages/liverpc/src"),
];

const RUNTIME: &str = "packages/liverpc";
const WEB: &str = "examples/chat/web";
const TS_APP: &str = "examples/chat-ts";
const E2E: &str = "examples/chat/e2e";
const COMPAT: &str = "tests/compat";
const GETTING_STARTED: &str = "tests/getting-started";
/// Where `cargo xtask pack` puts a release's tarballs.
const PACK: &str = "target/pack";
const BENCH_NODE: &str = "bench/node";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The multi-node tests start their own `redis-server` (from `PATH`).
const REDIS_SERVER: &str = "redis-server";
/// The reverse-proxy tests start their own nginx (Debian's, in /usr/sbin).
const NGINX: &[&str] = &["/usr/sbin/nginx", "nginx"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("gen") => generators("gen"),
        Some("demo") => demo(&args[1..]),
        Some("pack") => pack(&args[1..]),
        // Benchmarks (bench/README.md): the driver builds, runs and writes BENCHMARKS.md.
        Some("bench") => {
            let mut cargo = vec!["run", "--release", "-q", "-p", "liverpc-bench", "--bin", "bench", "--"];
            cargo.extend(args[1..].iter().map(String::as_str));
            run("bench", ".", "cargo", &cargo)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask test | gen | demo [--rust] [--addr HOST:PORT] | pack [--target TRIPLE] [--allow-dirty]"
            );
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

/// Runs a step in `dir` (relative to the root); a failing step stops the run with its name.
fn run(name: &str, dir: &str, program: &str, args: &[&str]) -> Result<(), String> {
    run_env(name, dir, ("", ""), program, args)
}

/// [`run`] with one environment variable set (none when its name is empty).
fn run_env(name: &str, dir: &str, env: (&str, &str), program: &str, args: &[&str]) -> Result<(), String> {
    println!("\n==> {name}: {program} {}", args.join(" "));
    let started = Instant::now();
    let mut command = Command::new(program);
    if !env.0.is_empty() {
        command.env(env.0, env.1);
    }
    let status = command
        .args(args)
        .current_dir(root().join(dir))
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
    let started = Instant::now();
    require("npm", "Node.js 20 with npm is needed for the TypeScript and browser tests")?;
    run("format", ".", "cargo", &["fmt", "--all", "--check"])?;
    run("lint", ".", "cargo", &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"])?;
    // Without the optional features too: the default build must stay clean on its own.
    run(
        "lint (default features)",
        ".",
        "cargo",
        &["clippy", "-p", "liverpc", "--all-targets", "--", "-D", "warnings"],
    )?;
    ensure_redis_server()?;
    run("rust tests", ".", "cargo", &["test", "--workspace", "--all-features"])?;
    run_env(
        "docs",
        ".",
        ("RUSTDOCFLAGS", "-D warnings"),
        "cargo",
        &["doc", "-p", "liverpc", "--no-deps", "--all-features"],
    )?;
    run(
        "servers",
        ".",
        "cargo",
        &["build", "-p", "chat-server", "-p", "liverpc", "--features", "liverpc/testing", "--examples", "--bins"],
    )?;
    generators("check").map_err(|e| format!("{e}: generated clients are stale, run `cargo xtask gen`"))?;

    npm_install(RUNTIME)?;
    engine_addon("debug")?;
    run("npm runtime tests (client, liverpc/server on the engine addon)", RUNTIME, "npm", &["test"])?;
    // The bench harness against its Node peers, now that their packages and the addon exist.
    npm_install(BENCH_NODE)?;
    run(
        "bench harness against the Node peers",
        ".",
        "cargo",
        &["test", "-p", "liverpc-bench", "--test", "smoke", "--", "--ignored"],
    )?;
    npm_install(COMPAT)?;
    run("socket.io-client compatibility", COMPAT, "npm", &["test"])?;
    npm_install(WEB)?;
    run("example app type check", WEB, "npm", &["run", "check"])?;
    run("example app build", WEB, "npm", &["run", "build"])?;
    npm_install(TS_APP)?;
    run("TypeScript example type check", TS_APP, "npm", &["run", "check"])?;
    run("TypeScript example build", TS_APP, "npm", &["run", "build"])?;
    // curl for `curl --http2`, a foreign upgrade every HTTP/1.1 page gets from it.
    ensure_program("curl", "curl", "the production tests send `curl --http2` to a page")?;
    run("TypeScript example in production (node server.js)", TS_APP, "npm", &["test"])?;
    ensure_chromium()?;
    ensure_nginx()?;
    ensure_program("openssl", "openssl", "the reverse-proxy tests make their TLS certificate with openssl")?;
    npm_install(E2E)?;
    run("browser end-to-end, both examples (and behind nginx)", E2E, "npm", &["test"])?;
    run(
        "browser end-to-end, the TypeScript example in vite dev, vite preview and production",
        E2E,
        "npm",
        &["run", "test:modes"],
    )?;
    pack(&["--allow-dirty".to_owned()])?;
    run("package hygiene (publint, attw, the tarballs' files)", RUNTIME, "npm", &["run", "test:pack"])?;
    run("getting started: a new SvelteKit app on the tarballs, no Rust on PATH", GETTING_STARTED, "npm", &["test"])?;
    println!("\nall tests passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo xtask pack [--target TRIPLE] [--allow-dirty]`: every tarball of a release in
/// `target/pack/`, at the workspace's version (`[workspace.package]`, the one source): `liverpc`
/// and the engine package of this platform (or TRIPLE's), built in release
/// (`packages/liverpc/scripts/pack.mjs`), and the crate (`cargo package`, which builds what it
/// packaged). `--allow-dirty` lets `cargo package` run on uncommitted changes.
fn pack(args: &[String]) -> Result<(), String> {
    require("npm", "Node.js 20 with npm is needed to pack the npm packages")?;
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let version = manifest
        .split("[workspace.package]")
        .nth(1)
        .and_then(|section| {
            section.lines().take_while(|l| !l.starts_with('[')).find_map(|l| l.strip_prefix("version = "))
        })
        .map(|v| v.trim().trim_matches('"').to_owned())
        .ok_or("Cargo.toml: no version in [workspace.package]")?;
    let out = root().join(PACK);
    let out = out.to_string_lossy();
    let mut script = vec!["scripts/pack.mjs", "--out", &out, "--version", &version];
    let mut cargo = vec!["package", "-p", "liverpc"];
    let mut args = args.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        match (arg, if arg == "--target" { args.next() } else { None }) {
            ("--target", Some(triple)) => script.extend(["--target", triple]),
            ("--allow-dirty", None) => cargo.push("--allow-dirty"),
            _ => return Err("usage: cargo xtask pack [--target TRIPLE] [--allow-dirty]".to_owned()),
        }
    }
    npm_install(RUNTIME)?;
    run("npm packages (liverpc, the engine in release)", RUNTIME, "node", &script)?;
    run("the crate", ".", "cargo", &cargo)?;
    let crate_file = format!("liverpc-{version}.crate");
    std::fs::copy(root().join("target/package").join(&crate_file), root().join(PACK).join(&crate_file))
        .map_err(|e| format!("copy {crate_file} into {PACK}: {e}"))?;
    println!("\n==> pack: the release is in {PACK}/");
    Ok(())
}

/// Runs every generator with `gen` (write) or `check` (fail when stale).
fn generators(command: &str) -> Result<(), String> {
    let root = root();
    for (package, dir) in GENERATORS {
        let target = root.join(dir);
        let target = target.to_string_lossy();
        let mut args = vec!["run", "--quiet"];
        args.extend_from_slice(package);
        args.extend_from_slice(&["--", command, &target]);
        run(&format!("{command} {dir}"), ".", "cargo", &args)?;
    }
    Ok(())
}

fn demo(args: &[String]) -> Result<(), String> {
    require("npm", "Node.js 20 with npm is needed to build the example's web app")?;
    let rust = args.iter().any(|a| a == "--rust");
    let args: Vec<&str> = args.iter().map(String::as_str).filter(|a| *a != "--rust").collect();
    npm_install(RUNTIME)?;
    run("build the npm runtime", RUNTIME, "npm", &["run", "build"])?;
    if rust {
        generators("gen")?;
        npm_install(WEB)?;
        run("build the web app", WEB, "npm", &["run", "build"])?;
        let mut server = vec!["run", "--quiet", "-p", "chat-server", "--"];
        server.extend(args);
        return run("chat demo (Rust contracts)", ".", "cargo", &server);
    }
    let addr = match args.as_slice() {
        [] => "127.0.0.1:3000",
        ["--addr", addr] => addr,
        _ => return Err("usage: cargo xtask demo [--rust] [--addr HOST:PORT]".to_owned()),
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| format!("--addr {addr}: expected HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    engine_addon("debug")?;
    npm_install(TS_APP)?;
    run("build the app", TS_APP, "npm", &["run", "build"])?;
    println!("\n==> chat demo (TypeScript contracts): node server.js on {addr}");
    let status = Command::new("node")
        .arg("server.js")
        .env("HOST", host)
        .env("PORT", port)
        .current_dir(root().join(TS_APP))
        .status()
        .map_err(|e| format!("could not start node: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("the demo exited ({status})")) }
}

/// Builds the engine addon (crates/liverpc-node) into the npm package, with the package's own
/// script (the one a first use runs): `debug` shares the test run's build cache.
fn engine_addon(profile: &str) -> Result<(), String> {
    run_env("engine addon", RUNTIME, ("LIVERPC_NATIVE_PROFILE", profile), "node", &["scripts/build-native.mjs"])
}

/// Installs a package's npm dependencies from its lock file when they are missing or stale.
fn npm_install(dir: &str) -> Result<(), String> {
    let path = root().join(dir);
    let installed = path.join("node_modules/.package-lock.json");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    if installed.exists() && modified(&installed) >= modified(&path.join("package-lock.json")) {
        return Ok(());
    }
    // Native modules (better-sqlite3 in the TypeScript example) build against the headers of
    // the Node that runs them, when it ships them: no headers download.
    let nodedir = node_headers();
    let env = nodedir.as_deref().map_or(("", ""), |d| ("npm_config_nodedir", d));
    run_env(&format!("npm ci in {dir}"), dir, env, "npm", &["ci", "--no-audit", "--no-fund"])
}

/// Node's own prefix when it holds its C headers (`include/node/node.h`).
fn node_headers() -> Option<String> {
    let out = Command::new("node").args(["-p", "process.execPath"]).output().ok()?;
    let exec = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let prefix = exec.parent()?.parent()?;
    prefix.join("include/node/node.h").exists().then(|| prefix.to_string_lossy().into_owned())
}

/// The reverse-proxy tests need Debian's nginx; as root, install it, else say how.
fn ensure_nginx() -> Result<(), String> {
    if NGINX.iter().any(|nginx| Command::new(nginx).arg("-v").output().is_ok_and(|o| o.status.success())) {
        return Ok(());
    }
    apt_install("nginx", "nginx not found: the reverse-proxy tests start their own")
}

/// A program the tests run (`--version` answers), installed from Debian's `package` as root.
fn ensure_program(program: &str, package: &str, why: &str) -> Result<(), String> {
    let answers = |arg: &str| Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success());
    // openssl has `version`, not `--version`.
    if answers("--version") || answers("version") {
        return Ok(());
    }
    apt_install(package, &format!("`{program}` not found: {why}"))
}

/// The browser tests need Debian's Chromium; as root, install it, else say how.
fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    apt_install("chromium", &format!("{CHROMIUM} not found: the browser tests need Debian's chromium"))
}

/// The multi-node tests (feature `redis`) need Debian's redis-server; as root, install it, else
/// say how.
fn ensure_redis_server() -> Result<(), String> {
    if Command::new(REDIS_SERVER).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    apt_install("redis-server", "`redis-server` not found: the multi-node tests start their own")
}

/// Installs a Debian package when running as root; otherwise fails with `why` and the command.
fn apt_install(package: &str, why: &str) -> Result<(), String> {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err(format!("{why} (sudo apt-get install {package})"));
    }
    run("apt-get update", ".", "apt-get", &["update", "-qq"])?;
    run_env(
        &format!("install {package}"),
        ".",
        ("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get",
        &["install", "-y", "-qq", package],
    )
}

fn require(program: &str, why: &str) -> Result<(), String> {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!("`{program}` not found: {why}")),
    }
}
