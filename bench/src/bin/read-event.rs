//! A process that reads an event file as `baseline-consumer` does (one `std::fs::read`, into
//! new heap memory) and does nothing else: the floor under the baseline's whole-process time,
//! which `bench/run` measures beside it (process start, reading the event, exit). `user-events`
//! reads a large event into memory advised for huge pages instead (msk-lambda's
//! `event_memory.rs`), which on this project's Firecracker VM takes about half as long.

fn main() {
    let path = std::env::args().nth(1).expect("usage: read-event EVENT.json");
    let event = std::fs::read(&path).expect("the event file is readable");
    // Every page looked at, so that nothing of the read can be left out.
    let sum = event.iter().step_by(4096).fold(0u64, |acc, &b| acc + u64::from(b));
    println!("{} bytes ({sum})", event.len());
}
