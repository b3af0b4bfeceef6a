//! [`RegistryError`]: why a schema could not be had from a registry.

use std::fmt;

use super::framing::SchemaRef;

/// Why a schema could not be had from the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    message: String,
    not_found: bool,
}

impl RegistryError {
    /// The registry does not know the schema.
    pub fn not_found(reference: SchemaRef) -> Self {
        RegistryError { message: format!("{reference} is not in the registry"), not_found: true }
    }

    /// The registry could not be asked or did not answer usefully (unreachable, timed out,
    /// refused the credentials, answered something unreadable).
    pub fn unavailable(message: impl fmt::Display) -> Self {
        RegistryError { message: message.to_string(), not_found: false }
    }

    /// True when the registry answered that it does not know the schema.
    pub fn is_not_found(&self) -> bool {
        self.not_found
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RegistryError {}
