//! Statistical process control as NHS England's "Making Data Count" does it:
//! an XmR chart with mean and natural process limits (mean ± 2.66 × mean
//! moving range), four special-cause rules, improvement or concern by
//! polarity, and assurance against a target.
//!
//! Rules, each marking every point that takes part:
//! 1. a point outside the process limits;
//! 2. a run of 7 or more consecutive points on one side of the mean (a point
//!    exactly on the mean ends the run);
//! 3. 7 or more consecutive points all rising or all falling (an unchanged
//!    value ends the trend);
//! 4. 2 of 3 consecutive points beyond two-thirds of the way to a limit
//!    (2 sigma, sigma = mean moving range / 1.128) on the same side.

use serde::{Deserialize, Serialize};

/// Fewer points than this give no limits: Making Data Count advises at
/// least 15 before limits mean anything.
pub const MIN_POINTS: usize = 15;

/// Run and trend length.
pub const RUN: usize = 7;

/// Whether higher values are good, bad, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// More is better (e.g. charge rate).
    HigherIsBetter,
    /// Less is better (e.g. violence with injury).
    LowerIsBetter,
    /// Neither: more recording can be good (domestic abuse, hate crime).
    #[default]
    Monitor,
}

impl Polarity {
    /// Parse the header value (`lower is better`, `higher_is_better`, `monitor`).
    pub fn parse(s: &str) -> Option<Polarity> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', '-'], " ")
            .as_str()
        {
            "higher is better" | "higher" | "up" => Some(Polarity::HigherIsBetter),
            "lower is better" | "lower" | "down" => Some(Polarity::LowerIsBetter),
            "monitor" | "monitor only" | "neither" | "none" => Some(Polarity::Monitor),
            _ => None,
        }
    }

    /// Text for packs.
    pub fn label(self) -> &'static str {
        match self {
            Polarity::HigherIsBetter => "higher is better",
            Polarity::LowerIsBetter => "lower is better",
            Polarity::Monitor => "monitor only",
        }
    }
}

/// Which side of the mean a signal is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Above the mean / rising.
    High,
    /// Below the mean / falling.
    Low,
}

/// The special-cause rules a point takes part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Rules {
    /// Outside the limits.
    pub outside_limits: bool,
    /// Part of a run of 7 on one side.
    pub shift: bool,
    /// Part of 7 rising or falling.
    pub trend: bool,
    /// Part of 2 of 3 beyond two sigma.
    pub two_of_three: bool,
}

impl Rules {
    /// Any rule fired.
    pub fn any(&self) -> bool {
        self.outside_limits || self.shift || self.trend || self.two_of_three
    }
}

/// A special-cause signal at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Signal {
    /// Direction.
    pub side: Side,
    /// Rules that fired.
    pub rules: Rules,
}

/// What a variation means for the indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variation {
    /// No special cause.
    CommonCause,
    /// Special cause in the good direction.
    Improvement,
    /// Special cause in the bad direction.
    Concern,
    /// Special cause on a monitor-only indicator.
    Neither,
}

impl Variation {
    /// Text for packs ("never colour alone").
    pub fn label(self) -> &'static str {
        match self {
            Variation::CommonCause => "Common cause variation",
            Variation::Improvement => "Special cause: improvement",
            Variation::Concern => "Special cause: concern",
            Variation::Neither => "Special cause: neither improvement nor concern",
        }
    }
}

/// Target assurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assurance {
    /// The target lies outside the limits on the good side: consistently met.
    AlwaysMet,
    /// The target lies outside the limits on the bad side: consistently missed.
    AlwaysMissed,
    /// The target lies within the limits: it will be hit and missed by chance.
    HitAndMiss,
}

impl Assurance {
    /// Text for packs.
    pub fn label(self) -> &'static str {
        match self {
            Assurance::AlwaysMet => "Target consistently met",
            Assurance::AlwaysMissed => "Target consistently missed",
            Assurance::HitAndMiss => "Target hit and miss",
        }
    }
}

