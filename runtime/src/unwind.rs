//! Describing panics caught in user code, and dropping user values without letting a panic
//! in their destructors out.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Drops `value`, whose destructor is user code (a decoded key or value): a panic in it is
/// caught and returned, so that it fails no more than the record it belongs to.
pub(crate) fn drop_guarded<T>(value: T) -> Result<(), Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(move || drop(value)))
}

/// The panic's message, when it is a string.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(a non-string panic payload)"
    }
}
