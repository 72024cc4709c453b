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
