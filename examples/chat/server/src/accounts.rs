//! The demo accounts and the sessions that sign them in, kept in a JSON file so a restart
//! does not sign anyone out (an embedded store: no external service).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A demo account.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    /// Sign-in name.
    pub(crate) name: &'static str,
    /// The tenant (company) the account belongs to.
    pub(crate) tenant_id: &'static str,
    /// The projects the account may open.
    pub(crate) project_ids: &'static [&'static str],
}

/// Two tenants, each with access to some projects and not others.
pub(crate) const USERS: &[User] = &[
    User { name: "alice", tenant_id: "acme", project_ids: &["apollo", "gemini"] },
    User { name: "bob", tenant_id: "acme", project_ids: &["apollo"] },
    User { name: "carol", tenant_id: "globex", project_ids: &["zeus", "hermes"] },
    User { name: "dave", tenant_id: "globex", project_ids: &["hermes"] },
];

/// Every project, for the page's tabs (access is decided by the server on join).
pub(crate) const PROJECTS: &[&str] = &["apollo", "gemini", "zeus", "hermes"];

/// Finds a demo account by name.
pub(crate) fn user(name: &str) -> Option<&'static User> {
    USERS.iter().find(|u| u.name == name)
}

/// Session id -> account name, persisted to a file.
#[derive(Clone)]
pub(crate) struct Sessions {
    file: PathBuf,
    map: Arc<Mutex<HashMap<String, String>>>,
}

impl Sessions {
    /// Opens (or starts) the store at `file`.
    pub(crate) fn open(file: PathBuf) -> Sessions {
        let map = std::fs::read_to_string(&file).ok().and_then(|text| serde_json::from_str(&text).ok());
        Sessions { file, map: Arc::new(Mutex::new(map.unwrap_or_default())) }
    }

    /// The account signed in by `session`, if any.
    pub(crate) fn user(&self, session: &str) -> Option<&'static User> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(session).and_then(|name| user(name))
    }

    /// The account signed in by `session`, as the hook asks for it: `async`, as any real
    /// session store is (this one is a file read at start).
    pub(crate) async fn lookup(&self, session: &str) -> Option<&'static User> {
        self.user(session)
    }

    /// Whether `user` may follow `project`, asked of the store at every join: a right taken
    /// away is refused at the next join.
    pub(crate) async fn can_follow(&self, user: &User, project: &str) -> bool {
        user.project_ids.contains(&project)
    }

    /// Signs `name` in; returns the new session id.
    pub(crate) fn sign_in(&self, name: &str) -> String {
        let id = new_session_id();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(id.clone(), name.to_owned());
        self.save(&map);
        id
    }

    /// Ends a session.
    pub(crate) fn sign_out(&self, session: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.remove(session).is_some() {
            self.save(&map);
        }
    }

    fn save(&self, map: &HashMap<String, String>) {
        let result = serde_json::to_string(map).map_err(std::io::Error::other).and_then(|text| {
            if let Some(dir) = self.file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&self.file, text)
        });
        if let Err(e) = result {
            tracing::error!(file = %self.file.display(), error = %e, "could not save sessions");
        }
    }
}

/// 128 random bits from the OS, hex-encoded.
fn new_session_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // Not a secure fallback, but this is a demo store: mix time and a counter.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
        bytes = nanos.unwrap_or_default().to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
