//! The embargo instant: how it is written, and (with the publish stage) how it is waited for.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Parses `YYYY-MM-DD HH:MM UTC` (the form security announcements use) or RFC 3339 with an
/// explicit offset. A time without a zone is refused: an embargo must never depend on the
/// machine's local time zone.
pub fn parse_embargo(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Some(civil) = text.strip_suffix(" UTC") {
        let civil = civil.trim();
        let parsed = DateTime::strptime("%Y-%m-%d %H:%M", civil)
            .or_else(|_| DateTime::strptime("%Y-%m-%d %H:%M:%S", civil));
        return parsed
            .ok()
            .and_then(|dt| dt.to_zoned(TimeZone::UTC).ok())
            .map(|z| z.timestamp())
            .ok_or_else(|| malformed(text));
    }
    text.parse::<Timestamp>().map_err(|_| malformed(text))
}

fn malformed(text: &str) -> String {
    format!(
        "`{text}` is not an embargo time: write `YYYY-MM-DD HH:MM UTC` (like `2026-12-01 16:00 UTC`) \
         or RFC 3339 with an offset (like `2026-12-01T16:00:00Z`)"
    )
}

/// Whether `instant` is at most `window` from now (or already past).
pub fn within(instant: Timestamp, window: std::time::Duration) -> bool {
    let left = instant.as_millisecond() - Timestamp::now().as_millisecond();
    left <= window.as_millis().min(i64::MAX as u128) as i64
}

/// How far an instant is, in words: `in 2d 3h`, `in 4m 10s`, `5s ago`.
pub fn until(instant: Timestamp) -> String {
    let secs = instant.as_second() - Timestamp::now().as_second();
    let words = |secs: i64| {
        let (d, h, m, s) = (
            secs / 86400,
            (secs % 86400) / 3600,
            (secs % 3600) / 60,
            secs % 60,
        );
        if d > 0 {
            format!("{d}d {h}h")
        } else if h > 0 {
            format!("{h}h {m}m")
        } else if m > 0 {
            format!("{m}m {s}s")
        } else {
            format!("{s}s")
        }
    };
    if secs >= 0 {
        format!("in {}", words(secs))
    } else {
        format!("{} ago", words(-secs))
    }
}

/// Waits until the wall clock has passed `instant`, and GitHub's clock too: `skew` gives the
/// seconds GitHub's clock is ahead of ours (it is asked again as the instant nears).
///
/// It never trusts a sleep: the wall clock is read again after every wake, and no sleep is
/// longer than a second, so a machine that is suspended, or whose clock steps, can neither
/// publish early nor oversleep. `tick` is called with the time left, for a countdown.
pub fn wait_until(
    instant: Timestamp,
    mut skew: impl FnMut() -> Option<i64>,
    mut tick: impl FnMut(std::time::Duration, Option<i64>),
) {
    let mut known_skew = skew();
    let mut asked_again = false;
    loop {
        // GitHub behind us by d seconds: its clock reaches the instant d seconds after ours.
        let behind = known_skew.map(|s| (-s).max(0)).unwrap_or(0);
        let deadline = instant
            .checked_add(jiff::SignedDuration::from_secs(behind))
            .unwrap_or(instant);
        let now = Timestamp::now();
        if now >= deadline {
            return;
        }
        let left = now.duration_until(deadline);
        let left = std::time::Duration::try_from(left).unwrap_or_default();
        if !asked_again && left <= std::time::Duration::from_secs(15) {
            asked_again = true;
            known_skew = skew().or(known_skew);
            continue;
        }
        tick(left, known_skew);
        std::thread::sleep(left.min(std::time::Duration::from_secs(1)));
    }
}

/// Shows an instant the way the security process announces it.
pub fn display(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_to_the_same_instant() {
        let a = parse_embargo("2026-12-01 16:00 UTC").unwrap();
        let b = parse_embargo("2026-12-01T16:00:00Z").unwrap();
        let c = parse_embargo("2026-12-01T17:00:00+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn refuses_times_without_zone_or_malformed() {
        for bad in [
            "2026-12-01 16:00",
            "2026-12-01T16:00:00",
            "2026-13-01 16:00 UTC",
            "tomorrow",
            "2026-12-01 25:00 UTC",
        ] {
            assert!(parse_embargo(bad).is_err(), "{bad}");
        }
    }
}
