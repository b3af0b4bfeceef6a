//! The `#[msk_handler]` attribute. Use it through the `msk-lambda` crate.

use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn msk_handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
