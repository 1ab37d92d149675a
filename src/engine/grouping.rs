//! Grouping on text of few values.
//!
//! The lake's text of few values (a force, an LSOA, a crime type) is read
//! as dictionaries (`schema::read_schema`), which makes scans and filters
//! cheap. DataFusion 55 has no grouping of its own for dictionary keys: a
//! GROUP BY on one falls back to its row-at-a-time grouping, which encodes
//! each row's key as bytes. On the peer benchmark's query 09 (4.2 million
//! groups) that held half a gigabyte more than plain text, and grouping on
//! three such keys cost about 100 ns a row (query 06).
//!
//! This rule hands each such key to the grouping as a number instead
//! (`text_ids`): one per distinct text, shared by every grouping of the
//! query and their partitions, and turned back into plain text by a
//! projection just above the grouping, under the key's own name.
//! DataFusion groups numbers column by column, and a group holds four
//! bytes for the key. The values, the order and the answer's column names
//! are unchanged; type coercion, which runs next, brings every node above
//! into line.
//!
//! Nothing above the grouping sees a number. It sees plain text, not the
//! dictionary it read: a TopK or sort over dictionaries or string views
//! made from one would count every slice of the grouping's output as
//! holding all of its buffers, and query 09 was once stopped at the 1 GiB
//! limit that way (docs/performance.md).

use std::sync::Arc;

use datafusion::common::Column;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan, Projection};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::Analyzer;

use super::text_ids::{self, TextIds};

/// DataFusion's analyzer rules with [`GroupTextById`] just before type
/// coercion.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = Analyzer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "type_coercion")
        .unwrap_or(0);
    rules.insert(at, Arc::new(GroupTextById));
    rules
}

/// A session with DataFusion's defaults and these analyzer rules, for the
/// isolated sessions of `safer test`: an officer's query is planned there
/// as it is over the lake.
pub fn session() -> datafusion::prelude::SessionContext {
    datafusion::prelude::SessionContext::new_with_state(
        datafusion::execution::SessionStateBuilder::new()
            .with_default_features()
            .with_analyzer_rules(analyzer_rules())
            .with_physical_optimizer_rule(Arc::new(super::filters::CheapConditionsFirst))
            .with_physical_optimizer_rule(Arc::new(super::per_value::EvaluateOncePerValue))
            .with_physical_optimizer_rule(Arc::new(super::join_bounds::NoBoundsOnDictionaryKeys))
            .build(),
    )
}

/// Groups dictionary-text keys by number and hands plain text on (see the
/// module). Other keys, plain text included, are left alone: numbering
/// plain text would hash every row's text once more, which is the work the
/// grouping does anyway.
///
/// Not for a cluster: its partitions run in other processes, which could
/// not share one numbering.
#[derive(Debug, Default)]
pub struct GroupTextById;

