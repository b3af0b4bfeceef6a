//! The attribute's options: `#[msk_handler(concurrency = 8, state = init, ...)]`.
//!
//! Two passes, as tokio-macros does: [`Options::parse`] only collects each key's value (each key
//! once), then [`Options::build`] checks every value. So a bad value does not hide a repeated
//! key, and every mistake is reported together, each on its own token.

use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Path};

/// Every key the attribute accepts, as listed in error messages.
const KEYS: &str = "`concurrency`, `workers`, `state`, `failure`, `response`, `deadline_margin_ms`, `schema_registry`, `crate`";

/// The options as written: each key's value, not yet checked.
#[derive(Default)]
struct Raw {
    concurrency: Option<Expr>,
    workers: Option<Expr>,
    state: Option<Expr>,
    failure: Option<Expr>,
    response: Option<Expr>,
    deadline_margin_ms: Option<Expr>,
    schema_registry: Option<Expr>,
    krate: Option<Expr>,
    /// `state` was written, whatever its value: the handler's state parameter is then expected,
    /// even when the value is wrong (reported on its own).
    state_seen: bool,
}

/// The checked options.
#[derive(Default)]
pub(crate) struct Options {
    /// At least 1.
    pub concurrency: Option<LitInt>,
    pub workers: Option<Workers>,
    pub state: Option<Path>,
    pub failure: Option<(LitStr, Failure)>,
    pub response: Option<(LitStr, Response)>,
    pub deadline_margin_ms: Option<LitInt>,
    /// A Confluent URL or a Glue registry ARN.
    pub schema_registry: Option<LitStr>,
    pub krate: Option<Path>,
    /// `state` was written, with a value that may have been refused.
    pub state_written: bool,
}

/// `workers = N` (at least 1) or `workers = "auto"`.
pub(crate) enum Workers {
    Count(LitInt),
    Auto(LitStr),
}

#[derive(Clone, Copy)]
pub(crate) enum Failure {
    StopPartition,
    Continue,
}

#[derive(Clone, Copy)]
pub(crate) enum Response {
    PartialBatch,
    WholeBatch,
}

/// How each key is written, for messages about a missing or misplaced value.
fn example(name: &str) -> &'static str {
    match name {
        "concurrency" => "concurrency = 8",
        "workers" => "workers = \"auto\"",
        "state" => "state = init",
        "failure" => "failure = \"continue\"",
        "response" => "response = \"whole_batch\"",
        "deadline_margin_ms" => "deadline_margin_ms = 1000",
        "schema_registry" => "schema_registry = \"https://schema-registry.example.com\"",
        _ => "crate = \"my_msk_lambda\"",
    }
}

