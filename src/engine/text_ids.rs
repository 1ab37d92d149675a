//! Text of few values grouped by number.
//!
//! A GROUP BY key of text of few values (a force, an LSOA, a crime type,
//! read as a dictionary: `schema::read_as_dictionary`) is handed to the
//! grouping as a number, one per distinct text, and turned back into text
//! just above it (`grouping::GroupTextById`). DataFusion then groups
//! numbers, which it does column by column, and never sees the text:
//!
//! - each batch's dictionary is numbered once (a row group's batches share
//!   one dictionary, so usually once a row group), and each row's number
//!   is looked up from its dictionary key;
//! - a group holds four bytes for the key instead of a copy of the text
//!   and its offset or view.
//!
//! The numbers are shared by every partition of every grouping in a query,
//! so the same text has the same number wherever it is read, and the
//! partitions' groups merge as the text's would. They mean nothing outside
//! the query and never leave it. The text they stand for is no more than
//! the keys' distinct values, held twice: once to look numbers up, once as
//! an array to turn them back.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, DictionaryArray, StringArray, UInt32Array,
};
use datafusion::arrow::compute::{max, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type, UInt32Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// How many dictionaries' numberings are kept: one per key column per
/// partition is in use at a time, as partitions' batches arrive
/// interleaved from different row groups.
const RECENT: usize = 32;

/// The numbering of one query's text keys: text to number and back. Keys
/// of different columns may share it: the same text gets the same number,
/// different texts different numbers, whichever column they come from.
#[derive(Default)]
pub struct TextIds {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    ids: HashMap<Arc<str>, u32>,
    texts: Vec<Arc<str>>,
    /// Dictionaries lately numbered, with each value's number. Holding the
    /// dictionary keeps its buffers alive, so a pointer match is the same
    /// dictionary and never a new one at a freed one's address.
    recent: VecDeque<(ArrayData, UInt32Array)>,
    /// Every text in number order, for turning numbers back into text with
    /// one `take`; made again only after a text is added.
    all: Option<StringArray>,
}

impl fmt::Debug for TextIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TextIds({} texts)", self.lock().texts.len())
    }
}

impl Table {
    fn id(&mut self, text: &str) -> Result<u32> {
        if let Some(id) = self.ids.get(text) {
            return Ok(*id);
        }
        let Ok(id) = u32::try_from(self.texts.len()) else {
            return exec_err!("a GROUP BY key has more than 4,294,967,295 distinct values");
        };
        let text: Arc<str> = Arc::from(text);
        self.texts.push(Arc::clone(&text));
        self.all = None;
        self.ids.insert(text, id);
        Ok(id)
    }
}

impl TextIds {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table is only ever added to whole, so a panic elsewhere while
        // it was held leaves it consistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each row's number: its dictionary value's, NULL for NULL.
    pub fn to_ids(&self, dict: &DictionaryArray<Int32Type>) -> Result<UInt32Array> {
        let values = dict.values();
        let Some(texts) = values.as_string_opt::<i32>() else {
            return internal_err!("text ids of a dictionary of {}", values.data_type());
        };
        let data = values.to_data();
        let numbering = {
            let mut table = self.lock();
            match table.recent.iter().find(|(seen, _)| seen.ptr_eq(&data)) {
                Some((_, numbering)) => numbering.clone(),
                None => {
                    let numbering = texts
                        .iter()
                        .map(|t| t.map(|t| table.id(t)).transpose())
                        .collect::<Result<UInt32Array>>()?;
                    table.recent.push_front((data, numbering.clone()));
                    table.recent.truncate(RECENT);
                    numbering
                }
            }
        };
        let ids = take(&numbering, dict.keys(), None)?;
        Ok(ids.as_primitive::<UInt32Type>().clone())
    }

    /// Each number's text, NULL for NULL.
    pub fn to_text(&self, ids: &UInt32Array) -> Result<StringArray> {
        let all = {
            let mut table = self.lock();
            match &table.all {
                Some(all) => all.clone(),
                None => {
                    let all = StringArray::from_iter_values(table.texts.iter());
                    table.all = Some(all.clone());
                    all
                }
            }
        };
        if let Some(id) = max(ids).filter(|id| *id as usize >= all.len()) {
            return internal_err!("text id {id} was never given out");
        }
        let text = take(&all, ids, None)?;
        Ok(text.as_string::<i32>().clone())
    }
}

