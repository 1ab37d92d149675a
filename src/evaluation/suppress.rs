//! Disclosure control for public outputs.
//!
//! Primary suppression hides counts from 1 to the threshold (default 4);
//! zero is never hidden. Secondary suppression then hides further cells of
//! a table so that no hidden cell can be worked out from the published row
//! and column totals: every line (row or column, with its total) has either
//! no hidden entries or at least two, and no hidden entry is determined by
//! the linear system of published totals (checked by Gaussian elimination,
//! which catches "bridges" that the two-per-line rule alone misses).
//! Rates and percentages built on a hidden count are hidden with it: that is
//! the caller's rule, applied where values are derived.

/// Default: counts 1-4 are hidden.
pub const DEFAULT_THRESHOLD: f64 = 4.0;

/// Whether a count needs primary suppression: above zero and at most the
/// threshold. Fractional counts (severity-adjusted casualties) are treated
/// the same way: 0 < value < threshold + 1.
pub fn is_primary(count: f64, threshold: f64) -> bool {
    count > 0.0 && count < threshold + 1.0
}

/// A table with margins: `cells[r][c]`, row totals, column totals, grand total.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Interior cells.
    pub cells: Vec<Vec<f64>>,
    /// Total of each row.
    pub row_totals: Vec<f64>,
    /// Total of each column.
    pub col_totals: Vec<f64>,
    /// Total of everything.
    pub grand_total: f64,
}

/// Which entries of a [`Table`] are hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Interior cells.
    pub cells: Vec<Vec<bool>>,
    /// Row totals.
    pub row_totals: Vec<bool>,
    /// Column totals.
    pub col_totals: Vec<bool>,
    /// Grand total.
    pub grand_total: bool,
}

/// An entry of the table: interior cell, row total, column total or grand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entry {
    /// Interior cell.
    Cell(usize, usize),
    /// Row total.
    Row(usize),
    /// Column total.
    Col(usize),
    /// Grand total.
    Grand,
}

impl Table {
    /// Build a table from interior cells, summing the margins.
    pub fn from_cells(cells: Vec<Vec<f64>>) -> Table {
        let cols = cells.first().map_or(0, Vec::len);
        let row_totals: Vec<f64> = cells.iter().map(|r| r.iter().sum()).collect();
        let col_totals: Vec<f64> = (0..cols)
            .map(|c| cells.iter().map(|r| r[c]).sum())
            .collect();
        let grand_total = row_totals.iter().sum();
        Table {
            cells,
            row_totals,
            col_totals,
            grand_total,
        }
    }

    fn value(&self, e: Entry) -> f64 {
        match e {
            Entry::Cell(r, c) => self.cells[r][c],
            Entry::Row(r) => self.row_totals[r],
            Entry::Col(c) => self.col_totals[c],
            Entry::Grand => self.grand_total,
        }
    }

    /// Every additive line: its parts and its total.
    pub fn lines(&self) -> Vec<(Vec<Entry>, Entry)> {
        let rows = self.cells.len();
        let cols = self.col_totals.len();
        let mut out = Vec::new();
        for r in 0..rows {
            out.push((
                (0..cols).map(|c| Entry::Cell(r, c)).collect(),
                Entry::Row(r),
            ));
        }
        for c in 0..cols {
            out.push((
                (0..rows).map(|r| Entry::Cell(r, c)).collect(),
                Entry::Col(c),
            ));
        }
        out.push(((0..rows).map(Entry::Row).collect(), Entry::Grand));
        out.push(((0..cols).map(Entry::Col).collect(), Entry::Grand));
        out
    }
}

impl Mask {
    fn empty(t: &Table) -> Mask {
        Mask {
            cells: t.cells.iter().map(|r| vec![false; r.len()]).collect(),
            row_totals: vec![false; t.row_totals.len()],
            col_totals: vec![false; t.col_totals.len()],
            grand_total: false,
        }
    }

    /// Whether an entry is hidden.
    pub fn get(&self, e: Entry) -> bool {
        match e {
            Entry::Cell(r, c) => self.cells[r][c],
            Entry::Row(r) => self.row_totals[r],
            Entry::Col(c) => self.col_totals[c],
            Entry::Grand => self.grand_total,
        }
    }

    fn set(&mut self, e: Entry) {
        match e {
            Entry::Cell(r, c) => self.cells[r][c] = true,
            Entry::Row(r) => self.row_totals[r] = true,
            Entry::Col(c) => self.col_totals[c] = true,
            Entry::Grand => self.grand_total = true,
        }
    }

