//! Date arithmetic once per date, not once per row.
//!
//! Indicators turn a row's month into a quarter, a financial year or a
//! month number: `date_trunc('quarter', month)`, `EXTRACT(MONTH FROM
//! month)` inside a CASE. DataFusion works these out row by row, and
//! `date_trunc` goes through a calendar for every row: in the peer
//! benchmark's query 05 that projection took 818 ms of compute over 18
//! million rows (45 ns a row), more than the join below it. Yet a batch of
//! police.uk rows holds one or two months.
//!
//! This rule wraps each such expression (one date or timestamp column in,
//! at least one function call, nothing volatile) in [`PerValue`], which
//! works the expression out for each distinct value of the column in the
//! batch and hands each row its value's answer: a batch of one month costs
//! one evaluation, and runs of a few dates (up to 64) one each. Other
//! batches are worked out row by row, as before. The answers are the same: the expression depends on
//! that column alone and on nothing that changes between calls.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Date32Type, FieldRef, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// Batches shorter than this are worked out row by row: finding the
/// distinct values would cost about what it saves.
const MIN_ROWS: usize = 256;

/// Wraps per-row date arithmetic in projections in [`PerValue`].
#[derive(Debug, Default)]
pub struct EvaluateOncePerValue;

impl PhysicalOptimizerRule for EvaluateOncePerValue {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(p) = node.downcast_ref::<ProjectionExec>() else {
                return Ok(Transformed::no(node));
            };
            let schema = p.input().schema();
            let mut changed = false;
            let mut exprs = Vec::with_capacity(p.expr().len());
            for e in p.expr() {
                let t = wrap(Arc::clone(&e.expr), &schema)?;
                changed |= t.transformed;
                exprs.push(ProjectionExpr::new(t.data, e.alias.clone()));
            }
            if !changed {
                return Ok(Transformed::no(node));
            }
            let out = ProjectionExec::try_new(exprs, Arc::clone(p.input()))?;
            Ok(Transformed::yes(Arc::new(out) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "evaluate_once_per_value"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Wrap the largest subexpressions of `expr` that qualify (see the module).
fn wrap(
    expr: Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    expr.transform_down(|e| {
        if e.is::<PerValue>() {
            return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
        }
        match qualifies(&e, schema) {
            Some(column) => {
                let wrapped = PerValue::wrapping(e, column, schema)?;
                Ok(Transformed::new(wrapped, true, TreeNodeRecursion::Jump))
            }
            None => Ok(Transformed::no(e)),
        }
    })
}

/// The column index, if `e` is a function of one date or timestamp column
/// with at least one function call and nothing volatile in it.
fn qualifies(e: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<usize> {
    if e.is::<Column>() || e.is::<Literal>() {
        return None;
    }
    let columns = collect_columns(e);
    let [column] = columns.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let temporal = matches!(
        schema.fields().get(column.index())?.data_type(),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    );
    let (mut calls, mut volatile) = (false, false);
    let _ = e.apply(|n| {
        volatile |= n.is_volatile_node();
        calls |= n.is::<ScalarFunctionExpr>();
        Ok(TreeNodeRecursion::Continue)
    });
    (temporal && calls && !volatile).then_some(column.index())
}

/// An expression of one column, worked out once per distinct value of that
/// column in each batch (see the module).
#[derive(Debug, Clone)]
pub struct PerValue {
    /// The expression as planned, over the whole input.
    inner: Arc<dyn PhysicalExpr>,
    /// The column it reads.
    column: usize,
    /// The same expression over a batch of that column alone.
    alone: Arc<dyn PhysicalExpr>,
    /// That one-column schema.
    alone_schema: Arc<Schema>,
}

impl PerValue {
    /// `inner` wrapped, reading `column` of `schema`.
    fn wrapping(
        inner: Arc<dyn PhysicalExpr>,
        column: usize,
        schema: &Schema,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Self::build(inner, column, Arc::new(schema.field(column).clone()))
    }

    /// `inner` reads `field` at `column`; `alone` reads it as column 0.
    fn build(
        inner: Arc<dyn PhysicalExpr>,
        column: usize,
        field: FieldRef,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let alone_schema = Arc::new(Schema::new(vec![field]));
        let alone = Arc::clone(&inner)
            .transform_up(|n| match n.downcast_ref::<Column>() {
                Some(c) => Ok(Transformed::yes(
                    Arc::new(Column::new(c.name(), 0)) as Arc<dyn PhysicalExpr>
                )),
                None => Ok(Transformed::no(n)),
            })?
            .data;
        Ok(Arc::new(PerValue {
            inner,
            column,
            alone,
            alone_schema,
        }))
    }

    /// `values` (distinct, no nulls) through the expression, as an array.
    fn over(&self, values: ArrayRef) -> Result<ArrayRef> {
        let n = values.len();
        let batch = RecordBatch::try_new(Arc::clone(&self.alone_schema), vec![values])?;
        self.alone.evaluate(&batch)?.into_array(n)
    }
}

impl PhysicalExpr for PerValue {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let col = batch.column(self.column);
        // A NULL date goes through the expression as it is (a CASE may
        // turn it into a value), so such batches are left row by row.
        if batch.num_rows() < MIN_ROWS || col.null_count() > 0 {
            return self.inner.evaluate(batch);
        }
        // One value in the whole batch: the usual case.
        let first = col.slice(0, 1);
        let same = datafusion::arrow::compute::kernels::cmp::eq(
            col,
            &datafusion::arrow::array::Scalar::new(&first),
        )?;
        if same.true_count() == col.len() {
            let answer = self.over(first)?;
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &answer, 0,
            )?));
        }
        // Runs of a few months: each once, then every row its month's
        // answer. Anything else (many distinct values, a timestamp of the
        // hour) is worked out row by row: hashing every row to find the
        // distinct values could cost more than the expression.
        match months(col) {
            Some((values, keys)) => {
                let answers = self.over(values)?;
                Ok(ColumnarValue::Array(take(&answers, &keys, None)?))
            }
            None => self.inner.evaluate(batch),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let inner = children
            .into_iter()
            .next()
            .unwrap_or_else(|| Arc::clone(&self.inner));
        // The new child reads the same column, perhaps under another index.
        let column = collect_columns(&inner)
            .iter()
            .next()
            .map_or(self.column, |c| c.index());
        Self::build(inner, column, Arc::new(self.alone_schema.field(0).clone()))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}

/// The distinct dates of a date column of runs (a month's rows together)
/// and each row's index among them, found by comparing each row with the
/// one before: cheaper than hashing every row. `None` for other types and
/// for more than [`MAX_RUN_VALUES`] distinct dates.
fn months(col: &ArrayRef) -> Option<(ArrayRef, UInt32Array)> {
    let dates = col.as_primitive_opt::<Date32Type>()?.values();
    let mut distinct: Vec<i32> = Vec::new();
    let mut keys = Vec::with_capacity(dates.len());
    let (mut last, mut key) = (*dates.first()?, 0u32);
    distinct.push(last);
    for &d in dates.iter() {
        if d != last {
            key = match distinct.iter().position(|&x| x == d) {
                Some(k) => k as u32,
                None if distinct.len() < MAX_RUN_VALUES => {
                    distinct.push(d);
                    (distinct.len() - 1) as u32
                }
                None => return None,
            };
            last = d;
        }
        keys.push(key);
    }
    Some((
        Arc::new(Date32Array::from(distinct)) as ArrayRef,
        UInt32Array::from(keys),
    ))
}

/// Distinct dates looked up by comparison before the batch is left row by
/// row.
const MAX_RUN_VALUES: usize = 64;

impl fmt::Display for PerValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (once per value)", self.inner)
    }
}

