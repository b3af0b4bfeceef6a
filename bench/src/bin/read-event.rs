//! A process that reads an event file and does nothing else: the floor under a whole-process
//! time, which `bench/run` measures beside `baseline-consumer` and `user-events` (process
//! start, reading the event, exit).
//!
//! - `read-event EVENT.json`: as `baseline-consumer` reads it, one `std::fs::read` into new
//!   heap memory.
//! - `read-event EVENT.json --huge`: as `user-events` reads a large event (msk-lambda's
//!   `event_memory.rs`), into an anonymous mapping of whole 2 MiB units advised for transparent
//!   huge pages, which on this project's Firecracker VM takes about half as long.

use std::io::Read;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: read-event EVENT.json [--huge]");
    let huge = match args.next().as_deref() {
        None => false,
        Some("--huge") => true,
        Some(other) => panic!("unknown argument {other:?}; usage: read-event EVENT.json [--huge]"),
    };
    let heap;
    let mapped;
    let event: &[u8] = if huge {
        mapped = read_into_huge_pages(&path);
        &mapped.0[..mapped.1]
    } else {
        heap = std::fs::read(&path).expect("the event file is readable");
        &heap
    };
    // Every page looked at, so that nothing of the read can be left out.
    let sum = event.iter().step_by(4096).fold(0u64, |acc, &b| acc + u64::from(b));
    println!("{} bytes ({sum})", event.len());
}

/// The file read into a mapping rounded up to whole huge pages, and the length read.
fn read_into_huge_pages(path: &str) -> (memmap2::MmapMut, usize) {
    const HUGE_PAGE: usize = 2 << 20;
    let mut file = std::fs::File::open(path).expect("the event file is readable");
    let size = file.metadata().expect("the event file has a size").len() as usize;
    let mut map = memmap2::MmapOptions::new()
        .len((size + 1).div_ceil(HUGE_PAGE) * HUGE_PAGE)
        .map_anon()
        .expect("an anonymous mapping");
    // Only advice, as in msk-lambda: refused, the mapping keeps 4 KiB pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    let mut len = 0;
    loop {
        match file.read(&mut map[len..]).expect("the event file is readable") {
            0 => return (map, len),
            n => len += n,
        }
    }
}
