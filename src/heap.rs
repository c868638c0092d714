//! Keeping the resident memory near the heap in use. A batched history backfill parses
//! megabytes of JSON per range query, and every tick the shared queries' results; glibc
//! keeps what was freed in its arenas, so without this the resident memory stays at the
//! start-up peak for the life of the process (hundreds of MiB at thousands of targets)
//! although the heap in use is far smaller. So: one arena, large buffers on pages of their
//! own, and freed memory returned after the backfill and then every minute.

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

/// Arenas glibc may keep, unless `MALLOC_ARENA_MAX` says otherwise. By default it makes up
/// to eight per core, one for each thread that meets a locked arena, and each keeps its own
/// free memory: the tokio workers spread the start-up backfill's and each tick's short-lived
/// buffers over several arenas, whose freed memory stays resident in each. With one, the
/// start-up peak at 1,000 targets fell from 156 to 101 MiB (docs/deploy.md); the threads'
/// own caches (tcache) serve most small allocations without taking the arena's lock.
const ARENAS: i32 = 1;

/// Cap glibc's arenas at [`ARENAS`], unless the `MALLOC_ARENA_MAX` environment variable is
/// set (glibc reads it itself: an operator's choice wins). Call before any thread starts. A
/// no-op off glibc.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of the allocator, before any thread is started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// Return freed heap to the OS every `period`, for the life of the process: glibc gives back
/// only the free memory at the top of a heap by itself, and what a tick's buffers leave free
/// between long-lived allocations stays resident otherwise. The walk runs on the blocking
/// pool, never on a worker running ticks; its duration is logged at debug level.
pub async fn release_free_memory_every(period: std::time::Duration) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: start-up releases after its own backfill already.
    every.tick().await;
    loop {
        every.tick().await;
        let started = std::time::Instant::now();
        let _ = tokio::task::spawn_blocking(release_free_memory).await;
        tracing::debug!(
            took_ms = started.elapsed().as_secs_f64() * 1000.0,
            "freed heap returned to the OS"
        );
    }
}
