//! The HTTP side: sign in and out with a demo account, who am I, a tenant announcement
//! (a server-side emit from an HTTP endpoint), and the built SvelteKit app.

use std::path::Path;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use liverpc::{Emitter, key};
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};

use crate::accounts::{self, PROJECTS, Sessions, USERS, User};
use crate::chat::{Chat, TenantNotice};

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