impl AnalyzerRule for GroupTextById {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // One numbering for the whole query: every key of every grouping in
        // it. Two copies of one summary (a CTE read twice) then stay equal,
        // so `shared` can work it out once.
        let ids = Arc::new(TextIds::default());
        plan.transform_up_with_subqueries(|node| {
            let LogicalPlan::Aggregate(agg) = node else {
                return Ok(Transformed::no(node));
            };
            // GROUPING SETS, ROLLUP and CUBE are left as written.
            if agg
                .group_expr
                .iter()
                .any(|e| matches!(e, Expr::GroupingSet(_)))
            {
                return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
            }
            let input = agg.input.schema();
            let dictionary = crate::schema::read_as_dictionary();
            let mut numbered = Vec::with_capacity(agg.group_expr.len());
            let group_expr: Vec<Expr> = agg
                .group_expr
                .iter()
                .map(|e| {
                    // A key whose type cannot be told yet is type
                    // coercion's to report, not this rule's.
                    let number = e.get_type(input).is_ok_and(|t| t == dictionary);
                    numbered.push(number);
                    if !number {
                        return e.clone();
                    }
                    let (qualifier, name) = e.qualified_name();
                    text_ids::to_id(&ids, e.clone()).alias_qualified(qualifier, name)
                })
                .collect();
            if !numbered.contains(&true) {
                return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
            }
            let grouped = Aggregate::try_new(agg.input.clone(), group_expr, agg.aggr_expr.clone())?;
            // Above the grouping, the keys are plain text again, under the
            // same names, so nothing above sees a number.
            let columns: Vec<Expr> = grouped
                .schema
                .iter()
                .enumerate()
                .map(|(i, (qualifier, field))| {
                    let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
                    if numbered.get(i).copied().unwrap_or(false) {
                        text_ids::to_text(&ids, column)
                            .alias_qualified(qualifier.cloned(), field.name())
                    } else {
                        column
                    }
                })
                .collect();
            let projection =
                Projection::try_new(columns, Arc::new(LogicalPlan::Aggregate(grouped)))?;
            Ok(Transformed::yes(LogicalPlan::Projection(projection)))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "safer_group_text_by_id"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_text as text;
    use datafusion::arrow::array::{
        ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::datasource::MemTable;

    /// A crime type as a dictionary, a place as plain text, a count: two
    /// partitions whose dictionaries list the crime types in different
    /// orders, one with a NULL crime type.
    fn session() -> datafusion::prelude::SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ct", crate::schema::read_as_dictionary(), true),
            Field::new("place", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = |ct: Vec<Option<&str>>, place: Vec<&str>, n: Vec<i64>| {
            let ct: DictionaryArray<Int32Type> = ct.into_iter().collect();
            let cols: Vec<ArrayRef> = vec![
                Arc::new(ct),
                Arc::new(StringArray::from(place)),
                Arc::new(Int64Array::from(n)),
            ];
            RecordBatch::try_new(Arc::clone(&schema), cols).unwrap()
        };
        let first = batch(
            vec![Some("Burglary"), Some("Shoplifting"), Some("Burglary")],
            vec!["High St", "High St", "Mill Rd"],
            vec![1, 2, 3],
        );
        let second = batch(
            vec![Some("Shoplifting"), Some("Burglary"), None],
            vec!["Mill Rd", "High St", "High St"],
            vec![10, 4, 20],
        );
        let table =
            MemTable::try_new(Arc::clone(&schema), vec![vec![first], vec![second]]).unwrap();
        let ctx = super::session();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    /// The grouping's keys as the analysed plan has them.
    async fn key_types(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Vec<DataType> {
        // The analyzer runs as the plan is optimised.
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        let mut found = Vec::new();
        plan.apply(|node| {
            if let LogicalPlan::Aggregate(agg) = node {
                for e in &agg.group_expr {
                    found.push(e.get_type(agg.input.schema()).unwrap());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        found
    }

    #[tokio::test]
    async fn dictionary_keys_are_grouped_as_numbers_and_handed_on_as_text() {
        let ctx = session();
        let sql = "SELECT ct, sum(n) AS n FROM t GROUP BY ct ORDER BY ct";
        assert_eq!(key_types(&ctx, sql).await, vec![DataType::UInt32]);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(batches[0].schema().field(0).name(), "ct");
        // Burglary 1 + 3 + 4, Shoplifting 2 + 10, NULL 20 (last, ascending).
        let got = text(&ctx, sql).await;
        let want = [
            "| ct          | n  |",
            "| Burglary    | 8  |",
            "| Shoplifting | 12 |",
            "|             | 20 |",
        ];
        for line in want {
            assert!(got.contains(line), "{line} not in {got}");
        }

        // Beside a key of plain text, which is left alone.
        let sql = "SELECT t.ct, place, count(*) AS rows, sum(n) AS n FROM t \
                   GROUP BY t.ct, place HAVING t.ct <> 'Shoplifting' ORDER BY ct, place";
        assert_eq!(
            key_types(&ctx, sql).await,
            vec![DataType::UInt32, DataType::Utf8]
        );
        // Burglary at High St 1 + 4, at Mill Rd 3; NULL at High St 20 is
        // dropped by the HAVING, as is Shoplifting.
        let got = text(&ctx, sql).await;
        let want = "\
+----------+---------+------+---+
| ct       | place   | rows | n |
+----------+---------+------+---+
| Burglary | High St | 2    | 5 |
| Burglary | Mill Rd | 1    | 3 |
+----------+---------+------+---+";
        assert_eq!(got, want);
    }
}
