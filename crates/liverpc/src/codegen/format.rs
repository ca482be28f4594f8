//! Lays out the type declarations ts-rs writes as a person (and Prettier, at a print width of
//! 120) would: `{ a: string; b: number }` on one line when it fits and has no comments, one
//! member per line with re-indented doc comments otherwise, keys unquoted where they can be.

/// The width generated lines are kept within.
pub(crate) const WIDTH: usize = 120;

/// One declaration (`type X = ...;`), laid out.
pub(crate) fn declaration(decl: &str) -> String {
    let flat = layout(decl, 0, false);
    if flat.lines().all(|line| line.chars().count() + "export ".len() <= WIDTH) { flat } else { layout(decl, 0, true) }
}

/// Lays out `text`, breaking every object type that has comments, or all of them when `wide`
/// (the flat form does not fit).
fn layout(text: &str, depth: usize, wide: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = next_brace(rest) {
        out.push_str(&rest[..at]);
        let Some(end) = matching(rest, at) else {
            // Unbalanced (not ts-rs output): leave it as it is.
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&object(&rest[at + 1..end], depth, wide));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One object type's body, laid out at `depth`.
fn object(body: &str, depth: usize, wide: bool) -> String {
    let members: Vec<(Vec<String>, String)> = split(body)
        .into_iter()
        .map(|(comments, member)| (comments, unquote(&layout(&member, depth + 1, wide))))
        .filter(|(comments, member)| !member.is_empty() || !comments.is_empty())
        .collect();
    if members.is_empty() {
        return "{}".to_owned();
    }
    let commented = members.iter().any(|(comments, _)| !comments.is_empty());
    let multiline = members.iter().any(|(_, member)| member.contains('\n'));
    if !commented && !multiline && !wide {
        let inner: Vec<&str> = members.iter().map(|(_, m)| m.as_str()).collect();
        return format!("{{ {} }}", inner.join("; "));
    }
    let indent = "  ".repeat(depth + 1);
    let mut out = String::from("{\n");
    for (comments, member) in &members {
        for comment in comments {
            for line in comment.lines() {
                let line = line.trim();
                let line = if line.starts_with('*') { format!(" {line}") } else { line.to_owned() };
                out.push_str(&indent);
                out.push_str(&line);
                out.push('\n');
            }
        }
        if !member.is_empty() {
            out.push_str(&indent);
            out.push_str(member);
            out.push_str(";\n");
        }
    }
    out.push_str(&"  ".repeat(depth));
    out.push('}');
    out
}

/// The members of an object body: each with the doc comments before it, split at the body's
/// own commas and semicolons (not those inside nested types or strings).
pub(crate) fn members(body: &str) -> Vec<(Vec<String>, String)> {
    split(body)
}

fn split(body: &str) -> Vec<(Vec<String>, String)> {
    let mut members = Vec::new();
    let mut comments = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '/' if depth == 0 && body[i..].starts_with("/*") => {
                let end = body[i..].find("*/").map_or(body.len(), |e| i + e + 2);
                comments.push(body[i..end].to_owned());
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
            '"' => {
                current.push(c);
                while let Some((_, s)) = chars.next() {
                    current.push(s);
                    if s == '\\' {
                        if let Some((_, escaped)) = chars.next() {
                            current.push(escaped);
                        }
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '{' | '[' | '(' | '<' => {
                depth += 1;
                current.push(c);
            }
            '}' | ']' | ')' | '>' if !(c == '>' && body[..i].ends_with('=')) => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' | ';' if depth == 0 => {
                members.push((std::mem::take(&mut comments), current.trim().to_owned()));
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() || !comments.is_empty() {
        members.push((comments, current.trim().to_owned()));
    }
    members
}

/// `"kind": "insert"` -> `kind: "insert"` when the key is an identifier (Prettier's
/// "as-needed" quoting).
fn unquote(member: &str) -> String {
    let Some(rest) = member.strip_prefix('"') else { return member.to_owned() };
    let Some(end) = rest.find('"') else { return member.to_owned() };
    let (key, after) = (&rest[..end], &rest[end + 1..]);
    let identifier = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier && (after.starts_with(':') || after.starts_with("?:")) {
        format!("{key}{after}")
    } else {
        member.to_owned()
    }
}

/// Where the next `{` outside strings and comments is.
fn next_brace(text: &str) -> Option<usize> {
    scan(text, 0, |c, _| c == '{')
}

/// The `}` that closes the `{` at `open`.
fn matching(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    scan(text, open, |c, _| {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                return depth == 0;
            }
            _ => {}
        }
        false
    })
}

/// The first position from `from` where `found` says yes, skipping strings and comments.
fn scan(text: &str, from: usize, mut found: impl FnMut(char, usize) -> bool) -> Option<usize> {
    let mut chars = text[from..].char_indices().map(|(i, c)| (i + from, c));
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            let mut escaped = false;
            for (_, s) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if s == '\\' {
                    escaped = true;
                } else if s == '"' {
                    break;
                }
            }
        } else if c == '/' && text[i..].starts_with("/*") {
            let end = text[i..].find("*/").map_or(text.len(), |e| i + e + 2);
            for (j, _) in chars.by_ref() {
                if j + 1 >= end {
                    break;
                }
            }
        } else if found(c, i) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::declaration;

    #[test]
    fn flat_objects_stay_on_one_line() {
        assert_eq!(declaration("type Sent = { delivered: number, };"), "type Sent = { delivered: number };");
        assert_eq!(
            declaration(r#"type Op = { "kind": "insert", at: number, } | { "kind": "delete", len: number, };"#),
            r#"type Op = { kind: "insert"; at: number } | { kind: "delete"; len: number };"#
        );
        assert_eq!(declaration(r#"type M = { "a-b": string, };"#), r#"type M = { "a-b": string };"#);
        assert_eq!(
            declaration("type T = { pair: [string, number], map: { [key in string]?: number }, };"),
            "type T = { pair: [string, number]; map: { [key in string]?: number } };"
        );
    }

    #[test]
    fn documented_members_go_one_per_line() {
        let ts = "type Message = { \n/**\n * The room.\n */\nroom: string, \n/**\n * Who, and \"why\".\n */\nfrom: string, };";
        assert_eq!(
            declaration(ts),
            "type Message = {\n  /**\n   * The room.\n   */\n  room: string;\n  /**\n   * Who, and \"why\".\n   */\n  from: string;\n};"
        );
    }

    #[test]
    fn a_declaration_too_wide_for_one_line_is_broken() {
        let long = format!("type W = {{ {} }};", (0..12).map(|i| format!("field{i}: string, ")).collect::<String>());
        let laid = declaration(&long);
        assert!(laid.starts_with("type W = {\n  field0: string;\n"), "{laid}");
        assert!(laid.lines().all(|l| l.len() <= super::WIDTH));
    }
}
