//! What a contract looks like from the page: the intermediate description that the
//! TypeScript emitter reads (describe, then emit).

use std::collections::BTreeMap;

use ts_rs::{TS, TypeVisitor};

/// A TypeScript type described from a Rust type (via `ts_rs`, serde renames honoured).
#[derive(Clone, Copy)]
pub struct TsType {
    render: fn(&mut TsDeclarations) -> String,
}

impl TsType {
    /// The description of `T`.
    pub fn of<T: TS + 'static + ?Sized>() -> TsType {
        TsType { render: render::<T> }
    }

    /// Adds the declarations `T` needs to `decls` and returns how to refer to it.
    pub(crate) fn render(&self, decls: &mut TsDeclarations) -> String {
        (self.render)(decls)
    }
}

impl std::fmt::Debug for TsType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TsType")
    }
}

fn render<T: TS + 'static + ?Sized>(decls: &mut TsDeclarations) -> String {
    if T::output_path().is_some() {
        decls.visit::<T>();
    } else {
        // A built-in wrapper (Option, Vec, tuples...): declare what it contains, which ts-rs
        // reports as dependencies and as generic arguments.
        T::visit_dependencies(decls);
        T::visit_generics(decls);
    }
    T::name()
}

/// One named TypeScript declaration and the Rust type it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TsDeclaration {
    pub(crate) rust: &'static str,
    pub(crate) ts: String,
}

/// Named declarations by TypeScript name.
#[derive(Debug, Default)]
pub(crate) struct TsDeclarations {
    pub(crate) by_name: BTreeMap<String, TsDeclaration>,
    /// Two Rust types that want the same TypeScript name.
    pub(crate) clashes: Vec<(String, &'static str, &'static str)>,
}

impl TypeVisitor for TsDeclarations {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident();
        let rust = std::any::type_name::<T>();
        if let Some(existing) = self.by_name.get(&name) {
            if existing.rust != rust {
                self.clashes.push((name, existing.rust, rust));
            }
            return;
        }
        self.by_name.insert(name, TsDeclaration { rust, ts: T::decl() });
        T::visit_dependencies(self);
        T::visit_generics(self);
    }
}

/// A `from_client` handler as the page sees it.
#[derive(Debug, Clone)]
pub struct HandlerInfo {
    /// The handler's name (`room.<name>(payload)`).
    pub name: String,
    /// The payload type (`null` for `()`).
    pub payload: TsType,
    /// The reply type.
    pub reply: TsType,
}

/// A room as the page sees it.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    /// The room's name (`room.join.<name>(..)`).
    pub name: String,
    /// `None` for a private room, the payload type for an exposed one.
    pub payload: Option<TsType>,
    /// Whether every connection joins it on connect.
    pub auto_join: bool,
}

/// A contract as the page sees it; from [`App::contracts`](crate::App::contracts).
#[derive(Debug, Clone)]
pub struct ContractInfo {
    /// The Rust type of the contract, e.g. `my_app::Chat`.
    pub rust: &'static str,
    /// The SvelteKit route id.
    pub route: &'static str,
    /// The contract's name.
    pub name: &'static str,
    /// The Socket.IO namespace.
    pub namespace: String,
    /// The server -> page events: name and payload type.
    pub events: Vec<(&'static str, TsType)>,
    /// The page -> server handlers.
    pub handlers: Vec<HandlerInfo>,
    /// The rooms.
    pub rooms: Vec<RoomInfo>,
    /// The rooms that list their members (presence): room name and what a member shows.
    pub presence: Vec<(String, TsType)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(ts_rs::TS)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(ts_rs::TS)]
    #[ts(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        inner_list: Vec<Inner>,
        maybe: Option<Inner>,
    }

    #[test]
    fn declarations_are_collected_once_with_dependencies() {
        let mut decls = TsDeclarations::default();
        assert_eq!(TsType::of::<Option<Outer>>().render(&mut decls), "Outer | null");
        assert_eq!(TsType::of::<Vec<Inner>>().render(&mut decls), "Array<Inner>");
        assert_eq!(TsType::of::<()>().render(&mut decls), "null");
        assert_eq!(decls.by_name.keys().collect::<Vec<_>>(), ["Inner", "Outer"]);
        assert!(decls.by_name["Outer"].ts.contains("innerList"), "{}", decls.by_name["Outer"].ts);
        assert!(decls.clashes.is_empty());
    }
}
