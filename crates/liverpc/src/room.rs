//! Rooms: who joins which Socket.IO group, decided on the server.
//!
//! A contract declares each room with `.room(name, |room| room.private(..))` or
//! `.room(name, |room| room.expose(..))`:
//!
//! - [`private`](RoomBuilder::private): the server computes the key from the URL's params and
//!   the connection's locals; the page never sends it. With [`Room::auto_join`] every
//!   connection joins on connect; otherwise the page asks by name only (`room.join.tenant()`),
//!   or server code joins it.
//! - [`expose`](RoomBuilder::expose): the page sends a payload
//!   (`room.join.project({ projectId })`); the server decodes and validates it, then the
//!   authorizer returns the key or [`Deny`].
//!
//! A refused join always answers exactly `forbidden`, whether the room exists or not.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::codegen::TsType;
use crate::error::Rejection;
use crate::payload;
use crate::route::Params;

/// The key of a room: a tuple of strings such as `["chat", "general"]`.
///
/// Keys are encoded injectively, so `["a:b"]` and `["a", "b"]` are different rooms, and they
/// are scoped to their contract. Build them with [`key!`](crate::key).
///
/// ```
/// use liverpc::{key, RoomKey};
///
/// let room = key!["chat", "general"];
/// assert_eq!(room.parts(), ["chat", "general"]);
/// assert_ne!(key!["a:b"], key!["a", "b"]);
/// assert_eq!(key!["tenant", 42], RoomKey::new(["tenant", "42"]));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey(Vec<String>);

impl RoomKey {
    /// A key from its parts.
    pub fn new<I, S>(parts: I) -> RoomKey
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RoomKey(parts.into_iter().map(Into::into).collect())
    }

    /// The parts of the key.
    pub fn parts(&self) -> &[String] {
        &self.0
    }

    /// The transport's room name: the key as a JSON array, which is injective.
    pub(crate) fn encode(&self) -> String {
        // A Vec<String> always serializes.
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// Builds a [`RoomKey`] from parts that implement `Display`.
///
/// ```
/// let tenant_id = 7;
/// assert_eq!(liverpc::key!["tenant", tenant_id].parts(), ["tenant", "7"]);
/// ```
#[macro_export]
macro_rules! key {
    ($($part:expr),+ $(,)?) => {
        $crate::RoomKey::new([$(::std::string::ToString::to_string(&$part)),+])
    };
}

/// A refused join. The page receives exactly `{ code: "forbidden" }`.
///
/// ```
/// use liverpc::Deny;
///
/// fn must_be_admin(is_admin: bool) -> Result<(), Deny> {
///     if is_admin { Ok(()) } else { Err(Deny) }
/// }
/// assert!(must_be_admin(false).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deny;

impl fmt::Display for Deny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("forbidden")
    }
}

impl std::error::Error for Deny {}

/// What a room decides from: the URL's params and the connection's locals.
#[derive(Debug)]
pub struct RoomContext<L> {
    pub(crate) params: Params,
    pub(crate) locals: L,
}

impl<L> RoomContext<L> {
    /// The params matched from the page's URL.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// One param, or [`Deny`] when the URL has none of that name (an absent optional param).
    pub fn param(&self, name: &str) -> Result<&str, Deny> {
        self.params.get(name).ok_or(Deny)
    }

    /// The locals the connection hook returned.
    pub fn locals(&self) -> &L {
        &self.locals
    }
}

type PrivateFn<L> = dyn Fn(&RoomContext<L>) -> Result<RoomKey, Deny> + Send + Sync;
type ExposeFn<L> = dyn Fn(&RoomContext<L>, &str) -> Result<RoomKey, Rejection> + Send + Sync;

pub(crate) enum RoomKind<L> {
    Private(Arc<PrivateFn<L>>),
    Expose(Arc<ExposeFn<L>>),
}

/// A room definition of a contract, made by [`RoomBuilder`].
pub struct Room<L> {
    pub(crate) kind: RoomKind<L>,
    pub(crate) auto_join: bool,
    /// The exposed room's payload type, for the generated client.
    pub(crate) payload: Option<TsType>,
}

impl<L> Room<L> {
    /// Joins every connection to this private room when it connects (the tutorial's
    /// `autoJoin: true`). A denied auto-join is reported to the page, and the connection stays.
    ///
    /// See [`RoomBuilder::private`] for an example.
    pub fn auto_join(mut self) -> Room<L> {
        self.auto_join = true;
        self
    }

    pub(crate) fn is_private(&self) -> bool {
        matches!(self.kind, RoomKind::Private(_))
    }

    /// Runs the room's decision; `payload` is the page's raw JSON for exposed rooms.
    /// A panic in user code is caught and answered `internal`.
    pub(crate) fn decide(&self, cx: &RoomContext<L>, payload: Option<&str>) -> Result<RoomKey, Rejection> {
        let outcome = match &self.kind {
            RoomKind::Private(f) => {
                if payload.is_some_and(|p| p.trim() != "null") {
                    return Err(Rejection::invalid("", "a private room is joined by name only, without a payload"));
                }
                catch_unwind(AssertUnwindSafe(|| f(cx).map_err(|Deny| Rejection::join_denied())))
            }
            RoomKind::Expose(f) => catch_unwind(AssertUnwindSafe(|| f(cx, payload.unwrap_or("null")))),
        };
        outcome.unwrap_or_else(|_| {
            tracing::error!("a room authorizer panicked; the join is answered `internal`");
            Err(Rejection::internal())
        })
    }
}

