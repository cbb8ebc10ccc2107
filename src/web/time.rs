//! Times as pages show them: exact in UTC, relative ("3 minutes ago"), and
//! machine-readable for `<time datetime>`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-22 15:04 UTC`
pub fn absolute(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// RFC 3339, for `datetime` attributes and JSON.
pub fn iso(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `just now`, `3 minutes ago`, `2 hours ago`, `5 days ago`; past a month,
/// the date.
pub fn relative(now: OffsetDateTime, at: OffsetDateTime) -> String {
    let seconds = (now - at).whole_seconds();
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match seconds {
        ..60 => "just now".to_owned(),
        60..3600 => plural(seconds / 60, "minute"),
        3600..86_400 => plural(seconds / 3600, "hour"),
        86_400..2_592_000 => plural(seconds / 86_400, "day"),
        _ => at.date().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn relative_times_read_naturally() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now, now - Duration::minutes(1)), "1 minute ago");
        assert_eq!(relative(now, now - Duration::minutes(3)), "3 minutes ago");
        assert_eq!(relative(now, now - Duration::hours(2)), "2 hours ago");
        assert_eq!(relative(now, now - Duration::days(5)), "5 days ago");
        assert_eq!(relative(now, now - Duration::days(40)), "2026-12-06");
        assert_eq!(absolute(now), "2027-01-15 08:00 UTC");
    }
}
