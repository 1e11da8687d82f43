//! When a [`TimeWindow`] holds: the one implementation behind rule
//! conditions ([`crate::CompiledPolicy`]) and auto-approval windows
//! (`sentinel-approval`).
//!
//! A window is a set of intervals of real time, one per listed day: the
//! interval *opened on* day `D` runs from `D` at `start` to `end` on `D`, or
//! on the day after `D` when `end` is not later than `start` (an overnight
//! window). Without `hours` it is the whole local day `D`. Each end point is
//! the first instant at which the clock of the window's zone reads that
//! date and time *or later*:
//!
//! - a time the clocks skip (spring forward) is reached when they jump past
//!   it, so a window opening at 02:30 on that night opens at the jump;
//! - a time the clocks show twice (fall back) is reached the first time, so
//!   a window opens once and stays open while the clock repeats an hour.
//!
//! This keeps windows ordered like their clock times (a window inside
//! another on the clock is inside it in real time too, on every night) and
//! never splits one into pieces.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::document::{TimeWindow, Weekday};

/// A [`TimeWindow`] ready to be evaluated.
#[derive(Debug, Clone)]
pub(crate) struct CompiledWindow {
    tz: TimeZone,
    /// Bit set of [`Weekday::bit`]; 0 means every day.
    days: u8,
    /// Minutes of the day: open and close. `None` for an empty window
    /// (`start == end`, which validation refuses).
    hours: Option<(u16, u16)>,
}

impl CompiledWindow {
    pub(crate) fn new(w: &TimeWindow) -> Self {
        let hours = match &w.hours {
            None => Some((0, 0)),
            Some(h) if h.start == h.end => None,
            Some(h) => Some((h.start.minutes(), h.end.minutes())),
        };
        Self {
            tz: w
                .timezone
                .as_ref()
                .map_or(TimeZone::UTC, |z| z.time_zone().clone()),
            days: w.days.iter().fold(0u8, |m, d| m | d.bit()),
            hours,
        }
    }

    /// Whether `t` falls in the window (see the module documentation).
    pub(crate) fn contains(&self, t: Timestamp) -> bool {
        let Some((open, close)) = self.hours else {
            return false;
        };
        let local = self.tz.to_datetime(t);
        if self.steady_around(t) {
            // One offset for two days either side: the clock reads real
            // time, so the window holds when the clock is inside it and
            // the day it opened on is listed.
            let minute = u16::try_from(i16::from(local.hour()) * 60 + i16::from(local.minute()))
                .unwrap_or(0);
            let listed = |d: jiff::civil::Weekday| {
                self.days == 0 || self.days & Weekday::from_jiff(d).bit() != 0
            };
            return if open < close {
                open <= minute && minute < close && listed(local.weekday())
            } else if minute >= open {
                listed(local.weekday())
            } else {
                minute < close && listed(local.weekday().previous())
            };
        }
        let today = local.date();
        // A window lasts at most a day on the clock, so only the windows
        // opened on the local date of `t` and on its neighbours can hold
        // it; the neighbours matter on overnight windows and around clock
        // changes.
        [Some(today), today.yesterday().ok(), today.tomorrow().ok()]
            .into_iter()
            .flatten()
            .any(|day| self.opened_on(day, open, close, t))
    }

    /// Whether the zone keeps one offset from two days before `t` to two
    /// days after (always, for UTC and fixed offsets).
    fn steady_around(&self, t: Timestamp) -> bool {
        let margin = SignedDuration::from_hours(50);
        let (Ok(lo), Ok(hi)) = (t.checked_sub(margin), t.checked_add(margin)) else {
            return false;
        };
        self.tz
            .following(lo)
            .next()
            .is_none_or(|tr| tr.timestamp() > hi)
    }

    fn opened_on(&self, day: Date, open: u16, close: u16, t: Timestamp) -> bool {
        if self.days != 0 && self.days & Weekday::from_jiff(day.weekday()).bit() == 0 {
            return false;
        }
        let close_day = if close <= open {
            match day.tomorrow() {
                Ok(d) => d,
                Err(_) => return false,
            }
        } else {
            day
        };
        match (self.reached(day, open), self.reached(close_day, close)) {
            (Some(from), Some(until)) => from <= t && t < until,
            // Outside the supported range of dates: not in the window.
            _ => false,
        }
    }

