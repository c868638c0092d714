//! Returning freed heap to the operating system after start-up. A batched history backfill
//! parses megabytes of JSON per range query; glibc keeps what was freed in its arenas, so
//! without this the resident memory stays at the start-up peak for the life of the process
//! (hundreds of MiB at thousands of targets) although the heap in use is far smaller.

/// Give the pages of freed heap back to the OS (glibc's `malloc_trim`); a no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Allocations above this many bytes get pages of their own, returned to the OS when freed.
const OWN_PAGES_ABOVE: i32 = 256 * 1024;

/// Keep large buffers (a `/metrics` page of tens of MB, a batched query's JSON) out of the
/// heap for good. glibc raises its threshold for giving an allocation pages of its own to the
/// size of the last such allocation freed (up to 32 MB), and its threshold for trimming the
/// heap to twice that: after the first large page, every later one is carved from the heap
/// and its memory stays resident once freed. A fixed threshold turns that off. A no-op off
/// glibc.
pub fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_PAGES_ABOVE);
    }
}
