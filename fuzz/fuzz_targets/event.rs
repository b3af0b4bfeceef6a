//! Any bytes as a Lambda invocation body: no panic, no hang, every accepted record accounted for.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    msk_lambda_tests::fuzz_one(data);
});
