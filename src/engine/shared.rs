//! A summary written once and read twice is worked out once.
//!
//! Officers compare a period with the same period last year by joining a
//! summary to itself: `WITH monthly AS (SELECT ... GROUP BY ...) SELECT ...
//! FROM monthly AS cur LEFT JOIN monthly AS prev ON ...`. DataFusion 55
//! plans each reference to a common table expression as a copy of it, so
//! the table is read and grouped once per reference (the peer benchmark's
//! query 04 read 25 million rows twice: 1.3 s, against 0.65 s for one
//! copy).
//!
//! Before a query runs, the first subtree of its optimised plan that
//! appears more than once, reads a table and groups (a GROUP BY or
//! DISTINCT) is run on its own, and every copy is replaced by a scan of
//! the answer held in memory, under the same names. Then the next, up to
//! [`MAX_SHARED`]. Copies are compared after optimisation: when a filter
//! was pushed into one copy and not the other, they differ, and each is
//! worked out as written (reading all of it once could cost more than
//! reading a month of it twice).
//!
//! A subtree is left as written when it calls something volatile
//! (`random()`), refers to an outer query or a placeholder, is recursive,
//! would take the answers held past the bound the caller gives, or fails
//! on its own (a filter from outside can keep a bad row from it). It is
//! then worked out once per copy, as before, and the rows read for the
//! attempt are dropped. The answer is the same either way; only the work
//! changes.
//!
//! This runs in-process only: a plan for a Ballista cluster must travel,
//! and an answer held in this process's memory cannot.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

/// At most this many subtrees are worked out ahead of one query.
pub const MAX_SHARED: usize = 8;

/// `plan`, optimised, with every repeated summary worked out once (see the
/// module). The answers held take at most `max_bytes` together. The plan
/// returned is optimised too: plan it physically without optimising again.
pub async fn work_out_once(
    state: &SessionState,
    plan: LogicalPlan,
    max_bytes: usize,
) -> Result<LogicalPlan> {
    // EXPLAIN shows the plan as written, and runs nothing.
    if matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
        return Ok(plan);
    }
    let mut plan = plan;
    let mut left_as_written: Vec<LogicalPlan> = Vec::new();
    let mut budget = max_bytes;
    for n in 0..MAX_SHARED {
        let Some(repeated) = first_repeated(&plan, &left_as_written)? else {
            break;
        };
        match held(state, &repeated, budget, n).await {
            Ok(Some((scan, bytes))) => {
                budget = budget.saturating_sub(bytes);
                plan = replace(plan, &repeated, &scan)?;
            }
            // Too large, or failed on its own where the whole query might
            // not (a filter from outside can keep a bad row from it): left
            // as written, so the query behaves as it always did.
            Ok(None) | Err(_) => left_as_written.push(repeated),
        }
    }
    Ok(plan)
}

