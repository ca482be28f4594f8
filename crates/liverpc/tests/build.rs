//! `App::build` refuses contracts that would break the protocol or the generated client.

use liverpc::{App, BuildError, Contract, Declarations, Deny, Event, Rejection, key};

#[derive(serde::Serialize, ts_rs::TS)]
struct Reserved;
impl Event for Reserved {
    const NAME: &'static str = "liverpc:room";
}

#[derive(serde::Serialize, ts_rs::TS)]
struct Ping;
impl Event for Ping {
    const NAME: &'static str = "ping";
}

#[derive(serde::Serialize, ts_rs::TS)]
struct Twin;
impl Event for Twin {
    const NAME: &'static str = "twin";
}

#[derive(serde::Serialize, ts_rs::TS)]
struct OtherTwin;
impl Event for OtherTwin {
    const NAME: &'static str = "twin";
}

/// A contract whose parts are chosen per test.
macro_rules! contract {
    ($ty:ident, $route:expr, $name:expr, $events:ty, |$s:ident| $body:expr) => {
        struct $ty;
        impl Contract for $ty {
            const ROUTE: &'static str = $route;
            const NAME: &'static str = $name;
            type Locals = ();
            type State = ();
            type ToClient = $events;
            fn socket($s: Declarations<Self>) -> Declarations<Self> {
                $body
            }
        }
    };
}

async fn noop(_: liverpc::Context<impl Contract>, _: ()) -> Result<(), Rejection> {
    Ok(())
}

fn build<C: Contract<Locals = (), State = ()>>() -> Result<App, BuildError> {
    App::builder().contract::<C>().build()
}

#[test]
fn reserved_event_names_fail_at_startup() {
    contract!(A, "/", "a", (Reserved,), |s| s);
    contract!(B, "/", "b", (Ping,), |s| s);
    assert!(matches!(build::<A>(), Err(BuildError::Reserved { what: "event", .. })));
    assert!(matches!(build::<B>(), Err(BuildError::Reserved { what: "event", .. })));
}

#[test]
fn reserved_and_invalid_handler_and_room_names_fail() {
    contract!(A, "/", "a", (), |s| s.from_client("join", noop));
    contract!(B, "/", "b", (), |s| s.from_client("liverpc:join", noop));
    contract!(C, "/", "c", (), |s| s.from_client("two words", noop));
    contract!(D, "/", "d", (), |s| s.private("a-b", |_| async { Ok(key!["x"]) }));
    contract!(E, "/", "my-chat", (), |s| s);
    assert!(matches!(build::<A>(), Err(BuildError::Reserved { what: "handler", .. })));
    assert!(matches!(build::<B>(), Err(BuildError::Reserved { what: "handler", .. })));
    assert!(matches!(build::<C>(), Err(BuildError::Name { what: "handler", .. })));
    assert!(matches!(build::<D>(), Err(BuildError::Name { what: "room", .. })));
    assert!(matches!(build::<E>(), Err(BuildError::Name { what: "contract", .. })));
}

#[test]
fn duplicates_fail() {
    contract!(A, "/", "a", (Twin, OtherTwin), |s| s);
    contract!(B, "/", "b", (), |s| s.from_client("x", noop).from_client("x", noop));
    contract!(C, "/", "c", (), |s| s.private("r", |_| async { Ok(key!["x"]) }).private("r", |_| async { Err(Deny) }));
    assert!(matches!(build::<A>(), Err(BuildError::Duplicate { what: "event", .. })));
    assert!(matches!(build::<B>(), Err(BuildError::Duplicate { what: "handler", .. })));
    assert!(matches!(build::<C>(), Err(BuildError::Duplicate { what: "room", .. })));
    contract!(D, "/x", "same", (), |s| s);
    contract!(E, "/x", "same", (), |s| s);
    let twice = App::builder().contract::<D>().contract::<E>().build();
    assert!(matches!(twice, Err(BuildError::DuplicateContract(ref ns)) if ns == "/x/same"));
}

#[test]
fn bad_routes_fail() {
    // (An auto-joined exposed room cannot be written in Rust: `auto_join` declares a private
    // room. The engine still refuses one; see its spec's unit tests.)
    contract!(A, "rooms/[id]", "a", (), |s| s);
    assert!(matches!(build::<A>(), Err(BuildError::Route { .. })));
}

#[test]
fn the_hook_comes_before_contracts() {
    contract!(A, "/", "a", (), |s| s);
    let late = App::builder().contract::<A>().hook(|_| async { Ok::<_, liverpc::Refuse>(()) });
    let err = late.build().err().expect("must fail");
    assert!(matches!(err, BuildError::HookAfterContracts));
    assert!(err.to_string().contains("call `hook()` before `contract()`"));
}

#[test]
fn a_contract_added_before_state_is_a_build_error_not_dropped() {
    contract!(A, "/", "a", (), |s| s);
    let late = App::builder().contract::<A>().state(7_u32);
    let err = late.build().err().expect("a contract before state() must not be dropped silently");
    assert!(matches!(err, BuildError::StateAfterContracts));
    assert!(err.to_string().contains("call `state()` before `contract()`"));
}

#[test]
fn state_after_hook_is_a_build_error_naming_the_hook() {
    let late = App::builder().hook(|_| async { Ok::<_, liverpc::Refuse>(()) }).state(7_u32);
    let err = late.build().err().expect("a hook before state() must not be dropped silently");
    assert!(matches!(err, BuildError::StateAfterHook));
    assert!(err.to_string().contains("call `state()` before `hook()`"));
}

#[test]
fn errors_name_the_contract_and_what_to_change() {
    contract!(A, "/rooms/[roomId]", "chat", (), |s| s.from_client("on", noop));
    let message = build::<A>().err().expect("must fail").to_string();
    assert_eq!(message, "contract `/rooms/[roomId]/chat`: `on` is reserved; choose another handler name");
}
