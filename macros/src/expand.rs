//! The code `#[msk_handler]` generates: the user's function unchanged, hidden type checks
//! spanned on the user's types, and a `main` that builds a `Consumer`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::ItemFn;

use crate::options::{Failure, Options, Response, Workers};
use crate::signature::{self, Handler, RecordType};

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
    let handler = match signature::check(&func, options.state_written) {
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
    let private = quote!(__msk_lambda_private);
    // Calls whose bounds are about the handler (its error type converts into
    // `msk_lambda::Error`, the state type matches) are spanned on the return type: that is
    // where a wrong error type is reported.
    let output = handler.output_span;
    let private_at_output = quote_spanned!(output=> __msk_lambda_private);

    // `Options { concurrency: Some(..), .. }`: the builder calls the options stand for.
    let mut fields = Vec::new();
    if let Some(n) = &options.concurrency {
        // Unsuffixed, so that `8usize` and `8` read the same; checked non-zero by the options.
        let n = syn::LitInt::new(n.base10_digits(), n.span());
        fields.push(
            quote!(concurrency: ::core::option::Option::Some(const { #private::concurrency(#n) })),
        );
    }
    if let Some(workers) = &options.workers {
        let value = match workers {
            Workers::Count(n) => {
                let n = syn::LitInt::new(n.base10_digits(), n.span());
                quote!(const { #private::workers(#n) })
            }
            Workers::Auto(lit) => quote_spanned!(lit.span()=> #private::Workers::Auto),
        };
        fields.push(quote!(workers: ::core::option::Option::Some(#value)));
    }
    if let Some((lit, policy)) = &options.failure {
        let variant = match policy {
            Failure::StopPartition => quote_spanned!(lit.span()=> StopPartition),
            Failure::Continue => quote_spanned!(lit.span()=> Continue),
        };
        fields.push(
            quote!(failure_policy: ::core::option::Option::Some(#private::FailurePolicy::#variant)),
        );
    }
    if let Some((lit, mode)) = &options.response {
        let variant = match mode {
            Response::PartialBatch => quote_spanned!(lit.span()=> PartialBatch),
            Response::WholeBatch => quote_spanned!(lit.span()=> WholeBatch),
        };
        fields.push(
            quote!(response_mode: ::core::option::Option::Some(#private::ResponseMode::#variant)),
        );
    }
    if let Some(ms) = &options.deadline_margin_ms {
        let ms = syn::LitInt::new(ms.base10_digits(), ms.span());
        fields.push(quote!(deadline_margin: ::core::option::Option::Some(#private::Duration::from_millis(#ms))));
    }
    if let Some(uri) = &options.schema_registry {
        fields.push(quote!(schema_registry: ::core::option::Option::Some(#uri)));
    }
    // `..Default::default()` for the options not given (clippy flags it when all are).
    let rest = (fields.len() < 6).then(|| quote!(..::core::default::Default::default()));
    let settings = quote!(#private::Options { #(#fields,)* #rest });
    let state = options.state.as_ref().filter(|_| handler.state.is_some());
    let init = state.map(|init| quote!(#init,));
    // The init function's type in the turbofish, spanned on `state = init`: a wrong init
    // function is reported there.
    let init_type = state.map(|init| quote_spanned!(init.span()=> _,));
    // A handler with state runs on several threads only when it asks to (`workers`): then its
    // state must be `Sync`, checked on the state type the handler names.
    // Spanned on the state type when it must be `Sync`: a state that is not is reported there,
    // once, by the bound of the function this names.
    let threads = match (&handler.state, &options.workers) {
        (Some(_), None) => quote!(#private::OneThread,),
        (Some(ty), Some(_)) => quote_spanned!(ty.span()=> __msk_lambda_private::Shared,),
        (None, _) => quote!(#private::Shared,),
    };

    let body = match &handler.record {
        // `Record<V, K>` as written: each type is checked on its own (whole) tokens, so a
        // `Json` of another crate is reported too, and `run_record` names them with those same
        // tokens: rustc then reports an unmet `Decode` bound once, there.
        RecordType::Written { value, key } | RecordType::Batch { value, key } => {
            let mut checks =
                vec![quote_spanned!(value.span()=> #private::assert_decode::<#value>();)];
            checks.extend(
                key.iter().map(|k| quote_spanned!(k.span()=> #private::assert_decode::<#k>();)),
            );
            let key = key.as_ref().map_or_else(|| quote!(_), |k| quote!(#k));
            let batch = matches!(handler.record, RecordType::Batch { .. });
            let run = match (state, batch) {
                (Some(_), false) => {
                    quote_spanned!(output=> #private_at_output::run_record_with_state::<#value, #key, #threads #init_type _, _, _>)
                }
                (None, false) => {
                    quote_spanned!(output=> #private_at_output::run_record::<#value, #key, _, _>)
                }
                (Some(_), true) => {
                    quote_spanned!(output=> #private_at_output::run_batch_with_state::<#value, #key, #threads #init_type _, _, _>)
                }
                (None, true) => {
                    quote_spanned!(output=> #private_at_output::run_batch::<#value, #key, _, _>)
                }
            };
            quote! {
                #(#checks)*
                #run(#init #name, #settings)
            }
        }
        // Anything else may be an alias of a record: the type system decides, and reports a
        // type that is not a record once, on that type (`run` takes the record type from the
        // handler, and its bounds do not name `Record`, so nothing else fails with it).
        RecordType::Other(ty) => {
            let check = quote_spanned!(ty.span()=> #private::assert_record::<#ty>(););
            let run = match state {
                Some(_) => {
                    quote_spanned!(output=> #private_at_output::run_with_state::<#ty, #threads #init_type _, _, _>)
                }
                None => quote_spanned!(output=> #private_at_output::run::<#ty, _, _>),
            };
            quote! {
                #check
                #run(#init #name, #settings)
            }
        }
    };

    let consumer = test_consumer(func, handler, &krate, init.as_ref(), &threads, &settings);
    // `main` as resolved at the attribute: the user's own `main` when there is one next to the
    // handler, which the check then reports with what to write instead.
    let main = quote_spanned!(Span::call_site()=> main);
    quote! {
        #func

        // One `use` of the runtime crate: a wrong `crate = "..."` path is reported once.
        use #krate::__private as __msk_lambda_private;

        /// The Lambda entry point written by `#[msk_handler]`.
        fn main() -> __msk_lambda_private::Main {
            __msk_lambda_private::Main({ #body })
        }

        const _: () = __msk_lambda_private::assert_written_main(&#main);

        #consumer
    }
}

/// `fn <handler>_consumer()`, in test builds: the consumer `main` runs, with the attribute's
/// options, so that tests check the configuration that is deployed.
fn test_consumer(
    func: &ItemFn,
    handler: &Handler,
    krate: &syn::Path,
    init: Option<&TokenStream>,
    threads: &TokenStream,
    settings: &TokenStream,
) -> TokenStream {
    let name = &func.sig.ident;
    let vis = &func.vis;
    let consumer = quote::format_ident!("{}_consumer", name);
    let (value, key) = match &handler.record {
        RecordType::Written { value, key } | RecordType::Batch { value, key } => {
            (quote!(#value), key.as_ref().map_or_else(|| quote!(()), |k| quote!(#k)))
        }
        RecordType::Other(ty) => (
            quote!(<#ty as #krate::__private::IsRecord>::Value),
            quote!(<#ty as #krate::__private::IsRecord>::Key),
        ),
    };
    // A bulk handler's consumer is named by `Handles` (a `Handler` handles one record).
    let (stateless, stateful, handles) = match handler.record {
        RecordType::Batch { .. } => {
            (quote!(consumer_batch), quote!(consumer_batch_with_state), quote!(Handles))
        }
        _ => (quote!(consumer), quote!(consumer_with_state), quote!(Handler)),
    };
    let (state, build) = match (&handler.state, init) {
        (Some(state), Some(init)) => (
            quote!(#state),
            quote!(__msk_lambda_private::#stateful::<#value, #key, #threads _, #state, _, _>(#init #name, #settings)),
        ),
        _ => (
            quote!(()),
            quote!(__msk_lambda_private::#stateless::<#value, #key, _, _>(#name, #settings)),
        ),
    };
    let doc = format!(
        "The consumer `#[msk_handler]` builds for [`{name}`], with the attribute's options (test builds only): `{consumer}().invoke(&event).await`."
    );
    quote! {
        #[doc = #doc]
        #[cfg(test)]
        #[allow(dead_code)]
        #vis fn #consumer() -> #krate::Consumer<impl #krate::#handles<#value, #key, #state>, #state, #value, #key> {
            #build
        }
    }
}
