//! The attribute's options: `#[msk_handler(concurrency = 8, state = init, ...)]`.

use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Path};

/// Every key the attribute accepts, as listed in error messages.
const KEYS: &str = "`concurrency`, `state`, `failure`, `response`, `deadline_margin_ms`, `crate`";

/// The parsed options. Each key may be given once; values are checked as they are set.
#[derive(Default)]
pub(crate) struct Options {
    pub concurrency: Option<LitInt>,
    pub state: Option<Path>,
    pub failure: Option<(LitStr, Failure)>,
    pub response: Option<(LitStr, Response)>,
    pub deadline_margin_ms: Option<LitInt>,
    pub krate: Option<Path>,
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

impl Options {
    /// Parses the attribute's arguments, collecting every error rather than the first.
    pub(crate) fn parse(args: proc_macro2::TokenStream) -> (Options, Vec<syn::Error>) {
        let mut options = Options::default();
        let mut errors = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.clone();
            let name = match key.get_ident() {
                Some(ident) => ident.to_string(),
                None => {
                    errors.push(syn::Error::new_spanned(
                        &key,
                        format!("unknown option; the options are {KEYS}"),
                    ));
                    let _ = meta.value().and_then(|v| v.parse::<Expr>());
                    return Ok(());
                }
            };
            let value: Expr = match meta.value() {
                Ok(v) => v.parse()?,
                Err(_) => {
                    errors.push(syn::Error::new_spanned(
                        &key,
                        format!("`{name}` needs a value: `{name} = ...`"),
                    ));
                    return Ok(());
                }
            };
            if let Err(e) = options.set(&name, &key, value) {
                errors.push(e);
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        (options, errors)
    }

    fn set(&mut self, name: &str, key: &Path, value: Expr) -> syn::Result<()> {
        match name {
            "concurrency" => {
                let lit = int(&value, "concurrency", "concurrency = 8")?;
                if lit.base10_parse::<u32>().map_or(true, |n| n == 0) {
                    return Err(syn::Error::new_spanned(
                        &lit,
                        "`concurrency` is how many partitions run at once: a whole number from 1 up, e.g. `concurrency = 8`",
                    ));
                }
                once(&mut self.concurrency, lit, key, name)
            }
            "deadline_margin_ms" => {
                let lit = int(&value, "deadline_margin_ms", "deadline_margin_ms = 1000")?;
                if lit.base10_parse::<u64>().is_err() {
                    return Err(syn::Error::new_spanned(
                        &lit,
                        "`deadline_margin_ms` is a number of milliseconds, e.g. `deadline_margin_ms = 1000`",
                    ));
                }
                once(&mut self.deadline_margin_ms, lit, key, name)
            }
            "state" => match value {
                Expr::Path(p) if p.qself.is_none() => once(&mut self.state, p.path, key, name),
                other => Err(syn::Error::new_spanned(
                    other,
                    "`state` names the async fn that builds the shared state, e.g. `state = init` for `async fn init() -> Result<State, E>`",
                )),
            },
            "failure" => {
                let lit = string(&value, "failure", "failure = \"continue\"")?;
                let policy = match lit.value().as_str() {
                    "stop_partition" => Failure::StopPartition,
                    "continue" => Failure::Continue,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &lit,
                            "`failure` is \"stop_partition\" (the default: a partition stops at its first failed record) or \"continue\" (run every record, report each failure)",
                        ))
                    }
                };
                once(&mut self.failure, (lit, policy), key, name)
            }
            "response" => {
                let lit = string(&value, "response", "response = \"whole_batch\"")?;
                let mode = match lit.value().as_str() {
                    "partial_batch" => Response::PartialBatch,
                    "whole_batch" => Response::WholeBatch,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &lit,
                            "`response` is \"partial_batch\" (the default: needs ReportBatchItemFailures on the event source mapping) or \"whole_batch\" (any failure fails the invocation)",
                        ))
                    }
                };
                once(&mut self.response, (lit, mode), key, name)
            }
            "crate" => {
                let lit = string(&value, "crate", "crate = \"my_msk_lambda\"")?;
                let path = lit.parse_with(Path::parse_mod_style).map_err(|_| {
                    syn::Error::new_spanned(
                        &lit,
                        "`crate` is the path msk-lambda is imported under, e.g. `crate = \"my_msk_lambda\"`",
                    )
                })?;
                once(&mut self.krate, path, key, name)
            }
            _ => Err(syn::Error::new_spanned(
                key,
                format!("unknown option `{name}`; the options are {KEYS}"),
            )),
        }
    }

    /// The path generated code names the runtime crate by: `::msk_lambda` unless overridden.
    pub(crate) fn krate(&self) -> Path {
        self.krate.clone().unwrap_or_else(|| syn::parse_quote!(::msk_lambda))
    }
}

fn once<T>(slot: &mut Option<T>, value: T, key: &Path, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            key,
            format!("`{name}` is set more than once; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn int(value: &Expr, name: &str, example: &str) -> syn::Result<LitInt> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => Ok(lit.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a whole number literal, e.g. `{example}`"),
        )),
    }
}

fn string(value: &Expr, name: &str, example: &str) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit.clone()),
        other => {
            Err(syn::Error::new(other.span(), format!("`{name}` takes a string, e.g. `{example}`")))
        }
    }
}
