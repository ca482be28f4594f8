//! The vocabulary every layer shares: what travels on the wire (the protocol's names and
//! shapes, error and refusal codes, room keys, routes), and what bounds and admits a
//! connection (limits, the origin policy, the handshake). Imports nothing above it.

pub(crate) mod error;
pub(crate) mod handshake;
pub(crate) mod id;
pub(crate) mod key;
pub(crate) mod limits;
pub(crate) mod origin;
pub(crate) mod protocol;
pub(crate) mod route;
pub(crate) mod stream;
