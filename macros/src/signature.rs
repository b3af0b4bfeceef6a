//! Checks of the handler function; what the generated code needs to know about it.

use quote::ToTokens as _;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Signature, Type, TypePath};

/// What the expansion needs from a valid handler signature.
pub(crate) struct Handler {
    /// The type of the first parameter.
    pub record: RecordType,
    /// Where the return type is written: errors about the error type go there.
    pub output_span: proc_macro2::Span,
    /// `S` of the handler's second parameter `&S`, when it takes state.
    pub state: Option<Type>,
}

/// The first parameter's type, as written.
pub(crate) enum RecordType {
    /// `Record<V>` or `Record<V, K>`: the key and value types are checked on their own tokens.
    Written { value: Type, key: Option<Box<Type>> },
    /// `Batch<V>` or `Batch<V, K>`: a bulk handler, given a partition's records at once.
    Batch { value: Type, key: Option<Box<Type>> },
    /// Anything else (a type alias, a renamed import, or a mistake): the type system decides,
    /// through a check spanned on this type.
    Other(Type),
}

const SHAPE: &str = "`async fn name(record: Record<V, K>) -> Result<(), E>`";
const STATE_SHAPE: &str =
    "`async fn name(record: Record<V, K>, state: &S) -> Result<(), E>` (with `state = init`)";

/// Checks every rule, collecting all errors, each on the token at fault.
pub(crate) fn check(func: &ItemFn, has_state_option: bool) -> Result<Handler, Vec<syn::Error>> {
    let sig = &func.sig;
    let mut errors = Vec::new();
    if sig.asyncness.is_none() {
        // The shape the handler is meant to have: with state when it is asked for or taken.
        let shape = if has_state_option || sig.inputs.len() > 1 { STATE_SHAPE } else { SHAPE };
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("the handler must be an `async fn`: {shape}"),
        ));
    }
    if sig.ident == "main" {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            "#[msk_handler] writes the binary's `main` itself: give the handler another name, e.g. `handle`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "the handler cannot be generic: the record's key and value types must be concrete so that they can be decoded, e.g. `Record<Json<MyEvent>>`",
        ));
    }
    // `impl Trait` in a parameter is a generic parameter too, without `<..>`.
    for input in &sig.inputs {
        if let FnArg::Typed(arg) = input {
            if let Some(span) = impl_trait_in(arg.ty.to_token_stream()) {
                errors.push(syn::Error::new(
                    span,
                    "the handler cannot be generic (`impl Trait` in a parameter is a type parameter): the record's key and value types must be concrete so that they can be decoded, e.g. `Record<Json<MyEvent>>`",
                ));
            }
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(variadic, format!("a handler is {SHAPE}")));
    }
    let mut params: Vec<&FnArg> = sig.inputs.iter().collect();
    if let Some(FnArg::Receiver(receiver)) = params.first() {
        errors.push(syn::Error::new_spanned(
            receiver,
            "#[msk_handler] goes on a free function, not a method: remove `self`, move the function out of the `impl` block, and keep what the handler needs in `state = ...`",
        ));
        params.remove(0);
    }
    let mut record = None;
    let mut state = None;
    match params.first() {
        None => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!("the handler takes the record as its parameter: {SHAPE}"),
        )),
        Some(FnArg::Receiver(receiver)) => {
            errors.push(syn::Error::new_spanned(receiver, "`self` cannot be a handler parameter"))
        }
        Some(FnArg::Typed(arg)) => match record_types(&arg.ty) {
            Ok(types) => record = Some(types),
            Err(e) => errors.push(e),
        },
    }
    match params.get(1) {
        None if has_state_option => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "`state = ...` gives the handler shared state: add a second parameter `state: &S`, where `S` is what the init function returns",
        )),
        None => {}
        Some(FnArg::Receiver(receiver)) => errors.push(syn::Error::new_spanned(receiver, "`self` cannot be a handler parameter")),
        Some(FnArg::Typed(arg)) if !has_state_option => errors.push(syn::Error::new_spanned(
            arg,
            "a second parameter is the shared state, built once by an init function: name it in the attribute, `#[msk_handler(state = init)]`",
        )),
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => state = Some((*r.elem).clone()),
            other => errors.push(syn::Error::new_spanned(
                other,
                "the state parameter is a shared reference to what the init function returns: `state: &S`",
            )),
        },
    }
    if let Some(extra) = params.get(2) {
        errors.push(syn::Error::new_spanned(
            extra,
            "too many parameters: the handler takes `(record: Record<V, K>)`, or with `state = init`, `(record: Record<V, K>, state: &S)`",
        ));
    }
    if let Err(e) = check_return_type(sig) {
        errors.push(e);
    }
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    match (errors.is_empty(), record) {
        (true, Some(record)) => Ok(Handler { record, output_span, state }),
        _ => Err(errors),
    }
}

const BATCH_SHAPE: &str =
    "`async fn handle(batch: Batch<Json<MyEvent>>) -> Result<(), BatchError>`";

