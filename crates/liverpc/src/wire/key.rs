//! Room keys: the tuple of strings that names a Socket.IO group, encoded injectively.

use std::fmt;

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

    /// The key [`encode`](RoomKey::encode) gave `room` for; `None` for any other text.
    pub(crate) fn decode(room: &str) -> Option<RoomKey> {
        serde_json::from_str(room).ok().map(RoomKey)
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
            let decoded = RoomKey::decode(&encoded).ok_or_else(|| TestCaseError::fail("not decoded"))?;
            prop_assert_eq!(decoded.parts(), &parts[..]);
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
