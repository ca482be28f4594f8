//! The HTTP side: sign in and out with a demo account, who am I, a chat room's recent messages
//! (what the room page shows before it goes live), a tenant announcement (a server-side emit
//! from an HTTP endpoint), and the built SvelteKit app.

use std::path::Path;

use axum::extract::{Form, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use liverpc::{Emitter, Recent, key};
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use crate::accounts::{self, PROJECTS, Sessions, USERS, User};
use crate::chat::{Chat, KEPT, TenantNotice};

#[derive(Clone)]
struct Web {
    sessions: Sessions,
    chat: Emitter<Chat>,
}

/// The HTTP routes, with the built web app as the fallback (SPA: unknown paths get index.html).
pub(crate) fn router(sessions: Sessions, chat: Emitter<Chat>, web: &Path) -> Router {
    let app = ServeDir::new(web).fallback(ServeFile::new(web.join("index.html")));
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/api/rooms/{room_id}/history", get(history))
        .route("/api/announce", post(announce))
        .with_state(Web { sessions, chat })
        .fallback_service(app)
}

fn session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == "session")
        .map(|(_, v)| v)
}

fn current(web: &Web, headers: &HeaderMap) -> Option<&'static User> {
    session(headers).and_then(|id| web.sessions.user(id))
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only same-site paths: never redirect to another origin.
fn local(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or_else(|| "/rooms/general".to_owned())
}

async fn login(State(web): State<Web>, Query(next): Query<Next>, Form(login): Form<Login>) -> Response {
    let Some(user) = accounts::user(&login.user) else {
        return (StatusCode::UNAUTHORIZED, "unknown demo account").into_response();
    };
    let id = web.sessions.sign_in(user.name);
    let cookie = format!("session={id}; Path=/; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&local(next.next))).into_response()
}

async fn logout(State(web): State<Web>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    if let Some(id) = session(&headers) {
        web.sessions.sign_out(id);
    }
    let cookie = "session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";
    ([(header::SET_COOKIE, cookie)], Redirect::to(&local(next.next))).into_response()
}

#[derive(serde::Serialize)]
struct Me {
    user: Option<&'static User>,
    accounts: &'static [User],
    projects: &'static [&'static str],
}

async fn me(State(web): State<Web>, headers: HeaderMap) -> Json<Me> {
    Json(Me { user: current(&web, &headers), accounts: USERS, projects: PROJECTS })
}

/// How many messages the room page loads unless it asks for another number.
const DEFAULT_LIMIT: usize = 50;
/// The longest room id the history answers for (a URL path segment; the engine takes paths
/// up to 2 KiB).
const MAX_ROOM_ID: usize = 256;

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<String>,
}

/// Why a history request was not answered with the room's messages.
#[derive(Debug)]
enum HistoryRejection {
    /// The room id is empty, longer than [`MAX_ROOM_ID`] or holds a `/` (no page has it).
    InvalidRoomId,
    /// `limit` is not a whole number from 1 to [`KEPT`].
    InvalidLimit,
    /// The room keeps no history: the contract no longer declares it (a bug here, not the
    /// page's).
    NoHistory(liverpc::HistoryError),
}

