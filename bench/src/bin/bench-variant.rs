//! Runs one variant over an event file `TIMES` times, for instruction counting under
//! `valgrind --tool=callgrind` (deterministic where wall time on a shared machine is not):
//! `bench-variant msk-lambda|serde-only|baseline|floor EVENT.json TIMES`; `serde-only` is
//! msk-lambda with its fast event parser switched off (serde_json into the borrowed wire types). `bench/run` runs it with TIMES
//! of 0 and of N and reports the difference divided by N.

use msk_lambda_bench::{baseline, floor, framework};

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-variant msk-lambda|serde-only|baseline|floor EVENT.json TIMES";
    let variant = args.next().expect(usage);
    let event = std::fs::read(args.next().expect(usage)).expect("the event file is readable");
    let times: usize = args.next().expect(usage).parse().expect(usage);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let values = floor::values(&event);
    msk_lambda::__differential::use_fast_parser(variant != "serde-only");
    let mut sink = 0usize;
    for _ in 0..times {
        sink += match variant.as_str() {
            "msk-lambda" | "serde-only" => framework::process(&runtime, &event).len(),
            "baseline" => baseline::process(&event).len(),
            "floor" => floor::process(&event, &values),
            other => panic!("unknown variant {other}; {usage}"),
        };
    }
    std::hint::black_box(sink);
}
