//! The handler functions a consumer calls, with and without shared state.

use std::future::Future;

use crate::record::Record;
use crate::Error;

/// Handles one record with access to shared state `S`.
///
/// Sealed: you do not implement this yourself. [`Consumer::new`](crate::Consumer::new) and
/// [`Consumer::with_state`](crate::Consumer::with_state) accept plain `async fn`s and wrap
/// them; name the trait only in bounds of your own generic code.
#[diagnostic::on_unimplemented(
    message = "this function cannot handle `Record<{V}, {K}>` records",
    note = "a handler is `async fn(Record<V, K>) -> Result<(), E>`, or with state `async fn(Record<V, K>, &S) -> Result<(), E>`, where `E: Into<msk_lambda::Error>`"
)]
pub trait Handler<V, K, S>: sealed::Sealed {
    /// The handler's error type.
    type Error: Into<Error>;

    /// Handles one record. (The user's future itself, not wrapped: a record is moved into it
    /// once.)
    fn call(
        &self,
        record: Record<V, K>,
        state: &S,
    ) -> impl Future<Output = Result<(), Self::Error>>;
}

/// An `async fn(Record<V, K>) -> Result<(), E>`.
// rustc shows the line below when `Consumer::new` was given a handler that takes state and a
// method is called on the result (E0599); the comment is the hint.
#[derive(Debug, Clone, Copy)]
pub struct Stateless<F>(pub(crate) F); // handler with `&State`? `Consumer::with_state(init, handle)` or `handle_consumer()`

/// An `async fn(Record<V, K>, &S) -> Result<(), E>`.
#[derive(Debug, Clone, Copy)]
pub struct Stateful<F>(pub(crate) F);

mod sealed {
    /// Keeps [`Handler`](super::Handler) to the wrappers of this module.
    pub trait Sealed {}

    impl<F> Sealed for super::Stateless<F> {}
    impl<F> Sealed for super::Stateful<F> {}
}

impl<F, V, K, E> Handler<V, K, ()> for Stateless<F>
where
    F: AsyncFn(Record<V, K>) -> Result<(), E>,
    E: Into<Error>,
{
    type Error = E;

    fn call(&self, record: Record<V, K>, _: &()) -> impl Future<Output = Result<(), E>> {
        (self.0)(record)
    }
}

impl<F, V, K, S, E> Handler<V, K, S> for Stateful<F>
where
    F: AsyncFn(Record<V, K>, &S) -> Result<(), E>,
    E: Into<Error>,
{
    type Error = E;

    fn call(&self, record: Record<V, K>, state: &S) -> impl Future<Output = Result<(), E>> {
        (self.0)(record, state)
    }
}
