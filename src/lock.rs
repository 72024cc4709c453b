//! One runner per release at a time: an exclusive `flock` on `<state>/lock`, which the kernel
//! releases when the holder exits, however it exits. A lock left by a killed runner is therefore
//! never in the way; the file's text (who held it) is only for the message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::Error;

/// Held while the value lives.
pub struct ReleaseLock {
    _file: File,
}

/// Takes the release's lock, or says who holds it (`Ok(Err(holder))`).
pub fn try_lock(state_dir: &Path, command: &str) -> Result<Result<ReleaseLock, String>, Error> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        Error::stage_failed(format!(
            "cannot create the state folder {}: {e}",
            state_dir.display()
        ))
    })?;
    let path = state_dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::stage_failed(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: flock(2) on a descriptor we own; it touches no memory of ours.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let text = text.trim();
        return Ok(Err(if text.is_empty() {
            "another embargo process".to_string()
        } else {
            text.to_string()
        }));
    }
    let me = format!(
        "`embargo {command}` (pid {}) since {}",
        std::process::id(),
        crate::journal::now()
    );
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(me.as_bytes());
    let _ = file.sync_data();
    Ok(Ok(ReleaseLock { _file: file }))
}

/// Takes the lock or fails with a message naming the holder.
pub fn lock(state_dir: &Path, command: &str) -> Result<ReleaseLock, Error> {
    try_lock(state_dir, command)?.map_err(|holder| {
        let error = Error::bad_input(format!(
            "another runner is working on this release: {holder} holds {}",
            state_dir.join("lock").display()
        ));
        // Waiting for a publish to finish would publish the release this command was to move
        // or take back.
        if holder.starts_with("`embargo publish") && matches!(command, "reschedule" | "abort") {
            error.with_hint(format!(
                "a publish waiting for the instant publishes then: to {command} the release, stop that publish first (Ctrl-C in its terminal, or cancel its job), then run this again"
            ))
        } else {
            error.with_hint(
                "wait for it to finish; a runner that was killed releases the lock by itself",
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path(), "run").unwrap();
        let second = try_lock(dir.path(), "publish").unwrap();
        let holder = second.err().unwrap();
        assert!(holder.contains("`embargo run`"), "{holder}");
        assert!(holder.contains(&format!("pid {}", std::process::id())));
        drop(first);
        // A child process forked by another test at this moment shares the descriptor until it
        // execs (descriptors are close-on-exec): the lock is free within moments, not always at
        // once.
        let freed = (0..100).any(|_| {
            lock(dir.path(), "publish").is_ok() || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        assert!(freed, "the lock was not freed on drop");
    }

    #[test]
    fn a_reschedule_refused_by_a_waiting_publish_is_told_to_stop_it_not_to_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _publishing = lock(dir.path(), "publish").unwrap();
        let Err(refused) = lock(dir.path(), "reschedule") else {
            panic!("the lock was taken twice");
        };
        let hint = refused.hint.unwrap_or_default();
        assert!(hint.contains("stop that publish first"), "{hint}");
        assert!(!hint.contains("wait for it to finish"), "{hint}");
    }
}
