//! The evaluation engine: turns an indicator's monthly series per area into
//! results for every area and period, the same way for every indicator.
//!
//! Officers' SQL only counts. Here the counts are rolled up through the
//! geography crosswalk (LSOA -> district -> CSP -> Lancashire-12 ->
//! Lancashire-14), summed into periods (month, quarter, financial or
//! calendar year, rolling 12 months, year to date), turned into rates with
//! the right ONS population for the right year, compared with the previous
//! period and the same period last year, rated against the target, read with
//! statistical process control, and finally put through disclosure control.

pub mod periods;
pub mod rag;
pub mod results;
pub mod spc;
pub mod spec;
pub mod suppress;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::geography::{Area, Crosswalk, DISTRICTS, LANCASHIRE_12_CODE, LANCASHIRE_14_CODE};
use crate::indicators::{Indicator, Point};
use periods::{Calendar, Period, PeriodType, month_from_index, month_index};
use rag::{Direction, RagRule, Status};
use spc::Chart;
use spec::{Aggregate, Disclosure, Population, Spec, Unit};
use suppress::Grid;

/// Mid-year population estimates by district and year, for every
/// denominator population.
#[derive(Debug, Clone, Default)]
pub struct Populations {
    by: HashMap<(String, i32), [f64; Population::ALL.len()]>,
    years: BTreeSet<i32>,
}

impl Populations {
    /// Add one ONS row (district, sex, single year of age, year, count).
    pub fn add(&mut self, district: &str, female: bool, age: i64, year: i32, people: f64) {
        let e = self
            .by
            .entry((district.to_string(), year))
            .or_insert([0.0; Population::ALL.len()]);
        for (i, p) in Population::ALL.iter().enumerate() {
            if p.includes(female, age) {
                e[i] += people;
            }
        }
        self.years.insert(year);
    }

    /// Population of an area for a year. When that year is not published
    /// yet, the latest earlier estimate is used (and returned, so the pack
    /// can say so); before the first estimate, the first one.
    pub fn get(&self, area: &Area, year: i32, pop: Population) -> Option<(f64, i32)> {
        let used = self
            .years
            .range(..=year)
            .next_back()
            .or_else(|| self.years.iter().next())
            .copied()?;
        let idx = Population::ALL.iter().position(|p| *p == pop)?;
        let districts = Crosswalk::districts_in(area);
        let mut total = 0.0;
        for d in &districts {
            total += self.by.get(&(d.code.to_string(), used))?[idx];
        }
        (!districts.is_empty()).then_some((total, used))
    }

    /// Latest estimate year available.
    pub fn latest_year(&self) -> Option<i32> {
        self.years.iter().next_back().copied()
    }
}

/// What every evaluation in a run shares.
#[derive(Debug, Clone)]
pub struct Context {
    /// Run id, stamped on every result.
    pub run_id: String,
    /// The reporting month: periods are evaluated up to the one containing it.
    pub reporting_month: NaiveDate,
    /// LSOA lookup.
    pub crosswalk: Crosswalk,
    /// Denominators.
    pub populations: Populations,
    /// Counts from 1 to this are suppressed in public outputs.
    pub threshold: f64,
    /// Per indicator id, the first and last month its source tables cover.
    /// A month inside it with no events is a zero, not a gap: completeness,
    /// "latest" and the SPC series follow the coverage, not the events.
    pub coverage: HashMap<String, (NaiveDate, NaiveDate)>,
}

