//! The same chat written by hand on socketioxide 0.18.9, as a socketioxide user would: a
//! namespace middleware reading the cookie and the path from the auth, a connect handler
//! joining the room and registering `send` (broadcast with `within(room).emit`, then ack) and
//! `liverpc:join` (a hand-written authorization check).
//!
//! Its transport settings are the ones liverpc used when it ran on socketioxide (1 KiB
//! websocket read buffer, 256 queued packets per socket, 128 KiB messages, 10 s connect
//! timeout): liverpc's limits, where socketioxide has them. It binds with the same listen
//! backlog (1024) and `TCP_NODELAY` as `liverpc::listen` / `App::serve`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;

use super::{NAMESPACE, User};

/// Per-socket state put in the socket's extensions by the middleware.
#[derive(Debug, Clone)]
struct Conn(Arc<ConnState>);

#[derive(Debug)]
struct ConnState {
    room: String,
    key: String,
    user: Option<Arc<User>>,
}

#[derive(Deserialize)]
struct Auth {
    path: String,
}

#[derive(Deserialize)]
struct SendPayload {
    text: String,
}

#[derive(Deserialize)]
struct JoinRequest {
    room: String,
    data: ProjectJoin,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectJoin {
    project_id: String,
}

#[derive(Serialize)]
struct Message<'a> {
    room: &'a str,
    from: &'a str,
    text: &'a str,
}

/// The ack envelopes, serialized once.
static OK: LazyLock<Box<RawValue>> = LazyLock::new(|| raw(r#"{"ok":true,"data":null}"#));
static FORBIDDEN: LazyLock<Box<RawValue>> =
    LazyLock::new(|| raw(r#"{"ok":false,"error":{"code":"forbidden","message":"forbidden"}}"#));
static INVALID: LazyLock<Box<RawValue>> =
    LazyLock::new(|| raw(r#"{"ok":false,"error":{"code":"invalid_payload","message":"invalid payload"}}"#));

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

fn answer(ack: AckSender, envelope: &RawValue) {
    // Without an ack id the client asked for no answer.
    let _ = ack.send(envelope);
}

/// The router serving `/socket.io/` with the chat namespace.
pub fn router(users: Arc<HashMap<String, Arc<User>>>) -> axum::Router {
    let (layer, io) = SocketIo::builder()
        .max_payload(128 * 1024)
        .ws_max_message_size(128 * 1024)
        .ws_max_frame_size(128 * 1024)
        .ws_read_buffer_size(1024)
        .max_buffer_size(256)
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(10))
        .build_layer();

    let authenticate = move |s: SocketRef, TryData(auth): TryData<Auth>| {
        let users = users.clone();
        async move {
            let cookie = s.req_parts().headers.get("cookie").and_then(|v| v.to_str().ok());
            let user = match cookie.and_then(|c| super::cookie(c, "session")) {
                None => None,
                Some(name) => Some(users.get(name).cloned().ok_or("unauthenticated")?),
            };
            let path = auth.map_err(|_| "not_found")?.path;
            let room = super::room_id(&path).ok_or("not_found")?.to_owned();
            let key = serde_json::to_string(&["chat", room.as_str()]).map_err(|_| "internal")?;
            s.extensions.insert(Conn(Arc::new(ConnState { room, key, user })));
            Ok::<(), &'static str>(())
        }
    };

    let on_connect = |s: SocketRef| async move {
        let Some(Conn(conn)) = s.extensions.get::<Conn>() else { return };
        s.join(conn.key.clone());
        let state = conn.clone();
        s.on("send", move |s: SocketRef, TryData(data): TryData<SendPayload>, ack: AckSender| async move {
            let text = match data {
                Ok(SendPayload { text }) if (1..=500).contains(&text.chars().count()) => text,
                _ => return answer(ack, &INVALID),
            };
            let from = state.user.as_ref().map_or("anonymous", |u| u.name.as_str());
            let message = Message { room: &state.room, from, text: &text };
            // A full send buffer drops the message for that socket (socketioxide's behaviour).
            let _ = s.within(state.key.clone()).emit("message", &message).await;
            answer(ack, &OK);
        });
        let state = conn;
        s.on("liverpc:join", move |s: SocketRef, TryData(data): TryData<JoinRequest>, ack: AckSender| async move {
            let project = match data {
                Ok(JoinRequest { room, data: ProjectJoin { project_id } })
                    if room == "project" && (1..=64).contains(&project_id.chars().count()) =>
                {
                    project_id
                }
                _ => return answer(ack, &INVALID),
            };
            if !state.user.as_ref().is_some_and(|u| u.projects.contains(&project)) {
                return answer(ack, &FORBIDDEN);
            }
            match serde_json::to_string(&["project", project.as_str()]) {
                Ok(key) => {
                    s.join(key);
                    answer(ack, &OK);
                }
                Err(_) => answer(ack, &INVALID),
            }
        });
    };

    io.ns(NAMESPACE, on_connect.with(authenticate));
    axum::Router::new().layer(layer)
}

/// Binds `addr` (listen backlog 1024) and returns the bound address and the server's future
/// (`TCP_NODELAY` on every connection).
pub async fn bind(
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>> + Send)> {
    use axum::serve::ListenerExt;
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = router(super::users());
    Ok((local, async move { axum::serve(listener, router).await }))
}
