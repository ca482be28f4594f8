//! The tutorial's chat app: one port serves the built SvelteKit app, the sign-in routes and
//! the liverpc endpoint.
//!
//! ```text
//! chat-server [--addr 127.0.0.1:3000] [--web <built web app>] [--data <dir>] [--redis <url>]
//!             [--trusted-proxy 127.0.0.1]... [--origin https://chat.example]...
//!             [--max-connections-per-address N]
//! chat-server gen|check <web app root>   # write / check src/routes/**/*.socket.ts
//! ```
//!
//! On SIGTERM or SIGINT it shuts down gracefully: nothing new is accepted, calls in flight are
//! answered, then every page's connection is closed (their clients reconnect), within
//! `SHUTDOWN_TIMEOUT` seconds (30 unless set, as adapter-node's).
//!
//! With `--redis redis://host:port` (or `LIVERPC_REDIS_URL`), several servers behind one load
//! balancer share their rooms: run one per port with the same URL.

mod accounts;
mod chat;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use liverpc::codegen::{self, Options};
use liverpc::{App, Emitter, Limits, OriginPolicy, key};

use crate::accounts::{Sessions, USERS};
use crate::chat::{Chat, TenantNotice};

/// Where things are unless told otherwise: beside this crate, in the repository.
fn default_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

struct Args {
    addr: SocketAddr,
    web: PathBuf,
    data: PathBuf,
    notice_every: Duration,
    /// The Redis that the app's nodes share; `None`: one node.
    redis: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, comma-separated,
    /// or each `--trusted-proxy`); none by default.
    trusted_proxies: Vec<String>,
    /// Origins allowed besides the page's own (the public origin when a proxy rewrites `Host`).
    origins: Vec<String>,
    max_connections_per_address: Option<usize>,
    /// How long a shutdown lets calls in flight finish.
    shutdown_timeout: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    // `set_global_default`, not `init()`: `init()` also bridges the `log` crate, through which
    // tungstenite prints every websocket frame at TRACE, payloads included.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .finish();
    if let Err(e) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("chat-server: could not set up logging: {e}");
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let [command, root] = argv.as_slice()
        && (command == "gen" || command == "check")
    {
        return generate(command, root);
    }
    match parse(&argv) {
        Ok(args) => match run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat-server: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!(
                "chat-server: {e}\nusage: chat-server [--addr HOST:PORT] [--web DIR] [--data DIR] [--redis URL] [--trusted-proxy CIDR]... [--origin URL]... [--max-connections-per-address N] | gen|check WEB_ROOT"
            );
            ExitCode::from(2)
        }
    }
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        web: default_path("../web/build"),
        data: default_path("../../../target/chat-demo"),
        notice_every: Duration::from_secs(30),
        redis: std::env::var("LIVERPC_REDIS_URL").ok().filter(|url| !url.is_empty()),
        trusted_proxies: std::env::var("TRUSTED_PROXIES").map(|list| split(&list)).unwrap_or_default(),
        shutdown_timeout: Duration::from_secs(30),
        origins: Vec::new(),
        max_connections_per_address: None,
    };
    if let Ok(secs) = std::env::var("SHUTDOWN_TIMEOUT") {
        let secs: u64 = secs.parse().map_err(|e| format!("SHUTDOWN_TIMEOUT={secs}: {e}"))?;
        args.shutdown_timeout = Duration::from_secs(secs);
    }
    let mut rest = argv.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => args.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?,
            "--web" => args.web = PathBuf::from(value),
            "--data" => args.data = PathBuf::from(value),
            "--redis" => args.redis = Some(value.clone()),
            "--trusted-proxy" => args.trusted_proxies.push(value.clone()),
            "--origin" => args.origins.push(value.clone()),
            "--max-connections-per-address" => {
                let n = value.parse().map_err(|e| format!("--max-connections-per-address {value}: {e}"))?;
                args.max_connections_per_address = Some(n);
            }
            "--notice-every" => {
                let secs: u64 = value.parse().map_err(|e| format!("--notice-every {value}: {e}"))?;
                args.notice_every = Duration::from_secs(secs.max(1));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// A comma-separated list, without empty entries.
fn split(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn app(sessions: Sessions, redis: Option<&str>, args: Option<&Args>) -> Result<App, liverpc::BuildError> {
    let mut builder = App::builder().state(sessions).hook(chat::hook).contract::<Chat>();
    if let Some(args) = args {
        let mut origins = OriginPolicy::same_origin();
        for origin in &args.origins {
            origins = origins.allow(origin.clone());
        }
        let mut limits = Limits::default();
        if let Some(n) = args.max_connections_per_address {
            limits.max_connections_per_address = n;
        }
        builder = builder.trusted_proxies(&args.trusted_proxies).origins(origins).limits(limits);
    }
    match redis {
        Some(url) => builder.redis(url).build(),
        None => builder.build(),
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sessions = Sessions::open(args.data.join("sessions.json"));
    let app = app(sessions.clone(), args.redis.as_deref(), Some(&args))?;
    let chat: Emitter<Chat> = app.emitter()?;
    tokio::spawn(tenant_reminders(chat.clone(), args.notice_every));
    if !args.web.join("index.html").exists() {
        tracing::warn!(web = %args.web.display(), "no built web app here: run `cargo xtask demo` (or npm run build in examples/chat/web)");
    }
    let router = app.attach(web::router(sessions, chat, &args.web));
    let listener = liverpc::listen(args.addr).await?;
    let addr = listener.local_addr()?;
    println!("chat demo on http://{addr}");
    if args.redis.is_some() {
        println!("rooms shared with every node on the same Redis");
    }
    println!("demo accounts (no password):");
    for user in USERS {
        println!("  {:<6} tenant {:<7} projects {}", user.name, user.tenant_id, user.project_ids.join(", "));
    }
    let serving = tokio::spawn(app.serve(listener, router));
    tokio::select! {
        served = serving => return Ok(served??),
        signal = shutdown_signal() => signal?,
    }
    println!("shutting down: answering calls in flight, then closing connections");
    app.shutdown(args.shutdown_timeout).await;
    println!("bye");
    Ok(())
}

/// SIGINT (Ctrl-C), or SIGTERM (what a process manager sends).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

/// A server-side emit from a timer: every tenant's feed gets a reminder.
async fn tenant_reminders(chat: Emitter<Chat>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    let mut count = 0u64;
    loop {
        ticks.tick().await;
        count += 1;
        let mut tenants: Vec<&str> = USERS.iter().map(|u| u.tenant_id).collect();
        tenants.dedup();
        for tenant in tenants {
            let notice =
                TenantNotice { tenant: tenant.to_owned(), text: format!("Reminder #{count}: stand-up at 10:00") };
            if let Err(e) = chat.to(&key!["tenant", tenant]).emit(&notice).await {
                tracing::error!(error = %e, "tenant reminder");
            }
        }
    }
}

fn generate(command: &str, root: &str) -> ExitCode {
    let result = app(Sessions::open(std::env::temp_dir().join("chat-codegen-unused.json")), None, None)
        .map_err(|e| e.to_string())
        .and_then(|app| codegen::generate(app.contracts(), &Options::default()).map_err(|e| e.to_string()))
        .and_then(|files| {
            let root = std::path::Path::new(root);
            let options = Options::default();
            let done = if command == "gen" {
                codegen::write(root, &options, &files).map(drop)
            } else {
                codegen::check(root, &options, &files)
            };
            done.map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-server {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
