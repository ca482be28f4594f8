//! Writes a contract's TypeScript module: the types it uses and a `defineClient<...>({...})` call
//! that gives the npm runtime the contract's types and names (and nothing else).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::describe::{ContractInfo, TsDeclaration, TsDeclarations};
use super::format;
use super::{HEADER, Options};

/// A contract rendered to TypeScript type expressions, before it is written out.
pub(super) struct ContractModule {
    pub(super) decls: TsDeclarations,
    to_client: Vec<(String, String)>,
    from_client: Vec<(String, String, String)>,
    rooms: Vec<(String, Option<String>)>,
    presence: Vec<(String, String)>,
}

impl ContractModule {
    pub(super) fn render(contract: &ContractInfo) -> ContractModule {
        let mut decls = TsDeclarations::default();
        let to_client = contract.events.iter().map(|(name, ty)| ((*name).to_owned(), ty.render(&mut decls))).collect();
        let from_client = contract
            .handlers
            .iter()
            .map(|h| (h.name.clone(), h.payload.render(&mut decls), h.reply.render(&mut decls)))
            .collect();
        let rooms = contract.rooms.iter().map(|r| (r.name.clone(), r.payload.map(|p| p.render(&mut decls)))).collect();
        let presence = contract.presence.iter().map(|(room, ty)| (room.clone(), ty.render(&mut decls))).collect();
        ContractModule { decls, to_client, from_client, rooms, presence }
    }

    pub(super) fn write(
        &self,
        contract: &ContractInfo,
        options: &Options,
        shared: &BTreeSet<String>,
        shared_import: &str,
    ) -> String {
        let mut out = header(options);
        let _ = writeln!(
            out,
            "// Source: the Rust contract `{}` (route `{}`, name `{}`).",
            contract.rust, contract.route, contract.name
        );
        let _ = writeln!(out, "import {{ defineClient }} from {};", quote(&options.runtime));
        let imported: Vec<&str> =
            self.decls.by_name.keys().filter(|name| shared.contains(*name)).map(String::as_str).collect();
        if !imported.is_empty() {
            let list = imported.join(", ");
            let _ = writeln!(out, "import type {{ {list} }} from {};", quote(shared_import));
            let _ = writeln!(out, "\nexport type {{ {list} }};");
        }
        for (name, decl) in &self.decls.by_name {
            if !shared.contains(name) {
                let _ = writeln!(out, "\n{}", export(decl));
            }
        }
        let map = |entries: Vec<String>| {
            if entries.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", entries.join("; ")) }
        };
        let to_client = map(self.to_client.iter().map(|(n, t)| format!("{n}: {t}")).collect());
        let from_client = map(self.from_client.iter().map(|(n, p, r)| format!("{n}: [{p}, {r}]")).collect());
        let rooms = map(self.rooms.iter().map(|(n, p)| format!("{n}: {}", p.as_deref().unwrap_or("null"))).collect());
        let names = |names: Vec<&str>| format!("[{}]", names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", "));
        let _ = writeln!(out, "\n/** The `{}` contract of route `{}`. */", contract.name, contract.route);
        let _ = writeln!(out, "export const {} = defineClient<{{", contract.name);
        let _ = writeln!(out, "  toClient: {to_client};");
        let _ = writeln!(out, "  fromClient: {from_client};");
        let _ = writeln!(out, "  rooms: {rooms};");
        if !self.presence.is_empty() {
            let presence = map(self.presence.iter().map(|(room, ty)| format!("{room}: {ty}")).collect());
            let _ = writeln!(out, "  presence: {presence};");
        }
        let _ = writeln!(out, "}}>({{");
        let _ = writeln!(out, "  namespace: {},", quote(&contract.namespace));
        let _ = writeln!(out, "  route: {},", quote(contract.route));
        let _ = writeln!(out, "  toClient: {},", names(contract.events.iter().map(|(n, _)| *n).collect()));
        let _ = writeln!(out, "  fromClient: {},", names(contract.handlers.iter().map(|h| h.name.as_str()).collect()));
        let _ = writeln!(out, "  rooms: {},", names(contract.rooms.iter().map(|r| r.name.as_str()).collect()));
        let _ = writeln!(
            out,
            "  autoJoin: {},",
            names(contract.rooms.iter().filter(|r| r.auto_join).map(|r| r.name.as_str()).collect())
        );
        if !contract.presence.is_empty() {
            let _ =
                writeln!(out, "  presence: {},", names(contract.presence.iter().map(|(r, _)| r.as_str()).collect()));
        }
        out.push_str("});\n");
        out
    }
}

/// The module of types used by more than one contract.
pub(super) fn shared_module<'a>(decls: impl Iterator<Item = &'a TsDeclaration>, options: &Options) -> String {
    let mut out = header(options);
    out.push_str("// Types shared by several liverpc contracts.\n");
    for decl in decls {
        let _ = writeln!(out, "\n{}", export(decl));
    }
    out
}

fn header(options: &Options) -> String {
    format!("{HEADER} run `{}`.\n", options.command)
}

fn export(decl: &TsDeclaration) -> String {
    format!("export {}", format::declaration(decl.ts.trim()))
}

/// A TypeScript string literal (JSON's escaping is valid TypeScript).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}
