//! The tutorial's chat contract and a server on loopback, shared by the integration tests
//! and by the `fixture` example that the Node compatibility tests start.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use liverpc::{
    App, Context, Contract, Declarations, Deny, Event, Handshake, History, Limits, OriginPolicy, Refuse, Rejection, key,
};
use serde::{Deserialize, Serialize};

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub tenant_id: String,
    pub project_ids: Vec<String>,
}

/// The users, by name: alice and bob in tenant acme, carol in globex.
#[derive(Clone)]
pub struct Users(Arc<RwLock<HashMap<String, User>>>);

impl Default for Users {
    fn default() -> Users {
        let user = |name: &str, tenant: &str, projects: &[&str]| {
            let projects = projects.iter().map(|p| (*p).to_owned()).collect();
            (name.to_owned(), User { name: name.to_owned(), tenant_id: tenant.to_owned(), project_ids: projects })
        };
        Users(Arc::new(RwLock::new(HashMap::from([
            user("alice", "acme", &["apollo", "gemini"]),
            user("bob", "acme", &["apollo"]),
            user("carol", "globex", &["zeus"]),
        ]))))
    }
}

impl Users {
    pub fn get(&self, name: &str) -> Option<User> {
        self.0.read().ok()?.get(name).cloned()
    }

    /// Takes a project away from a user; effective from their next connection.
    pub fn revoke(&self, name: &str, project: &str) -> bool {
        let Ok(mut users) = self.0.write() else { return false };
        users.get_mut(name).is_some_and(|u| {
            let before = u.project_ids.len();
            u.project_ids.retain(|p| p != project);
            before != u.project_ids.len()
        })
    }
}

/// What the hook returns (the tutorial's `locals`).
#[derive(Debug, Clone, Default)]
pub struct Locals {
    pub user: Option<User>,
}

/// The tutorial's `src/hooks.socket.ts`: the session cookie names the user.
pub fn hook(
    users: Users,
) -> impl Fn(Handshake) -> std::future::Ready<Result<Locals, Refuse>> + std::marker::Send + Sync + 'static {
    move |handshake: Handshake| {
        std::future::ready(match handshake.cookie("session") {
            None => Ok(Locals { user: None }),
            Some("panic") => panic!("hook panicked on purpose"),
            Some(name) => users.get(name).map(|user| Locals { user: Some(user) }).ok_or(Refuse::Unauthenticated),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Message {
    pub room: String,
    pub from: String,
    pub text: String,
}

impl Event for Message {
    const NAME: &'static str = "message";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Notice {
    pub text: String,
}

impl Event for Notice {
    const NAME: &'static str = "notice";
}

#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Send {
    #[garde(length(min = 1, max = 500))]
    pub text: String,
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Sent {
    pub delivered: usize,
}

#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectJoin {
    #[garde(length(min = 1, max = 64))]
    pub project_id: String,
}

/// What a member of the `team` room shows the others (presence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Teammate {
    pub name: String,
}

/// Which room a `post` goes to.
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Post {
    #[garde(length(min = 1, max = 16))]
    pub room: String,
    #[garde(length(min = 1, max = 500))]
    pub text: String,
}

pub struct Chat;

impl Contract for Chat {
    const ROUTE: &'static str = "/rooms/[roomId]";
    const NAME: &'static str = "chat";
    type Locals = Locals;
    type State = ();
    type ToClient = (Message, Notice);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("send", send)
            .from_client("post", post)
            .from_client("whoami", whoami)
            .from_client("boom", boom)
            .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
            .private("tenant", |cx| async move {
                let user = cx.locals().user.as_ref().ok_or(Deny)?;
                Ok(key!["tenant", &user.tenant_id])
            })
            // The signed-in people of the tenant who opened the team panel, by name.
            .private("team", |cx| async move {
                let user = cx.locals().user.as_ref().ok_or(Deny)?;
                Ok(key!["team", &user.tenant_id])
            })
            .presence("team", |locals| locals.user.as_ref().map(|u| Teammate { name: u.name.clone() }))
            // The room's feed, which keeps its last 256 messages: a page that reconnects gets
            // what it missed (`POST /admin/feed/{room}/{label}/{n}` fills it).
            .private("feed", |cx| async move { Ok(key!["feed", cx.param("roomId")?]) })
            .history("feed", History::last(256))
            .expose("project", |cx, ProjectJoin { project_id }| async move {
                let user = cx.locals().user.as_ref().ok_or(Deny)?;
                if project_id == "panic" {
                    panic!("authorizer panicked on purpose");
                }
                if !user.project_ids.contains(&project_id) {
                    return Err(Deny);
                }
                Ok(key!["project", project_id])
            })
    }
}

