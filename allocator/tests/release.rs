//! With mimalloc as the allocator, memory freed by a thread that then goes idle stays resident
//! until [`release_free_memory`] hands it back.

#![allow(clippy::unwrap_used, missing_docs)] // Test: a panic is the failure report.

use portcullis_allocator::{MiMalloc, release_free_memory};

#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn memory_a_finished_burst_freed_goes_back_to_the_os() {
    let before = rss_kib();
    // A burst on another thread: 200k small strings, all freed, then the thread is idle.
    let (done, wait) = std::sync::mpsc::channel();
    let (stop, idle) = std::sync::mpsc::channel::<()>();
    let burst = std::thread::spawn(move || {
        let strings: Vec<String> = (0..200_000).map(|i| format!("object-{i:0>200}")).collect();
        drop(strings);
        done.send(()).unwrap();
        let _ = idle.recv();
    });
    wait.recv().unwrap();
    let after_burst = rss_kib();
    assert!(
        after_burst > before + 20_000,
        "the burst should have grown RSS by its ~45 MB: {before} -> {after_burst} KiB"
    );
    release_free_memory();
    let released = rss_kib();
    stop.send(()).unwrap();
    burst.join().unwrap();
    assert!(
        released < before + 10_000,
        "released memory should leave RSS near where it started: {before} -> {after_burst} -> {released} KiB"
    );
}