/// `safer_text_id(key)`: a dictionary text key's number.
pub fn to_id(ids: &Arc<TextIds>, key: Expr) -> Expr {
    ScalarUDF::new_from_impl(Numbering {
        ids: Arc::clone(ids),
        to_text: false,
        signature: Signature::exact(
            vec![crate::schema::read_as_dictionary()],
            Volatility::Immutable,
        ),
    })
    .call(vec![key])
}

/// `safer_text_of_id(id)`: the text a number stands for.
pub fn to_text(ids: &Arc<TextIds>, id: Expr) -> Expr {
    ScalarUDF::new_from_impl(Numbering {
        ids: Arc::clone(ids),
        to_text: true,
        signature: Signature::exact(vec![DataType::UInt32], Volatility::Immutable),
    })
    .call(vec![id])
}

/// Either way through one numbering. Two calls are the same function only
/// over the same numbering.
#[derive(Debug)]
struct Numbering {
    ids: Arc<TextIds>,
    to_text: bool,
    signature: Signature,
}

impl PartialEq for Numbering {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ids, &other.ids) && self.to_text == other.to_text
    }
}

impl Eq for Numbering {}

impl Hash for Numbering {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.ids).hash(state);
        self.to_text.hash(state);
    }
}

impl ScalarUDFImpl for Numbering {
    fn name(&self) -> &str {
        if self.to_text {
            "safer_text_of_id"
        } else {
            "safer_text_id"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(if self.to_text {
            DataType::Utf8
        } else {
            DataType::UInt32
        })
    }

    /// NULL exactly where the key is NULL.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            self.return_type(&[])?,
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return internal_err!("{} takes one argument", self.name());
        };
        let (array, scalar) = match arg {
            ColumnarValue::Array(a) => (Arc::clone(a), false),
            ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, true),
        };
        let out: ArrayRef = if self.to_text {
            let Some(ids) = array.as_primitive_opt::<UInt32Type>() else {
                return internal_err!("safer_text_of_id of {}", array.data_type());
            };
            Arc::new(self.ids.to_text(ids)?)
        } else {
            let Some(dict) = array.as_dictionary_opt::<Int32Type>() else {
                return internal_err!("safer_text_id of {}", array.data_type());
            };
            Arc::new(self.ids.to_ids(dict)?)
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;

    fn dict(keys: Vec<Option<i32>>, values: Vec<Option<&str>>) -> DictionaryArray<Int32Type> {
        DictionaryArray::try_new(Int32Array::from(keys), Arc::new(StringArray::from(values)))
            .unwrap()
    }

    #[test]
    fn the_same_text_has_the_same_number_in_every_dictionary_and_comes_back() {
        let ids = TextIds::default();
        // Two row groups' dictionaries, in different orders, with a NULL key
        // and a NULL value.
        let a = dict(
            vec![Some(0), Some(1), None, Some(0), Some(2)],
            vec![Some("Burglary"), Some("Robbery"), None],
        );
        let b = dict(
            vec![Some(1), Some(0), Some(2)],
            vec![Some("Robbery"), Some("Arson"), Some("Burglary")],
        );
        let first = ids.to_ids(&a).unwrap();
        let second = ids.to_ids(&b).unwrap();
        // Burglary was seen first (0), then Robbery (1), then Arson (2).
        let want_a = UInt32Array::from(vec![Some(0), Some(1), None, Some(0), None]);
        let want_b = UInt32Array::from(vec![Some(2), Some(1), Some(0)]);
        assert_eq!(first, want_a);
        assert_eq!(second, want_b);
        // The same dictionary again is numbered from memory, the same way.
        assert_eq!(ids.to_ids(&a.slice(1, 3)).unwrap(), want_a.slice(1, 3));
        assert_eq!(
            ids.to_text(&second).unwrap(),
            StringArray::from(vec!["Arson", "Robbery", "Burglary"])
        );
        assert_eq!(
            ids.to_text(&first).unwrap(),
            StringArray::from(vec![
                Some("Burglary"),
                Some("Robbery"),
                None,
                Some("Burglary"),
                None
            ])
        );
        // A number never given out is an error, not a panic.
        assert!(ids.to_text(&UInt32Array::from(vec![7])).is_err());
    }
}
