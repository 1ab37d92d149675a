//! Targets, RAG status and direction of travel.
//!
//! The RAG rule is data: [`RagRule::describe`] prints exactly the rule the
//! code applies, so the pack states it in words. The default follows the
//! committee practice in DOMAIN.md: green when on target or within
//! tolerance; amber when the target is missed but the value improved on the
//! same period last year; red when missed and not improved. Monitor-only
//! indicators and incomplete periods get no RAG: a partial year is never
//! rated as if it were a result.

use serde::{Deserialize, Serialize};

use super::spc::Polarity;

/// A target from an indicator header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Target {
    /// A fixed value (`target: 40`).
    Value(f64),
    /// A percentage change against the same period last year
    /// (`target: -5% vs sply`): the target is SPLY × (1 + pct/100).
    ChangeVsSply(f64),
}

/// Tolerance around a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Tolerance {
    /// Absolute units.
    Absolute(f64),
    /// Percent of the target.
    Percent(f64),
}

impl Target {
    /// Parse `40`, `12.5`, `-5% vs sply`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(change) = t.strip_suffix("vs sply").map(str::trim) {
            let pct = change
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("target `{s}`: write a change as `-5% vs sply`"))?;
            return Ok(Target::ChangeVsSply(pct));
        }
        t.parse::<f64>()
            .map(Target::Value)
            .map_err(|_| format!("target `{s}` is neither a number nor `<n>% vs sply`"))
    }

    /// The target value for a period, given its SPLY value.
    pub fn value(&self, sply: Option<f64>) -> Option<f64> {
        match self {
            Target::Value(v) => Some(*v),
            Target::ChangeVsSply(pct) => sply.map(|s| s * (1.0 + pct / 100.0)),
        }
    }

    /// Words for the data dictionary.
    pub fn describe(&self) -> String {
        match self {
            Target::Value(v) => format!("{v}"),
            Target::ChangeVsSply(p) => format!("{p:+}% against the same period last year"),
        }
    }
}

impl Tolerance {
    /// Parse `5%` or `2`.
    pub fn parse(s: &str) -> Result<Tolerance, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            p.trim()
                .parse()
                .map(Tolerance::Percent)
                .map_err(|_| format!("tolerance `{s}` is not a percentage"))
        } else {
            t.parse()
                .map(Tolerance::Absolute)
                .map_err(|_| format!("tolerance `{s}` is not a number"))
        }
    }

    fn amount(&self, target: f64) -> f64 {
        match self {
            Tolerance::Absolute(a) => a.abs(),
            Tolerance::Percent(p) => (target * p / 100.0).abs(),
        }
    }
}

/// RAG status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rag {
    /// On target or within tolerance.
    Green,
    /// Missed, but better than the same period last year.
    Amber,
    /// Missed and not better than the same period last year.
    Red,
}

impl Rag {
    /// The label printed beside the colour (never colour alone).
    pub fn label(self) -> &'static str {
        match self {
            Rag::Green => "Green: on target",
            Rag::Amber => "Amber: target missed, improving",
            Rag::Red => "Red: target missed, not improving",
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Rag::Green => "green",
            Rag::Amber => "amber",
            Rag::Red => "red",
        }
    }
}

/// The status of a rated period: the RAG colour and why. Within tolerance
/// is its own status, so a miss is never called "on target".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The target is met.
    OnTarget,
    /// The target is missed, by no more than the tolerance.
    WithinTolerance,
    /// Missed by more than the tolerance, but better than SPLY.
    MissedImproving,
    /// Missed by more than the tolerance and not better than SPLY.
    MissedNotImproving,
}

impl Status {
    /// The colour.
    pub fn colour(self) -> Rag {
        match self {
            Status::OnTarget | Status::WithinTolerance => Rag::Green,
            Status::MissedImproving => Rag::Amber,
            Status::MissedNotImproving => Rag::Red,
        }
    }

    /// Stable name for tables and tests.
    pub fn name(self) -> &'static str {
        match self {
            Status::OnTarget => "on_target",
            Status::WithinTolerance => "within_tolerance",
            Status::MissedImproving => "missed_improving",
            Status::MissedNotImproving => "missed_not_improving",
        }
    }

    /// The words printed beside the colour (never colour alone).
    pub fn label(self) -> &'static str {
        match self {
            Status::OnTarget => "Green: on target",
            Status::WithinTolerance => "Green: target missed, within tolerance",
            Status::MissedImproving => "Amber: target missed, improving",
            Status::MissedNotImproving => "Red: target missed, not improving",
        }
    }
}