/// One result: indicator × area × period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Run id.
    pub run_id: String,
    /// Indicator id.
    pub indicator_id: String,
    /// SHA-256 of the SQL file.
    pub sql_hash: String,
    /// Area code.
    pub area_code: String,
    /// Area name.
    pub area_name: String,
    /// Area level.
    pub area_level: String,
    /// Kind of period.
    pub period_type: PeriodType,
    /// Period label.
    pub period_label: String,
    /// First month.
    pub period_start: NaiveDate,
    /// Last month (first day).
    pub period_end: NaiveDate,
    /// Every month of the period has data.
    pub complete: bool,
    /// Summed numerator.
    pub numerator: f64,
    /// Summed denominator (percentages).
    pub denominator: Option<f64>,
    /// Population used for a rate.
    pub population: Option<f64>,
    /// Mid-year the population is for.
    pub population_year: Option<i32>,
    /// Note when the population is not the period's own year.
    pub population_note: Option<String>,
    /// The value in the indicator's unit.
    pub value: Option<f64>,
    /// What the value is.
    pub unit: Unit,
    /// Which way is better.
    pub polarity: spc::Polarity,
    /// Previous period's value.
    pub previous_value: Option<f64>,
    /// Same period last year's value.
    pub sply_value: Option<f64>,
    /// Direction against the previous period.
    pub direction_previous: Option<Direction>,
    /// Direction against SPLY.
    pub direction_sply: Option<Direction>,
    /// Target value for this period.
    pub target: Option<f64>,
    /// Status against the target (rated periods only).
    pub status: Option<Status>,
    /// SPC variation at this month (month rows only).
    pub spc_variation: Option<spc::Variation>,
    /// SPC rules that fired at this month.
    pub spc_rules: Option<String>,
    /// SPC mean (month rows).
    pub spc_mean: Option<f64>,
    /// SPC lower limit.
    pub spc_lower: Option<f64>,
    /// SPC upper limit.
    pub spc_upper: Option<f64>,
    /// Target assurance (month rows of indicators with a fixed target).
    pub spc_assurance: Option<spc::Assurance>,
    /// Public outputs must hide this row's figures.
    pub suppressed: bool,
    /// The previous-period figure is hidden in public outputs.
    pub previous_suppressed: bool,
    /// The SPLY figure is hidden in public outputs.
    pub sply_suppressed: bool,
    /// The period includes months still being recorded (`provisional_months`):
    /// shown with a caveat, never rated.
    pub provisional: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    num: f64,
    den: f64,
}

