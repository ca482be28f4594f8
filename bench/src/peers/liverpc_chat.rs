//! The tutorial's chat contract on liverpc: a hook reading the session cookie, the private
//! room `chat` auto-joined from the URL's `roomId`, the exposed room `project` authorized
//! against the user's projects, and `send` broadcasting `message` to the room.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use liverpc::{App, Context, Contract, Declarations, Deny, Event, Handshake, Limits, Refuse, Rejection, key};
use serde::{Deserialize, Serialize};

use super::User;

/// What the hook returns: the signed-in user, if any.
#[derive(Debug, Clone, Default)]
pub struct Locals {
    /// The user named by the `session` cookie.
    pub user: Option<Arc<User>>,
}

/// A chat message, sent to every member of the room.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Message {
    /// The room id it was sent in.
    pub room: String,
    /// The sender's name.
    pub from: String,
    /// The text.
    pub text: String,
}

impl Event for Message {
    const NAME: &'static str = "message";
}

/// The `send` call's payload.
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// What to say.
    #[garde(length(min = 1, max = 500))]
    pub text: String,
}

/// The `project` room's join payload.
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectJoin {
    /// The project to join.
    #[garde(length(min = 1, max = 64))]
    pub project_id: String,
}

/// The contract: route `/rooms/[roomId]`, name `chat`.
pub struct Chat;

impl Contract for Chat {
    const ROUTE: &'static str = "/rooms/[roomId]";
    const NAME: &'static str = "chat";
    type Locals = Locals;
    type State = ();
    type ToClient = (Message,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("send", send)
            .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
            .expose("project", |cx, ProjectJoin { project_id }| async move {
                let user = cx.locals().user.as_ref().ok_or(Deny)?;
                if !user.projects.contains(&project_id) {
                    return Err(Deny);
                }
                Ok(key!["project", project_id])
            })
    }
}

/// Sends to this page's chat room, the sender included.
async fn send(cx: Context<Chat>, Send { text }: Send) -> Result<(), Rejection> {
    let room = cx.room("chat")?;
    let from = cx.locals().user.as_ref().map_or("anonymous", |u| u.name.as_str()).to_owned();
    let message = Message { room: room.key().parts()[1].clone(), from, text };
    cx.within(&room).emit(&message).await?;
    Ok(())
}

/// The app: the hook over `users`, the contract, and limits whose call rate and connection caps
/// do not throttle the benchmark's senders and its clients on one loopback address (everything
/// else is liverpc's default).
pub fn app(users: Arc<HashMap<String, Arc<User>>>) -> App {
    app_with(users, bench_limits(), None).expect("the bench contract is valid")
}

/// The benchmark's limits: liverpc's defaults, with the call rate and the connection caps
/// raised.
pub fn bench_limits() -> Limits {
    Limits {
        calls_per_second: 1_000_000,
        burst: 1_000_000,
        max_in_flight: 1_024,
        max_connections: 1_000_000,
        max_connections_per_address: 1_000_000,
        ..Limits::default()
    }
}

/// The app with `limits`, on Redis when `redis` is a URL (the soak: every limit at its default,
/// and a bus that can fail). Called inside a tokio runtime (the Redis bus starts its tasks).
pub fn app_with(
    users: Arc<HashMap<String, Arc<User>>>,
    limits: Limits,
    redis: Option<&str>,
) -> Result<App, liverpc::BuildError> {
    let hook = move |handshake: Handshake| {
        std::future::ready(match handshake.cookie("session") {
            None => Ok(Locals { user: None }),
            Some(name) => {
                users.get(name).map(|user| Locals { user: Some(user.clone()) }).ok_or(Refuse::Unauthenticated)
            }
        })
    };
    let builder = App::builder().hook(hook).contract::<Chat>().limits(limits);
    let builder = match redis {
        Some(url) => builder.redis(url),
        None => builder,
    };
    builder.build()
}

/// Binds `addr` and returns the bound address and the server's future.
pub async fn bind(
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>> + std::marker::Send)> {
    bind_app(addr, app(super::users())).await
}

/// Binds `addr` for `app`; returns the bound address and the server's future.
pub async fn bind_app(
    addr: SocketAddr,
    app: App,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>> + std::marker::Send)> {
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, app.serve(listener, router)))
}

/// `liverpc-server`'s main (also `liverpc-server-mimalloc`'s, the same server on another
/// allocator): serves `--addr` (127.0.0.1:0), with the benchmark's limits or, with
/// `--default-limits`, liverpc's; rooms on Redis with `--redis URL`. Prints `listening <addr>`
/// once bound.
pub fn main_from_args() -> std::io::Result<()> {
    let args = crate::args::Args::from_env();
    let addr = args.get("addr", SocketAddr::from(([127, 0, 0, 1], 0))).map_err(std::io::Error::other)?;
    let limits = if args.flag("default-limits") { Limits::default() } else { bench_limits() };
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let app = app_with(super::users(), limits, args.value("redis")).map_err(std::io::Error::other)?;
        let (local, serve) = bind_app(addr, app).await?;
        println!("listening {local}");
        serve.await
    })
}