/// `Record<V>` / `Record<V, K>` or `Batch<V>` / `Batch<V, K>` as written; any other type is
/// left to the type system (it may be an alias of a record), except a `Record` or `Batch`
/// written with a wrong number of types, and the near misses of a batch (a `Vec` or slice of
/// records, a borrowed batch).
fn record_types(ty: &Type) -> syn::Result<RecordType> {
    if let Some(error) = batch_near_miss(ty) {
        return Err(error);
    }
    let other = Ok(RecordType::Other(ty.clone()));
    let Type::Path(TypePath { qself: None, path }) = ty else {
        return other;
    };
    let Some(last) = path.segments.last() else {
        return other;
    };
    let name = if last.ident == "Record" {
        "Record"
    } else if last.ident == "Batch" {
        "Batch"
    } else {
        return other;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(syn::Error::new_spanned(
            ty,
            format!("`{name}` needs the value type: `{name}<V>` or `{name}<V, K>`, e.g. `{name}<Json<MyEvent>>`"),
        ));
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    if types.len() != args.args.len() || types.is_empty() || types.len() > 2 {
        return Err(syn::Error::new_spanned(
            args,
            format!("`{name}` takes one or two types: `{name}<V>` or `{name}<V, K>`"),
        ));
    }
    let value = types[0].clone();
    let key = types.get(1).map(|t| Box::new((*t).clone()));
    Ok(match name {
        "Record" => RecordType::Written { value, key },
        _ => RecordType::Batch { value, key },
    })
}

/// The last path segment's name and its first type argument: `Vec` and `Record<..>` for
/// `Vec<Record<..>>`.
fn last_segment(ty: &Type) -> Option<(&syn::Ident, Option<&Type>)> {
    let Type::Path(TypePath { qself: None, path }) = ty else {
        return None;
    };
    let last = path.segments.last()?;
    let first = match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((&last.ident, first))
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|(ident, _)| ident == name)
}

/// A parameter that looks like an attempt at a bulk handler: `Vec<Record<..>>`, `&[Record<..>]`,
/// `&Batch<..>`.
fn batch_near_miss(ty: &Type) -> Option<syn::Error> {
    let records = match ty {
        Type::Reference(r) if is_named(&r.elem, "Batch") => {
            return Some(syn::Error::new_spanned(
                ty,
                format!(
                    "a bulk handler takes its batch by value (it owns the records): {BATCH_SHAPE}"
                ),
            ));
        }
        Type::Reference(r) => match &*r.elem {
            Type::Slice(slice) => Some(&*slice.elem),
            _ => None,
        },
        Type::Slice(slice) => Some(&*slice.elem),
        _ => match last_segment(ty) {
            Some((ident, item)) if ident == "Vec" => item,
            _ => None,
        },
    }?;
    is_named(records, "Record").then(|| {
        syn::Error::new_spanned(
            ty,
            format!("a bulk handler takes the records of one partition (in offset order) as `Batch<V, K>` (`msk_lambda::Batch`): {BATCH_SHAPE}"),
        )
    })
}

/// The handler returns `Result<(), E>`. Checked here only where the written type says
/// otherwise for sure: no return type at all, or `Result<X, ..>` with `X` not `()`. Anything else
/// (an alias such as `anyhow::Result<()>` or `type HandlerResult = ...`) is left to the
/// handler's trait bounds, which are reported on the return type.
fn check_return_type(sig: &Signature) -> syn::Result<()> {
    let ty = match &sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.paren_token.span.close(),
                "the handler returns `Result<(), E>`, e.g. `-> Result<(), msk_lambda::Error>`: `Ok(())` marks the record done, `Err` fails it",
            ));
        }
        ReturnType::Type(_, ty) => ty,
    };
    let Type::Path(TypePath { qself: None, path }) = &**ty else {
        return Ok(());
    };
    let Some(last) = path.segments.last().filter(|s| s.ident == "Result") else {
        return Ok(());
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Ok(());
    };
    match args.args.first() {
        Some(GenericArgument::Type(Type::Tuple(unit))) if unit.elems.is_empty() => Ok(()),
        Some(GenericArgument::Type(Type::Paren(_) | Type::Group(_))) | None => Ok(()),
        Some(GenericArgument::Type(other)) => Err(syn::Error::new_spanned(
            other,
            "a record handler has no output: return `Result<(), E>`",
        )),
        Some(_) => Ok(()),
    }
}

/// Where `impl` appears in a type's tokens (`Record<impl Decode>`), groups included.
fn impl_trait_in(tokens: proc_macro2::TokenStream) -> Option<proc_macro2::Span> {
    tokens.into_iter().find_map(|token| match token {
        proc_macro2::TokenTree::Ident(ident) if ident == "impl" => Some(ident.span()),
        proc_macro2::TokenTree::Group(group) => impl_trait_in(group.stream()),
        _ => None,
    })
}