/// Evaluate one indicator.
pub fn evaluate(ind: &Indicator, spec: &Spec, points: &[Point], ctx: &Context) -> Vec<ResultRow> {
    // No events at all is zeros over the coverage, if the sources have
    // landed; with no coverage either there is nothing to say.
    if points.is_empty() && !ctx.coverage.contains_key(&ind.id) {
        return Vec::new();
    }
    let all_areas = Crosswalk::all_areas();
    let area_by_code: HashMap<&str, &Area> =
        all_areas.iter().map(|a| (a.code.as_str(), a)).collect();

    // 1. Roll up through the crosswalk.
    // Keyed by (index into `all_areas`, month): no string keys in the
    // inner loops, which run for every area x period x month.
    let area_index: HashMap<&str, usize> = all_areas
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), i))
        .collect();
    let mut monthly: HashMap<(usize, i32), Sum> = HashMap::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut district_level = false;
    for p in points {
        let m = month_index(p.month);
        let targets: Vec<Area> = if let Some(d) = ctx.crosswalk.district_of(&p.area_code) {
            district_level = true;
            Crosswalk::ancestors(d)
        } else if let Some(a) = area_by_code.get(p.area_code.as_str()) {
            vec![(*a).clone()]
        } else {
            continue; // outside pan-Lancashire: not counted anywhere
        };
        for a in targets {
            let Some(&ai) = area_index.get(a.code.as_str()) else {
                continue;
            };
            let s = monthly.entry((ai, m)).or_default();
            s.num += p.numerator;
            s.den += p.denominator.unwrap_or(0.0);
            covered.insert(a.code);
        }
    }
    let areas: Vec<&Area> = if district_level || points.is_empty() {
        all_areas.iter().collect()
    } else {
        all_areas
            .iter()
            .filter(|a| covered.contains(&a.code))
            .collect()
    };
    // The months the series spans: the points', widened to the sources'
    // coverage (an indicator with no events at all spans just the coverage).
    let from_points = points.iter().map(|p| month_index(p.month));
    let (mut first, mut last_data) = (from_points.clone().min(), from_points.max());
    if let Some((from, to)) = ctx.coverage.get(&ind.id) {
        let (from, to) = (
            month_index(*from),
            // Coverage past the reporting month (an `--as-of` run) is not used.
            month_index(*to).min(month_index(ctx.reporting_month)),
        );
        first = Some(first.map_or(from, |f| f.min(from)));
        last_data = Some(last_data.map_or(to, |l| l.max(to)));
    }
    let (Some(first), Some(last_data)) = (first, last_data) else {
        return Vec::new();
    };
    if last_data < first {
        return Vec::new();
    }
    let reporting = month_index(ctx.reporting_month).max(last_data);

    let year_kind = match spec.calendar {
        Calendar::Financial => PeriodType::FinancialYear,
        Calendar::Calendar => PeriodType::CalendarYear,
    };
    let kinds = [
        PeriodType::Month,
        PeriodType::Quarter,
        year_kind,
        PeriodType::Rolling12,
        PeriodType::YearToDate,
    ];

    let value_of = |area: &Area, p: &Period| -> Option<Computed> {
        let lo = p.start.max(first);
        let hi = p.end().min(last_data);
        if p.end() < first || p.start > last_data {
            return None;
        }
        if spec.aggregate == Aggregate::Distinct && p.kind != PeriodType::Month {
            return None;
        }
        let ai = area_index
            .get(area.code.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let mut s = Sum::default();
        let mut months_with_data = 0u32;
        for m in lo..=hi {
            if let Some(x) = monthly.get(&(ai, m)) {
                months_with_data += 1;
                match spec.aggregate {
                    Aggregate::Latest => {
                        s.num = x.num;
                        s.den = x.den;
                    }
                    _ => {
                        s.num += x.num;
                        s.den += x.den;
                    }
                }
            }
        }
        if spec.aggregate == Aggregate::Average && months_with_data > 0 {
            s.num /= f64::from(months_with_data);
            s.den /= f64::from(months_with_data);
        }
        let complete = p.start >= first && p.end() <= last_data;
        let (value, population, pop_year) = match spec.unit {
            Unit::Count => (Some(s.num), None, None),
            Unit::Percentage => ((s.den > 0.0).then(|| 100.0 * s.num / s.den), None, None),
            Unit::Rate { per } => {
                let pop = spec
                    .population
                    .and_then(|kind| ctx.populations.get(area, p.population_year(), kind));
                match pop {
                    Some((n, y)) if n > 0.0 => (Some(s.num / n * per), Some(n), Some(y)),
                    _ => (None, None, None),
                }
            }
        };
        Some(Computed {
            sum: s,
            complete,
            value,
            population,
            pop_year,
        })
    };

    let mut rows = Vec::new();
    for area in &areas {
        // SPC over the complete monthly series of this area.
        // Provisional months (outcomes still being recorded) are left out of
        // the chart: their fall is the recording lag, not a signal.
        let settled = last_data - spec.provisional_months as i32;
        let months: Vec<i32> = (first..=settled).collect();
        let series: Vec<f64> = months
            .iter()
            .filter_map(|m| {
                let p = Period::containing(PeriodType::Month, spec.calendar, month_from_index(*m));
                value_of(area, &p).and_then(|c| c.value)
            })
            .collect();
        let chart = (series.len() == months.len())
            .then(|| Chart::new(&series))
            .flatten();

        for kind in kinds {
            let mut p = Period::containing(kind, spec.calendar, month_from_index(first));
            while p.start <= reporting {
                // A rolling year or a year to date ends at its last month, so
                // one ending after the reporting month is not a period yet;
                // a quarter or year in progress is shown, as incomplete.
                if matches!(kind, PeriodType::Rolling12 | PeriodType::YearToDate)
                    && p.end() > reporting
                {
                    break;
                }
                let Some(c) = value_of(area, &p) else {
                    p = p.next();
                    continue;
                };
                let prev = p
                    .previous()
                    .and_then(|q| value_of(area, &q))
                    .filter(|c| c.complete);
                let sply = value_of(area, &p.same_period_last_year()).filter(|c| c.complete);
                let prev_v = prev.as_ref().and_then(|c| c.value);
                let sply_v = sply.as_ref().and_then(|c| c.value);
                let dir = |other: Option<f64>| match (c.complete, c.value, other) {
                    (true, Some(v), Some(o)) => Some(Direction::of(
                        v,
                        o,
                        spec.polarity,
                        spec.unit == Unit::Percentage,
                    )),
                    _ => None,
                };
                let target = if kind == spec.target_period && c.complete {
                    spec.target.as_ref().and_then(|t| t.value(sply_v))
                } else {
                    None
                };
                let provisional = p.end() > settled;
                let status = match (target, c.value) {
                    (Some(t), Some(v)) if !provisional => {
                        RagRule.rate(v, t, spec.tolerance, sply_v, spec.polarity)
                    }
                    _ => None,
                };
                let mut row = ResultRow {
                    run_id: ctx.run_id.clone(),
                    indicator_id: ind.id.clone(),
                    sql_hash: ind.sql_hash.clone(),
                    area_code: area.code.clone(),
                    area_name: area.name.clone(),
                    area_level: area.level.to_string(),
                    period_type: kind,
                    period_label: p.label(),
                    period_start: p.start_date(),
                    period_end: p.end_date(),
                    complete: c.complete,
                    numerator: c.sum.num,
                    denominator: (spec.unit == Unit::Percentage).then_some(c.sum.den),
                    population: c.population,
                    population_year: c.pop_year,
                    population_note: c.pop_year.filter(|y| *y != p.population_year()).map(|y| {
                        format!(
                            "mid-{} population used: the mid-{} estimate is not yet published",
                            y,
                            p.population_year()
                        )
                    }),
                    value: c.value,
                    unit: spec.unit,
                    polarity: spec.polarity,
                    previous_value: prev_v,
                    sply_value: sply_v,
                    direction_previous: dir(prev_v),
                    direction_sply: dir(sply_v),
                    target,
                    status,
                    spc_variation: None,
                    spc_rules: None,
                    spc_mean: None,
                    spc_lower: None,
                    spc_upper: None,
                    spc_assurance: None,
                    suppressed: false,
                    previous_suppressed: false,
                    sply_suppressed: false,
                    provisional,
                };
                if kind == PeriodType::Month
                    && let Some(chart) = &chart
                {
                    let i = (p.start - first) as usize;
                    if let Some(sig) = chart.signals.get(i).copied().flatten() {
                        row.spc_variation = Some(spc::variation(sig.side, spec.polarity));
                        row.spc_rules = Some(rules_text(&sig.rules));
                    } else if i < chart.signals.len() {
                        row.spc_variation = Some(spc::Variation::CommonCause);
                    }
                    row.spc_mean = Some(chart.mean);
                    // Counts, rates and percentages cannot be negative (nor a
                    // percentage above 100): limits stop there.
                    row.spc_lower = Some(chart.lower.max(0.0));
                    row.spc_upper = Some(if spec.unit == Unit::Percentage {
                        chart.upper.min(100.0)
                    } else {
                        chart.upper
                    });
                    row.spc_assurance =
                        monthly_target(spec).and_then(|t| chart.assurance(t, spec.polarity));
                }
                rows.push(row);
                p = p.next();
            }
        }
    }
    if spec.disclosure == Disclosure::Public {
        suppress_rows(&mut rows, ctx.threshold);
    }
    rows
}

