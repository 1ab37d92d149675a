//! Reporting periods: month, quarter, financial year (April-March), calendar
//! year, rolling 12 months and year to date, with their previous period and
//! same period last year (SPLY).
//!
//! Every period is a run of whole months, so all arithmetic is on month
//! indices (`year * 12 + month0`); leap years and month lengths never enter.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Which year an indicator reports in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// April to March (Home Office crime, hate crime, Prevent).
    #[default]
    Financial,
    /// January to December (STATS19, NRM).
    Calendar,
}

/// The kinds of period the engine evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodType {
    /// One calendar month.
    Month,
    /// Three months (financial or calendar quarter; the same months, labelled by calendar).
    Quarter,
    /// April to March.
    FinancialYear,
    /// January to December.
    CalendarYear,
    /// Twelve months ending with the month.
    Rolling12,
    /// From the start of the (financial or calendar) year to the month.
    YearToDate,
}

impl PeriodType {
    /// All period types, in display order.
    pub const ALL: [PeriodType; 6] = [
        PeriodType::Month,
        PeriodType::Quarter,
        PeriodType::FinancialYear,
        PeriodType::CalendarYear,
        PeriodType::Rolling12,
        PeriodType::YearToDate,
    ];

    /// Name as stored in results.
    pub fn name(self) -> &'static str {
        match self {
            PeriodType::Month => "month",
            PeriodType::Quarter => "quarter",
            PeriodType::FinancialYear => "financial_year",
            PeriodType::CalendarYear => "calendar_year",
            PeriodType::Rolling12 => "rolling_12_months",
            PeriodType::YearToDate => "year_to_date",
        }
    }

    /// The type a stored name names.
    pub fn from_name(name: &str) -> Option<PeriodType> {
        PeriodType::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A month as an index: `year * 12 + (month - 1)`.
pub fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

/// First day of the month with this index.
pub fn month_from_index(i: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(i.div_euclid(12), i.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(NaiveDate::MIN)
}

/// A run of whole months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Period {
    /// Kind of period.
    pub kind: PeriodType,
    /// Calendar used for labels (quarters, year to date).
    pub calendar: Calendar,
    /// Index of the first month.
    pub start: i32,
    /// Number of months.
    pub months: i32,
}

impl Period {
    /// The period of `kind` that contains (for rolling and YTD: ends at) `month`.
    pub fn containing(kind: PeriodType, calendar: Calendar, month: NaiveDate) -> Period {
        let m = month_index(month);
        let year_start = |first_month0: i32| {
            // Index of the most recent `first_month0` (0 = Jan, 3 = Apr) at or before m.
            let y = m.div_euclid(12);
            let candidate = y * 12 + first_month0;
            if candidate <= m {
                candidate
            } else {
                candidate - 12
            }
        };
        let (start, months) = match kind {
            PeriodType::Month => (m, 1),
            PeriodType::Quarter => (m - m.rem_euclid(3), 3),
            PeriodType::FinancialYear => (year_start(3), 12),
            PeriodType::CalendarYear => (year_start(0), 12),
            PeriodType::Rolling12 => (m - 11, 12),
            PeriodType::YearToDate => {
                let s = year_start(if calendar == Calendar::Financial {
                    3
                } else {
                    0
                });
                (s, m - s + 1)
            }
        };
        Period {
            kind,
            calendar,
            start,
            months,
        }
    }

    /// Index of the last month.
    pub fn end(&self) -> i32 {
        self.start + self.months - 1
    }

    /// First day of the first month.
    pub fn start_date(&self) -> NaiveDate {
        month_from_index(self.start)
    }

    /// First day of the last month.
    pub fn end_date(&self) -> NaiveDate {
        month_from_index(self.end())
    }

    /// Whether a month falls in the period.
    pub fn contains(&self, month: NaiveDate) -> bool {
        let i = month_index(month);
        i >= self.start && i <= self.end()
    }

    /// The period just before: the previous month, quarter or year; the 12
    /// months before a rolling year. Year to date has no previous period
    /// (its comparison is SPLY), so it returns `None`.
    pub fn previous(&self) -> Option<Period> {
        match self.kind {
            PeriodType::YearToDate => None,
            _ => Some(Period {
                start: self.start - self.months,
                ..*self
            }),
        }
    }

    /// The same months one year earlier.
    pub fn same_period_last_year(&self) -> Period {
        Period {
            start: self.start - 12,
            ..*self
        }
    }

    /// The next period of the same kind (for walking a history).
    pub fn next(&self) -> Period {
        match self.kind {
            PeriodType::Month | PeriodType::Rolling12 => Period {
                start: self.start + 1,
                ..*self
            },
            PeriodType::YearToDate => {
                let next_month = month_from_index(self.end() + 1);
                Period::containing(self.kind, self.calendar, next_month)
            }
            _ => Period {
                start: self.start + self.months,
                ..*self
            },
        }
    }

    /// A label for committees: `Jan 2025`, `2024-25 Q3`, `2024 Q4`,
    /// `2024-25`, `2024`, `12 months to Sep 2025`, `2025-26 to Sep`.
    pub fn label(&self) -> String {
        let s = self.start_date();
        let e = self.end_date();
        let fy =
            |year_start: i32| format!("{}-{:02}", year_start, (year_start + 1).rem_euclid(100));
        match self.kind {
            PeriodType::Month => s.format("%b %Y").to_string(),
            PeriodType::Quarter => match self.calendar {
                Calendar::Financial => {
                    let fy_start = if s.month() >= 4 {
                        s.year()
                    } else {
                        s.year() - 1
                    };
                    let q = (s.month0() as i32 - 3).rem_euclid(12) / 3 + 1;
                    format!("{} Q{q}", fy(fy_start))
                }
                Calendar::Calendar => format!("{} Q{}", s.year(), s.month0() / 3 + 1),
            },
            PeriodType::FinancialYear => fy(s.year()),
            PeriodType::CalendarYear => s.year().to_string(),
            PeriodType::Rolling12 => format!("12 months to {}", e.format("%b %Y")),
            PeriodType::YearToDate => match self.calendar {
                Calendar::Financial => format!("{} to {}", fy(s.year()), e.format("%b")),
                Calendar::Calendar => format!("{} to {}", s.year(), e.format("%b")),
            },
        }
    }

    /// The year whose mid-year population estimate fits this period: the
    /// year containing the period's middle month (mid-2024 for 2024-25).
    pub fn population_year(&self) -> i32 {
        month_from_index(self.start + (self.months - 1) / 2).year()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    #[test]
    fn financial_year_boundaries() {
        // March belongs to the year that started the April before.
        let p = Period::containing(PeriodType::FinancialYear, Calendar::Financial, d(2025, 3));
        assert_eq!((p.start_date(), p.end_date()), (d(2024, 4), d(2025, 3)));
        assert_eq!(p.label(), "2024-25");
        let p = Period::containing(PeriodType::FinancialYear, Calendar::Financial, d(2025, 4));
        assert_eq!(p.label(), "2025-26");
        assert_eq!(p.previous().unwrap().label(), "2024-25");
        // Century roll-over in the label.
        let p = Period::containing(PeriodType::FinancialYear, Calendar::Financial, d(2099, 12));
        assert_eq!(p.label(), "2099-00");
    }

    #[test]
    fn quarters_by_calendar() {
        let fq = Period::containing(PeriodType::Quarter, Calendar::Financial, d(2025, 2));
        assert_eq!((fq.start_date(), fq.end_date()), (d(2025, 1), d(2025, 3)));
        assert_eq!(fq.label(), "2024-25 Q4");
        assert_eq!(fq.next().label(), "2025-26 Q1");
        let cq = Period::containing(PeriodType::Quarter, Calendar::Calendar, d(2025, 2));
        assert_eq!(cq.label(), "2025 Q1");
        assert_eq!(
            Period::containing(PeriodType::Quarter, Calendar::Financial, d(2024, 4)).label(),
            "2024-25 Q1"
        );
    }

    #[test]
    fn sply_across_year_ends_and_leap_years() {
        // February in a leap year: SPLY is February of the year before.
        let m = Period::containing(PeriodType::Month, Calendar::Financial, d(2024, 2));
        assert_eq!(m.same_period_last_year().start_date(), d(2023, 2));
        // January's previous month is December of the year before.
        let j = Period::containing(PeriodType::Month, Calendar::Financial, d(2025, 1));
        assert_eq!(j.previous().unwrap().start_date(), d(2024, 12));
        // A quarter spanning no year end, and its SPLY.
        let q = Period::containing(PeriodType::Quarter, Calendar::Financial, d(2025, 1));
        assert_eq!(q.same_period_last_year().label(), "2023-24 Q4");
        // Rolling 12 months and the 12 before them.
        let r = Period::containing(PeriodType::Rolling12, Calendar::Financial, d(2025, 9));
        assert_eq!((r.start_date(), r.end_date()), (d(2024, 10), d(2025, 9)));
        assert_eq!(r.previous().unwrap().start_date(), d(2023, 10));
        assert_eq!(r.label(), "12 months to Sep 2025");
    }

    #[test]
    fn year_to_date_is_partial_by_construction() {
        let y = Period::containing(PeriodType::YearToDate, Calendar::Financial, d(2025, 9));
        assert_eq!((y.start_date(), y.months), (d(2025, 4), 6));
        assert_eq!(y.label(), "2025-26 to Sep");
        assert_eq!(y.same_period_last_year().label(), "2024-25 to Sep");
        assert!(y.previous().is_none());
        let c = Period::containing(PeriodType::YearToDate, Calendar::Calendar, d(2025, 1));
        assert_eq!((c.start_date(), c.months), (d(2025, 1), 1));
        // Walking YTD: the month after March starts a new financial year.
        let mar = Period::containing(PeriodType::YearToDate, Calendar::Financial, d(2025, 3));
        assert_eq!(mar.months, 12);
        assert_eq!(mar.next().months, 1);
    }

    #[test]
    fn population_year_is_the_middle_month() {
        let fy = Period::containing(PeriodType::FinancialYear, Calendar::Financial, d(2024, 5));
        assert_eq!(fy.population_year(), 2024);
        let cy = Period::containing(PeriodType::CalendarYear, Calendar::Calendar, d(2024, 5));
        assert_eq!(cy.population_year(), 2024);
        let r = Period::containing(PeriodType::Rolling12, Calendar::Financial, d(2025, 3));
        assert_eq!(r.population_year(), 2024);
    }
}