    /// Every hidden entry.
    pub fn hidden(&self, t: &Table) -> Vec<Entry> {
        let mut out = Vec::new();
        for (r, row) in t.cells.iter().enumerate() {
            for c in 0..row.len() {
                if self.cells[r][c] {
                    out.push(Entry::Cell(r, c));
                }
            }
        }
        out.extend(
            (0..t.row_totals.len())
                .filter(|r| self.row_totals[*r])
                .map(Entry::Row),
        );
        out.extend(
            (0..t.col_totals.len())
                .filter(|c| self.col_totals[*c])
                .map(Entry::Col),
        );
        if self.grand_total {
            out.push(Entry::Grand);
        }
        out
    }
}

/// Primary and secondary suppression for a table.
pub fn protect(t: &Table, threshold: f64) -> Mask {
    let entries: Vec<Entry> = {
        let mut v = Vec::new();
        for (r, row) in t.cells.iter().enumerate() {
            v.extend((0..row.len()).map(|c| Entry::Cell(r, c)));
        }
        v.extend((0..t.row_totals.len()).map(Entry::Row));
        v.extend((0..t.col_totals.len()).map(Entry::Col));
        v.push(Entry::Grand);
        v
    };
    let pos = |e: &Entry| entries.iter().position(|x| x == e).unwrap_or(0);
    let grid = Grid {
        values: entries.iter().map(|e| t.value(*e)).collect(),
        lines: t
            .lines()
            .iter()
            .map(|(parts, total)| (parts.iter().map(pos).collect(), pos(total)))
            .collect(),
    };
    let hidden = protect_grid(&grid, threshold);
    let mut m = Mask::empty(t);
    for (e, h) in entries.iter().zip(hidden) {
        if h {
            m.set(*e);
        }
    }
    m
}

/// The first column whose unknown the equations in `rows` fix on their
/// own, if any: the column whose unit vector lies in the rows' span.
///
/// One Gauss-Jordan elimination answers it for every column at once. In
/// reduced row echelon form a column is fixed exactly when it is a pivot
/// column whose row has no other non-zero entry (the pivot rows are
/// already zero in each other's pivot columns; a non-zero in a free column
/// ties the unknown to one nothing fixes). Asking column by column whether
/// adding its unit vector raises the rank gives the same answer with an
/// elimination per column, which made a ten-year nightly run spend two
/// minutes here.
fn first_determined(rows: Vec<Vec<f64>>) -> Option<usize> {
    const EPS: f64 = 1e-9;
    let mut a = rows;
    let cols = a.first().map_or(0, Vec::len);
    let mut pivots = Vec::new();
    let mut r = 0;
    let mut pivot_row = Vec::with_capacity(cols);
    for c in 0..cols {
        if r == a.len() {
            break;
        }
        // The largest entry as pivot keeps the arithmetic steady.
        let Some(p) = (r..a.len())
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .filter(|&p| a[p][c].abs() > EPS)
        else {
            continue;
        };
        a.swap(r, p);
        let pivot = a[r][c];
        for x in a[r].iter_mut() {
            *x /= pivot;
        }
        pivot_row.clear();
        pivot_row.extend_from_slice(&a[r]);
        for (i, row) in a.iter_mut().enumerate() {
            let f = row[c];
            if i != r && f.abs() > EPS {
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                    *x -= f * p;
                }
            }
        }
        pivots.push((r, c));
        r += 1;
    }
    pivots
        .into_iter()
        .filter(|&(row, c)| {
            a[row]
                .iter()
                .enumerate()
                .all(|(j, x)| j == c || x.abs() <= EPS)
        })
        .map(|(_, c)| c)
        .min()
}

/// A general additive system: entries with values, and lines where the
/// parts add up to the total. Tables with margins are one case; an area
/// hierarchy (districts adding to partnerships, to the county, to the force
/// area) is another.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Entry values.
    pub values: Vec<f64>,
    /// (parts, total) index lines.
    pub lines: Vec<(Vec<usize>, usize)>,
}

/// Primary and secondary suppression on a grid; returns the hidden flags.
pub fn protect_grid(g: &Grid, threshold: f64) -> Vec<bool> {
    let hidden: Vec<bool> = g.values.iter().map(|v| is_primary(*v, threshold)).collect();
    protect_grid_from(g, hidden)
}

/// Secondary suppression on a grid whose entries `hidden` are already
/// hidden (by primary suppression or by another table they belong to).
pub fn protect_grid_from(g: &Grid, mut hidden: Vec<bool>) -> Vec<bool> {
    loop {
        let mut changed = false;
        for (parts, total) in &g.lines {
            let n = parts
                .iter()
                .chain(std::iter::once(total))
                .filter(|i| hidden[**i])
                .count();
            if n == 1 {
                hide_another_in(g, &mut hidden, parts, *total);
                changed = true;
            }
        }
        if !changed && let Some((parts, total)) = determined_line(g, &hidden) {
            hide_another_in(g, &mut hidden, &parts, total);
            changed = true;
        }
        if !changed {
            return hidden;
        }
    }
}