/// The XmR chart of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// Mean of the points.
    pub mean: f64,
    /// Mean moving range.
    pub mean_moving_range: f64,
    /// Upper natural process limit.
    pub upper: f64,
    /// Lower natural process limit.
    pub lower: f64,
    /// Signal at each point, if any.
    pub signals: Vec<Option<Signal>>,
}

impl Chart {
    /// Compute limits and signals, or `None` with fewer than [`MIN_POINTS`].
    pub fn new(values: &[f64]) -> Option<Chart> {
        let n = values.len();
        if n < MIN_POINTS || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let mr = values.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (n - 1) as f64;
        let upper = mean + 2.66 * mr;
        let lower = mean - 2.66 * mr;
        let two_sigma = 2.0 * mr / 1.128;
        let mut rules = vec![Rules::default(); n];
        let mut side = vec![None::<Side>; n];
        // A point's side is the first rule's; later rules never disagree in
        // practice (a high point is high by every rule).
        let mark = |side: &mut Vec<Option<Side>>, i: usize, s: Side| {
            if side[i].is_none() {
                side[i] = Some(s);
            }
        };

        // Rule 1: outside the limits.
        for (i, v) in values.iter().enumerate() {
            if *v > upper {
                rules[i].outside_limits = true;
                mark(&mut side, i, Side::High);
            } else if *v < lower {
                rules[i].outside_limits = true;
                mark(&mut side, i, Side::Low);
            }
        }
        // Rule 2: runs on one side of the mean.
        let pos = |v: f64| {
            if v > mean {
                Some(Side::High)
            } else if v < mean {
                Some(Side::Low)
            } else {
                None
            }
        };
        let mut i = 0;
        while i < n {
            let Some(s) = pos(values[i]) else {
                i += 1;
                continue;
            };
            let mut j = i;
            while j + 1 < n && pos(values[j + 1]) == Some(s) {
                j += 1;
            }
            if j - i + 1 >= RUN {
                for (k, r) in rules.iter_mut().enumerate().take(j + 1).skip(i) {
                    r.shift = true;
                    mark(&mut side, k, s);
                }
            }
            i = j + 1;
        }
        // Rule 3: trends (7 points, i.e. 6 consecutive rises or falls).
        let mut i = 0;
        while i + 1 < n {
            let dir = if values[i + 1] > values[i] {
                Some(Side::High)
            } else if values[i + 1] < values[i] {
                Some(Side::Low)
            } else {
                None
            };
            let Some(d) = dir else {
                i += 1;
                continue;
            };
            let mut j = i + 1;
            while j + 1 < n
                && ((d == Side::High && values[j + 1] > values[j])
                    || (d == Side::Low && values[j + 1] < values[j]))
            {
                j += 1;
            }
            if j - i + 1 >= RUN {
                for (k, r) in rules.iter_mut().enumerate().take(j + 1).skip(i) {
                    r.trend = true;
                    mark(&mut side, k, d);
                }
            }
            i = j;
        }
        // Rule 4: two of three beyond two sigma on the same side.
        for w in 0..n.saturating_sub(2) {
            for s in [Side::High, Side::Low] {
                let beyond = |v: f64| match s {
                    Side::High => v > mean + two_sigma,
                    Side::Low => v < mean - two_sigma,
                };
                let hits: Vec<usize> = (w..w + 3).filter(|&k| beyond(values[k])).collect();
                if hits.len() >= 2 {
                    for k in hits {
                        rules[k].two_of_three = true;
                        mark(&mut side, k, s);
                    }
                }
            }
        }
        let signals = rules
            .into_iter()
            .zip(side)
            .map(|(r, s)| match (r.any(), s) {
                (true, Some(side)) => Some(Signal { side, rules: r }),
                _ => None,
            })
            .collect();
        Some(Chart {
            mean,
            mean_moving_range: mr,
            upper,
            lower,
            signals,
        })
    }

    /// Variation at the latest point, read by polarity.
    pub fn latest_variation(&self, polarity: Polarity) -> Variation {
        match self.signals.last().copied().flatten() {
            None => Variation::CommonCause,
            Some(s) => variation(s.side, polarity),
        }
    }