impl IntoResponse for HistoryRejection {
    fn into_response(self) -> Response {
        match self {
            HistoryRejection::InvalidRoomId => {
                let message = format!("a room id is 1 to {MAX_ROOM_ID} bytes, without `/`");
                (StatusCode::BAD_REQUEST, message).into_response()
            }
            HistoryRejection::InvalidLimit => {
                let message = format!("limit is a whole number from 1 to {KEPT} (the messages a room keeps)");
                (StatusCode::BAD_REQUEST, message).into_response()
            }
            HistoryRejection::NoHistory(e) => {
                tracing::error!(error = %e, "room history");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// A chat room's last messages (`?limit=`, 1 to the room's history, 50 unless given), oldest
/// first, each with its position, and the room's position after them: the page shows them and
/// starts its client there (`chat({ since: position })`), so its live messages continue
/// exactly after, with no gap and no duplicate. Anyone may read a chat room, as anyone may
/// join it (its key is the URL's roomId, never anything private).
async fn history(
    State(web): State<Web>,
    UrlPath(room_id): UrlPath<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Recent>, HistoryRejection> {
    if room_id.is_empty() || room_id.len() > MAX_ROOM_ID || room_id.contains('/') {
        return Err(HistoryRejection::InvalidRoomId);
    }
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=KEPT).contains(&n) => n,
        Some(_) => return Err(HistoryRejection::InvalidLimit),
    };
    let recent = web.chat.history(&key!["chat", room_id], limit).await.map_err(HistoryRejection::NoHistory)?;
    Ok(Json(recent))
}

#[derive(Deserialize)]
struct Announce {
    text: String,
}

/// Posts to the signed-in account's tenant feed: an emit from outside any socket.
async fn announce(State(web): State<Web>, headers: HeaderMap, Json(body): Json<Announce>) -> Response {
    let Some(user) = current(&web, &headers) else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    let text: String = body.text.trim().chars().take(500).collect();
    if text.is_empty() {
        return (StatusCode::BAD_REQUEST, "empty announcement").into_response();
    }
    let notice = TenantNotice { tenant: user.tenant_id.to_owned(), text: format!("{}: {text}", user.name) };
    match web.chat.to(&key!["tenant", user.tenant_id]).emit(&notice).await {
        Ok(delivered) => Json(serde_json::json!({ "delivered": delivered })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "announce");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::chat::Message;

    /// The routes on an app of their own (no web app: unknown paths are answered 404).
    fn routes() -> (Router, Emitter<Chat>) {
        let sessions = Sessions::open(std::env::temp_dir().join("chat-web-tests-unused.json"));
        let app = crate::app(sessions.clone(), None, None).expect("the example's app builds");
        let chat: Emitter<Chat> = app.emitter().expect("the chat contract is registered");
        let router = router(sessions, chat.clone(), Path::new("no-web-app-here"));
        (router, chat)
    }

    async fn get(router: &Router, uri: &str) -> (StatusCode, String) {
        let request = Request::get(uri).body(Body::empty()).expect("a request");
        let response = router.clone().oneshot(request).await.expect("answered");
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.expect("a body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn say(chat: &Emitter<Chat>, room: &str, text: &str) {
        let message = Message { room: room.to_owned(), from: "alice".to_owned(), text: text.to_owned() };
        chat.to(&key!["chat", room]).emit(&message).await.expect("emitted");
    }

    #[tokio::test]
    async fn a_room_history_is_its_last_messages_and_the_position_after_them() {
        let (router, chat) = routes();
        for i in 1..=3 {
            say(&chat, "general", &format!("m-{i}")).await;
        }
        say(&chat, "random", "elsewhere").await;

        let (status, body) = get(&router, "/api/rooms/general/history?limit=2").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let history: Value = serde_json::from_str(&body).expect("JSON");
        let texts: Vec<&str> = history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["payload"]["text"].as_str().expect("a message's text"))
            .collect();
        assert_eq!(texts, ["m-2", "m-3"]);
        assert_eq!(history["messages"][0]["event"], "message");
        assert_eq!(history["messages"][0]["position"]["offset"], 2);
        assert_eq!(history["position"]["offset"], 3);
        assert_eq!(history["position"], history["messages"][1]["position"]);

        // Fifty unless asked; an empty room: no messages, the stream's position before any.
        let (status, body) = get(&router, "/api/rooms/general/history").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let all: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(all["messages"].as_array().map(Vec::len), Some(3));
        let (_, body) = get(&router, "/api/rooms/quiet%20room/history").await;
        let quiet: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(quiet["messages"], serde_json::json!([]));
        assert_eq!(quiet["position"]["offset"], 0);
    }

    #[tokio::test]
    async fn bad_input_is_answered_400_with_what_to_send() {
        let (router, _) = routes();
        for uri in [
            "/api/rooms/general/history?limit=0",
            "/api/rooms/general/history?limit=201",
            "/api/rooms/general/history?limit=ten",
            "/api/rooms/general/history?limit=-1",
            "/api/rooms/a%2Fb/history",
        ] {
            let (status, body) = get(&router, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(
                body.contains("limit is a whole number from 1 to 200") || body.contains("a room id is"),
                "{uri}: {body}"
            );
        }
        let long = format!("/api/rooms/{}/history", "x".repeat(MAX_ROOM_ID + 1));
        assert_eq!(get(&router, &long).await.0, StatusCode::BAD_REQUEST);
    }
}
