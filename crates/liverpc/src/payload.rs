//! Decoding and validating what the page sends: JSON -> `T` (serde) -> rules (garde).
//!
//! Every problem becomes an [`Issue`] with a dotted path, so the page can show it beside the
//! field. The payload itself is never logged.

use serde::de::DeserializeOwned;

use crate::error::{Issue, Rejection};

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
        Rejection::invalid(path, without_position(&e.into_inner().to_string()))
    })?;
    de.end().map_err(|_| Rejection::invalid("", "trailing characters after the payload"))?;
    value.validate_with(&T::Context::default()).map_err(|report| {
        let issues =
            report.iter().map(|(path, error)| Issue { path: path.to_string(), message: error.to_string() }).collect();
        Rejection::invalid_payload(issues)
    })?;
    Ok(value)
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
    use crate::error::ErrorCode;

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

    #[test]
    fn malformed_and_extra() {
        assert_eq!(decode::<Send>("{").unwrap_err().code, ErrorCode::InvalidPayload);
        assert_eq!(decode::<Send>(r#"{"text":"a","x":1}"#).unwrap_err().code, ErrorCode::InvalidPayload);
        assert_eq!(decode::<Send>("null").unwrap_err().code, ErrorCode::InvalidPayload);
    }
}