fn hide_another_in(g: &Grid, hidden: &mut [bool], parts: &[usize], total: usize) {
    let candidate = parts
        .iter()
        .copied()
        .filter(|i| !hidden[*i] && g.values[*i] > 0.0)
        .min_by(|a, b| g.values[*a].total_cmp(&g.values[*b]));
    match candidate {
        Some(i) => hidden[i] = true,
        None if !hidden[total] => hidden[total] = true,
        None => {
            // Only zeros left visible: hiding a zero is the lesser evil.
            if let Some(i) = parts.iter().copied().find(|i| !hidden[*i]) {
                hidden[i] = true;
            }
        }
    }
}

fn determined_line(g: &Grid, hidden: &[bool]) -> Option<(Vec<usize>, usize)> {
    let idx: Vec<usize> = (0..g.values.len()).filter(|i| hidden[*i]).collect();
    if idx.is_empty() {
        return None;
    }
    // Each hidden entry's column; a line with no hidden entry is a row of
    // zeros, which fixes nothing, so it is left out of the elimination.
    let mut column = vec![usize::MAX; g.values.len()];
    for (k, i) in idx.iter().enumerate() {
        column[*i] = k;
    }
    let a: Vec<Vec<f64>> = g
        .lines
        .iter()
        .filter(|(parts, total)| hidden[*total] || parts.iter().any(|p| hidden[*p]))
        .map(|(parts, total)| {
            let mut row = vec![0.0; idx.len()];
            if let Some(x) = row.get_mut(column[*total]) {
                *x = -1.0;
            }
            for p in parts {
                if let Some(x) = row.get_mut(column[*p]) {
                    *x = 1.0;
                }
            }
            row
        })
        .collect();
    line_to_hide_in(g, hidden, idx[first_determined(a)?])
}

