//! Grouping on text of few values.
//!
//! The lake's text of few values (a force, an LSOA, a crime type) is read
//! as dictionaries (`schema::read_schema`), which makes scans and filters
//! cheap. DataFusion 55 has no grouping of its own for dictionary keys: a
//! GROUP BY on one falls back to its row-at-a-time grouping, which on the
//! peer benchmark's query 09 (4.2 million groups) held half a gigabyte more
//! than the same query over plain text and ran no faster.
//!
//! A grouping whose keys are all of few values (dictionary text, dates,
//! whole numbers: a force, a crime type and a month) is left to that row
//! grouping: it encodes each batch's dictionary values once and looks rows
//! up by the encoded key, and on the peer benchmark's force x crime type x
//! outcome grouping of 25 million rows it took 1.3-1.7 s against 2.2 s for
//! the same keys as views (DataFusion's Python package 55, same lake).
//!
//! A grouping with a key of free text or a measurement (a location, a
//! coordinate: many groups) is where the row grouping's memory hurts. There
//! every plain GROUP BY key of dictionary text is
//! cast to a string view under its own name, and a projection above the
//! grouping casts it on to plain text. A view of a dictionary value is made
//! without copying the text, and views compare faster than plain strings
//! (query 09: 5.9 s against 6.4 s grouped as plain text). The values, the
//! order and the answer's column names are unchanged; type coercion, which
//! runs next, brings every node above into line.
//!
//! Nothing above the grouping sees a view. A TopK or sort over the grouped
//! views (query 09's ORDER BY ... LIMIT) would count every slice of the
//! grouping's output as holding all of its buffers, and query 09 was once
//! stopped at the 1 GiB limit that way (docs/performance.md); the cast to
//! plain text gives each batch its own compact buffers.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan, Projection, cast};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::Analyzer;

/// DataFusion's analyzer rules with [`GroupTextAsPlainText`] just before type
/// coercion.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = Analyzer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "type_coercion")
        .unwrap_or(0);
    rules.insert(at, Arc::new(GroupTextAsPlainText));
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
            .build(),
    )
}

/// Groups dictionary-text keys as string views and hands plain text on
/// (see the module). Plain text keys are left alone: casting them to views
/// costs more per row than the views save (query 04 of the peer benchmark,
/// grouping on a district joined from a lookup: 2.0 s against 1.4 s).
#[derive(Debug, Default)]
pub struct GroupTextAsPlainText;

impl AnalyzerRule for GroupTextAsPlainText {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
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
            // Keys all of few values are left as dictionaries (see the
            // module): DataFusion's row grouping encodes each batch's
            // dictionary values once, not every row's text.
            let spread = agg
                .group_expr
                .iter()
                .any(|e| e.get_type(input).is_ok_and(|t| many_values(&t)));
            if !spread {
                return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
            }
            let mut viewed = Vec::with_capacity(agg.group_expr.len());
            let group_expr: Vec<Expr> = agg
                .group_expr
                .iter()
                .map(|e| {
                    // A key whose type cannot be told yet is type
                    // coercion's to report, not this rule's.
                    let view = e.get_type(input).is_ok_and(|t| is_text_dictionary(&t));
                    viewed.push(view);
                    if !view {
                        return e.clone();
                    }
                    let (qualifier, name) = e.qualified_name();
                    cast(e.clone(), DataType::Utf8View).alias_qualified(qualifier, name)
                })
                .collect();
            if !viewed.contains(&true) {
                return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
            }
            let grouped = Aggregate::try_new(agg.input.clone(), group_expr, agg.aggr_expr.clone())?;
            // Above the grouping, the keys are plain text again, under the
            // same names, so nothing above sees a view.
            let columns: Vec<Expr> = grouped
                .schema
                .iter()
                .enumerate()
                .map(|(i, (qualifier, field))| {
                    let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
                    if viewed.get(i).copied().unwrap_or(false) {
                        cast(column, DataType::Utf8)
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
        "safer_group_text_as_plain_text"
    }
}

/// Types whose keys usually spread over many groups: free text (a
/// location) and measurements (coordinates).
fn many_values(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
    )
}

fn is_text_dictionary(t: &DataType) -> bool {
    matches!(t, DataType::Dictionary(_, v)
        if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_text as text;
    use datafusion::arrow::array::{
        Array, ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray,
    };
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};

    /// A crime type as a dictionary, a place as plain text, a count.
    fn session() -> datafusion::prelude::SessionContext {
        let ct: DictionaryArray<Int32Type> =
            vec!["Burglary", "Shoplifting", "Burglary", "Burglary"]
                .into_iter()
                .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("ct", ct.data_type().clone(), false),
            Field::new("place", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(ct),
            Arc::new(StringArray::from(vec![
                "High St", "High St", "Mill Rd", "High St",
            ])),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        ];
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let ctx = super::session();
        ctx.register_batch("t", batch).unwrap();
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
    async fn keys_of_few_values_stay_dictionaries_and_free_text_groups_as_views() {
        let ctx = session();
        // Only a dictionary key: left for the row grouping, as written.
        let sql = "SELECT ct, sum(n) AS n FROM t GROUP BY ct ORDER BY ct";
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(key_types(&ctx, sql).await, vec![dict]);
        // Burglary 1 + 3 + 4, Shoplifting 2.
        let got = text(&ctx, sql).await;
        assert!(got.contains("| Burglary    | 8 |"), "{got}");
        assert!(got.contains("| Shoplifting | 2 |"), "{got}");

        // Beside a key of free text: the dictionary key is grouped as a view
        // and handed on as plain text.
        let sql = "SELECT ct, place, sum(n) AS n FROM t GROUP BY ct, place ORDER BY ct, place";
        assert_eq!(
            key_types(&ctx, sql).await,
            vec![DataType::Utf8View, DataType::Utf8]
        );
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(batches[0].schema().field(0).data_type(), &DataType::Utf8);
        // Burglary at High St 1 + 4, at Mill Rd 3; Shoplifting at High St 2.
        let got = text(&ctx, sql).await;
        for line in [
            "| Burglary    | High St | 5 |",
            "| Burglary    | Mill Rd | 3 |",
            "| Shoplifting | High St | 2 |",
        ] {
            assert!(got.contains(line), "{line} not in {got}");
        }
    }
}
