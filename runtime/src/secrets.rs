//! AWS Secrets Manager secrets that hold a JSON object of strings (feature `secrets-manager`):
//! the producer's SCRAM and mTLS credentials, the Confluent schema registry's basic auth.

#[cfg(feature = "producer")]
use std::collections::HashMap;
#[cfg(feature = "producer")]
use std::sync::{Arc, OnceLock};
#[cfg(feature = "producer")]
use std::time::Duration;

/// A secret's JSON object.
pub(crate) type SecretObject = serde_json::Map<String, serde_json::Value>;

/// Why a secret could not be had.
#[cfg(feature = "producer")]
#[derive(Debug)]
pub(crate) enum SecretError {
    /// The fetch took longer than it was given.
    TimedOut,
    /// What went wrong, naming the secret.
    Failed(String),
}

/// A Secrets Manager client from the standard AWS configuration chain (so `AWS_ENDPOINT_URL`
/// and friends apply), in the secret's region when the ARN names one.
pub(crate) async fn client_for(arn: &str) -> aws_sdk_secretsmanager::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME: the secret lives in REGION.
    if let Some(region) = arn.split(':').nth(3).filter(|r| arn.starts_with("arn:") && !r.is_empty())
    {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    aws_sdk_secretsmanager::Client::new(&loader.load().await)
}

/// The JSON object in the secret `arn`, read with `client`.
pub(crate) async fn read_object(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<SecretObject, String> {
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        let detail = aws_sdk_secretsmanager::error::DisplayErrorContext(&e);
        format!(
            "cannot read the secret `{arn}` from AWS Secrets Manager (does it exist, and may the role read it and decrypt it with its KMS key?): {detail}"
        )
    })?;
    let text = output.secret_string().ok_or_else(|| {
        format!("the secret `{arn}` has no string value (a binary secret?): it should hold a JSON object")
    })?;
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the secret `{arn}` is JSON but not an object")),
        Err(e) => Err(format!("the secret `{arn}` is not JSON: {e}")),
    }
}

#[cfg(feature = "producer")]
type SecretCache = tokio::sync::Mutex<HashMap<String, Arc<SecretObject>>>;

/// The JSON object in the secret `arn`, read once per process with the standard chain's client
/// (concurrent callers wait for one fetch) within `timeout`: the producer connects often, and
/// every connection needs its credentials.
#[cfg(feature = "producer")]
pub(crate) async fn cached_object(
    arn: &str,
    timeout: Duration,
) -> Result<Arc<SecretObject>, SecretError> {
    static CACHE: OnceLock<SecretCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // Held across the fetch: concurrent callers wait for one fetch.
    let mut cache = cache.lock().await;
    if let Some(found) = cache.get(arn) {
        return Ok(Arc::clone(found));
    }
    let fetch = async { read_object(&client_for(arn).await, arn).await };
    let object = match tokio::time::timeout(timeout, fetch).await {
        Err(_) => return Err(SecretError::TimedOut),
        Ok(result) => Arc::new(result.map_err(SecretError::Failed)?),
    };
    cache.insert(arn.to_owned(), Arc::clone(&object));
    Ok(object)
}

/// A non-empty string field of the secret `arn`.
pub(crate) fn string_field(
    secret: &SecretObject,
    arn: &str,
    field: &str,
) -> Result<String, String> {
    match secret.get(field) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("the secret `{arn}` has no non-empty string field `{field}`")),
    }
}
