//! The MSK IAM token, built offline from static credentials in the environment (the first link
//! of the standard credential chain): a base64url-encoded, SigV4-presigned URL for
//! `kafka-cluster:Connect` on `kafka.<region>.amazonaws.com`.
//!
//! Its own test binary: it sets process environment variables.

use std::collections::HashMap;

use base64::Engine as _;

#[tokio::test]
async fn the_token_is_a_presigned_connect_url() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    std::env::remove_var("AWS_SESSION_TOKEN");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let (token, expiry_ms) = msk_lambda::producer::iam_token("eu-west-1").await.unwrap();
    assert!(
        !token.contains('=') && !token.contains('+') && !token.contains('/'),
        "base64url, unpadded"
    );
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap();
    let url = String::from_utf8(url).unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://kafka.eu-west-1.amazonaws.com/");
    let params: HashMap<&str, &str> =
        query.split('&').filter_map(|kv| kv.split_once('=')).collect();
    assert_eq!(params["Action"], "kafka-cluster%3AConnect");
    assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(params["X-Amz-Expires"], "900");
    assert_eq!(params["X-Amz-SignedHeaders"], "host");
    let credential = params["X-Amz-Credential"].replace("%2F", "/");
    let parts: Vec<&str> = credential.split('/').collect();
    assert_eq!(parts[0], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(&parts[2..], ["eu-west-1", "kafka-cluster", "aws4_request"]);
    assert_eq!(parts[1].len(), 8, "the signing date");
    let signature = params["X-Amz-Signature"];
    assert_eq!(signature.len(), 64);
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(params.contains_key("X-Amz-Date"));
    assert!(params.contains_key("User-Agent"));
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let left = expiry_ms - now_ms;
    assert!(left > 800_000 && left <= 900_000, "expires in 15 minutes, not {left} ms");
}
