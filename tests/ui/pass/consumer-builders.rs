//! Pass case: `Consumer::new` and `Consumer::with_state` take fn items and closures, the
//! parameter types of closures inferred from the consumer's record type once it is known.
#![deny(warnings, unused_qualifications, dead_code, missing_docs)]

use msk_lambda::{Consumer, Record};

struct Store {
    prefix: String,
}

async fn init() -> Result<Store, msk_lambda::Error> {
    Ok(Store { prefix: "o-".to_owned() })
}

async fn stateless(record: Record<String>) -> Result<(), msk_lambda::Error> {
    let _ = record.value().len();
    Ok(())
}

async fn stateful(record: Record<String>, store: &Store) -> Result<(), msk_lambda::Error> {
    let _ = record.value().starts_with(&store.prefix);
    Ok(())
}

/// The consumers of fn items and of closures, typed and untyped parameters alike.
fn main() {
    let _: Consumer<_, (), String, ()> = Consumer::new(stateless);
    let _: Consumer<_, Store, String, ()> = Consumer::with_state(init, stateful);
    let _ = Consumer::new(async |record: Record<String>| {
        let _ = record.value().len();
        Ok::<(), msk_lambda::Error>(())
    });
    let _ = Consumer::<_, (), String, ()>::new(async |record| {
        let _ = record.value().len();
        Ok::<(), msk_lambda::Error>(())
    });
    let _ = Consumer::<_, Store, String, ()>::with_state(init, async |record, store| {
        let _ = record.value().starts_with(&store.prefix);
        Ok::<(), msk_lambda::Error>(())
    });
    let _ = Consumer::with_state(init, async |record: Record<String>, store: &Store| {
        let _ = record.value().starts_with(&store.prefix);
        Ok::<(), String>(())
    });
}
