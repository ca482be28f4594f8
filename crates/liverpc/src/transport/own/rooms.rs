//! The local room index of one namespace: room name -> the sockets of this node in it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::conn::Socket;

/// A room's members, by their process-unique key.
type Members = HashMap<u64, Arc<Socket>>;

/// Rooms of one namespace.
#[derive(Default)]
pub(super) struct Rooms(RwLock<HashMap<Box<str>, Members>>);

impl Rooms {
    pub(super) fn insert(&self, room: &str, socket: &Arc<Socket>) {
        let mut rooms = self.write();
        match rooms.get_mut(room) {
            Some(members) => {
                members.insert(socket.key, socket.clone());
            }
            None => {
                rooms.insert(room.into(), HashMap::from([(socket.key, socket.clone())]));
            }
        }
    }

    pub(super) fn remove(&self, room: &str, key: u64) {
        let mut rooms = self.write();
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&key);
            // An empty room costs nothing: rooms come and go with their members.
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// Calls `each` for every member of `room`, under the read lock (`each` must not touch
    /// the index).
    pub(super) fn for_each(&self, room: &str, mut each: impl FnMut(&Arc<Socket>)) {
        if let Some(members) = self.read().get(room) {
            members.values().for_each(&mut each);
        }
    }

    /// The members of `room`, copied out.
    pub(super) fn members(&self, room: &str) -> Vec<Arc<Socket>> {
        self.read().get(room).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<Box<str>, Members>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Box<str>, Members>> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}