    /// The first instant at which the zone's clock reads `day` at `minute`
    /// or later.
    fn reached(&self, day: Date, minute: u16) -> Option<Timestamp> {
        let hour = i8::try_from(minute / 60).ok()?;
        let min = i8::try_from(minute % 60).ok()?;
        let local: DateTime = day.at(hour, min, 0, 0);
        match self.tz.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
            // The first of the two times the clock shows it.
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
            // Skipped: the clock jumps past it at the transition, which lies
            // after `local` read with the later offset and no later than
            // `local` read with the earlier one.
            AmbiguousOffset::Gap { before, after } => {
                let lo = after.to_timestamp(local).ok()?;
                let hi = before.to_timestamp(local).ok()?;
                let jump = self
                    .tz
                    .following(lo)
                    .next()
                    .map(|tr| tr.timestamp())
                    .filter(|&j| j <= hi);
                Some(jump.unwrap_or(hi))
            }
        }
    }
}

impl TimeWindow {
    /// Whether `t` falls in this window.
    ///
    /// The window opened on a listed day runs from that day at `start` to
    /// `end`, on the same day or, when `end` is not later than `start`, on
    /// the next: `days: [friday]` with `22:00`–`06:00` is Friday night into
    /// Saturday morning. Without `hours` it is the whole day; without
    /// `days`, every day. Times are read on the clock of `timezone` (UTC
    /// when absent), with its daylight-saving changes: a window opens (or
    /// closes) the first moment that clock reads its start (or end) or a
    /// later time, so a start the clocks skip opens the window when they
    /// jump past it, and an hour the clocks repeat neither opens nor closes
    /// it twice. A window whose start equals its end is empty.
    pub fn contains(&self, t: Timestamp) -> bool {
        CompiledWindow::new(self).contains(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::document::HourRange;
    use crate::types::{ClockTime, TimeZoneName};

    fn window(tz: &str, days: &[Weekday], hours: Option<(&str, &str)>) -> CompiledWindow {
        CompiledWindow::new(&TimeWindow {
            days: days.to_vec(),
            hours: hours.map(|(s, e)| HourRange {
                start: s.parse::<ClockTime>().unwrap(),
                end: e.parse::<ClockTime>().unwrap(),
            }),
            timezone: Some(tz.parse::<TimeZoneName>().unwrap()),
        })
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_skipped_start_is_reached_at_the_jump() {
        let w = window("Europe/Berlin", &[], None);
        let day: Date = "2026-03-29".parse().unwrap();
        // 02:30 does not exist; the clock jumps from 02:00 CET to 03:00 CEST.
        assert_eq!(w.reached(day, 150), Some(ts("2026-03-29T01:00:00Z")));
        assert_eq!(w.reached(day, 120), Some(ts("2026-03-29T01:00:00Z")));
        assert_eq!(w.reached(day, 180), Some(ts("2026-03-29T01:00:00Z")));
        assert_eq!(w.reached(day, 119), Some(ts("2026-03-29T00:59:00Z")));
    }

    #[test]
    fn a_repeated_time_is_reached_the_first_time() {
        let w = window("Europe/Berlin", &[], None);
        let day: Date = "2026-10-25".parse().unwrap();
        assert_eq!(w.reached(day, 150), Some(ts("2026-10-25T00:30:00Z")));
    }

    #[test]
    fn no_hours_is_the_whole_local_day() {
        let w = window("Asia/Tokyo", &[Weekday::Monday], None);
        assert!(!w.contains(ts("2026-01-04T14:59:59Z")));
        assert!(w.contains(ts("2026-01-04T15:00:00Z")));
        assert!(w.contains(ts("2026-01-05T14:59:59Z")));
        assert!(!w.contains(ts("2026-01-05T15:00:00Z")));
    }

    #[test]
    fn start_equal_to_end_is_empty() {
        let w = window("UTC", &[], Some(("09:00", "09:00")));
        assert!(!w.contains(ts("2026-01-05T09:00:00Z")));
        assert!(!w.contains(ts("2026-01-05T21:00:00Z")));
    }

    #[test]
    fn time_window_contains_uses_the_same_rules() {
        let w = TimeWindow {
            days: vec![Weekday::Friday],
            hours: Some(HourRange {
                start: "22:00".parse().unwrap(),
                end: "06:00".parse().unwrap(),
            }),
            timezone: None,
        };
        assert!(w.contains(ts("2026-01-10T05:00:00Z")), "Saturday 05:00");
        assert!(!w.contains(ts("2026-01-09T05:00:00Z")), "Friday 05:00");
    }
}
