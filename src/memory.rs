//! How credprobe's process hands memory back to the system, in one place:
//! glibc's allocator keeps one arena per thread that ever allocated (up to
//! eight per core), and keeps freed memory in them. A daemon whose blocking
//! pool grows a thread (a scrape's render, a file re-read) then steps up in
//! RSS for good: the issue "memory steps with threads" measured +20 % the
//! moment a seventh thread appeared. Two arenas (one per core of the
//! machines credprobe is sized for) bound that, and a trim after a large
//! render returns what it freed.

/// glibc arenas credprobe's threads share (`M_ARENA_MAX`).
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`]; call before any thread
/// starts. `MALLOC_ARENA_MAX` in the environment still wins (glibc reads it
/// at the first allocation, and this leaves an explicit setting alone).
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator tunable; called before
        // other threads exist, it races with no allocation.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Hands memory freed after a large render back to the system: glibc keeps
/// freed heap in its arenas, so one scrape of a big fleet would otherwise
/// leave the process at its peak size for good. Called after a render (its
/// scratch) and when the body has been sent.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it has no
    // preconditions and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