fn name_of(cx: &Context<Chat>) -> String {
    cx.locals().user.as_ref().map_or("anonymous", |u| u.name.as_str()).to_owned()
}

/// Sends to this page's chat room, the sender included.
async fn send(cx: Context<Chat>, Send { text }: Send) -> Result<Sent, Rejection> {
    let room = cx.room("chat")?;
    let message = Message { room: room.key().parts()[1].clone(), from: name_of(&cx), text };
    let delivered = cx.within(&room).emit(&message).await?;
    Ok(Sent { delivered })
}

/// Sends to one of the rooms this socket is in (`tenant`, `project`), the sender excluded.
async fn post(cx: Context<Chat>, Post { room, text }: Post) -> Result<Sent, Rejection> {
    let joined = cx.room(&room)?;
    let message = Message { room: joined.key().parts().join("/"), from: name_of(&cx), text };
    let delivered = cx.to(&joined).emit(&message).await?;
    Ok(Sent { delivered })
}

async fn whoami(cx: Context<Chat>, _: ()) -> Result<Option<String>, Rejection> {
    Ok(cx.locals().user.as_ref().map(|u| u.name.clone()))
}

async fn boom(_cx: Context<Chat>, _: ()) -> Result<(), Rejection> {
    panic!("handler panicked on purpose")
}

pub fn app(limits: Limits, users: Users) -> App {
    app_with(limits, users, Arc::default())
}

/// [`app`] whose hook first refuses `unavailable` handshakes `POST /admin/unavailable/{n}`
/// asked for (the Node tests' handshake retry).
fn app_with(limits: Limits, users: Users, unavailable: Arc<AtomicUsize>) -> App {
    let inner = hook(users);
    let take = move || unavailable.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let hook = move |handshake: Handshake| {
        if take() { std::future::ready(Err(Refuse::Unavailable)) } else { inner(handshake) }
    };
    App::builder()
        .hook(hook)
        .contract::<Chat>()
        .limits(limits)
        .origins(OriginPolicy::same_origin().allow("http://allowed.example"))
        // The official client's polling tests need it; the generated client is websocket-only.
        .long_polling(true)
        .build()
        .expect("the fixture contract is valid")
}

/// A running fixture server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: App,
    pub users: Users,
}

/// Starts the fixture server on an ephemeral loopback port.
pub async fn start(limits: Limits) -> Server {
    start_at("127.0.0.1:0".parse().expect("valid address"), limits).await
}

/// Starts the fixture server on `addr`, with `POST /admin/revoke/{user}/{project}`,
/// `POST /admin/disconnect/{kind}/{id}` (disconnects the sockets of room `[kind, id]`) and
/// `POST /admin/unavailable/{n}` (the next `n` handshakes are refused `unavailable`) and
/// `POST /admin/feed/{room}/{label}/{n}` (emits `<label>-1` to `<label>-n` to room
/// `["feed", room]`, answers how many sockets of this node the last one reached).
pub async fn start_at(addr: SocketAddr, limits: Limits) -> Server {
    use axum::extract::Path;
    use axum::routing::post;

    let users = Users::default();
    let unavailable = Arc::new(AtomicUsize::new(0));
    let app = app_with(limits, users.clone(), unavailable.clone());
    let admin = users.clone();
    let chat = app.emitter::<Chat>().expect("the fixture registers Chat");
    let feed = chat.clone();
    let router = axum::Router::new()
        .route(
            "/admin/revoke/{user}/{project}",
            post(move |Path((user, project)): Path<(String, String)>| {
                let admin = admin.clone();
                async move { if admin.revoke(&user, &project) { "revoked" } else { "unchanged" } }
            }),
        )
        .route(
            "/admin/disconnect/{kind}/{id}",
            post(move |Path((kind, id)): Path<(String, String)>| {
                let chat = chat.clone();
                async move { chat.to(&key![kind, id]).disconnect().to_string() }
            }),
        )
        .route(
            "/admin/feed/{room}/{label}/{n}",
            post(move |Path((room, label, n)): Path<(String, String, usize)>| {
                let feed = feed.clone();
                async move {
                    let mut delivered = 0;
                    for i in 1..=n {
                        let text = format!("{label}-{i}");
                        let message = Message { room: format!("feed/{room}"), from: "server".to_owned(), text };
                        delivered = feed.to(&key!["feed", room]).emit(&message).await.unwrap_or(0);
                    }
                    delivered.to_string()
                }
            }),
        )
        .route(
            "/admin/unavailable/{n}",
            post(move |Path(n): Path<usize>| {
                unavailable.store(n, Ordering::SeqCst);
                std::future::ready("ok")
            }),
        );
    let router = app.attach(router);
    let listener = liverpc::listen(addr).await.expect("bind loopback");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(app.serve(listener, router));
    Server { addr, app, users }
}
