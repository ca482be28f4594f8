//! The local room index of one namespace: room name -> the sockets of this node in it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::keys::ByKey;

/// A room's members, by their process-unique key.
type Members<M> = ByKey<Arc<M>>;

/// Rooms of one namespace. Generic over the member (the connection's socket), so the index
/// knows nothing of connections.
pub(super) struct Rooms<M>(RwLock<HashMap<Arc<str>, Members<M>>>);

impl<M> Default for Rooms<M> {
    fn default() -> Rooms<M> {
        Rooms(RwLock::default())
    }
}

impl<M> Rooms<M> {
    /// Adds `member`, whose process-unique key is `key`, to `room`.
    pub(super) fn insert(&self, room: &Arc<str>, key: u64, member: &Arc<M>) {
        let mut rooms = self.write();
        match rooms.get_mut(&**room) {
            Some(members) => {
                members.insert(key, member.clone());
            }
            None => {
                rooms.insert(room.clone(), Members::from_iter([(key, member.clone())]));
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
    pub(super) fn for_each(&self, room: &str, mut each: impl FnMut(&Arc<M>)) {
        if let Some(members) = self.read().get(room) {
            members.values().for_each(&mut each);
        }
    }

    /// The members of `room`, copied out.
    pub(super) fn members(&self, room: &str) -> Vec<Arc<M>> {
        self.read().get(room).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, Members<M>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, Members<M>>> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}
