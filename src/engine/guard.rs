//! The fence around officers' SQL beyond "read-only": limits that hold.
//!
//! DataFusion's memory pool only counts what its operators reserve, so a
//! single function call that builds one enormous value (`repeat('x',
//! 2000000000)`, `range(1, 2000000000)`) or a result that is simply huge
//! would grow past any limit before anything noticed. And its planner
//! recurses over the expression tree, so `1+1+...+1` with thousands of
//! terms overflows the stack and aborts the whole process, taking a nightly
//! run (and every other indicator) with it. So, before DataFusion sees a
//! query:
//!
//! - [`check_shape`] counts operators and nesting on the token stream (no
//!   recursion) and refuses queries deep enough to endanger the stack;
//! - [`statement_word`] names what was refused, and where, for people;
//!
//! and while it runs, the functions that can build one value of any size
//! are replaced by [`Capped`] versions that refuse an oversized result
//! before allocating it. The result itself is bounded by the engine (rows
//! and bytes).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::Error;

/// Most operators (arithmetic, comparison, AND/OR, UNION...) one query may
/// have. Real indicator queries use tens; the planner's stack gives out in
/// the low thousands.
pub const MAX_OPERATORS: usize = 1_000;

/// Deepest nesting of brackets (sub-queries, function calls) allowed.
pub const MAX_NESTING: usize = 64;

/// Largest text, in bytes, one function call may build.
pub const MAX_TEXT_BYTES: i64 = 64 * 1024 * 1024;

/// Longest list one function call may build.
pub const MAX_LIST_LEN: i64 = 10_000_000;

/// Refuse a query whose expression tree is too deep or too large to plan
/// safely, with the position of the operator or bracket that crossed the
/// line.
pub fn check_shape(sql: &str) -> Result<(), Error> {
    let tokens = match Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() {
        Ok(t) => t,
        // A tokenizer error (an unterminated string, say) is reported by
        // the parser with its own position.
        Err(_) => return Ok(()),
    };
    let mut depth = 0usize;
    let mut operators = 0usize;
    for t in &tokens {
        let at = || Some((t.span.start.line, t.span.start.column));
        match &t.token {
            Token::LParen | Token::LBracket => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Error::TooComplex {
                        message: format!(
                            "this query nests brackets more than {MAX_NESTING} deep; split it up with WITH (common table expressions) or a view"
                        ),
                        location: at(),
                    });
                }
            }
            Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => operators += 1,
            Token::Word(w)
                if matches!(
                    w.keyword,
                    Keyword::AND
                        | Keyword::OR
                        | Keyword::UNION
                        | Keyword::INTERSECT
                        | Keyword::EXCEPT
                ) =>
            {
                operators += 1
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(Error::TooComplex {
                message: format!(
                    "this query has more than {MAX_OPERATORS} operators, more than safer can plan safely; long chains of + or OR are usually better as IN (...), a CASE, SUM over rows, or a lookup table"
                ),
                location: at(),
            });
        }
    }
    Ok(())
}

/// The statement's leading words (`CREATE TABLE`, `DROP`) and where they
/// start, skipping comments, for a refusal message.
pub fn statement_word(sql: &str) -> (String, Option<(u64, u64)>) {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return (String::new(), None);
    };
    let mut words = tokens.iter().filter_map(|t| match &t.token {
        Token::Word(w) => Some((w.value.to_ascii_uppercase(), w.keyword, t.span.start)),
        _ => None,
    });
    match words.next() {
        Some((first, _, at)) => {
            let second = words
                .next()
                .filter(|(_, k, _)| {
                    matches!(
                        k,
                        Keyword::TABLE
                            | Keyword::VIEW
                            | Keyword::EXTERNAL
                            | Keyword::INTO
                            | Keyword::FROM
                            | Keyword::FUNCTION
                            | Keyword::SCHEMA
                            | Keyword::DATABASE
                            | Keyword::INDEX
                    )
                })
                .map(|(w, _, _)| format!(" {w}"))
                .unwrap_or_default();
            (format!("{first}{second}"), Some((at.line, at.column)))
        }
        None => (String::new(), None),
    }
}

/// How a capped function measures what a call would build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Measure {
    /// `repeat(text, n)`: bytes = longest text x largest n.
    Repeat,
    /// `lpad`/`rpad(text, n, ...)`: characters = largest n.
    Pad,
    /// `array_repeat(value, n)`: elements = largest n.
    ArrayRepeat,
    /// `range`/`generate_series(start, stop[, step])`: elements.
    Range,
}

/// A built-in function with a size check in front of it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Capped {
    inner: Arc<ScalarUDF>,
    measure: Measure,
}

fn int_max(v: &ColumnarValue) -> Option<i64> {
    match v {
        ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(x) => x,
            _ => None,
        },
        ColumnarValue::Array(a) => {
            let a = datafusion::arrow::compute::cast(a, &DataType::Int64).ok()?;
            datafusion::arrow::compute::max(a.as_primitive::<Int64Type>())
        }
    }
}

fn int_min(v: &ColumnarValue) -> Option<i64> {
    match v {
        ColumnarValue::Scalar(_) => int_max(v),
        ColumnarValue::Array(a) => {
            let a = datafusion::arrow::compute::cast(a, &DataType::Int64).ok()?;
            datafusion::arrow::compute::min(a.as_primitive::<Int64Type>())
        }
    }
}