/// The RAG rule in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct RagRule;

impl RagRule {
    /// The rule in words, as the pack prints it.
    pub fn describe(&self) -> &'static str {
        "Green: the value meets the target (on target), or misses it by no more than the \
         stated tolerance (within tolerance: shown as a miss). \
         Amber: the target is missed by more than the tolerance, but the value is better \
         than the same period last year. Red: the target is missed by more than the \
         tolerance and the value is not better than the same period last year (or there is \
         no same period last year to compare). \"Better\" follows the indicator's polarity. \
         Monitor-only indicators and incomplete periods are not rated."
    }

    /// Rate a value. `None` when the indicator is monitor-only or has no target.
    pub fn rate(
        &self,
        value: f64,
        target: f64,
        tolerance: Option<Tolerance>,
        sply: Option<f64>,
        polarity: Polarity,
    ) -> Option<Status> {
        let tol = tolerance.map(|t| t.amount(target)).unwrap_or(0.0);
        let (met, within) = match polarity {
            Polarity::Monitor => return None,
            Polarity::LowerIsBetter => (value <= target, value <= target + tol),
            Polarity::HigherIsBetter => (value >= target, value >= target - tol),
        };
        if met {
            return Some(Status::OnTarget);
        }
        if within {
            return Some(Status::WithinTolerance);
        }
        let improved = sply.is_some_and(|s| better(value, s, polarity));
        Some(if improved {
            Status::MissedImproving
        } else {
            Status::MissedNotImproving
        })
    }

    /// The tolerance for a target, in the indicator's unit.
    pub fn tolerance_amount(tolerance: Option<Tolerance>, target: f64) -> Option<f64> {
        tolerance.map(|t| t.amount(target))
    }
}

/// Strictly better by polarity (never for monitor).
pub fn better(value: f64, than: f64, polarity: Polarity) -> bool {
    match polarity {
        Polarity::LowerIsBetter => value < than,
        Polarity::HigherIsBetter => value > than,
        Polarity::Monitor => false,
    }
}

/// Which way a value moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrow {
    /// Higher than the comparator.
    Up,
    /// Lower.
    Down,
    /// The same.
    Same,
}

/// Whether a move is good, by the indicator's polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// In the good direction.
    Better,
    /// In the bad direction.
    Worse,
    /// No change, or a monitor-only indicator.
    Neutral,
}

/// Direction of travel against a comparator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Direction {
    /// value - comparator.
    pub change: f64,
    /// Percentage change, when the comparator is not zero.
    pub percent: Option<f64>,
    /// Up, down or the same.
    pub arrow: Arrow,
    /// Better, worse or neutral by polarity.
    pub judgement: Judgement,
    /// The values are percentages, so the change is told in percentage
    /// points (12.5% to 10.0% is "down 2.5 percentage points", not "down
    /// 20.0%").
    pub points: bool,
}

impl Direction {
    /// Compare `value` with `comparator`; `points` for percentages.
    pub fn of(value: f64, comparator: f64, polarity: Polarity, points: bool) -> Direction {
        let change = value - comparator;
        let arrow = if change.abs() < 1e-9 {
            Arrow::Same
        } else if change > 0.0 {
            Arrow::Up
        } else {
            Arrow::Down
        };
        let judgement = if arrow == Arrow::Same || polarity == Polarity::Monitor {
            Judgement::Neutral
        } else if better(value, comparator, polarity) {
            Judgement::Better
        } else {
            Judgement::Worse
        };
        Direction {
            change,
            percent: (comparator.abs() > 1e-12).then(|| 100.0 * change / comparator),
            arrow,
            judgement,
            points,
        }
    }

    /// `up 12.0% (worse)`, `down 2.5 percentage points (better)`.
    pub fn label(&self) -> String {
        let a = match self.arrow {
            Arrow::Up => "up",
            Arrow::Down => "down",
            Arrow::Same => return "no change".into(),
        };
        let j = match self.judgement {
            Judgement::Better => "better",
            Judgement::Worse => "worse",
            Judgement::Neutral => "neutral",
        };
        match (self.points, self.percent) {
            (true, _) => format!("{a} {:.1} percentage points ({j})", self.change.abs()),
            (false, Some(p)) => format!("{a} {:.1}% ({j})", p.abs()),
            (false, None) => format!("{a} ({j})"),
        }
    }

