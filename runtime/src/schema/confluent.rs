//! The Confluent Schema Registry REST API (and API-compatible registries such as Karapace):
//! `GET /schemas/ids/{id}` and `GET /schemas/guids/{guid}`, answering
//! `{"schema": "<definition>", "schemaType": "PROTOBUF" | "JSON"}` (`schemaType` absent for
//! Avro). Source: <https://docs.confluent.io/platform/current/schema-registry/develop/api.html#schemas>.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use super::error::RegistryError;
use super::framing::SchemaRef;
use super::source::{RegisteredSchema, SchemaFormat, SchemaSource, SourceFuture};

/// How long one registry request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Credentials for a Confluent registry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfluentAuth {
    /// HTTP basic authentication (Confluent Cloud: the API key and secret).
    Basic {
        /// The user name or API key.
        username: String,
        /// The password or API secret.
        password: String,
    },
}

impl fmt::Debug for ConfluentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfluentAuth::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).finish_non_exhaustive()
            }
        }
    }
}

/// The environment variable naming an AWS Secrets Manager secret with the Confluent registry's
/// credentials: the same secret an event source mapping's `BASIC_AUTH` schema-registry access
/// configuration names, a JSON object `{"username": "...", "password": "..."}` (for Confluent
/// Cloud, the API key and secret).
pub const SCHEMA_REGISTRY_SECRET_ENV: &str = "MSK_LAMBDA_SCHEMA_REGISTRY_SECRET_ARN";

#[cfg(feature = "secrets-manager")]
impl ConfluentAuth {
    /// Basic-auth credentials from the AWS Secrets Manager secret `arn`, read with `client`: a
    /// JSON object with non-empty string fields `username` and `password` (see
    /// [`SCHEMA_REGISTRY_SECRET_ENV`]).
    pub async fn from_secret(
        client: &aws_sdk_secretsmanager::Client,
        arn: &str,
    ) -> Result<ConfluentAuth, RegistryError> {
        let secret =
            crate::secrets::read_object(client, arn).await.map_err(RegistryError::unavailable)?;
        let field = |name| {
            crate::secrets::string_field(&secret, arn, name).map_err(RegistryError::unavailable)
        };
        Ok(ConfluentAuth::Basic { username: field("username")?, password: field("password")? })
    }
}

/// The credentials in the secret [`SCHEMA_REGISTRY_SECRET_ENV`] names, read with the standard
/// AWS configuration chain.
async fn auth_from_env_secret(arn: &str) -> Result<ConfluentAuth, RegistryError> {
    #[cfg(feature = "secrets-manager")]
    {
        let client = crate::secrets::client_for(arn).await;
        tokio::time::timeout(REQUEST_TIMEOUT, ConfluentAuth::from_secret(&client, arn))
            .await
            .map_err(|_| {
                RegistryError::unavailable(format!(
                    "reading the secret `{arn}` from AWS Secrets Manager took longer than {REQUEST_TIMEOUT:?}"
                ))
            })?
    }
    #[cfg(not(feature = "secrets-manager"))]
    Err(RegistryError::unavailable(format!(
        "{SCHEMA_REGISTRY_SECRET_ENV} is set (`{arn}`), but msk-lambda was built without its `secrets-manager` feature"
    )))
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A Confluent Schema Registry reached over HTTP or HTTPS (certificates checked against the
/// Mozilla roots that webpki-roots carries).
#[derive(Clone)]
pub struct ConfluentRegistry {
    base: String,
    authorization: Option<String>,
    username: Option<String>,
    client: HttpsClient,
}

impl ConfluentRegistry {
    /// The registry at `url` (e.g. `https://psrc-123.us-east-1.aws.confluent.cloud`), without
    /// credentials.
    pub fn new(url: &str) -> Result<Self, RegistryError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(RegistryError::unavailable(format!(
                "the Confluent registry URL `{url}` must start with http:// or https://"
            )));
        }
        // The provider is named: with other crates enabling rustls' `ring` feature too, rustls
        // could not pick a process default.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| RegistryError::unavailable(format!("TLS setup: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(ConfluentRegistry {
            base: url.trim_end_matches('/').to_owned(),
            authorization: None,
            username: None,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The registry at `url`, with basic-auth credentials from the environment, if any:
    /// - `MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME` and `MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD` (both
    ///   or neither), or
    /// - [`SCHEMA_REGISTRY_SECRET_ENV`] (`MSK_LAMBDA_SCHEMA_REGISTRY_SECRET_ARN`): an AWS Secrets
    ///   Manager secret (feature `secrets-manager`), read once, with the standard AWS
    ///   configuration chain; see [`ConfluentAuth::from_secret`].
    pub async fn from_env(url: &str) -> Result<Self, RegistryError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let registry = ConfluentRegistry::new(url)?;
        match (
            var("MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME"),
            var("MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD"),
            var(SCHEMA_REGISTRY_SECRET_ENV),
        ) {
            (None, None, None) => Ok(registry),
            (Some(username), Some(password), None) => {
                Ok(registry.auth(ConfluentAuth::Basic { username, password }))
            }
            (None, None, Some(arn)) => Ok(registry.auth(auth_from_env_secret(arn.trim()).await?)),
            (_, _, Some(_)) => Err(RegistryError::unavailable(format!(
                "set either {SCHEMA_REGISTRY_SECRET_ENV} or MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME and MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD, not both"
            ))),
            _ => Err(RegistryError::unavailable(
                "set both MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME and MSK_LAMBDA_SCHEMA_REGISTRY_PASSWORD, or neither",
            )),
        }
    }

    /// With credentials.
    pub fn auth(mut self, auth: ConfluentAuth) -> Self {
        match auth {
            ConfluentAuth::Basic { username, password } => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                self.authorization = Some(format!("Basic {token}"));
                self.username = Some(username);
            }
        }
        self
    }
}

