//! No join bounds over dictionary keys.
//!
//! A hash join hands the scan on its other side a filter built from the
//! keys it has collected: their lowest and highest value, so that row
//! groups outside that range are skipped. DataFusion 55 works out that
//! range for most key types with a typed loop, but for a dictionary key
//! (text of few values, such as an LSOA code) it turns every row into a
//! boxed value and compares them one by one: about 400 ns a row. On the
//! peer benchmark's county queries that was 16-22 ms of each join between
//! the street data and the LSOA lookup, against 1.4 ms for the rest of
//! the join's build (query 07, `EXPLAIN ANALYZE`), and five of the ten
//! queries make such a join.
//!
//! The range of a text code rarely skips anything: codes are not stored
//! in order, so every row group spans most of them. This rule takes the
//! filter off a hash join whose build side has a dictionary key; the join
//! then does not work the range out. The scan keeps its copy of the
//! filter, which stays "everything passes". Joins on dates and numbers
//! (the latest twelve months joined to the street data, say) keep their
//! filter and the row groups it skips. The rows a join returns do not
//! change: the filter only ever skips rows the join would not match.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, HashJoinExecBuilder};

/// Takes the dynamic filter off hash joins with a dictionary build key
/// (see the module).
#[derive(Debug, Default)]
pub struct NoBoundsOnDictionaryKeys;

impl PhysicalOptimizerRule for NoBoundsOnDictionaryKeys {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if join.dynamic_expressions_produced().is_empty() {
                return Ok(Transformed::no(node));
            }
            let build = join.left().schema();
            let mut dictionary_key = false;
            for (key, _) in join.on() {
                if matches!(key.data_type(&build)?, DataType::Dictionary(_, _)) {
                    dictionary_key = true;
                }
            }
            if !dictionary_key {
                return Ok(Transformed::no(node));
            }
            // `reset_state` leaves out the filter (and the join's run-time
            // state, of which a plan being optimised has none).
            let plain = HashJoinExecBuilder::from(join).reset_state().build_exec()?;
            Ok(Transformed::yes(plain))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "no_bounds_on_dictionary_keys"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{DictionaryArray, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::prelude::ParquetReadOptions;

    fn write(path: &std::path::Path, batch: &RecordBatch) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
    }

    /// Every hash join in the plan, with whether it hands a filter on.
    fn joins(plan: &Arc<dyn ExecutionPlan>) -> Vec<bool> {
        let mut out = Vec::new();
        let _ = plan.apply(|p| {
            if p.downcast_ref::<HashJoinExec>().is_some() {
                out.push(!p.dynamic_expressions_produced().is_empty());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        });
        out
    }

    /// A join on a dictionary code loses its filter and still matches the
    /// same rows; a join on a number keeps its filter.
    #[tokio::test]
    async fn joins_on_dictionary_keys_hand_on_no_bounds() {
        let dir = tempfile::tempdir().unwrap();
        // 300 street rows over three LSOAs (100 each), and a lookup of two
        // of them: E01 -> Preston, E03 -> Burnley.
        let codes = ["E01", "E02", "E03"];
        let street = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new_dictionary("lsoa", DataType::Int32, DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
            ])),
            vec![
                Arc::new(
                    (0..300)
                        .map(|i| Some(codes[i % 3]))
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
                Arc::new(Int64Array::from_iter_values(0..300)),
            ],
        )
        .unwrap();
        let lookup = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("lsoa", DataType::Utf8, true),
                Field::new("district", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["E01", "E03"])),
                Arc::new(StringArray::from(vec!["Preston", "Burnley"])),
                Arc::new(Int64Array::from(vec![7, 8])),
            ],
        )
        .unwrap();
        write(&dir.path().join("street.parquet"), &street);
        write(&dir.path().join("lookup.parquet"), &lookup);
        for (name, with_rule) in [("bare", false), ("ruled", true)] {
            let ctx = if with_rule {
                crate::engine::grouping::session()
            } else {
                datafusion::prelude::SessionContext::new()
            };
            // Text read as the lake reads it: plain, and dictionaries as
            // dictionaries (the default would read both as views).
            ctx.sql("SET datafusion.execution.parquet.schema_force_view_types = false")
                .await
                .unwrap();
            for t in ["street", "lookup"] {
                let p = dir.path().join(format!("{t}.parquet"));
                ctx.register_parquet(t, p.to_str().unwrap(), ParquetReadOptions::default())
                    .await
                    .unwrap();
            }
            let by_code = ctx
                .sql(
                    "SELECT l.district, count(*) AS c FROM street s \
                     JOIN lookup l ON l.lsoa = s.lsoa GROUP BY l.district ORDER BY 1",
                )
                .await
                .unwrap();
            let plan = by_code.clone().create_physical_plan().await.unwrap();
            // Without the rule the join hands a filter on (so the check
            // below is not vacuous); with it, it does not.
            let shown = datafusion::physical_plan::displayable(plan.as_ref())
                .indent(true)
                .to_string();
            assert_eq!(joins(&plan), vec![!with_rule], "{name}: {shown}");
            let rows = by_code.collect().await.unwrap();
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
                .unwrap()
                .to_string();
            assert!(text.contains("| Burnley  | 100 |"), "{name}: {text}");
            assert!(text.contains("| Preston  | 100 |"), "{name}: {text}");
            assert_eq!(text.matches("| 100 |").count(), 2, "{name}: {text}");

            let by_number = ctx
                .sql("SELECT count(*) FROM street s JOIN lookup l ON l.n = s.n")
                .await
                .unwrap();
            let plan = by_number.create_physical_plan().await.unwrap();
            assert_eq!(joins(&plan), vec![true], "{name}: number keys keep it");
        }
    }
}
