//! The two date formats HIBP uses, without a date library: `YYYY-MM-DD` and
//! `YYYY-MM-DDTHH:MM:SSZ` (UTC). Conversions use Howard Hinnant's civil-date algorithms.

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |a, &d| a * 10 + (d - b'0') as u32))
}

/// Days since the epoch of a valid `YYYY-MM-DD` (years 1000 to 9999).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if y < 1000 || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(y as i64, m, d);
    (civil_from_days(days) == (y as i64, m, d)).then_some(days)
}

/// Seconds since the epoch of a valid `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_date_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let days = parse_date(&s[..10])?;
    let (h, m, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if h > 23 || m > 59 || sec > 59 || days < 0 {
        return None;
    }
    Some(days as u64 * 86_400 + (h * 3600 + m * 60 + sec) as u64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn format_date_time(t: u64) -> String {
    let (y, m, d) = civil_from_days((t / 86_400) as i64);
    let s = t % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(format_date_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_date_time(1_386_115_200), "2013-12-04T00:00:00Z");
        assert_eq!(format_date_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_date_time("2022-05-15T23:52:49Z"), Some(1_652_658_769));
        for t in [0u64, 951_782_400, 1_652_658_769, 4_102_444_799] {
            assert_eq!(parse_date_time(&format_date_time(t)), Some(t));
        }
    }

    #[test]
    fn invalid_dates_are_rejected() {
        for bad in [
            "2013-02-30",
            "2013-13-01",
            "2013-00-10",
            "13-10-04",
            "2013/10/04",
            "2013-1-04",
            "0999-01-01",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date("2000-02-29").map(|d| d * 86_400),
            Some(951_782_400)
        );
        assert_eq!(parse_date("1900-02-29"), None);
        for bad in [
            "2013-12-04T24:00:00Z",
            "2013-12-04 00:00:00Z",
            "2013-12-04T00:00:00",
            "2013-12-04T00:60:00Z",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
    }
}