impl fmt::Debug for ConfluentRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluentRegistry")
            .field("url", &self.base)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaResponse {
    schema: String,
    schema_type: Option<String>,
}

impl SchemaSource for ConfluentRegistry {
    fn describe(&self) -> String {
        format!("the Confluent schema registry at {}", self.base)
    }

    fn fetch(&self, reference: SchemaRef) -> SourceFuture {
        let path = match reference {
            SchemaRef::ConfluentId(id) => format!("/schemas/ids/{id}"),
            SchemaRef::ConfluentGuid(guid) => format!("/schemas/guids/{guid}"),
            other => {
                let message = format!("a Confluent registry cannot look up {other}");
                return Box::pin(async move { Err(RegistryError::unavailable(message)) });
            }
        };
        let url = format!("{}{path}", self.base);
        let client = self.client.clone();
        let authorization = self.authorization.clone();
        Box::pin(async move {
            let mut request = hyper::Request::get(&url)
                .header("accept", "application/vnd.schemaregistry.v1+json, application/json");
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            let request = request
                .body(Empty::new())
                .map_err(|e| RegistryError::unavailable(format!("GET {url}: {e}")))?;
            let exchange = async {
                let response = client.request(request).await.map_err(|e| {
                    RegistryError::unavailable(format!("GET {url} failed: {}", error_chain(&e)))
                })?;
                let status = response.status();
                let body = response.into_body().collect().await.map_err(|e| {
                    RegistryError::unavailable(format!("GET {url}: reading the body: {e}"))
                })?;
                Ok::<_, RegistryError>((status, body.to_bytes()))
            };
            let (status, body) =
                tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| {
                    RegistryError::unavailable(format!(
                        "GET {url} did not answer within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ))
                })??;
            if status == hyper::StatusCode::NOT_FOUND {
                return Err(RegistryError::not_found(reference));
            }
            if !status.is_success() {
                let hint = match status.as_u16() {
                    401 | 403 => " (check MSK_LAMBDA_SCHEMA_REGISTRY_USERNAME / _PASSWORD or the secret MSK_LAMBDA_SCHEMA_REGISTRY_SECRET_ARN names)",
                    _ => "",
                };
                return Err(RegistryError::unavailable(format!(
                    "GET {url} answered HTTP {status}{hint}"
                )));
            }
            let parsed: SchemaResponse = serde_json::from_slice(&body).map_err(|e| {
                RegistryError::unavailable(format!(
                    "GET {url} answered something that is not a schema ({e})"
                ))
            })?;
            let format =
                parsed.schema_type.as_deref().map_or(SchemaFormat::Avro, SchemaFormat::parse);
            Ok(RegisteredSchema::new(reference, format, parsed.schema))
        })
    }
}

/// An error and its sources, `: `-joined (hyper's own message is often just "client error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
