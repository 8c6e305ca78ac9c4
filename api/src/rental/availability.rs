//! Availability over time. Pure: no database.
//!
//! A product owns `owned` units. What a period can still take is `owned` minus the **peak**
//! number of units in use at any moment of the period, not the sum of every overlapping booking:
//! two back-to-back rentals of 3 units each leave 7 of 10 free, not 4. Preparation buffers widen
//! each booking before and after.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Units in use from `start` (included) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Booking {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub quantity: i32,
}

/// Hours of preparation before and after each rental, during which its units are unavailable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buffer {
    pub before: Duration,
    pub after: Duration,
}

impl Booking {
    fn widened(self, buffer: Buffer) -> Self {
        Self {
            start: self
                .start
                .checked_sub_signed(buffer.before)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: self
                .end
                .checked_add_signed(buffer.after)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            quantity: self.quantity,
        }
    }

    /// Whether its units, buffers included, are needed at some moment a rental over
    /// `[from, to)` needs them, its own buffers included.
    pub fn overlaps(self, buffer: Buffer, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let widened = self.widened(buffer);
        let window = window(buffer, from, to);
        widened.start < window.end && widened.end > window.start
    }
}

/// The time a rental over `[from, to)` holds a unit: the period and the preparation around it.
/// Two rentals clash when these windows meet, whichever was booked first.
fn window(buffer: Buffer, from: DateTime<Utc>, to: DateTime<Utc>) -> Booking {
    Booking {
        start: from,
        end: to,
        quantity: 0,
    }
    .widened(buffer)
}

impl Buffer {
    pub fn hours(before: i32, after: i32) -> Self {
        Self {
            before: Duration::hours(i64::from(before.max(0))),
            after: Duration::hours(i64::from(after.max(0))),
        }
    }
}

/// For each of `mine` (one project's bookings of one product), the units missing over its
/// period when `mine` are added to `others` (other projects' bookings): the peak in use minus
/// `owned`, at most the booking's own quantity, never below zero.
pub fn shortfalls(owned: i32, others: &[Booking], mine: &[Booking], buffer: Buffer) -> Vec<i32> {
    let all: Vec<Booking> = others.iter().chain(mine).copied().collect();
    mine.iter()
        .map(|booking| {
            let window = booking.widened(buffer);
            let peak = peak_in_use(&all, buffer, window.start, window.end);
            (peak - owned).clamp(0, booking.quantity.max(0))
        })
        .collect()
}

