//! The allocator of the `portcullis` binary, and the one call into it that Rust has no word for.
//!
//! mimalloc, because table rebuilds allocate heavily and glibc's free path cost about 40% of a
//! rebuild in profiles. Built without transparent huge pages (the `no_thp` feature): with them
//! every 2 MiB region the allocator touched became resident whole, about 10 MB at start and far
//! more at 10,000 Ingresses.
//!
//! mimalloc keeps freed memory for a while (its purge delay) and only checks that delay when
//! some thread next calls the allocator. After a burst (watches that just decoded 10,000
//! objects, the first full table) the process goes quiet and the empty pages stay resident:
//! about 40 MB at 10,000 Ingresses. [`release_free_memory`] hands them back at once. It is
//! meant for after such a burst, not for the request path: a purge delay of zero, the other
//! way to get there, made the proxy's keep-alive throughput about 20% lower.
//!
//! This is the workspace's only unsafe code: one call into mimalloc's C API.

use std::time::{Duration, Instant};

pub use mimalloc::MiMalloc;

/// Returns every free page mimalloc holds to the OS now, across all threads.
pub fn release_free_memory() {
    // SAFETY: `mi_collect` takes a bool, touches no caller memory and may be called from any
    // thread at any time; mimalloc synchronizes its own arenas.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// Calls [`release_free_memory`] after bursts, at most once per interval, so a stream of small
/// changes does not pay for a collection each.
#[derive(Debug)]
pub struct FreeMemoryReleaser {
    interval: Duration,
    last: Option<Instant>,
}

impl FreeMemoryReleaser {
    /// A releaser that releases at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        FreeMemoryReleaser {
            interval,
            last: None,
        }
    }

    /// Releases free memory unless that was done less than the interval ago. Returns whether
    /// it released.
    pub fn after_burst(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return false;
        }
        self.last = Some(now);
        release_free_memory();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_at_most_once_per_interval() {
        let mut releaser = FreeMemoryReleaser::new(Duration::from_millis(200));
        assert!(releaser.after_burst(), "the first burst always releases");
        assert!(!releaser.after_burst(), "too soon");
        std::thread::sleep(Duration::from_millis(250));
        assert!(releaser.after_burst());
    }
}
