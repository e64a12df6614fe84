//! The allocator: mimalloc instead of glibc's, for every binary that links rebound.
//!
//! Parsing a bounce makes a few hundred small allocations, and glibc's malloc/free were an
//! eighth of all parse instructions (callgrind on `parse_loop`); mimalloc's are a fraction
//! of that. Left at its defaults mimalloc keeps freed memory committed for a while and
//! commits whole arenas up front, which more than doubled the resident size of a long
//! import (43 → 96 MiB); [`tune`] makes it return memory at once and commit on demand
//! (45 MiB, and no slower).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option numbers (`mi_option_e` in c_src/mimalloc/v3/include/mimalloc.h of
/// libmimalloc-sys 0.1.49, which names only some of them). Cargo.toml pins the version:
/// bump it only after checking these numbers against the new header.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Purge freed memory immediately and commit arena memory on demand. Call first in `main`.
pub fn tune() {
    // SAFETY: setting an option is a plain store mimalloc reads when it next decides; valid
    // at any time, from any thread.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// For a short batch job that frees and allocates the same sizes over and over (`rebound
/// parse` over a folder or an mbox): keep freed memory for reuse instead of purging it at
/// once. Purged pages come back zero-filled by the kernel on the next allocation, and that
/// zeroing was a third of all cycles of `rebound parse --json` over the corpus ×10 (perf);
/// the job's resident size stays its peak working set (a batch of messages), never growing
/// with the input.
///
/// Transparent huge pages are turned off for the same job: each first touch of a 2 MiB page
/// has the kernel zero all of it, and a short job touches many pages once. With them on,
/// `rebound parse --json` over the corpus ×10 took about a sixth more CPU time and twice the
/// resident memory (75 against 36 MiB; `perf stat -r 5`, `MIMALLOC_ALLOW_THP=0|1`).
pub fn keep_freed() {
    // SAFETY: as in `tune`. A negative delay is mimalloc's "never purge".
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ALLOW_THP, 0);
    }
    // mimalloc reads its THP option when it maps new memory, but its first arena was mapped
    // (and advised huge) before `main`: the process-wide switch covers that one too.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
