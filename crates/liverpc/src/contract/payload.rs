//! Decoding and validating what the page sends: JSON -> `T` (serde) -> rules (garde).
//!
//! Every problem becomes an [`Issue`] with a dotted path, so the page can show it beside the
//! field. The payload itself is never logged.

use serde::de::{self, DeserializeOwned, Visitor};

use crate::wire::error::{Issue, Rejection};

/// Decodes `raw` JSON into `T` and validates it.
pub(crate) fn decode<T>(raw: &str) -> Result<T, Rejection>
where
    T: DeserializeOwned + garde::Validate,
    T::Context: Default,
{
    let mut de = serde_json::Deserializer::from_str(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = without_position(&e.into_inner().to_string());
        // "missing field `text`" belongs to the field, not to its parent.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
        match missing {
            Some(field) if path.is_empty() => Rejection::invalid(field, message.clone()),
            Some(field) => Rejection::invalid(format!("{path}.{field}"), message.clone()),
            None => Rejection::invalid(path, message),
        }
    })?;
    de.end().map_err(|_| Rejection::invalid("", "trailing characters after the payload"))?;
    value.validate_with(&T::Context::default()).map_err(|report| {
        let wire = wire_fields::<T>();
        let issues = report
            .iter()
            .map(|(path, error)| Issue { path: to_wire(&path.to_string(), wire), message: error.to_string() })
            .collect();
        Rejection::invalid_payload(issues)
    })?;
    Ok(value)
}

/// garde names fields as Rust does (`project_id`); the page knows them as serde renames them
/// (`projectId`). Maps the path's first component onto `T`'s wire field names when a usual
/// `rename_all` convention of it is one of them. Nested components are left as garde wrote them.
fn to_wire(path: &str, wire: &[&str]) -> String {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    let (first, rest) = path.split_at(end);
    if wire.contains(&first) {
        return path.to_owned();
    }
    let words: Vec<&str> = first.split('_').filter(|w| !w.is_empty()).collect();
    let capital = |w: &str| w.chars().take(1).flat_map(char::to_uppercase).chain(w.chars().skip(1)).collect::<String>();
    let camel: String =
        words.iter().enumerate().map(|(i, w)| if i == 0 { (*w).to_owned() } else { capital(w) }).collect();
    let candidates = [
        camel,
        words.iter().map(|w| capital(w)).collect(),
        words.join("-"),
        first.to_ascii_uppercase(),
        words.concat(),
    ];
    match candidates.into_iter().find(|c| wire.contains(&c.as_str())) {
        Some(name) => format!("{name}{rest}"),
        None => path.to_owned(),
    }
}

/// The field names serde expects for `T` (renames applied), asked of serde itself; empty for
/// anything that is not a plain struct.
fn wire_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("probe"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// serde_json appends " at line 1 column 17"; the page needs the field path, not a position.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::ErrorCode;

    #[derive(Debug, serde::Deserialize, garde::Validate)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Send {
        #[garde(length(min = 1, max = 10))]
        text: String,
        #[garde(skip)]
        reply_to: Option<u32>,
    }

    #[test]
    fn valid() {
        let s: Send = decode(r#"{"text":"hi","replyTo":3}"#).unwrap();
        assert_eq!((s.text.as_str(), s.reply_to), ("hi", Some(3)));
    }

    #[test]
    fn wrong_type_has_a_path() {
        let r = decode::<Send>(r#"{"text":"hi","replyTo":"x"}"#).unwrap_err();
        assert_eq!(r.code, ErrorCode::InvalidPayload);
        let issues = r.issues.unwrap();
        assert_eq!(issues[0].path, "replyTo");
        assert!(!issues[0].message.contains("line"), "{}", issues[0].message);
    }

    #[test]
    fn rules_are_checked() {
        let r = decode::<Send>(r#"{"text":""}"#).unwrap_err();
        assert_eq!(r.issues.unwrap()[0].path, "text");
    }

    #[derive(Debug, serde::Deserialize, garde::Validate)]
    #[serde(rename_all = "camelCase")]
    struct Join {
        #[garde(length(min = 1))]
        project_id: String,
        #[garde(dive)]
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize, garde::Validate)]
    struct Item {
        #[garde(range(max = 5))]
        n: u32,
    }

    #[test]
    fn issue_paths_use_wire_names() {
        let r = decode::<Join>(r#"{"projectId":"","items":[]}"#).unwrap_err();
        assert_eq!(r.issues.unwrap()[0].path, "projectId");
        let r = decode::<Join>(r#"{"projectId":"a","items":[{"n":9}]}"#).unwrap_err();
        assert_eq!(r.issues.unwrap()[0].path, "items[0].n");
        let r = decode::<Join>(r#"{"items":[]}"#).unwrap_err();
        let issues = r.issues.unwrap();
        assert_eq!((issues[0].path.as_str(), issues[0].message.as_str()), ("projectId", "missing field `projectId`"));
        let r = decode::<Join>(r#"{"projectId":"a","items":[{}]}"#).unwrap_err();
        assert_eq!(r.issues.unwrap()[0].path, "items[0].n");
    }

    #[test]
    fn wire_names_come_from_serde() {
        assert_eq!(wire_fields::<Join>(), ["projectId", "items"]);
        assert!(wire_fields::<u32>().is_empty());
        assert_eq!(to_wire("project_id", &["projectId"]), "projectId");
        assert_eq!(to_wire("project_id", &["ProjectId"]), "ProjectId");
        assert_eq!(to_wire("project_id", &["project-id"]), "project-id");
        assert_eq!(to_wire("a_b[1].c_d", &["aB"]), "aB[1].c_d");
        assert_eq!(to_wire("x", &["y"]), "x", "no match: unchanged");
    }

    #[test]
    fn malformed_and_extra() {
        assert_eq!(decode::<Send>("{").unwrap_err().code, ErrorCode::InvalidPayload);
        assert_eq!(decode::<Send>(r#"{"text":"a","x":1}"#).unwrap_err().code, ErrorCode::InvalidPayload);
        assert_eq!(decode::<Send>("null").unwrap_err().code, ErrorCode::InvalidPayload);
    }
}
