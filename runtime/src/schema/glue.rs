//! The AWS Glue Schema Registry: `GetSchemaVersion` by schema version id, with the function's
//! role (the standard AWS credential chain). Source:
//! <https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaVersion.html>.

use std::fmt;

use super::error::RegistryError;
use super::framing::SchemaRef;
use super::source::{RegisteredSchema, SchemaFormat, SchemaSource, SourceFuture};

/// An AWS Glue Schema Registry. Schema version ids are global to the account and region, so
/// the registry ARN serves to name it in messages and to pick the region.
#[derive(Clone)]
pub struct GlueRegistry {
    arn: String,
    client: aws_sdk_glue::Client,
}

impl GlueRegistry {
    /// The registry `arn` names (`arn:aws:glue:REGION:ACCOUNT:registry/NAME`), with the AWS SDK
    /// configuration from the environment (credentials from the function's role; the region from
    /// the ARN; `AWS_ENDPOINT_URL_GLUE` / `AWS_ENDPOINT_URL` honoured).
    pub async fn from_arn(arn: &str) -> Result<Self, RegistryError> {
        let region = arn.split(':').nth(3).filter(|r| !r.is_empty()).ok_or_else(|| {
            RegistryError::unavailable(format!(
                "`{arn}` is not a Glue registry ARN (arn:aws:glue:REGION:ACCOUNT:registry/NAME)"
            ))
        })?;
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .load()
            .await;
        Ok(GlueRegistry::with_client(arn, aws_sdk_glue::Client::new(&config)))
    }

    /// The registry `arn` names, through a Glue client of your own.
    pub fn with_client(arn: &str, client: aws_sdk_glue::Client) -> Self {
        GlueRegistry { arn: arn.to_owned(), client }
    }
}

impl fmt::Debug for GlueRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlueRegistry").field("arn", &self.arn).finish_non_exhaustive()
    }
}

impl SchemaSource for GlueRegistry {
    fn describe(&self) -> String {
        format!("the AWS Glue schema registry {}", self.arn)
    }

    fn fetch(&self, reference: SchemaRef) -> SourceFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let SchemaRef::GlueVersion(id) = reference else {
                return Err(RegistryError::unavailable(format!(
                    "an AWS Glue registry cannot look up {reference}"
                )));
            };
            let output = client
                .get_schema_version()
                .schema_version_id(id.to_string())
                .send()
                .await
                .map_err(|e| {
                    let service = e.as_service_error();
                    if service.is_some_and(|s| s.is_entity_not_found_exception()) {
                        return RegistryError::not_found(reference);
                    }
                    let code = service
                        .and_then(|s| aws_sdk_glue::error::ProvideErrorMetadata::code(s))
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    RegistryError::unavailable(format!(
                        "GetSchemaVersion failed{code}: {}",
                        aws_sdk_glue::error::DisplayErrorContext(&e)
                    ))
                })?;
            let definition = output.schema_definition().ok_or_else(|| {
                RegistryError::unavailable("GetSchemaVersion answered without a SchemaDefinition")
            })?;
            let format = output
                .data_format()
                .map_or(SchemaFormat::Avro, |f| SchemaFormat::parse(f.as_str()));
            Ok(RegisteredSchema::new(reference, format, definition))
        })
    }
}
