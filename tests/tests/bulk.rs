//! Bulk handlers, case by case: what is handed over and how each record ends.

use std::sync::Mutex;

use msk_lambda::{Batch, BatchError, Consumer, FailureKind, FailurePolicy, Json, Outcome};

#[derive(serde::Deserialize)]
struct Row {
    n: i64,
}

/// One partition `t-0`, offsets 10.., with these values (base64 of the given text).
fn event(values: &[&str]) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                r#"{{"topic":"t","partition":0,"offset":{},"timestamp":0,"timestampType":"CREATE_TIME","value":"{}"}}"#,
                10 + i,
                b64.encode(v)
            )
        })
        .collect();
    format!(r#"{{"eventSource":"aws:kafka","records":{{"t-0":[{}]}}}}"#, records.join(","))
        .into_bytes()
}

fn outcomes(report: &msk_lambda::BatchReport) -> Vec<(i64, Option<FailureKind>, bool)> {
    report.partitions[0]
        .outcomes
        .iter()
        .map(|(o, outcome)| match outcome {
            Outcome::Failed(f) => (*o, Some(f.kind), false),
            Outcome::Succeeded => (*o, None, true),
            _ => (*o, None, false),
        })
        .collect()
}

#[tokio::test]
async fn failed_records_by_offset_and_the_rest_succeeds_under_continue() {
    let handed = Mutex::new(Vec::new());
    let handler = async |batch: Batch<Json<Row>>| -> Result<(), BatchError> {
        handed.lock().unwrap().extend(batch.iter().map(|r| r.offset()));
        let failed = batch.iter().filter(|r| r.value().n < 0).map(|r| (r.offset(), "negative"));
        BatchError::records(failed).into_result()
    };
    let consumer = Consumer::bulk(handler).failure_policy(FailurePolicy::Continue);
    let values = [r#"{"n":1}"#, r#"{"n":-1}"#, "not json", r#"{"n":2}"#, r#"{"n":-2}"#];
    let report =
        consumer.process(&event(&values), msk_lambda::InvocationContext::local()).await.unwrap();
    // The undecodable record is not handed over; the others are, in offset order.
    assert_eq!(*handed.lock().unwrap(), [10, 11, 13, 14]);
    assert_eq!(
        outcomes(&report),
        [
            (10, None, true),
            (11, Some(FailureKind::Handler), false),
            (12, Some(FailureKind::Decode), false),
            (13, None, true),
            (14, Some(FailureKind::Handler), false),
        ]
    );
    assert_eq!(
        report.response().to_json(),
        concat!(
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":11}},"#,
            r#"{"itemIdentifier":{"partition":"t-0","offset":12}},"#,
            r#"{"itemIdentifier":{"partition":"t-0","offset":14}}]}"#
        )
    );
}

#[tokio::test]
async fn under_the_default_policy_nothing_after_the_first_failure_is_handed_or_succeeds() {
    let handed = Mutex::new(Vec::new());
    let handler = async |batch: Batch<Json<Row>>| -> Result<(), BatchError> {
        handed.lock().unwrap().extend(batch.iter().map(|r| r.offset()));
        Err(BatchError::none().record(11, "bad row").record(99, "not in the batch"))
    };
    let consumer = Consumer::bulk(handler);
    let values = [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#, "not json", r#"{"n":4}"#];
    let report =
        consumer.process(&event(&values), msk_lambda::InvocationContext::local()).await.unwrap();
    assert_eq!(*handed.lock().unwrap(), [10, 11, 12]);
    let skipped =
        |o| report.partitions[0].outcomes.iter().any(|(x, s)| *x == o && *s == Outcome::Skipped);
    assert_eq!(outcomes(&report)[..2], [(10, None, true), (11, Some(FailureKind::Handler), false)]);
    assert!(skipped(12) && skipped(13) && skipped(14), "{report:?}");
}

#[tokio::test]
async fn an_error_with_question_mark_fails_every_record_and_a_panic_too() {
    async fn write(_: usize) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("connection reset"))
    }
    let handler = async |batch: Batch<Json<Row>>| -> Result<(), BatchError> {
        write(batch.len()).await?;
        Ok(())
    };
    let consumer = Consumer::bulk(handler).failure_policy(FailurePolicy::Continue);
    let report = consumer
        .process(&event(&[r#"{"n":1}"#, r#"{"n":2}"#]), msk_lambda::InvocationContext::local())
        .await
        .unwrap();
    for (_, outcome) in &report.partitions[0].outcomes {
        let Outcome::Failed(f) = outcome else { panic!("{outcome:?}") };
        assert_eq!((f.kind, f.message.as_str()), (FailureKind::Handler, "connection reset"));
    }

    let panics = async |_: Batch<Json<Row>>| -> Result<(), BatchError> { panic!("bulk panic") };
    let consumer = Consumer::bulk(panics);
    let report = consumer
        .process(&event(&[r#"{"n":1}"#, r#"{"n":2}"#]), msk_lambda::InvocationContext::local())
        .await
        .unwrap();
    assert!(
        matches!(&report.partitions[0].outcomes[0].1, Outcome::Failed(f) if f.kind == FailureKind::Panic)
    );
    assert_eq!(report.partitions[0].outcomes[1].1, Outcome::Skipped);
}

/// An `Err` never turns into success: one naming no record, and one naming only offsets that
/// were not in the batch (a list index instead of an offset), fail every record handed over.
#[tokio::test]
async fn an_error_naming_no_record_of_the_batch_fails_them_all() {
    let values = [r#"{"n":1}"#, r#"{"n":2}"#];
    let empty = async |_: Batch<Json<Row>>| -> Result<(), BatchError> { Err(BatchError::none()) };
    let by_index = async |batch: Batch<Json<Row>>| -> Result<(), BatchError> {
        Err(BatchError::none().record(batch.len() as i64 - 1, "row rejected"))
    };
    for (report, says) in [
        (
            Consumer::bulk(empty)
                .failure_policy(FailurePolicy::Continue)
                .process(&event(&values), msk_lambda::InvocationContext::local())
                .await
                .unwrap(),
            "the bulk handler returned an error naming no record (BatchError::none() with none added): every record it was handed fails",
        ),
        (
            Consumer::bulk(by_index)
                .failure_policy(FailurePolicy::Continue)
                .process(&event(&values), msk_lambda::InvocationContext::local())
                .await
                .unwrap(),
            "the bulk handler failed only offsets that were not in its batch (1): every record it was handed fails; first: row rejected",
        ),
    ] {
        for (_, outcome) in &report.partitions[0].outcomes {
            let Outcome::Failed(f) = outcome else { panic!("{outcome:?}") };
            assert_eq!((f.kind, f.message.as_str()), (FailureKind::Handler, says));
        }
        assert_eq!(
            report.response().to_json(),
            concat!(
                r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":10}},"#,
                r#"{"itemIdentifier":{"partition":"t-0","offset":11}}]}"#
            )
        );
    }
}

/// A handler that names list indexes for a whole large batch (none of them offsets of its
/// batch): every record fails with one short message, not a list of every name (under
/// `continue`, each of 10,000 records used to carry all 10,000 names: quadratic memory).
#[tokio::test]
async fn a_long_list_of_foreign_offsets_is_named_briefly() {
    let values: Vec<String> = (0..200).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let by_index = async |batch: Batch<Json<Row>>| -> Result<(), BatchError> {
        let mut error = BatchError::none();
        for i in 0..batch.len() {
            error = error.record(1000 + i as i64, "row rejected");
        }
        Err(error)
    };
    let report = Consumer::bulk(by_index)
        .failure_policy(FailurePolicy::Continue)
        .process(&event(&values), msk_lambda::InvocationContext::local())
        .await
        .unwrap();
    let outcomes = &report.partitions[0].outcomes;
    assert_eq!(outcomes.len(), 200);
    for (_, outcome) in outcomes {
        let Outcome::Failed(f) = outcome else { panic!("{outcome:?}") };
        assert_eq!(
            f.message,
            "the bulk handler failed only offsets that were not in its batch (1000, 1001, 1002, 1003, 1004, and 195 more): every record it was handed fails; first: row rejected"
        );
    }
}

/// Values whose destructors panic (user code): a batch of them dropped by the handler does not
/// abort the process, as a `Vec` of them would (a second panic while the first unwinds).
#[tokio::test]
async fn destructors_that_panic_in_a_batch_do_not_abort() {
    #[derive(serde::Deserialize)]
    struct Bomb {
        #[allow(dead_code)]
        n: i64,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a destructor that panics");
        }
    }
    let dropped = async |batch: Batch<Json<Bomb>>| -> Result<(), BatchError> {
        assert_eq!(batch.len(), 3);
        Ok(())
    };
    let report = Consumer::bulk(dropped)
        .process(
            &event(&[r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]),
            msk_lambda::InvocationContext::local(),
        )
        .await
        .unwrap();
    // The handler finished its work; the records are done.
    assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[]}"#);
}