/// The most units in use at any moment of `[from, to)`, buffers included.
pub fn peak_in_use(
    bookings: &[Booking],
    buffer: Buffer,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i32 {
    // A sweep over the bookings' edges inside the period: +quantity where one starts, -quantity
    // where one ends; ends sort before starts at the same instant (back-to-back rentals share
    // no moment).
    // Summed in i64: many large bookings (shortages accepted) must not wrap.
    let mut edges: Vec<(DateTime<Utc>, i64)> = Vec::with_capacity(bookings.len() * 2);
    for booking in bookings.iter().map(|b| b.widened(buffer)) {
        if booking.quantity <= 0 || booking.end <= from || booking.start >= to {
            continue;
        }
        edges.push((booking.start.max(from), i64::from(booking.quantity)));
        edges.push((booking.end.min(to), -i64::from(booking.quantity)));
    }
    edges.sort_by_key(|&(at, delta)| (at, delta));
    let mut current = 0_i64;
    let mut peak = 0_i64;
    for (_, delta) in edges {
        current += delta;
        peak = peak.max(current);
    }
    i32::try_from(peak).unwrap_or(i32::MAX)
}

/// Units a new rental over `[from, to)` can still take: owned minus the peak in use over the
/// period and its own preparation buffers (never below zero).
pub fn available(
    owned: i32,
    bookings: &[Booking],
    buffer: Buffer,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i32 {
    let window = window(buffer, from, to);
    (owned - peak_in_use(bookings, buffer, window.start, window.end)).max(0)
}

/// What each day from `first` to `last` (both included, UTC days) can still take: a storefront
/// calendar.
pub fn calendar(
    owned: i32,
    bookings: &[Booking],
    buffer: Buffer,
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<(NaiveDate, i32)> {
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .map(|day| {
            let start = day
                .and_hms_opt(0, 0, 0)
                .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc());
            let end = start
                .checked_add_signed(Duration::days(1))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            (day, available(owned, bookings, buffer, start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn booking(from: (u32, u32), to: (u32, u32), quantity: i32) -> Booking {
        Booking {
            start: at(from.0, from.1),
            end: at(to.0, to.1),
            quantity,
        }
    }

    #[test]
    fn back_to_back_rentals_leave_the_peak_not_the_sum() {
        let bookings = [booking((1, 8), (3, 8), 3), booking((3, 8), (5, 8), 3)];
        let none = Buffer::default();
        assert_eq!(available(10, &bookings, none, at(1, 0), at(6, 0)), 7);
        // Overlapping ones do add up.
        let overlapping = [booking((1, 8), (3, 8), 3), booking((2, 8), (5, 8), 3)];
        assert_eq!(available(10, &overlapping, none, at(1, 0), at(6, 0)), 4);
        // Outside the period, nothing counts.
        assert_eq!(available(10, &overlapping, none, at(6, 0), at(8, 0)), 10);
    }

    #[test]
    fn preparation_buffers_count_in_overlaps() {
        let bookings = [booking((1, 8), (3, 8), 3), booking((3, 10), (5, 8), 3)];
        assert_eq!(
            available(10, &bookings, Buffer::default(), at(1, 0), at(6, 0)),
            7
        );
        let buffer = Buffer {
            before: Duration::hours(1),
            after: Duration::hours(2),
        };
        assert_eq!(available(10, &bookings, buffer, at(1, 0), at(6, 0)), 4);
        // A period just after a rental still waits for its preparation to end.
        assert_eq!(
            available(10, &bookings[..1], buffer, at(3, 9), at(3, 12)),
            7
        );
    }

    #[test]
    fn buffers_clash_the_same_whichever_rental_was_booked_first() {
        // One unit, 6 hours of preparation after each rental: 00–10 and 12–20 share it.
        let buffer = Buffer::hours(0, 6);
        let early = booking((1, 0), (1, 10), 1);
        let late = booking((1, 12), (1, 20), 1);
        assert_eq!(shortfalls(1, &[early], &[late], buffer), [1]);
        assert_eq!(shortfalls(1, &[late], &[early], buffer), [1]);
        assert_eq!(available(1, &[late], buffer, early.start, early.end), 0);
        assert_eq!(available(1, &[early], buffer, late.start, late.end), 0);
        // 16:00 leaves the six hours: no clash either way.
        let later = booking((1, 16), (1, 20), 1);
        assert_eq!(shortfalls(1, &[early], &[later], buffer), [0]);
        assert_eq!(shortfalls(1, &[later], &[early], buffer), [0]);
    }

    #[test]
    fn shortfalls_count_this_projects_own_items_together() {
        let others = [booking((1, 8), (3, 8), 6)];
        let mine = [booking((2, 8), (4, 8), 3), booking((2, 12), (2, 18), 2)];
        // 6 others + 3 + 2 on the 2nd against 10 owned: 1 short, charged to both items
        // (each is over the limit at that moment), never more than each asked for.
        assert_eq!(shortfalls(10, &others, &mine, Buffer::default()), [1, 1]);
        assert_eq!(shortfalls(11, &others, &mine, Buffer::default()), [0, 0]);
        assert_eq!(shortfalls(0, &[], &mine, Buffer::default()), [3, 2]);
    }

    #[test]
    fn a_late_booking_that_runs_to_the_end_of_time_still_widens_safely() {
        let late = Booking {
            start: at(1, 8),
            end: DateTime::<Utc>::MAX_UTC,
            quantity: 4,
        };
        let buffer = Buffer::hours(2, 2);
        assert_eq!(available(10, &[late], buffer, at(20, 0), at(21, 0)), 6);
        assert!(late.overlaps(buffer, at(20, 0), at(21, 0)));
        // Its preparation ends at 10:00; the next rental's starts two hours before it.
        assert!(!booking((1, 8), (2, 8), 1).overlaps(buffer, at(2, 12), at(3, 0)));
        assert!(booking((1, 8), (2, 8), 1).overlaps(buffer, at(2, 11), at(3, 0)));
    }

    #[test]
    fn the_calendar_shows_each_day_and_never_goes_below_zero() {
        let bookings = [booking((2, 0), (4, 0), 6), booking((3, 12), (3, 18), 6)];
        let days = calendar(
            10,
            &bookings,
            Buffer::default(),
            at(1, 0).date_naive(),
            at(4, 0).date_naive(),
        );
        let values: Vec<i32> = days.iter().map(|(_, free)| *free).collect();
        assert_eq!(values, [10, 4, 0, 10]);
    }
}