    /// Worse by polarity.
    pub fn is_worse(&self) -> bool {
        self.judgement == Judgement::Worse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rag_follows_polarity_tolerance_and_sply() {
        let r = RagRule;
        let lower = Polarity::LowerIsBetter;
        // Target 100, tolerance 5%: 104 misses, within tolerance (green,
        // but never "on target"); 100 and 96 meet it.
        assert_eq!(
            r.rate(104.0, 100.0, Some(Tolerance::Percent(5.0)), None, lower),
            Some(Status::WithinTolerance)
        );
        assert_eq!(Status::WithinTolerance.colour(), Rag::Green);
        assert_eq!(
            Status::WithinTolerance.label(),
            "Green: target missed, within tolerance"
        );
        for v in [100.0, 96.0] {
            assert_eq!(
                r.rate(v, 100.0, Some(Tolerance::Percent(5.0)), None, lower),
                Some(Status::OnTarget)
            );
        }
        // 110 misses; SPLY 120 was worse -> amber; SPLY 105 was better -> red.
        assert_eq!(
            r.rate(
                110.0,
                100.0,
                Some(Tolerance::Percent(5.0)),
                Some(120.0),
                lower
            ),
            Some(Status::MissedImproving)
        );
        assert_eq!(
            r.rate(
                110.0,
                100.0,
                Some(Tolerance::Percent(5.0)),
                Some(105.0),
                lower
            ),
            Some(Status::MissedNotImproving)
        );
        // No SPLY to show improvement: a miss is red, never a hidden amber.
        assert_eq!(
            r.rate(110.0, 100.0, None, None, lower),
            Some(Status::MissedNotImproving)
        );
        // Higher is better mirrors it.
        let higher = Polarity::HigherIsBetter;
        assert_eq!(
            r.rate(28.0, 30.0, Some(Tolerance::Absolute(2.0)), None, higher),
            Some(Status::WithinTolerance)
        );
        // MARAC: 36.3 against 40 (higher is better) is a miss, not green.
        assert_eq!(
            r.rate(36.3, 40.0, None, Some(35.0), higher),
            Some(Status::MissedImproving)
        );
        assert_eq!(
            r.rate(
                27.0,
                30.0,
                Some(Tolerance::Absolute(2.0)),
                Some(25.0),
                higher
            ),
            Some(Status::MissedImproving)
        );
        // Monitor-only: never rated.
        assert_eq!(r.rate(1.0, 100.0, None, None, Polarity::Monitor), None);
    }

    #[test]
    fn targets_parse_and_resolve() {
        assert_eq!(Target::parse("40").unwrap(), Target::Value(40.0));
        assert_eq!(
            Target::parse("-5% vs SPLY").unwrap(),
            Target::ChangeVsSply(-5.0)
        );
        assert_eq!(Target::ChangeVsSply(-5.0).value(Some(200.0)), Some(190.0));
        assert!(Target::parse("fewer").is_err());
        assert_eq!(Tolerance::parse("5%").unwrap(), Tolerance::Percent(5.0));
        assert_eq!(Tolerance::parse("2").unwrap(), Tolerance::Absolute(2.0));
    }

    #[test]
    fn directions() {
        let d = Direction::of(110.0, 100.0, Polarity::LowerIsBetter, false);
        assert_eq!((d.arrow, d.judgement), (Arrow::Up, Judgement::Worse));
        assert_eq!(d.label(), "up 10.0% (worse)");
        let d = Direction::of(90.0, 100.0, Polarity::LowerIsBetter, false);
        assert_eq!(d.judgement, Judgement::Better);
        let d = Direction::of(90.0, 100.0, Polarity::Monitor, false);
        assert_eq!((d.arrow, d.judgement), (Arrow::Down, Judgement::Neutral));
        assert_eq!(
            Direction::of(5.0, 5.0, Polarity::HigherIsBetter, false).label(),
            "no change"
        );
        assert_eq!(
            Direction::of(5.0, 0.0, Polarity::HigherIsBetter, false).label(),
            "up (better)"
        );
        // Percentages move in percentage points: 12.5% to 10.0% is 2.5
        // points, not 20%.
        assert_eq!(
            Direction::of(10.0, 12.5, Polarity::HigherIsBetter, true).label(),
            "down 2.5 percentage points (worse)"
        );
    }
}
