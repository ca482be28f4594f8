//! Generated TypeScript: exact output (snapshots) and the freshness check.

mod common;

use std::path::{Path, PathBuf};

use common::{Chat, Notice};
use liverpc::codegen::{self, CodegenError, File, Options};
use liverpc::{App, Contract, Declarations, Event, Rejection, key};

/// A second contract: a route group and a rest param, a type shared with `Chat` (`Notice`),
/// nested and optional types, a tagged enum with renames, a unit payload.
struct Docs;

#[derive(serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
struct Edit {
    page_path: String,
    by: Option<Author>,
    ops: Vec<Op>,
}
impl Event for Edit {
    const NAME: &'static str = "edit";
}

#[derive(serde::Serialize, ts_rs::TS)]
struct Author {
    name: String,
}

#[derive(serde::Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)] // only its TypeScript shape is used
enum Op {
    Insert { at: u32, text: String },
    Delete { at: u32, len: u32 },
}

#[derive(serde::Deserialize, garde::Validate, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
struct Watch {
    #[garde(length(max = 200))]
    page_path: String,
}

impl Contract for Docs {
    const ROUTE: &'static str = "/(app)/docs/[...path]";
    const NAME: &'static str = "docs";
    type Locals = common::Locals;
    type State = ();
    type ToClient = (Edit, Notice);

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("touch", |_cx, ()| async { Ok::<_, Rejection>(()) })
            .expose("watch", |_cx, Watch { page_path }| async move { Ok(key!["watch", page_path]) })
    }
}

fn contracts() -> Vec<codegen::ContractInfo> {
    let app = App::builder()
        .hook(common::hook(common::Users::default()))
        .contract::<Chat>()
        .contract::<Docs>()
        .build()
        .expect("both contracts are valid");
    app.contracts().to_vec()
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/codegen")
}

/// Compares with `tests/snapshots/codegen`; `LIVERPC_UPDATE_SNAPSHOTS=1` rewrites them.
#[test]
fn generated_modules_match_the_snapshots() {
    let options = Options::default();
    let files = codegen::generate(&contracts(), &options).unwrap();
    let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        paths,
        [
            Path::new("src/lib/liverpc/types.ts"),
            Path::new("src/routes/(app)/docs/[...path]/docs.socket.ts"),
            Path::new("src/routes/rooms/[roomId]/chat.socket.ts"),
        ]
    );
    if std::env::var_os("LIVERPC_UPDATE_SNAPSHOTS").is_some() {
        codegen::write(&snapshot_dir(), &options, &files).unwrap();
    }
    if let Err(e) = codegen::check(&snapshot_dir(), &options, &files) {
        panic!("{e}\nrun `LIVERPC_UPDATE_SNAPSHOTS=1 cargo test -p liverpc --test codegen` and review the diff");
    }
    // Deterministic: a second run produces the same bytes.
    assert_eq!(files, codegen::generate(&contracts(), &options).unwrap());
}

#[test]
fn shared_types_are_declared_once() {
    let files = codegen::generate(&contracts(), &Options::default()).unwrap();
    let declaring_notice: Vec<&File> = files.iter().filter(|f| f.contents.contains("export type Notice = ")).collect();
    assert_eq!(declaring_notice.len(), 1);
    assert_eq!(declaring_notice[0].path, Path::new("src/lib/liverpc/types.ts"));
    let chat = files.iter().find(|f| f.path.ends_with("chat.socket.ts")).unwrap();
    assert!(
        chat.contents.contains("import type { Notice } from \"../../../lib/liverpc/types.js\";"),
        "{}",
        chat.contents
    );
    assert!(
        chat.contents.contains("export type ProjectJoin = { projectId: string };"),
        "serde renames: {}",
        chat.contents
    );
}

#[test]
fn write_then_check_detects_stale_and_orphaned_files() {
    let root = std::env::temp_dir().join(format!("liverpc-codegen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = Options::default();
    let files = codegen::generate(&contracts(), &options).unwrap();
    assert!(matches!(codegen::check(&root, &options, &files), Err(CodegenError::Stale(ref p)) if p.len() == 3));
    assert_eq!(codegen::write(&root, &options, &files).unwrap().len(), 3);
    codegen::check(&root, &options, &files).unwrap();
    assert!(codegen::write(&root, &options, &files).unwrap().is_empty(), "unchanged files are not rewritten");

    // A hand edit is stale.
    let chat = root.join("src/routes/rooms/[roomId]/chat.socket.ts");
    std::fs::write(&chat, std::fs::read_to_string(&chat).unwrap().replace("string", "any")).unwrap();
    assert!(matches!(codegen::check(&root, &options, &files), Err(CodegenError::Stale(ref p)) if p.len() == 1));

    // A module of a removed contract is an orphan; a hand-written .socket.ts is not.
    let orphan = root.join("src/routes/old/gone.socket.ts");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, format!("{} run `x`.\n", codegen::HEADER)).unwrap();
    let mine = root.join("src/routes/old/mine.socket.ts");
    std::fs::write(&mine, "export const mine = 1;\n").unwrap();
    let err = codegen::check(&root, &options, &files).unwrap_err();
    assert!(err.to_string().contains("gone.socket.ts") && !err.to_string().contains("mine.socket.ts"), "{err}");
    codegen::write(&root, &options, &files).unwrap();
    assert!(!orphan.exists() && mine.exists());
    codegen::check(&root, &options, &files).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn two_rust_types_with_one_typescript_name_are_refused() {
    mod a {
        #[derive(serde::Serialize, ts_rs::TS)]
        pub(crate) struct Same {
            pub(crate) x: u32,
        }
        impl liverpc::Event for Same {
            const NAME: &'static str = "a";
        }
    }
    mod b {
        #[derive(serde::Serialize, ts_rs::TS)]
        pub(crate) struct Same {
            pub(crate) y: String,
        }
        impl liverpc::Event for Same {
            const NAME: &'static str = "b";
        }
    }
    struct Clash;
    impl Contract for Clash {
        const ROUTE: &'static str = "/";
        const NAME: &'static str = "clash";
        type Locals = ();
        type State = ();
        type ToClient = (a::Same, b::Same);
        fn socket(socket: Declarations<Self>) -> Declarations<Self> {
            socket
        }
    }
    let app = App::builder().contract::<Clash>().build().unwrap();
    let err = codegen::generate(app.contracts(), &Options::default()).unwrap_err();
    assert!(matches!(err, CodegenError::NameClash { ref name, .. } if name == "Same"), "{err}");
}