struct Computed {
    sum: Sum,
    complete: bool,
    value: Option<f64>,
    population: Option<f64>,
    pop_year: Option<i32>,
}

/// A fixed target on the monthly scale, for SPC assurance: percentages
/// compare directly; annual counts and rates are spread over 12 months.
/// A fixed target in monthly terms (an annual count target over twelve,
/// a quarterly one over three; a percentage or a monthly target as it is),
/// for charts and assurance. `None` for a target set against last year.
pub fn monthly_target(spec: &Spec) -> Option<f64> {
    let rag::Target::Value(t) = spec.target.as_ref()? else {
        return None;
    };
    Some(match (spec.unit, spec.target_period) {
        (Unit::Percentage, _) | (_, PeriodType::Month) => *t,
        (_, PeriodType::Quarter) => t / 3.0,
        _ => t / 12.0,
    })
}

fn rules_text(r: &spc::Rules) -> String {
    let mut v = Vec::new();
    if r.outside_limits {
        v.push("outside the limits");
    }
    if r.shift {
        v.push("run of 7 on one side of the mean");
    }
    if r.trend {
        v.push("7 rising or falling");
    }
    if r.two_of_three {
        v.push("2 of 3 near a limit");
    }
    v.join("; ")
}

/// Disclosure control over geography and time together.
///
/// Geography: per period, districts add up to partnerships, to
/// Lancashire-12 and to Lancashire-14, so each of those sums is a line that
/// must not give a hidden district away (exact check, as in
/// [`suppress::protect_grid`]).
///
/// Time: a quarter, year, rolling year or year to date printed beside its
/// months is a line of the same table, and overlapping rolling years and
/// years to date can be differenced month by month. So once anything of an
/// area is hidden, all its months and its mid-quarter years to date are hidden (zeros too,
/// which would otherwise pin the hidden months down), and its quarters,
/// years, quarter-aligned rolling years and quarter-end years to date are
/// protected as lines of quarters. With the months hidden, quarters, years and rolling years give
/// no single month away: a change of +1 in one month and -1 in another month
/// of the same quarter, repeated every year, leaves every one of them as it
/// is. The two passes repeat until neither hides anything more.
pub fn suppress_rows(rows: &mut [ResultRow], threshold: f64) {
    // What each row contributes to a sum: a percentage is disclosive if
    // either of its counts is small.
    let value = |r: &ResultRow| match r.denominator {
        Some(d) if suppress::is_primary(d, threshold) => d,
        _ => r.numerator,
    };
    let mut hidden: Vec<bool> = rows
        .iter()
        .map(|r| suppress::is_primary(value(r), threshold))
        .collect();

    // A period is its kind, start and end: the years to date of one year
    // share a start, so the end must be in the key.
    let mut groups: BTreeMap<(PeriodType, NaiveDate, NaiveDate), Vec<usize>> = BTreeMap::new();
    let mut by_area: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups
            .entry((r.period_type, r.period_start, r.period_end))
            .or_default()
            .push(i);
        by_area.entry(r.area_code.as_str()).or_default().push(i);
    }
    let lines = hierarchy_lines();
    let geo: Vec<(Vec<usize>, Grid)> = groups
        .values()
        .map(|idx| {
            let pos: HashMap<&str, usize> = idx
                .iter()
                .enumerate()
                .map(|(k, i)| (rows[*i].area_code.as_str(), k))
                .collect();
            let grid_lines: Vec<(Vec<usize>, usize)> = lines
                .iter()
                .filter_map(|(parts, total)| {
                    let t = *pos.get(total.as_str())?;
                    let ps: Option<Vec<usize>> =
                        parts.iter().map(|p| pos.get(p.as_str()).copied()).collect();
                    Some((ps?, t))
                })
                .collect();
            (
                idx.clone(),
                Grid {
                    values: idx.iter().map(|i| value(&rows[*i])).collect(),
                    lines: grid_lines,
                },
            )
        })
        .collect();
    let time: Vec<(Vec<usize>, Grid)> = by_area
        .values()
        .map(|idx| quarter_lines(rows, idx, &value))
        .collect();

    // What each grid was last given: a grid given the same flags again
    // would hide the same entries again, so it is not worked out twice.
    // (Most grids of a ten-year series do not change after the first pass,
    // and each pass over all of them took seconds.)
    let mut seen: Vec<Option<Vec<bool>>> = vec![None; geo.len() + time.len()];
    loop {
        let before = hidden.clone();
        for ((idx, grid), seen) in geo.iter().chain(time.iter()).zip(seen.iter_mut()) {
            if grid.lines.is_empty() {
                continue;
            }
            let given: Vec<bool> = idx.iter().map(|i| hidden[*i]).collect();
            if seen.as_ref() == Some(&given) {
                continue;
            }
            let now = suppress::protect_grid_from(grid, given);
            // Its answer is settled: given that answer, it would hide
            // nothing more.
            *seen = Some(now.clone());
            for (k, i) in idx.iter().enumerate() {
                hidden[*i] |= now[k];
            }
        }
        for idx in by_area.values() {
            if idx.iter().any(|i| hidden[*i]) {
                for i in idx {
                    let r = &rows[*i];
                    if r.period_type == PeriodType::Month
                        || (r.period_type == PeriodType::YearToDate && !ends_a_quarter(r))
                    {
                        hidden[*i] = true;
                    }
                }
            }
        }
        if hidden == before {
            break;
        }
    }
    for (r, h) in rows.iter_mut().zip(&hidden) {
        r.suppressed = *h;
    }
    // Comparisons that would show a hidden figure are hidden too.
    type Key = (String, PeriodType, NaiveDate, NaiveDate);
    let hidden: HashMap<Key, bool> = rows
        .iter()
        .map(|r| {
            (
                (
                    r.area_code.clone(),
                    r.period_type,
                    r.period_start,
                    r.period_end,
                ),
                r.suppressed,
            )
        })
        .collect();
    for r in rows.iter_mut() {
        let shift = |d: NaiveDate, by: i32| month_from_index(month_index(d) - by);
        let len = month_index(r.period_end) - month_index(r.period_start) + 1;
        let key = |by: i32| {
            (
                r.area_code.clone(),
                r.period_type,
                shift(r.period_start, by),
                shift(r.period_end, by),
            )
        };
        if r.period_type != PeriodType::YearToDate
            && hidden.get(&key(len)).copied().unwrap_or(false)
        {
            r.previous_suppressed = true;
        }
        if hidden.get(&key(12)).copied().unwrap_or(false) {
            r.sply_suppressed = true;
        }
    }
}

