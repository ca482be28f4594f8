//! Boxed futures: what type-erased async functions (hooks, handlers, room deciders) return.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future, as returned by hooks and by the engine's erased functions.
///
/// ```
/// let answer: liverpc::BoxFuture<'static, u32> = Box::pin(async { 42 });
/// # let _ = answer;
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
