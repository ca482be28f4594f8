//! A small `--name value` command-line parser shared by the binaries.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

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

    /// The value of `--name` as a length of time (`600`, `600s`, `10m`, `1h`: seconds without
    /// a unit), or `default`.
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, String> {
        let Some(v) = self.value(name) else { return Ok(default) };
        let (number, unit) = match v.strip_suffix('h') {
            Some(n) => (n, 3600),
            None => match v.strip_suffix('m') {
                Some(n) => (n, 60),
                None => (v.strip_suffix('s').unwrap_or(v), 1),
            },
        };
        number
            .parse::<u64>()
            .map(|n| Duration::from_secs(n * unit))
            .map_err(|_| format!("--{name}: cannot parse `{v}` (a length of time: 600, 600s, 10m, 1h)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lengths_of_time() {
        let args = Args::parse(["--a", "90", "--b", "90s", "--c", "10m", "--d", "1h", "--e", "10 m"].map(String::from));
        assert_eq!(args.duration("a", Duration::ZERO), Ok(Duration::from_secs(90)));
        assert_eq!(args.duration("b", Duration::ZERO), Ok(Duration::from_secs(90)));
        assert_eq!(args.duration("c", Duration::ZERO), Ok(Duration::from_secs(600)));
        assert_eq!(args.duration("d", Duration::ZERO), Ok(Duration::from_secs(3600)));
        assert!(args.duration("e", Duration::ZERO).is_err());
        assert_eq!(args.duration("missing", Duration::from_secs(7)), Ok(Duration::from_secs(7)));
    }

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