impl Options {
    /// Parses and checks the attribute's arguments, collecting every error rather than the
    /// first. The options are usable (with the faulty ones left out) even when there are errors.
    pub(crate) fn parse(args: proc_macro2::TokenStream) -> (Options, Vec<syn::Error>) {
        let mut raw = Raw::default();
        let mut errors = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.clone();
            // `key = value`, `key(value)` or a bare `key`: read whatever is there, so that one
            // mistake is one error (and not a second one about the tokens left over).
            let value = if meta.input.peek(syn::Token![=]) {
                Some(meta.value()?.parse::<Expr>()?)
            } else {
                if meta.input.peek(syn::token::Paren) {
                    let _ = meta.input.parse::<proc_macro2::TokenTree>()?;
                }
                None
            };
            let name = key.get_ident().map(ToString::to_string);
            raw.state_seen |= name.as_deref() == Some("state");
            let slot = match name.as_deref() {
                Some("concurrency") => &mut raw.concurrency,
                Some("workers") => &mut raw.workers,
                Some("state") => &mut raw.state,
                Some("failure") => &mut raw.failure,
                Some("response") => &mut raw.response,
                Some("deadline_margin_ms") => &mut raw.deadline_margin_ms,
                Some("schema_registry") => &mut raw.schema_registry,
                Some("crate") => &mut raw.krate,
                _ => {
                    let shown = name.map_or_else(String::new, |n| format!(" `{n}`"));
                    errors.push(syn::Error::new_spanned(
                        &key,
                        format!("unknown option{shown}; the options are {KEYS}"),
                    ));
                    return Ok(());
                }
            };
            let name = name.unwrap_or_default();
            if slot.is_some() {
                errors.push(syn::Error::new_spanned(
                    &key,
                    format!("`{name}` is set more than once; keep one"),
                ));
                return Ok(());
            }
            match value {
                Some(value) => *slot = Some(value),
                None => errors.push(syn::Error::new_spanned(
                    &key,
                    format!("`{name}` needs a value: `{}`", example(&name)),
                )),
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        let (options, found) = raw.build();
        errors.extend(found);
        (options, errors)
    }

    /// The path generated code names the runtime crate by: `::msk_lambda` unless overridden.
    pub(crate) fn krate(&self) -> Path {
        self.krate.clone().unwrap_or_else(|| syn::parse_quote!(::msk_lambda))
    }
}

impl Raw {
    /// Checks every value; a wrong one is left out of the options and reported.
    fn build(self) -> (Options, Vec<syn::Error>) {
        let mut errors = Vec::new();
        let options = Options {
            concurrency: checked(self.concurrency, &mut errors, |v| concurrency(&v)),
            workers: checked(self.workers, &mut errors, |v| workers(&v)),
            state: checked(self.state, &mut errors, state),
            failure: checked(self.failure, &mut errors, |v| failure(&v)),
            response: checked(self.response, &mut errors, |v| response(&v)),
            deadline_margin_ms: checked(self.deadline_margin_ms, &mut errors, |v| {
                deadline_margin(&v)
            }),
            schema_registry: checked(self.schema_registry, &mut errors, |v| schema_registry(&v)),
            krate: checked(self.krate, &mut errors, |v| krate(&v)),
            state_written: self.state_seen,
        };
        (options, errors)
    }
}

/// The checked value of a key, if it was given and is right; its error otherwise.
fn checked<T>(
    value: Option<Expr>,
    errors: &mut Vec<syn::Error>,
    check: impl FnOnce(Expr) -> syn::Result<T>,
) -> Option<T> {
    check(value?).map_err(|e| errors.push(e)).ok()
}

fn concurrency(value: &Expr) -> syn::Result<LitInt> {
    let lit = int(value, "concurrency", "usize")?;
    match lit.base10_parse::<usize>() {
        Ok(n) if n > 0 => Ok(lit),
        _ => Err(syn::Error::new_spanned(
            &lit,
            "`concurrency` is how many partitions run at once: a whole number from 1 up, e.g. `concurrency = 8`",
        )),
    }
}

const WORKERS: &str = "`workers` is how many threads run partitions: a whole number from 1 up, or \"auto\" for one per CPU the process may use, e.g. `workers = \"auto\"` or `workers = 2`";

fn workers(value: &Expr) -> syn::Result<Workers> {
    match value {
        // Any case, as `MSK_LAMBDA_WORKERS` takes it.
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. })
            if lit.value().eq_ignore_ascii_case("auto") =>
        {
            Ok(Workers::Auto(lit.clone()))
        }
        Expr::Lit(ExprLit { lit: Lit::Int(_), .. }) => {
            let lit = int(value, "workers", "usize")?;
            match lit.base10_parse::<usize>() {
                Ok(n) if n > 0 => Ok(Workers::Count(lit)),
                _ => Err(syn::Error::new_spanned(&lit, WORKERS)),
            }
        }
        other => Err(syn::Error::new(other.span(), WORKERS)),
    }
}

