//! The allocator of the `portcullis` binary, and the one setting it needs.
//!
//! mimalloc, because table rebuilds allocate heavily and glibc's free path cost about 40% of a
//! rebuild in profiles. Its default keeps freed pages for a while (the purge delay) and only
//! checks that delay when the owning thread next calls the allocator; a thread that goes
//! idle after a burst (a watch that just decoded 10,000 objects, the reconciler after the
//! first full table) never hands its empty pages back. At 10,000 Ingresses from the API that
//! was 20–30 MB of resident memory holding nothing. [`return_freed_memory_promptly`] sets the
//! delay to zero: the `free` that empties a page range returns it to the OS.
//!
//! This is the workspace's only unsafe code: one call into mimalloc's C API.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mimalloc.h` (the 16th entry of `mi_option_e`, both in
/// mimalloc 2 and 3). The `-sys` crate does not name it; a test checks the number against
/// the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes freed memory go back to the OS as soon as a page range is empty, instead of when its
/// thread next allocates. Call once, first thing in `main`. An operator's own
/// `MIMALLOC_PURGE_DELAY` wins.
pub fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` takes two integers, touches no caller memory and may be called
    // at any time (mimalloc reads options atomically); 15 is `mi_option_purge_delay`, checked
    // by the test below.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// The current purge delay in milliseconds, to check the setting.
pub fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` takes an integer and only reads mimalloc's option table.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_number_is_the_purge_delay_and_setting_it_takes_effect() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // The operator's setting wins; nothing to check.
        }
        // mimalloc 3's default (options.c); another option at index 15 would differ.
        assert_eq!(purge_delay_ms(), 1000);
        return_freed_memory_promptly();
        assert_eq!(purge_delay_ms(), 0);
    }
}