fn text_max_len(v: &ColumnarValue) -> i64 {
    fn len(a: &dyn Array) -> i64 {
        match a.data_type() {
            DataType::Utf8 => a.as_string::<i32>().iter().flatten().map(str::len).max(),
            DataType::LargeUtf8 => a.as_string::<i64>().iter().flatten().map(str::len).max(),
            DataType::Utf8View => a.as_string_view().iter().flatten().map(str::len).max(),
            // Text of few values is read as a dictionary: its longest value
            // is the longest of the distinct values (an upper bound, as a
            // value may be unused).
            DataType::Dictionary(..) => a
                .as_any_dictionary_opt()
                .map(|d| len(d.values().as_ref()) as usize),
            _ => None,
        }
        .unwrap_or(0) as i64
    }
    match v {
        ColumnarValue::Scalar(s) => s.to_array().map(|a| len(a.as_ref())).unwrap_or(0),
        ColumnarValue::Array(a) => len(a.as_ref()),
    }
}

impl Capped {
    fn check(&self, args: &[ColumnarValue]) -> DfResult<()> {
        let name = self.inner.name();
        match self.measure {
            Measure::Repeat => {
                let n = args.get(1).and_then(int_max).unwrap_or(0).max(0);
                let len = args.first().map(text_max_len).unwrap_or(0);
                if len.saturating_mul(n) > MAX_TEXT_BYTES {
                    return exec_err!(
                        "{name}() would build a text of {} bytes; the most a query may build is {} MiB",
                        len.saturating_mul(n),
                        MAX_TEXT_BYTES / (1024 * 1024)
                    );
                }
            }
            Measure::Pad => {
                let n = args.get(1).and_then(int_max).unwrap_or(0);
                if n.saturating_mul(4) > MAX_TEXT_BYTES {
                    return exec_err!(
                        "{name}() would build a text of {n} characters; the most a query may build is {} MiB",
                        MAX_TEXT_BYTES / (1024 * 1024)
                    );
                }
            }
            Measure::ArrayRepeat => {
                let n = args.get(1).and_then(int_max).unwrap_or(0);
                if n > MAX_LIST_LEN {
                    return exec_err!(
                        "{name}() would build a list of {n} values; the most is {MAX_LIST_LEN}"
                    );
                }
            }
            Measure::Range => {
                let ints = args.iter().all(|a| {
                    matches!(
                        a.data_type(),
                        DataType::Int64
                            | DataType::Int32
                            | DataType::Int16
                            | DataType::Int8
                            | DataType::UInt64
                            | DataType::UInt32
                    )
                });
                if !ints {
                    return Ok(());
                }
                let (start, stop, step) = match args.len() {
                    1 => (Some(0), args.first().and_then(int_max), Some(1)),
                    2 => (
                        args.first().and_then(int_min),
                        args.get(1).and_then(int_max),
                        Some(1),
                    ),
                    _ => (
                        args.first().and_then(int_min),
                        args.get(1).and_then(int_max),
                        args.get(2).and_then(int_min),
                    ),
                };
                if let (Some(a), Some(b), Some(s)) = (start, stop, step) {
                    let span = (i128::from(b) - i128::from(a)).abs();
                    let len = span / i128::from(s.unsigned_abs().max(1));
                    if len > i128::from(MAX_LIST_LEN) {
                        return exec_err!(
                            "{name}() would build a list of {len} values; the most is {MAX_LIST_LEN} (for rows, use the table function in FROM)"
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.check(&args.args)?;
        self.inner.invoke_with_args(args)
    }
}

/// Replace the size-unbounded built-ins in `ctx` with capped versions.
pub fn install(ctx: &SessionContext) {
    for f in capped(ctx.state().scalar_functions()) {
        ctx.register_udf(f);
    }
}

/// Capped versions of the size-unbounded built-ins among `funcs`, under
/// the same names. A Ballista scheduler and its executors install these too
/// ([`super::cluster`]): a plan names its functions, and each process
/// decodes a name to whatever it has registered under it.
pub fn capped(funcs: &std::collections::HashMap<String, Arc<ScalarUDF>>) -> Vec<ScalarUDF> {
    let mut replace = Vec::new();
    for (name, measure) in [
        ("repeat", Measure::Repeat),
        ("lpad", Measure::Pad),
        ("rpad", Measure::Pad),
        ("array_repeat", Measure::ArrayRepeat),
        ("range", Measure::Range),
        ("generate_series", Measure::Range),
    ] {
        if let Some(inner) = funcs.get(name) {
            replace.push(ScalarUDF::new_from_impl(Capped {
                inner: Arc::clone(inner),
                measure,
            }));
        }
    }
    replace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_and_huge_queries_are_refused_with_a_position() {
        let deep = format!("SELECT {} AS x", vec!["1"; 5001].join("+"));
        let e = check_shape(&deep).unwrap_err();
        assert!(e.to_string().contains("more than 1000 operators"), "{e}");
        assert_eq!(e.location().map(|l| l.0), Some(1));
        let nested = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(check_shape(&nested).is_err());
        assert!(check_shape("SELECT a + b FROM t WHERE c = 1 AND d = 2").is_ok());
        // Operators inside strings and comments do not count.
        let quoted = format!("SELECT '{}' -- {}", "+".repeat(5000), "+".repeat(5000));
        assert!(check_shape(&quoted).is_ok());
    }

    #[test]
    fn refusals_name_the_statement_not_the_comment() {
        assert_eq!(
            statement_word("-- id: x\n-- title: y\nCREATE TABLE t AS SELECT 1"),
            ("CREATE TABLE".to_string(), Some((3, 1)))
        );
        assert_eq!(
            statement_word("/* SELECT 1 */ DROP TABLE x").0,
            "DROP TABLE"
        );
    }
}