    /// Whether the process will meet a target, read by polarity. Monitor
    /// indicators have no assurance.
    pub fn assurance(&self, target: f64, polarity: Polarity) -> Option<Assurance> {
        let above = target > self.upper;
        let below = target < self.lower;
        Some(match polarity {
            Polarity::Monitor => return None,
            _ if !above && !below => Assurance::HitAndMiss,
            Polarity::LowerIsBetter if above => Assurance::AlwaysMet,
            Polarity::LowerIsBetter => Assurance::AlwaysMissed,
            Polarity::HigherIsBetter if below => Assurance::AlwaysMet,
            Polarity::HigherIsBetter => Assurance::AlwaysMissed,
        })
    }
}

/// Improvement or concern for a signal on a side, by polarity.
pub fn variation(side: Side, polarity: Polarity) -> Variation {
    match (polarity, side) {
        (Polarity::Monitor, _) => Variation::Neither,
        (Polarity::HigherIsBetter, Side::High) | (Polarity::LowerIsBetter, Side::Low) => {
            Variation::Improvement
        }
        _ => Variation::Concern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stable series: alternating 10 and 12, mean 11, mean moving range 2,
    /// limits 11 ± 5.32. No run reaches 7, no trend, nothing near 2 sigma
    /// (2 sigma = 3.55).
    fn stable() -> Vec<f64> {
        (0..20)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect()
    }

    #[test]
    fn limits_by_hand() {
        let c = Chart::new(&stable()).unwrap();
        assert!((c.mean - 11.0).abs() < 1e-9);
        assert!((c.mean_moving_range - 2.0).abs() < 1e-9);
        assert!((c.upper - 16.32).abs() < 1e-9);
        assert!((c.lower - 5.68).abs() < 1e-9);
        assert!(c.signals.iter().all(Option::is_none));
        assert_eq!(
            c.latest_variation(Polarity::LowerIsBetter),
            Variation::CommonCause
        );
    }

    #[test]
    fn too_few_points_give_no_chart() {
        assert!(Chart::new(&stable()[..14]).is_none());
    }

    #[test]
    fn rule_one_point_outside_limits() {
        // 19 stable points then 30: mean = (9*10 + 10*12 ... ) worked out:
        // values 10,12,...,10 (19 points: ten 10s, nine 12s) and 30.
        let mut v: Vec<f64> = stable()[..19].to_vec();
        v.push(30.0);
        // mean = (100 + 108 + 30) / 20 = 11.9; moving ranges: 18 of 2 and one
        // of 20 -> 56/19 = 2.947; upper = 11.9 + 7.84 = 19.74 < 30.
        let c = Chart::new(&v).unwrap();
        assert!((c.mean - 11.9).abs() < 1e-9);
        let last = c.signals[19].unwrap();
        assert!(last.rules.outside_limits);
        assert_eq!(last.side, Side::High);
        assert!(c.signals[..19].iter().all(Option::is_none));
        assert_eq!(
            c.latest_variation(Polarity::LowerIsBetter),
            Variation::Concern
        );
        assert_eq!(
            c.latest_variation(Polarity::HigherIsBetter),
            Variation::Improvement
        );
        assert_eq!(c.latest_variation(Polarity::Monitor), Variation::Neither);
    }

    #[test]
    fn rule_two_shift_of_seven() {
        // 13 points alternating 10/12 then 7 points at 11.5 (above the mean
        // of 222.5 / 20 = 11.125, not rising): a run of 7 above.
        let mut v: Vec<f64> = stable()[..13].to_vec();
        v.extend([11.5; 7]);
        let c = Chart::new(&v).unwrap();
        assert!(c.mean < 11.5);
        for s in &c.signals[13..] {
            let s = s.unwrap();
            assert!(s.rules.shift && !s.rules.trend && !s.rules.outside_limits);
            assert_eq!(s.side, Side::High);
        }
        // Six in a row is not enough: 13 alternating, six at 11.5, then 10
        // (mean 221 / 20 = 11.05, so 10 is below it and ends the run).
        let mut v6: Vec<f64> = stable()[..13].to_vec();
        v6.extend([11.5; 6]);
        v6.push(10.0);
        let c6 = Chart::new(&v6).unwrap();
        assert!(c6.signals.iter().all(|s| s.is_none_or(|s| !s.rules.shift)));
    }

    #[test]
    fn rule_three_trend_of_seven() {
        // Alternating 10/12 for 13 points, then 7 points falling by 0.2 from
        // 11.9: 11.9, 11.7, ... 10.7, which stay within 2 sigma.
        let mut v: Vec<f64> = stable()[..13].to_vec();
        v.extend((0..7).map(|i| 11.9 - 0.2 * i as f64));
        let c = Chart::new(&v).unwrap();
        let trend: Vec<bool> = c
            .signals
            .iter()
            .map(|s| s.is_some_and(|s| s.rules.trend))
            .collect();
        // 10 (index 12) then 11.9 is a rise, so the fall starts at index 13.
        assert!(trend[13..].iter().all(|t| *t), "{trend:?}");
        assert!(!trend[12]);
        assert_eq!(c.signals[19].unwrap().side, Side::Low);
        assert_eq!(
            c.latest_variation(Polarity::LowerIsBetter),
            Variation::Improvement
        );
    }

    #[test]
    fn rule_four_two_of_three_near_the_limit() {
        // Stable 10/12 for 17 points, then 16, 12, 16. By hand: mean
        // 230 / 20 = 11.5; moving ranges 16 x 2 + 6 + 4 + 4 = 46, / 19 =
        // 2.421; 2 sigma = 4.293, so 16 > 15.79 is beyond it; upper limit
        // 11.5 + 6.44 = 17.94, so 16 is inside.
        let mut v: Vec<f64> = stable()[..17].to_vec();
        v.extend([16.0, 12.0, 16.0]);
        let c = Chart::new(&v).unwrap();
        assert!((c.mean - 11.5).abs() < 1e-9);
        assert!((c.mean_moving_range - 46.0 / 19.0).abs() < 1e-9);
        let s17 = c.signals[17].unwrap();
        let s19 = c.signals[19].unwrap();
        assert!(s17.rules.two_of_three && s19.rules.two_of_three);
        assert!(!s17.rules.outside_limits);
        assert!(c.signals[18].is_none_or(|s| !s.rules.two_of_three));
    }

    #[test]
    fn assurance_follows_polarity() {
        let c = Chart::new(&stable()).unwrap(); // limits 5.68 .. 16.32
        assert_eq!(
            c.assurance(20.0, Polarity::LowerIsBetter),
            Some(Assurance::AlwaysMet)
        );
        assert_eq!(
            c.assurance(3.0, Polarity::LowerIsBetter),
            Some(Assurance::AlwaysMissed)
        );
        assert_eq!(
            c.assurance(3.0, Polarity::HigherIsBetter),
            Some(Assurance::AlwaysMet)
        );
        assert_eq!(
            c.assurance(20.0, Polarity::HigherIsBetter),
            Some(Assurance::AlwaysMissed)
        );
        assert_eq!(
            c.assurance(11.0, Polarity::LowerIsBetter),
            Some(Assurance::HitAndMiss)
        );
        assert_eq!(c.assurance(11.0, Polarity::Monitor), None);
    }

    #[test]
    fn random_looking_series_triggers_nothing() {
        // A fixed "noisy" series with no pattern: checked by hand for runs
        // (longest same-side run 3), trends (longest 3) and extremes.
        let v = [
            52.0, 47.0, 55.0, 49.0, 51.0, 46.0, 53.0, 50.0, 48.0, 54.0, 47.0, 52.0, 49.0, 55.0,
            46.0, 51.0, 50.0, 53.0, 48.0, 52.0,
        ];
        let c = Chart::new(&v).unwrap();
        assert!(c.signals.iter().all(Option::is_none), "{:?}", c.signals);
    }
}
