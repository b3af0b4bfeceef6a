//! The code `#[msk_handler]` generates: the user's function unchanged, hidden type checks
//! spanned on the user's types, and a `main` that builds a `Consumer`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::ItemFn;

use crate::options::{Failure, Options, Response};
use crate::signature::{self, Handler};

pub(crate) fn msk_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let (options, mut errors) = Options::parse(args);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
            errors.push(syn::Error::new(
                span,
                "#[msk_handler] goes on the `async fn` that handles one record: `async fn handle(record: Record<V, K>) -> Result<(), E>`",
            ));
            return with_errors(item, errors);
        }
    };
    let handler = match signature::check(&func, options.state.is_some()) {
        Ok(handler) => Some(handler),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    match handler {
        Some(handler) if errors.is_empty() => generate(&func, &handler, &options),
        // Emit the function as written so that its body is still checked and the IDE keeps
        // working, and an empty `main` so that the crate's missing `main` is not reported too:
        // only the errors above are reported.
        _ => {
            let is_method = matches!(func.sig.inputs.first(), Some(syn::FnArg::Receiver(_)));
            let item = match (is_method, func.sig.ident == "main") {
                (true, _) => quote!(#func),
                // An `async fn main` would add rustc's own error about `main`.
                (false, true) => quote!(
                    fn main() {}
                ),
                (false, false) => quote!(#func fn main() {}),
            };
            with_errors(item, errors)
        }
    }
}

fn with_errors(item: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    });
    let errors = errors.map(|e| e.to_compile_error());
    quote!(#item #errors)
}

fn generate(func: &ItemFn, handler: &Handler, options: &Options) -> TokenStream {
    let krate = options.krate();
    let name = &func.sig.ident;
    // One `use` of the runtime crate: a wrong `crate = "..."` path is reported once.
    let private = quote!(__msk_lambda_private);

    // Each check is spanned on the user's type, so an unsupported type is reported there.
    let mut checks = Vec::new();
    for ty in std::iter::once(&handler.value).chain(&handler.key) {
        checks.push(match signature::json_inner(ty) {
            // `Json<T>` decodes exactly when `T` is a serde type: say so on `T`.
            Some(inner) => {
                quote_spanned!(inner.span()=> #private::assert_deserialize::<#inner>();)
            }
            None => quote_spanned!(ty.span()=> #private::assert_decode::<#ty>();),
        });
    }

    // The handler's bounds (its error type converts into `msk_lambda::Error`, the state type
    // matches) are checked by this call; spanned on the return type, that is where a wrong
    // error type is reported.
    let output = handler.output_span;
    let private_at_output = quote_spanned!(output=> __msk_lambda_private);
    let consumer = match (&options.state, handler.takes_state) {
        (Some(init), true) => {
            quote_spanned!(output=> #private_at_output::Consumer::with_state(#init, #name))
        }
        _ => quote_spanned!(output=> #private_at_output::Consumer::new(#name)),
    };
    let mut setters = Vec::new();
    if let Some(n) = &options.concurrency {
        setters.push(quote!(.concurrency(#n)));
    }
    if let Some((lit, policy)) = &options.failure {
        let variant = match policy {
            Failure::StopPartition => quote_spanned!(lit.span()=> StopPartition),
            Failure::Continue => quote_spanned!(lit.span()=> Continue),
        };
        setters.push(quote!(.failure_policy(#private::FailurePolicy::#variant)));
    }
    if let Some((lit, mode)) = &options.response {
        let variant = match mode {
            Response::PartialBatch => quote_spanned!(lit.span()=> PartialBatch),
            Response::WholeBatch => quote_spanned!(lit.span()=> WholeBatch),
        };
        setters.push(quote!(.response_mode(#private::ResponseMode::#variant)));
    }
    if let Some(ms) = &options.deadline_margin_ms {
        setters.push(quote!(.deadline_margin(#private::Duration::from_millis(#ms))));
    }

    quote! {
        #func

        /// The Lambda entry point written by `#[msk_handler]`.
        fn main() -> ::std::process::ExitCode {
            use #krate::__private as __msk_lambda_private;
            #[allow(unused_imports)]
            use __msk_lambda_private::{RunEntry as _, RunFallback as _};
            const _: () = {
                #(#checks)*
            };
            let consumer = #consumer #(#setters)*;
            (&&#private::Entry::new(consumer)).run()
        }
    }
}
