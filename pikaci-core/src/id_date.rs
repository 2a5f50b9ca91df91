//! The one rule for the time a run id carries ([`IdDating`]): the listing's
//! order and gc's ages both judge an id's date by it.
//!
//! A timestamped id (`20260324T161238Z-1a2b3c4d`) is believed when its time
//! is a real UTC second at most [`FUTURE_TOLERANCE`] ahead of now; one dated
//! further ahead (a wrong clock, a folder planted by hand) or whose time is
//! not a real date (month 13) is not, and its run's time must come from
//! elsewhere (its folder's). Any other id (the earlier pikaci's
//! `pikaci-run-123`) carries no time at all.

use std::time::Duration;

use jiff::Timestamp;

use crate::ids::RunId;

/// How far ahead of now a run's time may be and still be believed (clocks of
/// machines sharing a state root differ, and clocks are stepped).
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(24 * 3600);

/// How a timestamped run id writes its time.
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// What a run id says of when its run was created ([`IdDating::date`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdDate {
    /// Its time, a real second not too far ahead: believed.
    Believed(Timestamp),
    /// The timestamped form, but dated too far ahead or not a real date.
    NotBelieved,
    /// Another form: no time in it.
    Undated,
}

/// The id-date rule as of one moment: made once (it writes the latest stamp
/// believed then) and applied to every id of a listing, so judging an id
/// costs a string comparison, not a parse.
#[derive(Debug, Clone)]
pub struct IdDating {
    now: Timestamp,
    /// The stamp of the latest second believed (`now` + the tolerance).
    latest: String,
}

impl IdDating {
    /// The rule as of `now`.
    pub fn at(now: Timestamp) -> Self {
        let latest = now
            .checked_add(FUTURE_TOLERANCE)
            .unwrap_or(now)
            .strftime(STAMP_FORMAT)
            .to_string();
        Self { now, latest }
    }

    /// The moment this rule judges as of.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether a time from elsewhere (a folder's, a record's) is not too far
    /// ahead to be believed.
    pub fn believable(&self, t: Timestamp) -> bool {
        self.now
            .checked_add(FUTURE_TOLERANCE)
            .is_ok_and(|limit| t <= limit)
    }

    /// Whether `id`'s own time is believed ([`IdDate::Believed`]), without
    /// parsing it: stamps compare as strings in the order of their times.
    pub fn believes(&self, id: &RunId) -> bool {
        id.stamp()
            .is_some_and(|s| s <= self.latest.as_str() && is_real_second(s))
    }

    /// What `id` says of when its run was created.
    pub fn date(&self, id: &RunId) -> IdDate {
        if !id.is_timestamped() {
            return IdDate::Undated;
        }
        match id.timestamp() {
            Some(t) if self.believes(id) => IdDate::Believed(t),
            _ => IdDate::NotBelieved,
        }
    }
}

impl RunId {
    /// What this id says of when its run was created, as of `now` (the one
    /// rule, [`IdDating`]; make an [`IdDating`] once to judge many ids).
    pub fn date(&self, now: Timestamp) -> IdDate {
        IdDating::at(now).date(self)
    }
}

/// Whether a `YYYYMMDDTHHMMSSZ` stamp (digits where digits belong) names a
/// real UTC second, as [`RunId::timestamp`] would parse it.
fn is_real_second(stamp: &str) -> bool {
    let b = stamp.as_bytes();
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(4, 6), num(6, 8));
    let (hour, minute, second) = (num(9, 11), num(11, 13), num(13, 15));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second <= 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RunId {
        s.parse().unwrap()
    }

    #[test]
    fn a_real_second_up_to_a_day_ahead_is_believed_and_nothing_later() {
        let now: Timestamp = "2026-03-24T12:00:00Z".parse().unwrap();
        let rule = IdDating::at(now);
        let day_ahead = id("20260325T120000Z-00000001");
        assert_eq!(
            rule.date(&day_ahead),
            IdDate::Believed("2026-03-25T12:00:00Z".parse().unwrap())
        );
        assert_eq!(
            rule.date(&id("20260325T120001Z-00000001")),
            IdDate::NotBelieved
        );
        assert_eq!(
            rule.date(&id("20260199T000000Z-00000001")),
            IdDate::NotBelieved,
            "not a real date, though earlier than now as a string"
        );
        assert_eq!(rule.date(&id("pikaci-run-123")), IdDate::Undated);
        assert_eq!(day_ahead.date(now), rule.date(&day_ahead));
        assert!(rule.believable(now + FUTURE_TOLERANCE));
        assert!(!rule.believable(now + FUTURE_TOLERANCE + Duration::from_secs(1)));
    }

    /// The cheap check and the parse agree on every kind of stamp edge.
    #[test]
    fn believing_without_parsing_agrees_with_the_parsed_time() {
        let rule = IdDating::at("2030-01-01T00:00:00Z".parse().unwrap());
        for stamp in [
            "20260324T161238Z",
            "20260229T000000Z",
            "20240229T000000Z",
            "20000229T000000Z",
            "19000229T000000Z",
            "20260431T000000Z",
            "20260430T235959Z",
            "20261231T235960Z",
            "20260101T240000Z",
            "20260101T006000Z",
            "20260001T000000Z",
            "20260100T000000Z",
            "20261301T000000Z",
            "00010101T000000Z",
            "00000101T000000Z",
        ] {
            let id = id(&format!("{stamp}-00000001"));
            assert_eq!(
                rule.believes(&id),
                id.timestamp().is_some(),
                "{stamp}: parsed as {:?}",
                id.timestamp()
            );
        }
    }
}