impl PartialEq for PerValue {
    fn eq(&self, other: &Self) -> bool {
        self.inner.as_ref() == other.inner.as_ref()
    }
}

impl Eq for PerValue {}

impl Hash for PerValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::Field;
    use datafusion::datasource::MemTable;

    fn days(d: NaiveDate) -> i32 {
        (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
    }

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    /// Batches of every kind `PerValue` treats apart: one month; runs of
    /// twelve months; 100 distinct days (past the runs' limit: row by row);
    /// NULLs among them (row by row); and a short batch (row by row).
    fn batches() -> Vec<Vec<Option<NaiveDate>>> {
        let base = month(2020, 1);
        vec![
            vec![Some(month(2024, 5)); 300],
            (0..300)
                .map(|i| Some(month(2024, 1 + (i / 25) as u32)))
                .collect(),
            (0..300)
                .map(|i| Some(base + chrono::Duration::days(i % 100)))
                .collect(),
            (0..300)
                .map(|i| (i % 7 != 0).then(|| month(2023, 1 + (i % 12) as u32)))
                .collect(),
            (0..10).map(|i| Some(month(2025, 1 + i as u32))).collect(),
        ]
    }

    #[tokio::test]
    async fn quarters_and_financial_years_are_the_same_once_per_value() {
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
        let data: Vec<RecordBatch> = batches()
            .iter()
            .map(|b| {
                let a = Date32Array::from(b.iter().map(|d| d.map(days)).collect::<Vec<_>>());
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(a)]).unwrap()
            })
            .collect();
        let ctx = crate::engine::grouping::session();
        let table = MemTable::try_new(Arc::clone(&schema), vec![data]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let sql = "SELECT d, \
                   CAST(date_trunc('quarter', d) AS DATE) AS q, \
                   CASE WHEN EXTRACT(MONTH FROM d) >= 4 THEN CAST(EXTRACT(YEAR FROM d) AS BIGINT) \
                        ELSE CAST(EXTRACT(YEAR FROM d) AS BIGINT) - 1 END AS fy \
                   FROM t";
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.clone().create_physical_plan().await.unwrap();
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        assert_eq!(shown.matches("(once per value)").count(), 2, "{shown}");

        let out = df.collect().await.unwrap();
        let mut rows = 0;
        for b in &out {
            let d = b.column(0).as_primitive::<Date32Type>();
            let q = b.column(1).as_primitive::<Date32Type>();
            let fy = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
            for i in 0..b.num_rows() {
                rows += 1;
                if d.is_null(i) {
                    assert!(q.is_null(i) && fy.is_null(i), "row {i} of a batch");
                    continue;
                }
                let date = d.value_as_date(i).unwrap();
                // Worked out here with chrono, not through DataFusion.
                let quarter = month(date.year(), 1 + 3 * ((date.month() - 1) / 3));
                let year = if date.month() >= 4 {
                    date.year()
                } else {
                    date.year() - 1
                };
                assert_eq!(q.value_as_date(i), Some(quarter), "{date}");
                assert_eq!(fy.value(i), i64::from(year), "{date}");
            }
        }
        assert_eq!(rows, 1210);
    }
}
