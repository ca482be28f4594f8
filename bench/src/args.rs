//! A small `--name value` command-line parser shared by the binaries.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed arguments: positionals and `--name value` / `--flag` options.
#[derive(Debug, Default)]
pub struct Args {
    /// Arguments not starting with `--`, in order.
    pub positional: Vec<String>,
    options: HashMap<String, Option<String>>,
}

impl Args {
    /// Parses the process's arguments (without the program name).
    pub fn from_env() -> Args {
        Args::parse(std::env::args().skip(1))
    }

    /// Parses `args`; `--name value` unless the next argument starts with `--` (then a flag).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Args {
        let mut parsed = Args::default();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            if let Some(name) = arg.strip_prefix("--") {
                if let Some((name, value)) = name.split_once('=') {
                    parsed.options.insert(name.to_owned(), Some(value.to_owned()));
                } else {
                    let value = args.next_if(|next| !next.starts_with("--"));
                    parsed.options.insert(name.to_owned(), value);
                }
            } else {
                parsed.positional.push(arg);
            }
        }
        parsed
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// The value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).and_then(|v| v.as_deref())
    }

    /// The value of `--name` parsed, or `default`; an unparsable value is an error.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: cannot parse `{v}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let args = Args::parse(["fanout", "--rate", "40000", "--quick", "--addr=127.0.0.1:1"].map(String::from));
        assert_eq!(args.positional, ["fanout"]);
        assert_eq!(args.get("rate", 0.0), Ok(40000.0));
        assert!(args.flag("quick"));
        assert_eq!(args.value("addr"), Some("127.0.0.1:1"));
        assert_eq!(args.get("missing", 7), Ok(7));
        assert!(args.get::<u32>("addr", 0).is_err());
    }
}
