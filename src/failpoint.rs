//! Crash points for the tests that prove a rerun after a crash ends where an uninterrupted run
//! does. When the variable `EMBARGO_TEST_CRASH_AT` names a point, the process kills itself there
//! with SIGKILL, exactly as `kill -9` or a lost machine would: no destructor, no flush. Unset,
//! a point costs one environment lookup.

/// The variable that names the point to crash at.
pub const ENV: &str = "EMBARGO_TEST_CRASH_AT";

pub fn hit(point: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == point) {
        // SAFETY: kill(2) on our own pid; the process ends here.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