/// A year to date that ends with a quarter (June, September, December,
/// March) is a sum of published quarters; any other is not.
fn ends_a_quarter(r: &ResultRow) -> bool {
    use chrono::Datelike;
    r.period_end.month().is_multiple_of(3)
        && (month_index(r.period_end) - month_index(r.period_start) + 1) % 3 == 0
}

/// One area's quarters, years and rolling years as a grid whose lines are
/// "this year (or rolling year ending at a quarter's end) is the sum of
/// these four quarters", over complete periods.
fn quarter_lines(
    rows: &[ResultRow],
    idx: &[usize],
    value: &dyn Fn(&ResultRow) -> f64,
) -> (Vec<usize>, Grid) {
    let cells: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|i| {
            rows[*i].complete
                && matches!(
                    rows[*i].period_type,
                    PeriodType::Quarter
                        | PeriodType::FinancialYear
                        | PeriodType::CalendarYear
                        | PeriodType::Rolling12
                )
                || (rows[*i].complete
                    && rows[*i].period_type == PeriodType::YearToDate
                    && ends_a_quarter(&rows[*i]))
        })
        .collect();
    let quarter_at: HashMap<NaiveDate, usize> = cells
        .iter()
        .enumerate()
        .filter(|(_, i)| rows[**i].period_type == PeriodType::Quarter)
        .map(|(k, i)| (rows[*i].period_start, k))
        .collect();
    let mut lines = Vec::new();
    for (k, i) in cells.iter().enumerate() {
        let r = &rows[*i];
        if r.period_type == PeriodType::Quarter {
            continue;
        }
        let start = month_index(r.period_start);
        let quarters = (month_index(r.period_end) - start + 1) / 3;
        let parts: Option<Vec<usize>> = (0..quarters)
            .map(|q| quarter_at.get(&month_from_index(start + 3 * q)).copied())
            .collect();
        if let Some(parts) = parts {
            lines.push((parts, k));
        }
    }
    let values = cells.iter().map(|i| value(&rows[*i])).collect();
    (cells, Grid { values, lines })
}

/// The additive lines of the geography: each CSP's districts, the twelve,
/// the fourteen, and the CSPs adding up to the fourteen.
fn hierarchy_lines() -> Vec<(Vec<String>, String)> {
    let mut csps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &DISTRICTS {
        csps.entry(crate::geography::csp_code(d.csp))
            .or_default()
            .push(d.code.to_string());
    }
    let mut lines: Vec<(Vec<String>, String)> =
        csps.iter().map(|(c, ds)| (ds.clone(), c.clone())).collect();
    lines.push((
        DISTRICTS
            .iter()
            .filter(|d| d.lancashire_12)
            .map(|d| d.code.to_string())
            .collect(),
        LANCASHIRE_12_CODE.to_string(),
    ));
    lines.push((
        DISTRICTS.iter().map(|d| d.code.to_string()).collect(),
        LANCASHIRE_14_CODE.to_string(),
    ));
    lines.push((
        csps.keys().cloned().collect(),
        LANCASHIRE_14_CODE.to_string(),
    ));
    lines
}
