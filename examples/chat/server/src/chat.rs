//! The tutorial's contract, `src/routes/rooms/[roomId]/chat.socket.ts`.

use liverpc::{Context, Contract, Declarations, Deny, Event, Handshake, History, Refuse, Rejection, State, key};
use serde::{Deserialize, Serialize};

use crate::accounts::{Sessions, User};

/// What the hook returns for each connection (the tutorial's `locals`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Locals {
    /// The signed-in account, if any.
    pub(crate) user: Option<&'static User>,
}

/// The tutorial's `src/hooks.socket.ts`: the session cookie names the account, looked up in
/// the app's session store.
pub(crate) async fn hook(handshake: Handshake, State(sessions): State<Sessions>) -> Result<Locals, Refuse> {
    let user = match handshake.cookie("session") {
        Some(id) => sessions.lookup(id).await,
        None => None,
    };
    Ok(Locals { user })
}

/// toClient.message: a message in the page's chat room.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub(crate) struct Message {
    /// The chat room (the URL's roomId).
    pub(crate) room: String,
    /// Who sent it.
    pub(crate) from: String,
    /// What they said.
    pub(crate) text: String,
}
impl Event for Message {
    const NAME: &'static str = "message";
}

/// toClient.project: a message in a project room.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectMessage {
    /// The project.
    pub(crate) project_id: String,
    /// Who sent it.
    pub(crate) from: String,
    /// What they said.
    pub(crate) text: String,
}
impl Event for ProjectMessage {
    const NAME: &'static str = "project";
}

/// toClient.tenant: an announcement to everyone of the signed-in account's tenant.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub(crate) struct TenantNotice {
    /// The tenant.
    pub(crate) tenant: String,
    /// The announcement.
    pub(crate) text: String,
}
impl Event for TenantNotice {
    const NAME: &'static str = "tenant";
}

/// What the other members of a chat room see of a signed-in member (presence).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub(crate) struct Member {
    /// The account's name.
    pub(crate) name: String,
}

/// fromClient.send
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendMessage {
    /// 1 to 500 characters.
    #[garde(length(chars, min = 1, max = 500))]
    pub(crate) text: String,
}

/// fromClient.postProject
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PostProject {
    /// A project this page has joined.
    #[garde(length(min = 1, max = 64))]
    pub(crate) project_id: String,
    /// 1 to 500 characters.
    #[garde(length(chars, min = 1, max = 500))]
    pub(crate) text: String,
}

/// The payload of `room.join.project(...)`.
#[derive(Debug, Deserialize, garde::Validate, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProjectJoin {
    /// The project the page asks to follow.
    #[garde(length(min = 1, max = 64))]
    pub(crate) project_id: String,
}

/// How many messages each chat room keeps (for ten minutes): the page loads the last of them
/// (`GET /api/rooms/{roomId}/history`), and a page that reconnects gets what it missed.
pub(crate) const KEPT: usize = 200;

/// The chat contract of route `/rooms/[roomId]`.
pub(crate) struct Chat;

impl Contract for Chat {
    const ROUTE: &'static str = "/rooms/[roomId]";
    const NAME: &'static str = "chat";
    type Locals = Locals;
    type State = Sessions;
    type ToClient = (Message, ProjectMessage, TenantNotice);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("send", send)
            .from_client("postProject", post_project)
            // The URL's [roomId] chooses the chat room; every page joins it at once.
            .auto_join("chat", |cx| async move { Ok(key!["chat", cx.param("roomId")?]) })
            // Who is here: each signed-in member shows its name, from its session.
            .presence("chat", |locals| locals.user.map(|user| Member { name: user.name.to_owned() }))
            // Its last messages are kept, with their positions: the page shows them at once and
            // continues live exactly after them; a reconnect replays what it missed.
            .history("chat", History::last(KEPT))
            // The tenant comes from the session cookie, never from the page.
            .private("tenant", |cx| async move {
                let user = cx.locals().user.ok_or(Deny)?;
                Ok(key!["tenant", user.tenant_id])
            })
            // The page asks for a project; the store decides whether the account may follow it.
            .expose("project", |cx, ProjectJoin { project_id }| async move {
                let user = cx.locals().user.ok_or(Deny)?;
                if !cx.state().can_follow(user, &project_id).await {
                    return Err(Deny);
                }
                Ok(key!["project", project_id])
            })
    }
}

fn name(cx: &Context<Chat>) -> String {
    cx.locals().user.map_or("guest", |u| u.name).to_owned()
}

async fn send(cx: Context<Chat>, SendMessage { text }: SendMessage) -> Result<(), Rejection> {
    let room = cx.room("chat")?;
    let message = Message { room: room.key().parts()[1].clone(), from: name(&cx), text };
    cx.within(&room).emit(&message).await?;
    Ok(())
}

async fn post_project(cx: Context<Chat>, PostProject { project_id, text }: PostProject) -> Result<(), Rejection> {
    let room = cx.joined(&key!["project", &project_id])?;
    let message = ProjectMessage { project_id, from: name(&cx), text };
    cx.within(&room).emit(&message).await?;
    Ok(())
}
