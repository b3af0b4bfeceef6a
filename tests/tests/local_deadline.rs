//! The deadline of local runs and tests follows `AWS_LAMBDA_FUNCTION_TIMEOUT`, as the Lambda
//! runtime interface emulator and `sam local` set it. A test binary of its own: it sets the
//! process's environment, which tests running beside it would see.

use std::time::Duration;

use msk_lambda::InvocationContext;

#[test]
fn the_local_deadline_is_the_function_timeout_away() {
    let left = |timeout: Option<&str>| {
        match timeout {
            Some(t) => std::env::set_var("AWS_LAMBDA_FUNCTION_TIMEOUT", t),
            None => std::env::remove_var("AWS_LAMBDA_FUNCTION_TIMEOUT"),
        }
        InvocationContext::local().remaining_time()
    };
    let near = |left: Duration, secs: u64| {
        left <= Duration::from_secs(secs)
            && left > Duration::from_secs(secs) - Duration::from_secs(2)
    };
    assert!(near(left(Some("3")), 3));
    assert!(near(left(Some(" 60 ")), 60));
    assert!(near(left(None), 900), "15 minutes without it");
    // Outside Lambda's 1 to 900 seconds, or not a number: the 15 minutes.
    for wrong in ["0", "901", "-5", "1.5", "soon"] {
        assert!(near(left(Some(wrong)), 900), "{wrong}");
    }
}
