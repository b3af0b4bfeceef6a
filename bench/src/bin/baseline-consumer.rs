//! A process doing the hand-written baseline's work on an event file, printing the response:
//! what `user-events` is compared with as a whole process.

fn main() {
    let path = std::env::args().nth(1).expect("usage: baseline-consumer EVENT.json");
    let event = std::fs::read(&path).expect("the event file is readable");
    let response = msk_lambda_bench::baseline::process(&event);
    println!("{}", String::from_utf8(response).expect("JSON is UTF-8"));
}
