//! The benchmark's chat on liverpc with history: [`liverpc_chat`](super::liverpc_chat)'s
//! contract, same namespace, hook, rooms, `send` and limits, except that the auto-joined room
//! `chat` keeps a stream (`History::last(HISTORY_SIZE)`, in memory: the embedded default). It is
//! what the history scenarios (`bench/src/history.rs`) run against, beside the plain chat.
//! With a Redis URL, streams (and the bus) are on Redis; `history: false` serves the plain
//! contract on the same Redis, the history-off figure of a Redis run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use liverpc::{App, Context, Contract, Declarations, Deny, Handshake, History, Limits, Refuse, Rejection, key};

use super::User;
use super::liverpc_chat::{Chat, Locals, Message, ProjectJoin, Send};

/// Messages each `chat` room keeps.
pub const HISTORY_SIZE: usize = 100;

/// The chat contract with history on `chat`: route `/rooms/[roomId]`, name `chat`.
pub struct HistoryChat;

impl Contract for HistoryChat {
    const ROUTE: &'static str = "/rooms/[roomId]";
    const NAME: &'static str = "chat";
    type Locals = Locals;
    type State = ();
    type ToClient = (Message,);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("send", send)
            .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
            .history("chat", History::last(HISTORY_SIZE))
            .expose("project", |cx, ProjectJoin { project_id }| async move {
                let user = cx.locals().user.as_ref().ok_or(Deny)?;
                if !user.projects.contains(&project_id) {
                    return Err(Deny);
                }
                Ok(key!["project", project_id])
            })
    }
}

/// Sends to this page's chat room, the sender included (the message gets a position).
async fn send(cx: Context<HistoryChat>, Send { text }: Send) -> Result<(), Rejection> {
    let room = cx.room("chat")?;
    let from = cx.locals().user.as_ref().map_or("anonymous", |u| u.name.as_str()).to_owned();
    let message = Message { room: room.key().parts()[1].clone(), from, text };
    cx.within(&room).emit(&message).await?;
    Ok(())
}

/// The app: the plain chat's hook and limits over [`HistoryChat`] (over the plain [`Chat`] when
/// `history` is false), on Redis when `redis` is a URL.
pub fn app(users: Arc<HashMap<String, Arc<User>>>, history: bool, redis: Option<&str>) -> App {
    let hook = move |handshake: Handshake| {
        std::future::ready(match handshake.cookie("session") {
            None => Ok(Locals { user: None }),
            Some(name) => {
                users.get(name).map(|user| Locals { user: Some(user.clone()) }).ok_or(Refuse::Unauthenticated)
            }
        })
    };
    let limits = Limits {
        calls_per_second: 1_000_000,
        burst: 1_000_000,
        max_in_flight: 1_024,
        max_connections: 1_000_000,
        max_connections_per_address: 1_000_000,
        ..Limits::default()
    };
    let builder = App::builder().hook(hook);
    let builder = if history { builder.contract::<HistoryChat>() } else { builder.contract::<Chat>() };
    let builder = match redis {
        Some(url) => builder.redis(url),
        None => builder,
    };
    builder.limits(limits).build().expect("the bench contract is valid")
}

/// Binds `addr` and returns the bound address and the server's future ([`app`]'s `history`
/// and `redis`).
pub async fn bind(
    addr: SocketAddr,
    history: bool,
    redis: Option<&str>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>> + std::marker::Send)> {
    let app = app(super::users(), history, redis);
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, app.serve(listener, router)))
}
