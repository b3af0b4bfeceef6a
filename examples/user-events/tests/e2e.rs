//! The user-events binary under cargo-lambda's Runtime API emulator, on the sample event and
//! on the 10,000-record (~6 MB) event from gen_event.py.

use std::path::Path;

use msk_lambda_tests::emulator::Emulator;
use msk_lambda_tests::read_fixture;

#[test]
fn sample_and_ten_thousand_records_under_the_emulator() {
    let emulator = Emulator::start();
    let binary = Path::new(env!("CARGO_BIN_EXE_user-events"));
    let function = emulator.function(binary, &[("MSK_LAMBDA_METRICS", "on")]);

    let sample =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("events/sample.json")).unwrap();
    assert_eq!(
        emulator.invoke(&sample).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"user-events-0","offset":102}},{"itemIdentifier":{"partition":"user-events-0","offset":103}},{"itemIdentifier":{"partition":"user-events-2","offset":40}},{"itemIdentifier":{"partition":"user-events-2","offset":41}}]}"#
    );

    let big = read_fixture("gen-10000.json");
    assert!(big.len() > 5_000_000);
    assert_eq!(emulator.invoke(&big).unwrap(), r#"{"batchItemFailures":[]}"#);

    let output = function.output();
    let emf: Vec<serde_json::Value> = output
        .lines()
        .filter(|l| l.starts_with("{\"") && l.contains("\"_aws\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(emf.len(), 2, "{output}");
    assert_eq!((&emf[1]["Records"], &emf[1]["RecordsSucceeded"]), (&10_000.into(), &10_000.into()));
}