/// A line through entry `e` that still shows something: hiding one more
/// of its entries stops `e` being worked out.
fn line_to_hide_in(g: &Grid, hidden: &[bool], e: usize) -> Option<(Vec<usize>, usize)> {
    g.lines
        .iter()
        .filter(|(parts, total)| parts.contains(&e) || *total == e)
        .find(|(parts, total)| {
            parts
                .iter()
                .chain(std::iter::once(total))
                .any(|x| !hidden[*x])
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn primary_threshold_and_zero() {
        assert!(!is_primary(0.0, 4.0));
        assert!(is_primary(1.0, 4.0));
        assert!(is_primary(4.0, 4.0));
        assert!(!is_primary(5.0, 4.0));
        assert!(is_primary(0.4, 4.0));
    }

    #[test]
    fn a_lone_small_cell_gets_a_partner_in_its_row_and_column() {
        // District x strand, by hand: the 3 must hide, and so must one more
        // cell in its row and one in its column (the smallest: 6 and 7),
        // and then one more to pair those (the 8 at their crossing).
        let t = Table::from_cells(vec![
            vec![3.0, 6.0, 20.0],
            vec![7.0, 8.0, 30.0],
            vec![40.0, 50.0, 60.0],
        ]);
        let m = protect(&t, 4.0);
        assert_eq!(
            m.cells,
            vec![
                vec![true, true, false],
                vec![true, true, false],
                vec![false, false, false]
            ]
        );
        assert!(!m.grand_total && m.row_totals.iter().all(|x| !x));
    }

    #[test]
    fn zero_is_never_hidden_for_itself() {
        let t = Table::from_cells(vec![vec![0.0, 10.0], vec![12.0, 0.0]]);
        let m = protect(&t, 4.0);
        assert!(m.hidden(&t).is_empty());
    }

    /// Independent check by enumeration: a hidden entry is safe when some
    /// change vector with entries in {-1, 0, 1} over the hidden entries
    /// keeps every published line total and moves that entry. (Lines sum to
    /// zero over the change; published entries do not move.)
    fn recoverable(t: &Table, m: &Mask) -> Vec<Entry> {
        let hidden = m.hidden(t);
        let h = hidden.len();
        let lines = t.lines();
        let mut safe = vec![false; h];
        let mut d = vec![0i32; h];
        let total = 3usize.pow(h as u32);
        for code in 1..total {
            let mut c = code;
            for x in d.iter_mut() {
                *x = (c % 3) as i32 - 1;
                c /= 3;
            }
            let ok = lines.iter().all(|(parts, tot)| {
                let mut s = 0;
                for (k, e) in hidden.iter().enumerate() {
                    if parts.contains(e) {
                        s += d[k];
                    } else if e == tot {
                        s -= d[k];
                    }
                }
                s == 0
            });
            if ok {
                for k in 0..h {
                    if d[k] != 0 {
                        safe[k] = true;
                    }
                }
            }
        }
        hidden
            .into_iter()
            .zip(safe)
            .filter(|(_, s)| !s)
            .map(|(e, _)| e)
            .collect()
    }

    fn small_count() -> impl Strategy<Value = f64> {
        prop_oneof![Just(0u32), 1u32..=4, 5u32..=30].prop_map(|v| v as f64)
    }

    /// The rank of a matrix, by elimination: the reference the one-pass
    /// test in `first_determined` is checked against.
    fn rank(rows: &[Vec<f64>]) -> usize {
        let mut a: Vec<Vec<f64>> = rows.to_vec();
        let cols = a.first().map_or(0, Vec::len);
        let mut r = 0;
        for c in 0..cols {
            let Some(p) = (r..a.len()).find(|&i| a[i][c].abs() > 1e-9) else {
                continue;
            };
            a.swap(r, p);
            let pivot = a[r][c];
            for i in 0..a.len() {
                if i != r && a[i][c].abs() > 1e-9 {
                    let f = a[i][c] / pivot;
                    let pivot_row = a[r].clone();
                    for (x, p) in a[i].iter_mut().zip(&pivot_row).skip(c) {
                        *x -= f * p;
                    }
                }
            }
            r += 1;
            if r == a.len() {
                break;
            }
        }
        r
    }

    /// The column-by-column definition: the first column whose unit vector
    /// leaves the rank unchanged.
    fn first_determined_by_rank(rows: &[Vec<f64>]) -> Option<usize> {
        let cols = rows.first().map_or(0, Vec::len);
        let base = rank(rows);
        (0..cols).find(|&k| {
            let mut with = rows.to_vec();
            let mut unit = vec![0.0; cols];
            unit[k] = 1.0;
            with.push(unit);
            rank(&with) == base
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn one_elimination_finds_what_the_rank_test_finds(
            rows in (1usize..=7, 1usize..=8).prop_flat_map(|(r, c)| {
                proptest::collection::vec(proptest::collection::vec(-1i8..=1, c), r)
            })
        ) {
            let rows: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| r.iter().map(|v| f64::from(*v)).collect())
                .collect();
            prop_assert_eq!(first_determined(rows.clone()), first_determined_by_rank(&rows), "{:?}", rows);
        }
    }

    /// `determined_line`'s matrix as it was built: every line a row, zero
    /// rows included, each cell found by searching the line.
    fn determined_line_dense(g: &Grid, hidden: &[bool]) -> Option<(Vec<usize>, usize)> {
        let idx: Vec<usize> = (0..g.values.len()).filter(|i| hidden[*i]).collect();
        if idx.is_empty() {
            return None;
        }
        let a: Vec<Vec<f64>> = g
            .lines
            .iter()
            .map(|(parts, total)| {
                idx.iter()
                    .map(|i| {
                        if parts.contains(i) {
                            1.0
                        } else if i == total {
                            -1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        line_to_hide_in(g, hidden, idx[first_determined_by_rank(&a)?])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn the_sparse_build_finds_the_line_the_dense_build_finds(
            (n, lines, hidden) in (3usize..=10).prop_flat_map(|n| {
                let line = (proptest::collection::btree_set(0..n, 1..n), 0..n)
                    .prop_filter("a total is not its own part", |(p, t)| !p.contains(t))
                    .prop_map(|(p, t)| (p.into_iter().collect::<Vec<usize>>(), t));
                (
                    Just(n),
                    proptest::collection::vec(line, 1..=5),
                    proptest::collection::vec(any::<bool>(), n),
                )
            })
        ) {
            let g = Grid { values: vec![1.0; n], lines };
            prop_assert_eq!(determined_line(&g, &hidden), determined_line_dense(&g, &hidden));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn no_hidden_value_is_recoverable_from_published_totals(
            cells in (2usize..=4, 2usize..=3).prop_flat_map(|(r, c)| {
                proptest::collection::vec(proptest::collection::vec(small_count(), c), r)
            })
        ) {
            let t = Table::from_cells(cells);
            let m = protect(&t, 4.0);
            // Every primary count is hidden; zero never is unless forced.
            for (r, row) in t.cells.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    if is_primary(*v, 4.0) {
                        prop_assert!(m.cells[r][c]);
                    }
                }
            }
            let hidden = m.hidden(&t);
            prop_assume!(hidden.len() <= 11);
            // No line has exactly one hidden entry.
            for (parts, total) in t.lines() {
                let n = parts.iter().chain(std::iter::once(&total)).filter(|e| m.get(**e)).count();
                prop_assert!(n != 1, "a line with one hidden entry: {:?}", t);
            }
            let exposed = recoverable(&t, &m);
            prop_assert!(exposed.is_empty(), "recoverable {:?} in {:?} with {:?}", exposed, t, m);
        }
    }
}