fn deadline_margin(value: &Expr) -> syn::Result<LitInt> {
    let lit = int(value, "deadline_margin_ms", "u64")?;
    match lit.base10_parse::<u64>() {
        Ok(_) => Ok(lit),
        Err(_) => Err(syn::Error::new_spanned(
            &lit,
            "`deadline_margin_ms` is a number of milliseconds, e.g. `deadline_margin_ms = 1000`",
        )),
    }
}

fn schema_registry(value: &Expr) -> syn::Result<LitStr> {
    let lit = string(value, "schema_registry")?;
    let uri = lit.value();
    if ["http://", "https://", "arn:aws:glue:"].iter().any(|p| uri.starts_with(p)) {
        return Ok(lit);
    }
    Err(syn::Error::new_spanned(
        &lit,
        "`schema_registry` is a Confluent Schema Registry URL (`\"https://…\"`) or an AWS Glue registry ARN (`\"arn:aws:glue:REGION:ACCOUNT:registry/NAME\"`); to read it from the environment, leave it out and set MSK_LAMBDA_SCHEMA_REGISTRY",
    ))
}

fn state(value: Expr) -> syn::Result<Path> {
    match value {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Ok(p.path),
        other => Err(syn::Error::new_spanned(
            other,
            "`state` names the async fn that builds the shared state, e.g. `state = init` for `async fn init() -> Result<State, E>`",
        )),
    }
}

fn failure(value: &Expr) -> syn::Result<(LitStr, Failure)> {
    let lit = string(value, "failure")?;
    match lit.value().as_str() {
        "stop_partition" => Ok((lit, Failure::StopPartition)),
        "continue" => Ok((lit, Failure::Continue)),
        _ => Err(syn::Error::new_spanned(
            &lit,
            "`failure` is \"stop_partition\" (the default: a partition stops at its first failed record) or \"continue\" (run every record, report each failure)",
        )),
    }
}

fn response(value: &Expr) -> syn::Result<(LitStr, Response)> {
    let lit = string(value, "response")?;
    match lit.value().as_str() {
        "partial_batch" => Ok((lit, Response::PartialBatch)),
        "whole_batch" => Ok((lit, Response::WholeBatch)),
        _ => Err(syn::Error::new_spanned(
            &lit,
            "`response` is \"partial_batch\" (the default: needs ReportBatchItemFailures on the event source mapping) or \"whole_batch\" (any failure fails the invocation)",
        )),
    }
}

fn krate(value: &Expr) -> syn::Result<Path> {
    let lit = string(value, "crate")?;
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new_spanned(
            &lit,
            "`crate` is the path msk-lambda is imported under, e.g. `crate = \"my_msk_lambda\"`",
        )
    })
}

/// An integer literal, unsuffixed or with the one suffix the builder takes (`usize`, `u64`).
fn int(value: &Expr, name: &str, suffix: &str) -> syn::Result<LitInt> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => {
            if lit.suffix().is_empty() || lit.suffix() == suffix {
                Ok(lit.clone())
            } else if name == "deadline_margin_ms"
                && ["s", "ms", "sec", "secs"].contains(&lit.suffix())
            {
                // A unit, not a type: `1s` is a second, not the 1 the suffix rule would suggest.
                let ms = lit
                    .base10_parse::<u64>()
                    .unwrap_or(0)
                    .saturating_mul(if lit.suffix() == "ms" { 1 } else { 1000 });
                Err(syn::Error::new_spanned(
                    lit,
                    format!("`deadline_margin_ms` is a number of milliseconds, written without a unit, e.g. `deadline_margin_ms = {ms}`"),
                ))
            } else {
                Err(syn::Error::new_spanned(
                    lit,
                    format!(
                        "`{name}` is a `{suffix}`: write the number without the `{}` suffix, e.g. `{name} = {}`",
                        lit.suffix(),
                        lit.base10_digits()
                    ),
                ))
            }
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a whole number literal, e.g. `{}`", example(name)),
        )),
    }
}

fn string(value: &Expr, name: &str) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a string, e.g. `{}`", example(name)),
        )),
    }
}
