//! Socket ids: the engine's own, never a transport's socket id (which, on HTTP long-polling,
//! is the bearer credential of the connection).

/// A new socket id: 32 hex digits from the OS's randomness.
pub(crate) fn socket_id() -> crate::wire::id::Id {
    crate::wire::id::Id::random()
}
