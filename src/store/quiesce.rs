//! Process exit waits for the connections the pool is still opening.
//!
//! r2d2 opens replacement connections on its own worker threads and never joins them. A
//! PostgreSQL connect that is still in libpq's TLS handshake when `main` returns races the
//! C libraries' exit handlers (OpenSSL's cleanup, GnuTLS's destructor) and the process dies
//! by SIGSEGV or SIGABRT *after* its command succeeded — a script sees a crash where the
//! work was done. [`quiesce`] closes the door on new connects and waits for those in flight.
//! It takes nothing from the pool and never cancels a connect; it only delays exit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static OPENING: AtomicUsize = AtomicUsize::new(0);
static CLOSING: AtomicBool = AtomicBool::new(false);

/// Held while one connection is being opened; `None` once the process is exiting.
pub(super) struct Opening(());

impl Opening {
    pub(super) fn begin() -> Option<Opening> {
        // Count first, then look at the flag (both SeqCst): either quiesce sees this count,
        // or this connect sees the flag and gives up. Neither order lets one slip past.
        OPENING.fetch_add(1, Ordering::SeqCst);
        if CLOSING.load(Ordering::SeqCst) {
            OPENING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Opening(()))
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        OPENING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refuses new connects and waits up to `limit` for the ones in flight; returns how many
/// were still opening when the limit ran out (0 when exit is safe).
pub fn quiesce(limit: Duration) -> usize {
    CLOSING.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + limit;
    loop {
        let n = OPENING.load(Ordering::SeqCst);
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