/// The first subtree, top down, that appears more than once and is worth
/// working out once.
fn first_repeated(plan: &LogicalPlan, skip: &[LogicalPlan]) -> Result<Option<LogicalPlan>> {
    // A copy worth sharing reads a table, so a plan with fewer than two
    // scans has none; most indicators' plans stop here, before every
    // subtree is counted.
    let mut scans = 0;
    plan.apply_with_subqueries(|node| {
        scans += usize::from(matches!(node, LogicalPlan::TableScan(_)));
        Ok(TreeNodeRecursion::Continue)
    })?;
    if scans < 2 {
        return Ok(None);
    }
    let mut seen: HashMap<LogicalPlan, usize> = HashMap::new();
    plan.apply_with_subqueries(|node| {
        *seen.entry(node.clone()).or_default() += 1;
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut found = None;
    plan.apply_with_subqueries(|node| {
        if seen.get(node).copied().unwrap_or(0) > 1 && !skip.contains(node) && worth_sharing(node) {
            found = Some(node.clone());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// True if `plan` reads a table and groups, and gives the same answer
/// wherever it is run: nothing volatile, no outer references, no
/// recursion, nothing DataFusion does not plan itself.
fn worth_sharing(plan: &LogicalPlan) -> bool {
    let (mut reads, mut groups, mut fit) = (false, false, true);
    let _ = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(_) => reads = true,
            LogicalPlan::Aggregate(_) | LogicalPlan::Distinct(_) => groups = true,
            LogicalPlan::RecursiveQuery(_)
            | LogicalPlan::Extension(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Statement(_) => fit = false,
            _ => {}
        }
        if node
            .expressions()
            .iter()
            .any(|e| e.is_volatile() || e.contains_outer() || has_placeholder(e))
        {
            fit = false;
        }
        Ok(if fit {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    fit && reads && groups
}

/// True if `e` holds a parameter (`$1`) still to be filled in.
fn has_placeholder(e: &Expr) -> bool {
    e.exists(|e| Ok(matches!(e, Expr::Placeholder(_))))
        .unwrap_or(true)
}

/// Runs `plan` and returns a plan that scans its answer, with the same
/// schema (qualifiers, names, types), and the answer's size; `None` if the
/// answer is larger than `max_bytes` or does not fit the schema.
async fn held(
    state: &SessionState,
    plan: &LogicalPlan,
    max_bytes: usize,
    n: usize,
) -> Result<Option<(LogicalPlan, usize)>> {
    // Already optimised, as part of the whole.
    let physical = state
        .query_planner()
        .create_physical_plan(plan, state)
        .await?;
    let mut stream = execute_stream(physical, state.task_ctx())?;
    // Columns are numbered, not named: a join's answer can hold two
    // columns of one name under different qualifiers.
    let schema = plan.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| f.as_ref().clone().with_name(format!("c{i}")))
        .collect();
    let table_schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    let mut bytes = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        bytes += batch.get_array_memory_size();
        if bytes > max_bytes {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (column, field) in batch.columns().iter().zip(table_schema.fields()) {
            if column.data_type() == field.data_type() {
                columns.push(column.clone());
            } else {
                match cast(column, field.data_type()) {
                    Ok(c) => columns.push(c),
                    Err(_) => return Ok(None),
                }
            }
        }
        match RecordBatch::try_new(table_schema.clone(), columns) {
            Ok(b) => batches.push(b),
            Err(_) => return Ok(None),
        }
    }
    let table = MemTable::try_new(table_schema, vec![batches])?;
    let name = format!("safer_shared_{n}");
    let columns: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            Expr::Column(Column::new(Some(name.clone()), format!("c{i}")))
                .alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    LogicalPlanBuilder::scan(name.as_str(), provider_as_source(Arc::new(table)), None)?
        .project(columns)?
        .build()
        .map(|scan| Some((scan, bytes)))
}

/// `plan` with every copy of `repeated` replaced by `with`.
fn replace(plan: LogicalPlan, repeated: &LogicalPlan, with: &LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_down_with_subqueries(|node| {
        if &node == repeated {
            Ok(Transformed::new(
                with.clone(),
                true,
                TreeNodeRecursion::Jump,
            ))
        } else {
            Ok(Transformed::no(node))
        }
    })
    .map(|t| t.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::prelude::SessionContext;

    /// Crimes by area and year: A has 3 then 5, B has 2 then 2 (two rows
    /// in 2024), C only 2024 with 4.
    fn context() -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("area", DataType::Utf8, false),
            Field::new("year", DataType::Int64, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["A", "A", "B", "B", "B", "C"])),
                Arc::new(Int64Array::from(vec![2023, 2024, 2023, 2024, 2024, 2024])),
                Arc::new(Int64Array::from(vec![3, 5, 2, 1, 1, 4])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        ctx.register_batch("crimes", batch).unwrap();
        ctx
    }

    /// The same crimes with the area as a dictionary, in a session that
    /// groups it by number (`grouping::GroupTextById`).
    fn dictionary_context() -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("area", crate::schema::read_as_dictionary(), false),
            Field::new("year", DataType::Int64, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let area: datafusion::arrow::array::DictionaryArray<
            datafusion::arrow::datatypes::Int32Type,
        > = vec!["A", "A", "B", "B", "B", "C"].into_iter().collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(area),
                Arc::new(Int64Array::from(vec![2023, 2024, 2023, 2024, 2024, 2024])),
                Arc::new(Int64Array::from(vec![3, 5, 2, 1, 1, 4])),
            ],
        )
        .unwrap();
        let ctx = crate::engine::grouping::session();
        ctx.register_batch("crimes", batch).unwrap();
        ctx
    }

    const THIS_YEAR_AGAINST_LAST: &str = "WITH yearly AS (
            SELECT area, year, sum(n) AS total FROM crimes GROUP BY area, year)
        SELECT cur.area, cur.total, prev.total AS last_year
        FROM yearly AS cur LEFT JOIN yearly AS prev
          ON prev.area = cur.area AND prev.year = cur.year - 1
        WHERE cur.year = 2024
        ORDER BY cur.area";

    /// Table names scanned by `plan`, in order.
    fn scans(plan: &LogicalPlan) -> Vec<String> {
        let mut out = Vec::new();
        plan.apply_with_subqueries(|n| {
            if let LogicalPlan::TableScan(s) = n {
                out.push(s.table_name.to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        out
    }

    async fn run(ctx: &SessionContext, sql: &str, max_bytes: usize) -> (Vec<String>, String) {
        let (state, plan) = ctx.sql(sql).await.unwrap().into_parts();
        let plan = state.optimize(&plan).unwrap();
        let plan = work_out_once(&state, plan, max_bytes).await.unwrap();
        let tables = scans(&plan);
        let physical = state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await
            .unwrap();
        let batches = datafusion::physical_plan::collect(physical, state.task_ctx())
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        (tables, text)
    }

    #[tokio::test]
    async fn a_summary_read_twice_is_worked_out_once() {
        let ctx = context();
        let (tables, text) = run(&ctx, THIS_YEAR_AGAINST_LAST, 1 << 20).await;
        // The filter on the current year reaches one copy only (it is on a
        // grouping key), so the copies differ and each is read as written:
        // a year of one against all of the other.
        assert_eq!(tables, vec!["crimes".to_string(), "crimes".to_string()]);
        // By hand: A 5 against 3, B 1 + 1 = 2 against 2, C 4 against none.
        let expected = "\
+------+-------+-----------+
| area | total | last_year |
+------+-------+-----------+
| A    | 5     | 3         |
| B    | 2     | 2         |
| C    | 4     |           |
+------+-------+-----------+";
        assert_eq!(text, expected);

        let both = "WITH yearly AS (
                SELECT area, year, sum(n) AS total FROM crimes GROUP BY area, year)
            SELECT cur.area, cur.year, cur.total, prev.total AS last_year
            FROM yearly AS cur LEFT JOIN yearly AS prev
              ON prev.area = cur.area AND prev.year = cur.year - 1
            ORDER BY cur.area, cur.year";
        let (tables, text) = run(&ctx, both, 1 << 20).await;
        assert_eq!(tables, vec!["safer_shared_0"; 2], "{tables:?}");
        let expected = "\
+------+------+-------+-----------+
| area | year | total | last_year |
+------+------+-------+-----------+
| A    | 2023 | 3     |           |
| A    | 2024 | 5     | 3         |
| B    | 2023 | 2     |           |
| B    | 2024 | 2     | 2         |
| C    | 2024 | 4     |           |
+------+------+-------+-----------+";
        assert_eq!(text, expected);

        // Held answers larger than the bound are not kept: the copies are
        // worked out as written, with the same answer.
        let (tables, same) = run(&ctx, both, 0).await;
        assert_eq!(tables, vec!["crimes".to_string(), "crimes".to_string()]);
        assert_eq!(same, expected);

        // Grouped by number, the two copies share one numbering, so they
        // are still the same summary, worked out once, with the same answer.
        let (tables, same) = run(&dictionary_context(), both, 1 << 20).await;
        assert_eq!(tables, vec!["safer_shared_0"; 2], "{tables:?}");
        assert_eq!(same, expected);
    }

    #[tokio::test]
    async fn volatile_or_ungrouped_copies_are_left_as_written() {
        let ctx = context();
        // random() inside the grouping gives each copy its own sums:
        // sharing would change the answer's meaning.
        let volatile = "WITH r AS (
                SELECT area, sum(n * random()) AS x FROM crimes GROUP BY area)
            SELECT a.area, a.x, b.x FROM r AS a JOIN r AS b ON a.area = b.area ORDER BY 1";
        let (tables, _) = run(&ctx, volatile, 1 << 20).await;
        assert_eq!(tables, vec!["crimes".to_string(), "crimes".to_string()]);
        // random() above the grouping leaves the grouping itself to share;
        // each copy still draws its own numbers.
        let above = "WITH r AS (
                SELECT area, sum(n) * random() AS x FROM crimes GROUP BY area)
            SELECT a.area FROM r AS a JOIN r AS b ON a.area = b.area AND a.x <> b.x ORDER BY 1";
        let (tables, text) = run(&ctx, above, 1 << 20).await;
        assert_eq!(tables, vec!["safer_shared_0"; 2], "{tables:?}");
        assert_eq!(text.matches("| A ").count(), 1, "{text}");
        // A self-join of the table itself, with no grouping, reads as much
        // either way and is not held in memory.
        let plain = "SELECT a.area FROM crimes AS a JOIN crimes AS b
            ON a.area = b.area AND a.year = b.year - 1 ORDER BY 1";
        let (tables, text) = run(&ctx, plain, 1 << 20).await;
        assert_eq!(tables, vec!["crimes".to_string(), "crimes".to_string()]);
        // A 2023 meets A 2024; B 2023 meets both B 2024 rows.
        assert_eq!(text.matches("| A ").count(), 1, "{text}");
        assert_eq!(text.matches("| B ").count(), 2, "{text}");
        // EXPLAIN runs nothing.
        let (state, plan) = ctx
            .sql(&format!("EXPLAIN {THIS_YEAR_AGAINST_LAST}"))
            .await
            .unwrap()
            .into_parts();
        let kept = work_out_once(&state, plan.clone(), 1 << 20).await.unwrap();
        assert_eq!(kept, plan);
    }
}