impl<L> fmt::Debug for Room<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_private() { "private" } else { "expose" };
        f.debug_struct("Room").field("kind", &kind).field("auto_join", &self.auto_join).finish()
    }
}

/// Makes a room definition; handed to the closure of
/// [`Socket::room`](crate::Socket::room), typed by the contract's locals.
pub struct RoomBuilder<L> {
    _locals: PhantomData<fn() -> L>,
}

impl<L> RoomBuilder<L> {
    pub(crate) fn new() -> RoomBuilder<L> {
        RoomBuilder { _locals: PhantomData }
    }

    /// A private room: the server computes the key; the page never sends it.
    ///
    /// ```
    /// use liverpc::{key, Contract, Deny, Socket};
    ///
    /// struct Locals { tenant_id: Option<u64> }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = Locals;
    ///     type ToClient = ();
    ///     fn socket(socket: Socket<Self>) -> Socket<Self> {
    ///         socket
    ///             .room("chat", |room| room.private(|cx| Ok(key!["chat", cx.param("roomId")?])).auto_join())
    ///             .room("tenant", |room| room.private(|cx| {
    ///                 let tenant_id = cx.locals().tenant_id.ok_or(Deny)?;
    ///                 Ok(key!["tenant", tenant_id])
    ///             }))
    ///     }
    /// }
    /// ```
    pub fn private<F>(self, decide: F) -> Room<L>
    where
        F: Fn(&RoomContext<L>) -> Result<RoomKey, Deny> + Send + Sync + 'static,
    {
        Room { kind: RoomKind::Private(Arc::new(decide)), auto_join: false, payload: None }
    }

    /// An exposed room: the page sends a `T`; the server validates it, then `authorize` returns
    /// the key or [`Deny`]. The payload is a request, not proof of access.
    ///
    /// ```
    /// use liverpc::{key, Contract, Deny, Socket};
    ///
    /// #[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
    /// #[serde(rename_all = "camelCase")]
    /// struct ProjectJoin {
    ///     #[garde(length(min = 1, max = 64))]
    ///     project_id: String,
    /// }
    ///
    /// struct Locals { project_ids: Vec<String> }
    ///
    /// struct Chat;
    /// impl Contract for Chat {
    ///     const ROUTE: &'static str = "/rooms/[roomId]";
    ///     const NAME: &'static str = "chat";
    ///     type Locals = Locals;
    ///     type ToClient = ();
    ///     fn socket(socket: Socket<Self>) -> Socket<Self> {
    ///         socket.room("project", |room| room.expose(|cx, join: ProjectJoin| {
    ///             if !cx.locals().project_ids.contains(&join.project_id) {
    ///                 return Err(Deny);
    ///             }
    ///             Ok(key!["project", join.project_id])
    ///         }))
    ///     }
    /// }
    /// ```
    pub fn expose<T, F>(self, authorize: F) -> Room<L>
    where
        T: DeserializeOwned + garde::Validate + ts_rs::TS + 'static,
        T::Context: Default,
        F: Fn(&RoomContext<L>, T) -> Result<RoomKey, Deny> + Send + Sync + 'static,
    {
        let run = move |cx: &RoomContext<L>, raw: &str| -> Result<RoomKey, Rejection> {
            let data: T = payload::decode(raw)?;
            authorize(cx, data).map_err(|Deny| Rejection::join_denied())
        };
        Room { kind: RoomKind::Expose(Arc::new(run)), auto_join: false, payload: Some(TsType::of::<T>()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parts made of the characters an encoding could confuse: quotes, commas, brackets,
    /// colons, backslashes, escapes, and anything else.
    fn part() -> impl Strategy<Value = String> {
        "([\",:\\[\\]\\\\ ]|\\\\u0000|\\PC|\\p{Cc}){0,6}"
    }

    fn parts() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(part(), 0..5)
    }

    /// Other part vectors built from `parts` by the tricks an encoding could fall for: joining
    /// with a separator, splitting a part, moving a character across a boundary, adding an
    /// empty part.
    fn lookalikes(parts: &[String]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for sep in ["", ":", ",", "\",\"", "\\\",\\\"", "/"] {
            out.push(vec![parts.join(sep)]);
        }
        for (i, p) in parts.iter().enumerate() {
            for (at, _) in p.char_indices().skip(1) {
                let mut split = parts.to_vec();
                split.splice(i..=i, [p[..at].to_owned(), p[at..].to_owned()]);
                out.push(split);
            }
            if i + 1 < parts.len() && !p.is_empty() {
                let mut moved = parts.to_vec();
                let last = moved[i].pop().map(String::from).unwrap_or_default();
                moved[i + 1].insert_str(0, &last);
                out.push(moved);
            }
        }
        let mut padded = parts.to_vec();
        padded.push(String::new());
        out.push(padded);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn encoding_round_trips(parts in parts()) {
            let encoded = RoomKey::new(parts.clone()).encode();
            let decoded: Vec<String> = serde_json::from_str(&encoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(decoded, parts);
        }

        #[test]
        fn encoding_is_injective(a in parts(), b in parts()) {
            for other in lookalikes(&a).into_iter().chain([b]) {
                let same = RoomKey::new(a.clone()).encode() == RoomKey::new(other.clone()).encode();
                prop_assert_eq!(same, a == other, "{:?} vs {:?}", a, other);
            }
        }
    }
}
