//! A process that reads an event file as `user-events` and `baseline-consumer` both do (one
//! `std::fs::read`) and does nothing else: the floor under both whole-process times, which
//! `bench/run` measures beside them (process start, reading the event into fresh memory, exit).

fn main() {
    let path = std::env::args().nth(1).expect("usage: read-event EVENT.json");
    let event = std::fs::read(&path).expect("the event file is readable");
    // Every page looked at, so that nothing of the read can be left out.
    let sum = event.iter().step_by(4096).fold(0u64, |acc, &b| acc + u64::from(b));
    println!("{} bytes ({sum})", event.len());
}
