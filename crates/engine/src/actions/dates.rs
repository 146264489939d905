//! Date arithmetic for DA, DT and AS values.

use chrono::{Datelike, Duration, NaiveDate};

/// The largest date shift, in days either way: 100 years. A plan with more is refused
/// ([`crate::decide::plan::Plan::validate`]); no real need moves dates further, and a shift of
/// millions of days would write dates past year 9999, which DA cannot hold.
pub const MAX_SHIFT_DAYS: i64 = 36_500;

fn parse_ymd(s: &str) -> Option<NaiveDate> {
    if s.len() < 8 || !s.as_bytes()[..8].iter().all(u8::is_ascii_digit) {
        return None;
    }
    NaiveDate::parse_from_str(&s[..8], "%Y%m%d").ok()
}

/// Shifts the date part of a DA or DT value by whole days, keeping the rest
/// (time, fraction, offset) as it was. `None` when the value is not a date, or when the
/// shifted date falls outside the years 0001 to 9999 that DA can hold.
pub fn shift(value: &str, days: i64) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return Some(String::new());
    }
    // Partial DT values (YYYY or YYYYMM) are completed to the first day, shifted, and cut back.
    let padded;
    let (full, keep) = match v.len() {
        4 | 6 if v.bytes().all(|b| b.is_ascii_digit()) => {
            padded = format!("{v}{}", &"0101"[(v.len() - 4)..]);
            (padded.as_str(), v.len())
        }
        _ => (v, 8),
    };
    let date = parse_ymd(full)?.checked_add_signed(Duration::try_days(days)?)?;
    if !(1..=9999).contains(&date.year()) {
        return None;
    }
    let shifted = format!("{:04}{:02}{:02}", date.year(), date.month(), date.day());
    Some(format!("{}{}", &shifted[..keep], &full[8..]))
}

/// Keeps only the year: `YYYY0101`, as HIPAA Safe Harbor allows.
pub fn year_only(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return Some(String::new());
    }
    if v.len() >= 4 && v.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        Some(format!("{}0101", &v[..4]))
    } else {
        None
    }
}

/// An AS value in years (`045Y` → 45, `006M` → 0); writers that drop the
/// leading zeros (`75Y`) are read too.
pub fn age_years(age: &str) -> Option<u32> {
    let a = age.trim();
    let (digits, unit) = a.split_at(a.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    match unit {
        "Y" => Some(n),
        "M" => Some(n / 12),
        "W" => Some(n / 52),
        "D" => Some(n / 365),
        _ => None,
    }
}

/// Whole years between a birth date and a later date (both DA).
pub fn years_between(birth: &str, at: &str) -> Option<u32> {
    let (b, a) = (parse_ymd(birth.trim())?, parse_ymd(at.trim())?);
    let mut years = a.year() - b.year();
    if (a.month(), a.day()) < (b.month(), b.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_dates_and_datetimes() {
        assert_eq!(shift("20051130", 10).unwrap(), "20051210");
        assert_eq!(shift("20000301", -1).unwrap(), "20000229");
        assert_eq!(
            shift("20051130123000.5+0100", 1).unwrap(),
            "20051201123000.5+0100"
        );
        assert_eq!(shift("2005", 0).unwrap(), "2005");
        assert_eq!(shift("", 5).unwrap(), "");
        assert!(shift("notadate", 3).is_none());
    }

    #[test]
    fn shifts_never_overflow_nor_leave_the_years_da_holds() {
        // Once a panic (overflow in chrono) and a StudyDate of 10236092.
        assert_eq!(shift("20200101", 99_999_999_999), None);
        assert_eq!(shift("20200101", i64::MIN), None);
        assert_eq!(shift("20200101", 3_000_000), None);
        assert_eq!(shift("00010105", -10), None);
        assert_eq!(shift("99991225", 10), None);
        assert_eq!(shift("20200101", MAX_SHIFT_DAYS).unwrap(), "21191208");
        assert_eq!(shift("20200101", -MAX_SHIFT_DAYS).unwrap(), "19200126");
    }

    #[test]
    fn year_and_age() {
        assert_eq!(year_only("19350412").unwrap(), "19350101");
        assert_eq!(age_years("091Y"), Some(91));
        assert_eq!(age_years("018M"), Some(1));
        assert_eq!(age_years("75Y"), Some(75));
        assert_eq!(age_years("Y"), None);
        assert_eq!(years_between("19300615", "20200614"), Some(89));
        assert_eq!(years_between("19300615", "20200615"), Some(90));
    }
}
