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
        // working; only the errors above are reported, no second wave from a broken `main`.
        _ => with_errors(quote!(#func), errors),
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
    let private = quote!(#krate::__private);
    let name = &func.sig.ident;

    // Each check is spanned on the user's type, so an unsupported type is reported there.
    let mut checks = Vec::new();
    for ty in std::iter::once(&handler.value).chain(&handler.key) {
        checks.push(quote_spanned!(ty.span()=> #private::assert_decode::<#ty>();));
    }
    for ty in &handler.json_types {
        checks.push(quote_spanned!(ty.span()=> #private::assert_deserialize::<#ty>();));
    }
    if let Some(ty) = &handler.error {
        checks.push(quote_spanned!(ty.span()=> #private::assert_handler_error::<#ty>();));
    }

    let consumer = match (&options.state, handler.takes_state) {
        (Some(init), true) => quote!(#private::Consumer::with_state(#init, #name)),
        _ => quote!(#private::Consumer::new(#name)),
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

        const _: () = {
            #(#checks)*
        };

        /// The Lambda entry point written by `#[msk_handler]`.
        fn main() -> ::std::process::ExitCode {
            #consumer #(#setters)* .main()
        }
    }
}
