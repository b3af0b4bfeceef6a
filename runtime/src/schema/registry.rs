//! [`SchemaRegistry`]: the cache in front of a [`SchemaSource`].

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt as _, Shared};

use super::error::RegistryError;
use super::framing::SchemaRef;
use super::source::{RegisteredSchema, SchemaSource};

/// The environment variable naming the schema registry: an `http://` or `https://` URL is a
/// Confluent Schema Registry (feature `confluent-registry`), an `arn:aws:glue:` registry ARN the
/// AWS Glue Schema Registry (feature `glue-registry`).
pub const SCHEMA_REGISTRY_ENV: &str = "MSK_LAMBDA_SCHEMA_REGISTRY";

/// How long a failed fetch is remembered before the next record that needs the schema tries
/// again: an unreachable registry fails the records that need it quickly instead of making each
/// wait for its own timeout, and a registry that comes back is used again within seconds.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How long one fetch may take. A fetch that hangs (a registry that accepts the connection and
/// never answers; the AWS SDK's default has a connect timeout only) would otherwise stay the
/// cached fetch for that schema, which every later record needing it waits on.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

type Fetch = Shared<BoxFuture<'static, Result<Arc<RegisteredSchema>, RegistryError>>>;

enum Entry {
    Ready(Arc<RegisteredSchema>),
    /// Being fetched: every record that needs it awaits this one fetch.
    Pending(Fetch),
    Failed(RegistryError, Instant),
}

struct Inner {
    source: Arc<dyn SchemaSource>,
    name: String,
    entries: Mutex<HashMap<SchemaRef, Entry>>,
    fetches: AtomicU64,
}

/// A schema registry with its cache: each schema is fetched once for the life of the
/// execution environment (schemas are immutable per id), once even when many records need it
/// at the same time, and not at all when no record needs it. Cheap to clone (shared).
#[derive(Clone)]
pub struct SchemaRegistry {
    inner: Arc<Inner>,
}

