//! Checks of the handler function; what the generated code needs to know about it.

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
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(variadic, format!("a handler is {SHAPE}")));
    }
    let mut params: Vec<&FnArg> = sig.inputs.iter().collect();
    if let Some(FnArg::Receiver(receiver)) = params.first() {
        errors.push(syn::Error::new_spanned(
            receiver,
            "#[msk_handler] goes on a free function, not a method: remove `self` and keep what the handler needs in `state = ...`",
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

/// `Record<V>` or `Record<V, K>` as written; any other type is left to the type system (it may
/// be an alias of a record), except a `Record` written with a wrong number of types.
fn record_types(ty: &Type) -> syn::Result<RecordType> {
    let other = Ok(RecordType::Other(ty.clone()));
    let Type::Path(TypePath { qself: None, path }) = ty else {
        return other;
    };
    let Some(last) = path.segments.last().filter(|s| s.ident == "Record") else {
        return other;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err(syn::Error::new_spanned(
            ty,
            "`Record` needs the value type: `Record<V>` or `Record<V, K>`, e.g. `Record<Json<MyEvent>>`",
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
            "`Record` takes one or two types: `Record<V>` or `Record<V, K>`",
        ));
    }
    Ok(RecordType::Written {
        value: types[0].clone(),
        key: types.get(1).map(|t| Box::new((*t).clone())),
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
