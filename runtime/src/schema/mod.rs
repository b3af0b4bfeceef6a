//! Schema registries: the framing that names a record's writer schema ([`framing`]), the schemas
//! a registry returns ([`RegisteredSchema`]), and [`SchemaRegistry`], the cache in front of a
//! registry that fetches each schema once for the life of the execution environment.
//!
//! Registries: Confluent's REST API ([`ConfluentRegistry`], feature `confluent-registry`), the
//! AWS Glue Schema Registry ([`GlueRegistry`], feature `glue-registry`), and schemas given up
//! front ([`StaticSchemas`], always available: tests, or functions in a VPC without a route to
//! the registry). [`SchemaRegistry::from_env`] reads `MSK_LAMBDA_SCHEMA_REGISTRY`.

mod error;
pub mod framing;
mod registry;
mod source;

#[cfg(feature = "confluent-registry")]
mod confluent;
#[cfg(feature = "glue-registry")]
mod glue;

#[cfg(feature = "confluent-registry")]
#[cfg_attr(docsrs, doc(cfg(feature = "confluent-registry")))]
pub use confluent::{ConfluentAuth, ConfluentRegistry, SCHEMA_REGISTRY_SECRET_ENV};
pub use error::RegistryError;
pub use framing::{FramingError, FramingKind, MessageIndexes, SchemaRef, Sniff, Unframed, Uuid};
#[cfg(feature = "glue-registry")]
#[cfg_attr(docsrs, doc(cfg(feature = "glue-registry")))]
pub use glue::GlueRegistry;
pub use registry::{SchemaRegistry, SCHEMA_REGISTRY_ENV};
pub use source::{RegisteredSchema, SchemaFormat, SchemaSource, SourceFuture, StaticSchemas};