impl SchemaRegistry {
    /// A cache in front of `source`.
    pub fn new(source: impl SchemaSource) -> Self {
        let name = source.describe();
        SchemaRegistry {
            inner: Arc::new(Inner {
                source: Arc::new(source),
                name,
                entries: Mutex::new(HashMap::new()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// The registry `MSK_LAMBDA_SCHEMA_REGISTRY` names (see [`SchemaRegistry::from_uri`]),
    /// `Ok(None)` when it is unset or empty.
    pub async fn from_env() -> Result<Option<SchemaRegistry>, RegistryError> {
        match std::env::var(SCHEMA_REGISTRY_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::from_uri(value.trim()).await.map(Some),
            _ => Ok(None),
        }
    }

    /// The registry a URI names: an `http(s)://` URL is a Confluent Schema Registry
    /// (credentials: see `ConfluentRegistry::from_env`), an `arn:aws:glue:` ARN an AWS Glue
    /// Schema Registry; either needs its cargo feature (`confluent-registry`, `glue-registry`).
    pub async fn from_uri(uri: &str) -> Result<SchemaRegistry, RegistryError> {
        if uri.starts_with("http://") || uri.starts_with("https://") {
            #[cfg(feature = "confluent-registry")]
            // Boxed, as below: the AWS SDK's futures are deep, and the future of a whole Lambda
            // entry point holds this one (rustc's layout depth limit).
            return Ok(SchemaRegistry::new(
                Box::pin(super::ConfluentRegistry::from_env(uri)).await?,
            ));
            #[cfg(not(feature = "confluent-registry"))]
            return Err(RegistryError::unavailable(format!(
                "{uri} is a Confluent registry URL, but msk-lambda was built without its `confluent-registry` feature"
            )));
        }
        if uri.starts_with("arn:aws:glue:") {
            #[cfg(feature = "glue-registry")]
            return Ok(SchemaRegistry::new(Box::pin(super::GlueRegistry::from_arn(uri)).await?));
            #[cfg(not(feature = "glue-registry"))]
            return Err(RegistryError::unavailable(format!(
                "{uri} is an AWS Glue registry ARN, but msk-lambda was built without its `glue-registry` feature"
            )));
        }
        Err(RegistryError::unavailable(format!(
            "`{uri}` must be an http(s):// URL (Confluent Schema Registry) or an arn:aws:glue: registry ARN ({SCHEMA_REGISTRY_ENV})"
        )))
    }

    /// What the registry is, for messages.
    pub fn describe(&self) -> &str {
        &self.inner.name
    }

    /// How many fetches this registry has started (a cache hit starts none).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The schema `reference` names: from the cache, or fetched once.
    pub async fn get(&self, reference: SchemaRef) -> Result<Arc<RegisteredSchema>, RegistryError> {
        let fetch = {
            let mut entries = self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
            match entries.get(&reference) {
                Some(Entry::Ready(schema)) => return Ok(Arc::clone(schema)),
                Some(Entry::Pending(fetch)) => fetch.clone(),
                Some(Entry::Failed(error, at)) if at.elapsed() < RETRY_AFTER => {
                    return Err(error.clone())
                }
                _ => {
                    self.inner.fetches.fetch_add(1, Ordering::Relaxed);
                    let source = Arc::clone(&self.inner.source);
                    // A source that panics (a user's, or a library under it) fails this fetch
                    // like any error: the records that need the schema fail, and the next
                    // try comes after RETRY_AFTER. Uncaught, the panic would go up through the
                    // invocation and leave a poisoned shared future in the cache, failing
                    // every later record that needs the schema for the life of the process.
                    let fetch = async move {
                        match tokio::time::timeout(FETCH_TIMEOUT, source.fetch(reference)).await {
                            Ok(result) => result,
                            Err(_) => Err(RegistryError::unavailable(format!(
                                "{} did not answer within {} s for {reference}",
                                source.describe(),
                                FETCH_TIMEOUT.as_secs()
                            ))),
                        }
                    };
                    let fetch =
                        AssertUnwindSafe(fetch).catch_unwind().map(move |outcome| match outcome {
                            Ok(result) => result.map(Arc::new),
                            Err(panic) => Err(RegistryError::unavailable(format!(
                                "the schema source panicked fetching {reference}: {}",
                                crate::unwind::panic_message(&*panic)
                            ))),
                        });
                    let fetch = fetch.boxed().shared();
                    entries.insert(reference, Entry::Pending(fetch.clone()));
                    fetch
                }
            }
        };
        let result = fetch.await;
        let mut entries = self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // The first waiter to finish records the result; the others find it done.
        if let Some(Entry::Pending(_)) = entries.get(&reference) {
            let entry = match &result {
                Ok(schema) => Entry::Ready(Arc::clone(schema)),
                Err(error) => Entry::Failed(error.clone(), Instant::now()),
            };
            entries.insert(reference, entry);
        }
        result
    }
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("registry", &self.inner.name)
            .field("fetches", &self.fetch_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::source::{SchemaFormat, SourceFuture};
    use super::*;

    /// Counts fetches and answers after a delay, failing while `down` is set.
    struct Slow {
        calls: Arc<AtomicU64>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    impl SchemaSource for Slow {
        fn describe(&self) -> String {
            "slow test registry".into()
        }
        fn fetch(&self, reference: SchemaRef) -> SourceFuture {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let down = self.down.load(Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if down {
                    return Err(RegistryError::unavailable("connection refused"));
                }
                Ok(RegisteredSchema::new(reference, SchemaFormat::Avro, "\"long\""))
            })
        }
    }

    #[tokio::test]
    async fn fetches_each_schema_once_under_concurrency() {
        let calls = Arc::new(AtomicU64::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let registry = SchemaRegistry::new(Slow { calls: calls.clone(), down: down.clone() });
        let gets = (0..50).map(|i| registry.get(SchemaRef::ConfluentId(i % 2)));
        let results = futures_util::future::join_all(gets).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(registry.fetch_count(), 2);
        registry.get(SchemaRef::ConfluentId(1)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "cached");
    }

    #[tokio::test]
    async fn failures_are_shared_then_retried() {
        let calls = Arc::new(AtomicU64::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let registry = SchemaRegistry::new(Slow { calls: calls.clone(), down: down.clone() });
        let gets = (0..10).map(|_| registry.get(SchemaRef::ConfluentId(7)));
        for result in futures_util::future::join_all(gets).await {
            assert_eq!(result.unwrap_err().to_string(), "connection refused");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Within RETRY_AFTER the failure is remembered.
        assert!(registry.get(SchemaRef::ConfluentId(7)).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // After it, the registry is asked again.
        down.store(false, Ordering::SeqCst);
        if let Entry::Failed(_, at) =
            registry.inner.entries.lock().unwrap().get_mut(&SchemaRef::ConfluentId(7)).unwrap()
        {
            *at -= RETRY_AFTER;
        }
        registry.get(SchemaRef::ConfluentId(7)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// Panics on its first two fetches: in `fetch` itself, then in the future it returns.
    struct Panicky {
        calls: Arc<AtomicU64>,
    }

    impl SchemaSource for Panicky {
        fn describe(&self) -> String {
            "panicking test registry".into()
        }
        fn fetch(&self, reference: SchemaRef) -> SourceFuture {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            assert!(call != 0, "no schema for you");
            Box::pin(async move {
                assert!(call != 1, "not yet either");
                Ok(RegisteredSchema::new(reference, SchemaFormat::Avro, "\"long\""))
            })
        }
    }

    /// A source's panic is that fetch's error, for every waiter; the failure is retried after
    /// RETRY_AFTER like any other, and the schema is then used (a panic escaping would leave a
    /// poisoned shared future in the cache, failing every later get of the schema).
    #[tokio::test]
    async fn a_panicking_source_fails_the_fetch_and_is_tried_again() {
        let calls = Arc::new(AtomicU64::new(0));
        let registry = SchemaRegistry::new(Panicky { calls: calls.clone() });
        let reference = SchemaRef::ConfluentId(3);
        let expire = || {
            if let Some(Entry::Failed(_, at)) =
                registry.inner.entries.lock().unwrap().get_mut(&reference)
            {
                *at -= RETRY_AFTER;
            }
        };
        for says in ["no schema for you", "not yet either"] {
            let gets = (0..3).map(|_| registry.get(reference));
            for result in futures_util::future::join_all(gets).await {
                assert_eq!(
                    result.unwrap_err().to_string(),
                    format!("the schema source panicked fetching {reference}: {says}")
                );
            }
            expire();
        }
        registry.get(reference).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// Never answers.
    struct Silent;

    impl SchemaSource for Silent {
        fn describe(&self) -> String {
            "silent test registry".into()
        }
        fn fetch(&self, _: SchemaRef) -> SourceFuture {
            Box::pin(std::future::pending())
        }
    }

    /// A fetch that hangs ends after FETCH_TIMEOUT as a failure like any other (remembered, then
    /// tried again), instead of staying the cached fetch every later record waits on.
    #[tokio::test(start_paused = true)]
    async fn a_hung_fetch_times_out() {
        let registry = SchemaRegistry::new(Silent);
        let reference = SchemaRef::ConfluentId(9);
        let started = tokio::time::Instant::now();
        let error = registry.get(reference).await.unwrap_err();
        assert_eq!(started.elapsed(), FETCH_TIMEOUT);
        assert_eq!(
            error.to_string(),
            format!("silent test registry did not answer within 10 s for {reference}")
        );
        assert!(matches!(
            registry.inner.entries.lock().unwrap().get(&reference),
            Some(Entry::Failed(..))
        ));
    }
}
