//! Server -> page events (the tutorial's `toClient`).
//!
//! An event is a payload type with a name ([`Event`]). A contract lists the events it may send
//! in `type ToClient = (Message, Typing);`. Emitting a type that is not in that list does not
//! compile, so neither an undeclared event nor a wrong payload type can reach a page.
//!
//! ```
//! # use liverpc::{key, Contract, Declarations, Emitter, Event};
//! #[derive(serde::Serialize, ts_rs::TS)]
//! struct Message { text: String }
//! impl Event for Message { const NAME: &'static str = "message"; }
//!
//! struct Chat;
//! impl Contract for Chat {
//!     const ROUTE: &'static str = "/rooms/[roomId]";
//!     const NAME: &'static str = "chat";
//!     type Locals = ();
//!     type State = ();
//!     type ToClient = (Message,);
//!     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
//! }
//!
//! async fn announce(chat: Emitter<Chat>) {
//!     chat.to(&key!["chat", "general"]).emit(&Message { text: "hi".into() }).await.ok();
//! }
//! ```
//!
//! The same with an event the contract does not declare fails to compile:
//!
//! ```compile_fail,E0277
//! # use liverpc::{key, Contract, Declarations, Emitter, Event};
//! # #[derive(serde::Serialize, ts_rs::TS)]
//! # struct Message { text: String }
//! # impl Event for Message { const NAME: &'static str = "message"; }
//! #[derive(serde::Serialize, ts_rs::TS)]
//! struct Typing { user: String }
//! impl Event for Typing { const NAME: &'static str = "typing"; }
//! # struct Chat;
//! # impl Contract for Chat {
//! #     const ROUTE: &'static str = "/rooms/[roomId]";
//! #     const NAME: &'static str = "chat";
//! #     type Locals = ();
//! #     type State = ();
//! #     type ToClient = (Message,);
//! #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
//! # }
//!
//! async fn announce(chat: Emitter<Chat>) {
//!     // error: `Typing` is not a to_client event of this contract
//!     chat.to(&key!["chat", "general"]).emit(&Typing { user: "bob".into() }).await.ok();
//! }
//! ```
//!
//! And so does a payload of the wrong type, since the payload type is the event:
//!
//! ```compile_fail,E0277
//! # use liverpc::{key, Contract, Declarations, Emitter, Event};
//! # #[derive(serde::Serialize, ts_rs::TS)]
//! # struct Message { text: String }
//! # impl Event for Message { const NAME: &'static str = "message"; }
//! # struct Chat;
//! # impl Contract for Chat {
//! #     const ROUTE: &'static str = "/rooms/[roomId]";
//! #     const NAME: &'static str = "chat";
//! #     type Locals = ();
//! #     type State = ();
//! #     type ToClient = (Message,);
//! #     fn socket(socket: Declarations<Self>) -> Declarations<Self> { socket }
//! # }
//! async fn announce(chat: Emitter<Chat>) {
//!     chat.to(&key!["chat", "general"]).emit(&"hi".to_string()).await.ok();
//! }
//! ```

use serde::Serialize;

use crate::codegen::TsType;

/// A server -> page event: its payload type and its name.
///
/// ```
/// #[derive(serde::Serialize, ts_rs::TS)]
/// struct Message {
///     text: String,
/// }
///
/// impl liverpc::Event for Message {
///     const NAME: &'static str = "message";
/// }
/// ```
pub trait Event: Serialize + ts_rs::TS + Send + Sync + 'static {
    /// The event name the page subscribes to (`room.on.message(...)`).
    const NAME: &'static str;
}

/// Description of one event, for validation and code generation.
#[derive(Debug, Clone)]
pub struct EventInfo {
    /// The event name.
    pub name: &'static str,
    /// The payload's TypeScript type.
    pub payload: TsType,
}

impl EventInfo {
    fn of<E: Event>() -> EventInfo {
        EventInfo { name: E::NAME, payload: TsType::of::<E>() }
    }
}

/// A list of events: a tuple of [`Event`] types, `()` for none.
pub trait Events: 'static {
    /// The events, in declaration order.
    fn describe() -> Vec<EventInfo>;
}

/// Proof that the event list `Self` contains `E`; `I` is the position, inferred.
///
/// Users never name this trait: it is what makes `emit` refuse an undeclared event at
/// compile time.
#[diagnostic::on_unimplemented(
    message = "`{E}` is not a to_client event of this contract",
    label = "not declared",
    note = "add `{E}` to the contract's `type ToClient = (...)`"
)]
pub trait Declares<E, I> {}

/// Positions in an event tuple, for [`Declares`]. Not for direct use.
#[doc(hidden)]
pub mod index {
    macro_rules! positions {
        ($($name:ident)*) => { $( #[doc(hidden)] pub enum $name {} )* };
    }
    positions!(P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 P15);
}

impl Events for () {
    fn describe() -> Vec<EventInfo> {
        Vec::new()
    }
}

macro_rules! declares_each {
    ([$($pre:ident)*] [$cur:ident $($post:ident)*] [$idx:ident $($idxs:ident)*]) => {
        impl<$($pre,)* $cur, $($post,)*> Declares<$cur, index::$idx> for ($($pre,)* $cur, $($post,)*) {}
        declares_each!([$($pre)* $cur] [$($post)*] [$($idxs)*]);
    };
    ([$($pre:ident)*] [] [$($idxs:ident)*]) => {};
}

macro_rules! event_tuple {
    ($($t:ident)+) => {
        impl<$($t: Event,)+> Events for ($($t,)+) {
            fn describe() -> Vec<EventInfo> {
                vec![$(EventInfo::of::<$t>()),+]
            }
        }
        declares_each!([] [$($t)+] [P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 P15]);
    };
}

event_tuple!(A);
event_tuple!(A B);
event_tuple!(A B C);
event_tuple!(A B C D);
event_tuple!(A B C D E);
event_tuple!(A B C D E F);
event_tuple!(A B C D E F G);
event_tuple!(A B C D E F G H);
event_tuple!(A B C D E F G H I);
event_tuple!(A B C D E F G H I J);
event_tuple!(A B C D E F G H I J K);
event_tuple!(A B C D E F G H I J K L);
event_tuple!(A B C D E F G H I J K L M);
event_tuple!(A B C D E F G H I J K L M N);
event_tuple!(A B C D E F G H I J K L M N O);
event_tuple!(A B C D E F G H I J K L M N O P);
