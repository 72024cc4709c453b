//! A few transfers at a time: many small assets cost their transfers, not a round trip each in
//! turn, and a bound keeps GitHub's limit on concurrent requests (its secondary rate limit) out
//! of reach.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::Error;

/// How many uploads or downloads run at once.
pub const TRANSFERS_AT_ONCE: usize = 4;

/// Runs `job` on every item, at most `at_once` at a time, and returns the results in the items'
/// order. After the first failure no new item is started (those running finish), and the first
/// failure in the items' order is returned.
pub fn each<T, R, F>(items: &[T], at_once: usize, job: F) -> Result<Vec<R>, Error>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R, Error> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, Error>>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..at_once.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else {
                        break;
                    };
                    let result = job(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    // Items are handed out in order, so every item not started comes after every one that was,
    // the failed one included: the first failure is met before the first empty slot.
    let mut results = Vec::with_capacity(items.len());
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(result)) => results.push(result),
            Some(Err(e)) => return Err(e),
            None => return Err(Error::stage_failed("a transfer was not started")),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn keeps_the_order_and_the_bound() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let items: Vec<usize> = (0..20).collect();
        let out = each(&items, 4, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 4);
        assert!(
            most.load(Ordering::SeqCst) > 1,
            "nothing ran at the same time"
        );
    }

    #[test]
    fn stops_starting_new_items_after_a_failure_and_returns_it() {
        let started = AtomicUsize::new(0);
        let items: Vec<usize> = (0..100).collect();
        let out = each(&items, 2, |&i| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 3 {
                Err(Error::stage_failed("item 3 failed"))
            } else {
                Ok(i)
            }
        });
        assert!(out.unwrap_err().to_string().contains("item 3 failed"));
        assert!(started.load(Ordering::SeqCst) < 100);
    }
}
