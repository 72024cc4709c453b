//! The publishing token's variable, taken out of the runner's environment. A process's initial
//! environment stays readable as `/proc/PID/environ` for as long as it lives, so a build step
//! that finds the runner there would find the token. The token is read into memory once, its
//! bytes in the environment block are overwritten, and from then on it is only in memory.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::Mutex;

/// Variables taken so far, by name, with their value (`None`: it was not set).
static TAKEN: Mutex<BTreeMap<String, Option<String>>> = Mutex::new(BTreeMap::new());

unsafe extern "C" {
    static mut environ: *const *mut libc::c_char;
}

/// The value of the secret variable `name`, taken out of the environment on the first call: its
/// bytes in the environment block are zeroed (so `/proc/PID/environ` no longer shows it and
/// child processes cannot inherit it), and later calls return the remembered value.
pub fn take_env(name: &str) -> Option<String> {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(value) = taken.get(name) {
        return value.clone();
    }
    let value = std::env::var(name).ok();
    if value.is_some() {
        scrub(name);
    }
    taken.insert(name.to_string(), value.clone());
    value
}

/// Whether `name` was taken as a secret: it must not be passed on to any other process.
pub fn is_secret(name: &str) -> bool {
    TAKEN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(name)
}

/// Overwrites the value of every `name=` entry of the environment with NUL bytes, in place.
fn scrub(name: &str) {
    let prefix = format!("{name}=");
    // SAFETY: `environ` is the C library's NUL-terminated array of pointers to NUL-terminated
    // strings. Each value is overwritten within its own length, so every string stays
    // terminated; the array itself is not changed. The lock above keeps two scrubs apart; a
    // concurrent reader of this variable sees a shorter value, never freed memory.
    unsafe {
        let mut entry = environ;
        if entry.is_null() {
            return;
        }
        while !(*entry).is_null() {
            let text = CStr::from_ptr(*entry).to_bytes();
            if text.starts_with(prefix.as_bytes()) {
                let value = (*entry).add(prefix.len());
                let len = text.len() - prefix.len();
                std::ptr::write_bytes(value, 0, len);
            }
            entry = entry.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_variable_is_remembered_and_gone_from_the_environment() {
        let name = "EMBARGO_TEST_SECRET_TAKEN";
        // SAFETY: only this test uses this variable.
        unsafe { std::env::set_var(name, "s3cr3t-value") };
        assert_eq!(take_env(name).as_deref(), Some("s3cr3t-value"));
        assert_eq!(take_env(name).as_deref(), Some("s3cr3t-value"));
        assert!(is_secret(name));
        assert!(!std::env::var(name).unwrap_or_default().contains("s3cr3t"));
        assert_eq!(take_env("EMBARGO_TEST_SECRET_UNSET"), None);
    }
}
