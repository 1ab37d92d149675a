//! Grouping on text of few values.
//!
//! The lake's text of few values (a force, an LSOA, a crime type) is read
//! as dictionaries (`schema::read_schema`), which makes scans and filters
//! cheap. DataFusion 55 has no grouping of its own for dictionary keys: a
//! GROUP BY on one falls back to its row-at-a-time grouping, which on the
//! peer benchmark's query 09 (4.2 million groups) held half a gigabyte more
//! than the same query over plain text and ran no faster.
//!
//! So before type coercion, every plain GROUP BY key of dictionary text is
//! cast to plain text under its own name, and the column-wise grouping
//! runs as it did before the lake had dictionaries. The values, the order
//! and the answer's column names are unchanged; type coercion, which runs
//! next, brings every node above the grouping into line with the new type.
//!
//! Not string views, though they grouped a fifth faster: a TopK over the
//! grouped views (query 09's ORDER BY ... LIMIT) counts every slice of the
//! grouping's output as holding all of its buffers, and query 09 was
//! stopped at the 1 GiB limit (docs/performance.md).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan, cast};
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
            .build(),
    )
}

/// Casts dictionary-text GROUP BY keys to plain text (see the module).
#[derive(Debug, Default)]
pub struct GroupTextAsPlainText;

impl AnalyzerRule for GroupTextAsPlainText {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let LogicalPlan::Aggregate(agg) = node else {
                return Ok(Transformed::no(node));
            };
            let input = agg.input.schema();
            let mut changed = false;
            let group_expr: Vec<Expr> = agg
                .group_expr
                .iter()
                .map(|e| {
                    // GROUPING SETS, ROLLUP and CUBE are left as written; a
                    // key whose type cannot be told yet is type coercion's
                    // to report, not this rule's.
                    let text_dictionary = !matches!(e, Expr::GroupingSet(_))
                        && e.get_type(input).is_ok_and(|t| is_text_dictionary(&t));
                    if !text_dictionary {
                        return e.clone();
                    }
                    changed = true;
                    let (qualifier, name) = e.qualified_name();
                    cast(e.clone(), DataType::Utf8).alias_qualified(qualifier, name)
                })
                .collect();
            if !changed {
                return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
            }
            Aggregate::try_new(agg.input.clone(), group_expr, agg.aggr_expr.clone())
                .map(|a| Transformed::yes(LogicalPlan::Aggregate(a)))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "safer_group_text_as_plain_text"
    }
}

fn is_text_dictionary(t: &DataType) -> bool {
    matches!(t, DataType::Dictionary(_, v)
        if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
}
