//! Every misuse of `#[msk_handler]` is a compile error on the token at fault, saying what to
//! write instead. One case per file in `ui/fail`, named for its error; the expected compiler
//! output is in the `.stderr` beside it (regenerate with `TRYBUILD=overwrite`, then read the
//! diff). The pass cases are this package's examples, built by `cargo test` under
//! `#![deny(warnings)]`.

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("ui/fail/*.rs");
}
