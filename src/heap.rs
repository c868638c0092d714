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
