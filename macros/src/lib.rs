//! The `#[msk_handler]` attribute of [msk-lambda](https://docs.rs/msk-lambda).
//!
//! Use it through the `msk-lambda` crate (`use msk_lambda::msk_handler;`), which re-exports it
//! and documents it in full. This crate is an implementation detail: parsing of the options
//! (`options.rs`), checks of the function (`signature.rs`) and the generated code (`expand.rs`).

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod expand;
mod options;
mod signature;

/// Turns `async fn(record: Record<V, K>) -> Result<(), E>` (or a bulk handler,
/// `async fn(batch: Batch<V, K>) -> Result<(), E>`) into the Lambda function's `main`.
///
/// See `msk_lambda::msk_handler` for the full documentation.
#[proc_macro_attribute]
pub fn msk_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::msk_handler(args.into(), item.into()).into()
}
