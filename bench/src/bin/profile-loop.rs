//! Processes an event file many times through msk-lambda, for `perf record`.

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: profile-loop EVENT.json [TIMES]");
    let times: usize = args.next().map_or(100, |t| t.parse().expect("a count"));
    let event = std::fs::read(&path).expect("the event file is readable");
    if std::env::var_os("IGNORED_ONLY").is_some() {
        for _ in 0..times {
            let _: serde::de::IgnoredAny =
                serde_json::from_slice(std::hint::black_box(&event)).unwrap();
        }
        return;
    }
    if std::env::var_os("FAST_ONLY").is_some() {
        for _ in 0..times {
            std::hint::black_box(msk_lambda::__private::fast_parser_takes(std::hint::black_box(
                &event,
            )));
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..times {
        bytes += msk_lambda_bench::framework::process(&runtime, &event).len();
    }
    let per = started.elapsed() / times as u32;
    eprintln!("{times} runs, {per:?} per run ({bytes} response bytes)");
    if std::env::var_os("PHASES").is_some() {
        phases(&event, times);
    }
}

/// Times the envelope parse alone against serde_json's `IgnoredAny` pass.
#[allow(dead_code)]
fn phases(event: &[u8], times: usize) {
    eprintln!("fast parser takes it: {}", msk_lambda::__private::fast_parser_takes(event));
    let t = std::time::Instant::now();
    for _ in 0..times {
        std::hint::black_box(msk_lambda::__private::parse_envelope(event).unwrap());
    }
    eprintln!("envelope parse: {:?}", t.elapsed() / times as u32);
    let t = std::time::Instant::now();
    for _ in 0..times {
        let _: serde::de::IgnoredAny = serde_json::from_slice(std::hint::black_box(event)).unwrap();
    }
    eprintln!("IgnoredAny pass: {:?}", t.elapsed() / times as u32);
    let t = std::time::Instant::now();
    for _ in 0..times {
        std::hint::black_box(msk_lambda::__private::fast_parser_takes(std::hint::black_box(event)));
    }
    eprintln!("fast parser alone: {:?}", t.elapsed() / times as u32);
}
