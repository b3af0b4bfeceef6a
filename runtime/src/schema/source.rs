//! What a registry is to the consumer: something that returns the schema a [`SchemaRef`] names.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use super::error::RegistryError;
use super::framing::SchemaRef;

/// The format a registered schema describes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaFormat {
    /// An Avro schema (JSON).
    Avro,
    /// A Protobuf schema (`.proto` text).
    Protobuf,
    /// A JSON Schema.
    Json,
    /// Another format, as the registry named it.
    Other(String),
}

impl SchemaFormat {
    /// Reads a registry's format name: `AVRO`, `PROTOBUF`, `JSON` (any case).
    pub fn parse(name: &str) -> SchemaFormat {
        match name.to_ascii_uppercase().as_str() {
            "AVRO" => SchemaFormat::Avro,
            "PROTOBUF" => SchemaFormat::Protobuf,
            "JSON" => SchemaFormat::Json,
            _ => SchemaFormat::Other(name.to_owned()),
        }
    }
}

impl fmt::Display for SchemaFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaFormat::Avro => f.write_str("AVRO"),
            SchemaFormat::Protobuf => f.write_str("PROTOBUF"),
            SchemaFormat::Json => f.write_str("JSON"),
            SchemaFormat::Other(name) => f.write_str(name),
        }
    }
}

/// A schema as a registry returned it. Schemas are immutable per id, so the consumer keeps them
/// (and what decoders derive from them, such as a parsed Avro schema) for the life of the
/// execution environment.
pub struct RegisteredSchema {
    reference: SchemaRef,
    format: SchemaFormat,
    definition: String,
    /// A decoder's parsed form of `definition`, made once (see [`RegisteredSchema::parsed`]).
    parsed: OnceLock<Result<Box<dyn Any + Send + Sync>, String>>,
}

impl RegisteredSchema {
    /// A schema named `reference`, in `format`, with the registry's definition text.
    pub fn new(reference: SchemaRef, format: SchemaFormat, definition: impl Into<String>) -> Self {
        RegisteredSchema {
            reference,
            format,
            definition: definition.into(),
            parsed: OnceLock::new(),
        }
    }

    /// How the registry names it.
    pub fn reference(&self) -> SchemaRef {
        self.reference
    }

    /// Its format.
    pub fn format(&self) -> &SchemaFormat {
        &self.format
    }

    /// The definition text (an Avro schema's JSON, `.proto` text, a JSON Schema).
    pub fn definition(&self) -> &str {
        &self.definition
    }

    /// The decoder's parsed form of the definition, parsed on first use and kept. A schema has
    /// one format and so one parsed form; asking for another type is an error.
    pub fn parsed<T: Any + Send + Sync>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<&T, String> {
        let parsed = self.parsed.get_or_init(|| {
            parse(&self.definition).map(|t| Box::new(t) as Box<dyn Any + Send + Sync>)
        });
        match parsed {
            Ok(any) => any
                .downcast_ref::<T>()
                .ok_or_else(|| format!("{} was already parsed as another type", self.reference)),
            Err(e) => Err(e.clone()),
        }
    }
}

impl fmt::Debug for RegisteredSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredSchema")
            .field("reference", &self.reference)
            .field("format", &self.format)
            .field("definition_len", &self.definition.len())
            .finish()
    }
}

/// The future a [`SchemaSource`] returns.
pub type SourceFuture =
    Pin<Box<dyn Future<Output = Result<RegisteredSchema, RegistryError>> + Send>>;

/// A schema registry: returns the schema a [`SchemaRef`] names.
/// [`SchemaRegistry`](super::SchemaRegistry) caches what it returns; a source only fetches.
pub trait SchemaSource: Send + Sync + 'static {
    /// What to call this registry in messages, e.g. `Confluent registry https://sr.example.com`.
    fn describe(&self) -> String;

    /// Fetches one schema. The future owns what it needs (it may outlive `&self`).
    fn fetch(&self, reference: SchemaRef) -> SourceFuture;
}

/// Schemas given up front, by reference: for tests, or for functions that cannot reach their
/// registry (a VPC without a route to it). Fetching an unknown reference fails.
#[derive(Debug, Default, Clone)]
pub struct StaticSchemas {
    schemas: HashMap<SchemaRef, (SchemaFormat, String)>,
}

impl StaticSchemas {
    /// No schemas yet.
    pub fn new() -> Self {
        StaticSchemas::default()
    }

    /// Adds the schema `reference` names.
    pub fn with(
        mut self,
        reference: SchemaRef,
        format: SchemaFormat,
        definition: impl Into<String>,
    ) -> Self {
        self.schemas.insert(reference, (format, definition.into()));
        self
    }
}

impl SchemaSource for StaticSchemas {
    fn describe(&self) -> String {
        format!("static schemas ({} known)", self.schemas.len())
    }

    fn fetch(&self, reference: SchemaRef) -> SourceFuture {
        let found = self.schemas.get(&reference).cloned();
        Box::pin(async move {
            let (format, definition) = found.ok_or_else(|| RegistryError::not_found(reference))?;
            Ok(RegisteredSchema::new(reference, format, definition))
        })
    }
}
