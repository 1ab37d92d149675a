//! data.police.uk street-level crime files (`YYYY-MM/YYYY-MM-<force>-street.csv`).
//!
//! Real files carry quirks this reader accepts: a UTF-8 BOM and CRLF line
//! ends after a trip through Excel, quoted fields with commas, blank Crime ID
//! on anti-social behaviour rows, blank coordinates with `No Location` (or the
//! older `No location`), identical rows that are separate incidents, and
//! pre-2013 category names. Rows that break the contract are quarantined with
//! file, line and reason; a file whose header is wrong is refused whole.

use std::path::Path;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, RecordBatch, StringBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;

use super::Error;
use super::files::{
    self, Format, InputFile, Next, Parsed, Records, Sink, Split, compare_header, header_fields,
    stray_quote, strip_bom,
};
use crate::lake::{QuarantineRow, input_column};
use crate::schema::{Column, ColumnType, lake_schema};

/// Lake table name.
pub const TABLE: &str = "police_uk_street";

/// The published header, exactly.
pub const HEADER: [&str; 12] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
];

/// Current police.uk crime categories.
pub const CRIME_TYPES: [&str; 14] = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
];

/// Category names used before the 2013 revision, and what they land as.
/// `Violent crime` became `Violence and sexual offences` one-for-one;
/// `Public disorder and weapons` was split in two, so it cannot be mapped and
/// lands under its own historical name rather than being misattributed.
pub const HISTORICAL_CRIME_TYPES: [(&str, &str); 2] = [
    ("Violent crime", "Violence and sexual offences"),
    ("Public disorder and weapons", "Public disorder and weapons"),
];

/// Declared lake columns: the header in snake_case, `month` as a date.
///
/// The force, the LSOA, the crime type, the outcome, the context and the
/// location repeat from row to row (43 forces, some 35,000 LSOAs, 14 crime
/// types, two dozen outcomes, a street name for each of a force's
/// anonymised map points), so queries read them as dictionaries; the Crime
/// ID is unique, so it stays plain text. A row group whose locations
/// overflow Parquet's dictionary page is still read as a dictionary, built
/// by the reader, at the cost of hashing each of its locations once.
pub fn columns() -> Vec<Column> {
    use ColumnType::*;
    vec![
        Column::new("crime_id", String),
        Column::new("month", Date).required(),
        Column::new("reported_by", String).few_values(),
        Column::new("falls_within", String).few_values(),
        Column::new("longitude", Float),
        Column::new("latitude", Float),
        Column::new("location", String).few_values(),
        Column::new("lsoa_code", String).few_values(),
        Column::new("lsoa_name", String).few_values(),
        Column::new("crime_type", String).required().few_values(),
        Column::new("last_outcome_category", String).few_values(),
        Column::new("context", String).few_values(),
    ]
}

/// The month and force in a street file's name, e.g.
/// `2024-01-lancashire-street.csv` -> (2024-01-01, `lancashire`).
pub fn parse_file_name(name: &str) -> Option<(NaiveDate, String)> {
    let stem = name.strip_suffix("-street.csv")?;
    let month = parse_month(stem.get(..7)?)?;
    let force = stem.get(8..)?;
    if stem.as_bytes().get(7) != Some(&b'-') || force.is_empty() {
        return None;
    }
    Some((month, force.to_string()))
}

/// `YYYY-MM` -> first day of that month.
pub fn parse_month(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 7 || b[4] != b'-' {
        return None;
    }
    let y: i32 = s[..4].parse().ok()?;
    let m: u32 = s[5..].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// Input unit and partition for a street file, from its name.
pub fn input_file(path: &Path) -> Option<InputFile> {
    let name = path.file_name()?.to_str()?;
    let (month, force) = parse_file_name(name)?;
    Some(InputFile {
        path: path.to_path_buf(),
        unit: format!("{}-{}", month.format("%Y-%m"), force),
        group: partition_for(month),
    })
}

/// Partition for a month.
pub fn partition_for(month: NaiveDate) -> String {
    format!("year={}", month.year())
}

/// The police.uk street format.
pub struct StreetFormat {
    schema: SchemaRef,
}

impl Default for StreetFormat {
    fn default() -> Self {
        StreetFormat {
            schema: lake_schema(&columns()),
        }
    }
}

const BATCH_ROWS: usize = 64 * 1024;

struct Builders {
    crime_id: StringBuilder,
    month: Date32Builder,
    reported_by: StringBuilder,
    falls_within: StringBuilder,
    longitude: Float64Builder,
    latitude: Float64Builder,
    location: StringBuilder,
    lsoa_code: StringBuilder,
    lsoa_name: StringBuilder,
    crime_type: StringBuilder,
    outcome: StringBuilder,
    context: StringBuilder,
    rows: usize,
}

impl Builders {
    fn new() -> Self {
        let s = || StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 24);
        Builders {
            crime_id: StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 64),
            month: Date32Builder::with_capacity(BATCH_ROWS),
            reported_by: s(),
            falls_within: s(),
            longitude: Float64Builder::with_capacity(BATCH_ROWS),
            latitude: Float64Builder::with_capacity(BATCH_ROWS),
            location: s(),
            lsoa_code: s(),
            lsoa_name: s(),
            crime_type: s(),
            outcome: s(),
            context: s(),
            rows: 0,
        }
    }

    /// The rows so far as a batch. The builders are replaced by new ones
    /// of a batch's capacity: a finished arrow builder starts again from
    /// nothing and would grow by doubling through every batch.
    fn finish(&mut self, schema: &SchemaRef, unit: &str) -> Result<RecordBatch, Error> {
        let mut b = std::mem::replace(self, Builders::new());
        let cols: Vec<ArrayRef> = vec![
            Arc::new(b.crime_id.finish()),
            Arc::new(b.month.finish()),
            Arc::new(b.reported_by.finish()),
            Arc::new(b.falls_within.finish()),
            Arc::new(b.longitude.finish()),
            Arc::new(b.latitude.finish()),
            Arc::new(b.location.finish()),
            Arc::new(b.lsoa_code.finish()),
            Arc::new(b.lsoa_name.finish()),
            Arc::new(b.crime_type.finish()),
            Arc::new(b.outcome.finish()),
            Arc::new(b.context.finish()),
            input_column(unit, b.rows),
        ];
        RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn opt(b: &mut StringBuilder, v: &str) {
    if v.is_empty() {
        b.append_null();
    } else {
        b.append_value(v);
    }
}

/// A validated row, borrowing the record's text.
#[derive(Debug)]
struct Row<'a> {
    crime_id: &'a str,
    month: NaiveDate,
    fields: [&'a str; 12],
    coords: Option<(f64, f64)>,
    crime_type: &'a str,
}

/// The record's twelve fields as text, or which field is not UTF-8.
///
/// The whole record is checked in one pass (the per-field check was a
/// twentieth of the ingest time), then each field's start and end must fall
/// on a character boundary: two fields that are each broken can make a
/// valid whole (`\xC3` then `\xA9`), and those fall back to the
/// field-by-field check, which names the field.
fn utf8_fields(rec: &csv::ByteRecord) -> Result<[&str; 12], String> {
    let mut fields = [""; 12];
    if let Ok(all) = std::str::from_utf8(rec.as_slice()) {
        let mut whole = true;
        for (i, f) in fields.iter_mut().enumerate() {
            match rec.range(i) {
                Some(r) if all.is_char_boundary(r.start) && all.is_char_boundary(r.end) => {
                    *f = &all[r];
                }
                _ => {
                    whole = false;
                    break;
                }
            }
        }
        if whole {
            return Ok(fields);
        }
    }
    for (i, raw) in rec.iter().enumerate() {
        fields[i] =
            std::str::from_utf8(raw).map_err(|_| format!("`{}` is not valid UTF-8", HEADER[i]))?;
    }
    Ok(fields)
}

/// True if `s` holds a control character other than a tab.
///
/// Unicode's control characters are U+0000..U+001F, U+007F and
/// U+0080..U+009F; in UTF-8 the first two are single bytes below 0x20 or
/// 0x7F and the third starts with the byte 0xC2. A field with none of
/// those bytes (nearly every field) is cleared by a byte scan the compiler
/// vectorises; the rest are decoded.
fn has_control(s: &str) -> bool {
    maybe_control(s.as_bytes()) && s.chars().any(|c| c.is_control() && c != '\t')
}

/// True if `bytes` holds a byte [`has_control`] must decode to judge:
/// below 0x20 but a tab, 0x7F, or 0xC2. Every byte is looked at (no early
/// exit), so the compiler checks many at a time; with an early exit it was
/// a byte at a time, and the twelve fields' checks were 7% of the ingest's
/// CPU.
fn maybe_control(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| {
        found | ((b < 0x20) & (b != b'\t')) | (b == 0x7F) | (b == 0xC2)
    })
}

/// A line's twelve comma-separated fields, or `None` if it has more or
/// fewer. One pass over the line: each 64-byte block's commas become a bit
/// mask, eight bytes at a step ([`comma_bits`]), and the fields are cut at
/// its set bits. `str::split` looked for each comma separately, and its
/// search was 6% of the ingest's CPU.
fn split_commas(line: &str) -> Option<[&str; 12]> {
    let bytes = line.as_bytes();
    let mut fields = [""; 12];
    let (mut n, mut start) = (0, 0);
    for (i, chunk) in bytes.chunks(64).enumerate() {
        let mut block = [0u8; 64];
        block[..chunk.len()].copy_from_slice(chunk);
        let mut mask = 0u64;
        for (w, word) in block.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            mask |= comma_bits(u64::from_le_bytes(b)) << (8 * w);
        }
        while mask != 0 {
            let at = i * 64 + mask.trailing_zeros() as usize;
            *fields.get_mut(n)? = line.get(start..at)?;
            n += 1;
            start = at + 1;
            mask &= mask - 1;
        }
    }
    // Eleven commas: the twelfth field is what follows the last.
    if n != 11 {
        return None;
    }
    fields[11] = line.get(start..)?;
    Some(fields)
}

/// Bit `j` set where byte `j` of `word` (little-endian) is a comma.
///
/// The bytes equal to a comma become zero; a zero byte is the only one
/// whose high bit stays clear after `(x & 0x7f..) + 0x7f..` and `| x`
/// (no carry crosses a byte); the eight high bits are then gathered into
/// one byte by a multiplication whose partial products never overlap.
fn comma_bits(word: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ 0x2C2C_2C2C_2C2C_2C2C;
    let zero = !(((x & LOW7).wrapping_add(LOW7)) | x) & !LOW7;
    (zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// True if every byte of `s` is a hexadecimal digit. Every byte is looked
/// at (no early exit), so the compiler checks them many at a time: this
/// runs for nearly every row.
fn all_hex(s: &str) -> bool {
    s.bytes().fold(true, |ok, b| ok & b.is_ascii_hexdigit())
}

/// Check one record against the contract; `Err` is the quarantine reason.
fn validate<'a>(
    rec: &'a csv::ByteRecord,
    file_month: Option<NaiveDate>,
) -> Result<Row<'a>, String> {
    if rec.len() != HEADER.len() {
        return Err(format!(
            "expected {} fields, found {}",
            HEADER.len(),
            rec.len()
        ));
    }
    validate_fields(utf8_fields(rec)?, file_month, false)
}

/// Check a line with no quote (nearly every line), split on its commas in
/// place. Commas are ASCII, so when the whole line is UTF-8 every field
/// is. A line of the wrong width or not UTF-8, and any line that fails
/// the contract, is made into `rec` as the csv crate would have read it,
/// so its reason and its quarantined text are those of [`validate`].
fn validate_line<'a>(
    text: &'a [u8],
    rec: &'a mut csv::ByteRecord,
    file_month: Option<NaiveDate>,
) -> Result<Row<'a>, String> {
    let split = std::str::from_utf8(text).ok().and_then(split_commas);
    // One look at the whole line instead of one per field: nearly every
    // line has no byte that could start a control character.
    let clean = !maybe_control(text);
    match split.map(|fields| validate_fields(fields, file_month, clean)) {
        Some(Ok(row)) => Ok(row),
        _ => {
            files::fill_record(rec, text);
            validate(rec, file_month)
        }
    }
}

/// `str::trim`, without decoding a field that starts and ends with a
/// visible ASCII character (nearly every field), which has nothing to trim.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// The contract's checks on a record's twelve fields. `clean` says the
/// caller has already found no byte that could start a control character
/// in any of them.
fn validate_fields(
    fields: [&str; 12],
    file_month: Option<NaiveDate>,
    clean: bool,
) -> Result<Row<'_>, String> {
    if let Some(i) = fields.iter().position(|f| !clean && has_control(f)) {
        let c = fields[i]
            .chars()
            .find(|c| c.is_control() && *c != '\t')
            .unwrap_or('\0');
        let what = if c == '\0' {
            "a NUL byte".to_string()
        } else {
            format!("the control character U+{:04X}", c as u32)
        };
        return Err(format!("`{}` contains {what}", HEADER[i]));
    }
    let crime_id = trim(fields[0]);
    if !crime_id.is_empty() && (crime_id.len() != 64 || !all_hex(crime_id)) {
        return Err(format!(
            "`Crime ID` `{crime_id}` is not 64 hexadecimal characters"
        ));
    }
    let month = parse_month(trim(fields[1]))
        .ok_or_else(|| format!("`Month` `{}` is not a YYYY-MM month", fields[1]))?;
    if let Some(fm) = file_month
        && fm != month
    {
        return Err(format!(
            "`Month` {} does not match the file's month {}",
            month.format("%Y-%m"),
            fm.format("%Y-%m")
        ));
    }
    let (lon, lat) = (trim(fields[4]), trim(fields[5]));
    let coords = match (lon.is_empty(), lat.is_empty()) {
        (true, true) => None,
        (false, false) => {
            let lon: f64 = lon
                .parse()
                .map_err(|_| format!("`Longitude` `{lon}` is not a number"))?;
            let lat: f64 = lat
                .parse()
                .map_err(|_| format!("`Latitude` `{lat}` is not a number"))?;
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(format!("coordinates ({lon}, {lat}) are out of range"));
            }
            Some((lon, lat))
        }
        _ => return Err("only one of `Longitude` and `Latitude` is given".into()),
    };
    let ct = trim(fields[9]);
    let crime_type = if let Some(known) = CRIME_TYPES.iter().find(|c| **c == ct) {
        known
    } else if let Some((_, mapped)) = HISTORICAL_CRIME_TYPES.iter().find(|(old, _)| *old == ct) {
        mapped
    } else if ct.is_empty() {
        return Err("`Crime type` is blank".into());
    } else {
        return Err(format!("`Crime type` `{ct}` is not a police.uk category"));
    };
    Ok(Row {
        crime_id,
        month,
        fields,
        coords,
        crime_type,
    })
}

impl Format for StreetFormat {
    /// Force by force, and month by month within a force: a year's file
    /// then holds each force's rows together, not twelve slices of every
    /// force. A grouping by place (every map point of a force, say) then
    /// meets one force's groups at a time (the peer benchmark's query 09:
    /// a fifth quicker), and a row group's dictionaries hold one or two
    /// forces' places and LSOAs, not a slice of every force's (a lake 12%
    /// smaller, an ingest 12% quicker; docs/performance.md).
    fn landing_order(&self, file: &InputFile) -> Option<String> {
        // The unit is `YYYY-MM-force`.
        let (month, force) = (file.unit.get(..7)?, file.unit.get(8..)?);
        Some(format!("{force}/{month}"))
    }

    fn check_header(&self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let found = header_fields(path, bytes)?;
        compare_header(path, &found, &HEADER, &[])?;
        if found.iter().map(String::as_str).ne(HEADER.iter().copied()) {
            return Err(Error::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "refused whole, nothing landed from it; columns are out of order (expected `{}`)",
                    HEADER.join(",")
                ),
            });
        }
        Ok(())
    }

    fn parse(&self, file: &InputFile, bytes: &[u8], sink: &mut Sink) -> Result<Parsed, Error> {
        let file_name = file.path.display().to_string();
        let file_month = file
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_file_name)
            .map(|(m, _)| m);
        // The header is read as a record (not `has_headers`) so that record
        // positions count it and line numbers match the file.
        let body = strip_bom(bytes);
        let mut records = Records::new(body);
        let mut parsed = Parsed::default();
        let mut b = Builders::new();
        let mut rec = csv::ByteRecord::new();
        if !matches!(records.next(&mut rec, |_| false), Next::Record(_)) {
            return Ok(parsed);
        }
        // Months seen, by partition: a file is one month, but keep it general.
        let mut cur_partition: Option<String> = None;
        let mut month_range: Option<(NaiveDate, NaiveDate)> = None;
        let mut cur_year: Option<i32> = None;
        loop {
            // No police.uk field holds a line break: a record over several
            // lines is a stray quote.
            let (line, checked) = match records.next_split(&mut rec, |_| true) {
                Split::Line(line, text) => (line, validate_line(text, &mut rec, file_month)),
                Split::Other(Next::End) => break,
                Split::Other(Next::Record(line)) => (line, validate(&rec, file_month)),
                Split::Other(Next::StrayQuote {
                    line,
                    first_line,
                    swallowed,
                }) => {
                    parsed.rows_read += 1;
                    parsed
                        .quarantine
                        .push(stray_quote(file, &file_name, first_line, line, swallowed));
                    continue;
                }
                Split::Other(Next::Unreadable { line, message }) => {
                    // Quarantine the remainder as one row.
                    parsed.rows_read += 1;
                    parsed.quarantine.push(QuarantineRow {
                        input: file.unit.clone(),
                        file: file_name.clone(),
                        line,
                        reason: message,
                        record: String::new(),
                    });
                    break;
                }
            };
            parsed.rows_read += 1;
            let row = match checked {
                Ok(r) => r,
                Err(reason) => {
                    parsed.quarantine.push(QuarantineRow {
                        input: file.unit.clone(),
                        file: file_name.clone(),
                        line,
                        reason,
                        record: record_text(&rec),
                    });
                    continue;
                }
            };
            if cur_year != Some(row.month.year()) {
                cur_year = Some(row.month.year());
                let partition = partition_for(row.month);
                if b.rows > 0
                    && let Some(p) = &cur_partition
                {
                    sink.write(p, &b.finish(&self.schema, &file.unit)?)?;
                }
                parsed.partitions.insert(partition.clone());
                cur_partition = Some(partition);
            }
            // Month range as dates; formatted once at the end, not per row.
            month_range = Some(match month_range {
                None => (row.month, row.month),
                Some((lo, hi)) => (lo.min(row.month), hi.max(row.month)),
            });
            opt(&mut b.crime_id, row.crime_id);
            b.month.append_value(crate::schema::date32(row.month));
            opt(&mut b.reported_by, trim(row.fields[2]));
            opt(&mut b.falls_within, trim(row.fields[3]));
            match row.coords {
                Some((lon, lat)) => {
                    b.longitude.append_value(lon);
                    b.latitude.append_value(lat);
                }
                None => {
                    b.longitude.append_null();
                    b.latitude.append_null();
                }
            }
            opt(&mut b.location, trim(row.fields[6]));
            opt(&mut b.lsoa_code, trim(row.fields[7]));
            opt(&mut b.lsoa_name, trim(row.fields[8]));
            b.crime_type.append_value(row.crime_type);
            opt(&mut b.outcome, trim(row.fields[10]));
            opt(&mut b.context, trim(row.fields[11]));
            b.rows += 1;
            parsed.rows_landed += 1;
            if b.rows >= BATCH_ROWS
                && let Some(p) = &cur_partition
            {
                sink.write(p, &b.finish(&self.schema, &file.unit)?)?;
            }
        }
        if b.rows > 0
            && let Some(p) = &cur_partition
        {
            sink.write(p, &b.finish(&self.schema, &file.unit)?)?;
        }
        if let Some((lo, hi)) = month_range {
            parsed.see_month(&lo.format("%Y-%m").to_string());
            parsed.see_month(&hi.format("%Y-%m").to_string());
        }
        Ok(parsed)
    }
}

/// A record as comma-joined text for the quarantine table.
pub fn record_text(rec: &csv::ByteRecord) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_byte_record(rec);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let (m, f) = parse_file_name("2024-01-lancashire-street.csv").unwrap();
        assert_eq!(m, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(f, "lancashire");
        assert_eq!(
            parse_file_name("2013-12-avon-and-somerset-street.csv")
                .unwrap()
                .1,
            "avon-and-somerset"
        );
        assert!(parse_file_name("2024-01-lancashire-outcomes.csv").is_none());
        assert!(parse_file_name("2024-13-lancashire-street.csv").is_none());
    }

    #[test]
    fn text_checks_agree_with_field_by_field() {
        // A character split over two fields: each field is broken UTF-8,
        // the record's bytes together are not, and the field is named.
        let mut split = csv::ByteRecord::new();
        for f in [b"x" as &[u8], b"2024-01", b"a\xC3", b"\xA9b"] {
            split.push_field(f);
        }
        for _ in 0..8 {
            split.push_field(b"");
        }
        assert_eq!(
            utf8_fields(&split).unwrap_err(),
            "`Reported by` is not valid UTF-8"
        );
        let mut fine = csv::ByteRecord::new();
        for f in [
            "id",
            "2024-01",
            "Caf\u{e9}",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ] {
            fine.push_field(f.as_bytes());
        }
        assert_eq!(utf8_fields(&fine).unwrap()[2], "Caf\u{e9}");
        // Every character class the byte scan must catch or let through,
        // against the definition it replaces.
        for s in [
            "plain",
            "tab\there",
            "nul\0",
            "bell\u{7}",
            "del\u{7f}",
            "nel\u{85}",
            "c1 end\u{9f}",
            "\u{a0}nbsp",
            "\u{c2}\u{a9} sign",
            "\u{100}",
            "",
        ] {
            assert_eq!(
                has_control(s),
                s.chars().any(|c| c.is_control() && c != '\t'),
                "{s:?}"
            );
        }
    }

    fn rec(s: &str) -> csv::ByteRecord {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(s.as_bytes());
        let mut out = csv::ByteRecord::new();
        r.read_byte_record(&mut out).unwrap();
        out
    }

    /// A line split in place gives what the csv crate's record of it
    /// gives: the same row, or the same reason and quarantined text.
    #[test]
    fn lines_split_in_place_check_as_records_do() {
        let m = parse_month("2024-01");
        let id = "a".repeat(64);
        let lines: Vec<Vec<u8>> = [
            format!("{id},2024-01,L,Lancs,-2.7,53.7,On or near X,E01025000,Preston 001A,Drugs,Under investigation,"),
            ",2024-01,L,L,,,No Location,,,Anti-social behaviour,,".into(),
            " ,2024-01 , L , L ,\u{a0}-2.7, 53.7 ,x,E01,P, Drugs ,,\u{85}".into(),
            ",2024-02,L,L,-2.7,53.7,On or near X,E01025000,Preston 001A,Drugs,,".into(),
            ",2024-01,L,L,,,No Location,,,Jaywalking,,".into(),
            ",2024-01,L,L,-2.7,,No Location,,,Drugs,,".into(),
            ",2024-01,L".into(),
            ",2024-01,L,L,,,No Location,,,Drugs,,,extra".into(),
            ",2024-01,L\u{7},L,,,No Location,,,Drugs,,".into(),
            format!("{}g,2024-01,L,L,,,x,,,Drugs,,", "a".repeat(63)),
        ]
        .into_iter()
        .map(String::into_bytes)
        .chain([b",2024-01,L\xC3,L,,,x,,,Drugs,,".to_vec()])
        .collect();
        for text in &lines {
            let mut by_crate = csv::ByteRecord::new();
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&text[..])
                .read_byte_record(&mut by_crate)
                .unwrap();
            let expected = validate(&by_crate, m).map(|r| format!("{r:?}"));
            let mut scratch = csv::ByteRecord::new();
            let got = validate_line(text, &mut scratch, m).map(|r| format!("{r:?}"));
            assert_eq!(got, expected, "{}", String::from_utf8_lossy(text));
            if got.is_err() {
                assert_eq!(record_text(&scratch), record_text(&by_crate));
            }
        }
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\tq",
            "\u{a0}x\u{a0}",
            "x\u{85}",
            "é",
            "a é ",
            "\u{3000}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// The one-pass comma split and the one look for control characters
    /// agree with `str::split` and with the field-by-field checks on
    /// random lines: lengths across the 64-byte steps, commas anywhere,
    /// and every kind of byte the control check must catch or pass.
    #[test]
    fn one_pass_checks_agree_with_field_by_field_on_random_lines() {
        let pieces: [&str; 16] = [
            ",",
            ",",
            ",",
            "a",
            "7",
            " ",
            "\t",
            "\u{7}",
            "\u{7f}",
            "\u{85}",
            "é",
            "\u{a0}",
            "2024-01",
            "-2.7",
            "Drugs",
            "On or near Church Street",
        ];
        let mut seed: u64 = 0x5EED;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let m = parse_month("2024-01");
        for _ in 0..20_000 {
            // At least one piece: the reader skips empty lines before they
            // are checked.
            let len = 1 + next(60);
            let mut line: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            if next(2) == 0 {
                // Mostly well-formed rows, so the checks past the split run.
                let id = "ab".repeat(32);
                let fields = [
                    if next(3) == 0 { "" } else { id.as_str() },
                    "2024-01",
                    pieces[next(pieces.len())],
                    "Lancashire Constabulary",
                    "-2.7",
                    "53.7",
                    line.as_str(),
                    "E01025000",
                    "Preston 001A",
                    "Drugs",
                    pieces[next(pieces.len())],
                    "",
                ];
                line = fields.join(",");
            }
            let expected: Option<Vec<&str>> = {
                let parts: Vec<&str> = line.split(',').collect();
                (parts.len() == 12).then_some(parts)
            };
            assert_eq!(
                split_commas(&line).map(|f| f.to_vec()),
                expected,
                "{line:?}"
            );
            assert_eq!(
                maybe_control(line.as_bytes()),
                line.bytes()
                    .any(|b| (b < 0x20 && b != b'\t') || b == 0x7F || b == 0xC2),
                "{line:?}"
            );
            let mut by_crate = csv::ByteRecord::new();
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .quoting(false)
                .from_reader(line.as_bytes())
                .read_byte_record(&mut by_crate)
                .unwrap();
            let want = validate(&by_crate, m).map(|r| format!("{r:?}"));
            let mut scratch = csv::ByteRecord::new();
            let got = validate_line(line.as_bytes(), &mut scratch, m).map(|r| format!("{r:?}"));
            assert_eq!(got, want, "{line:?}");
        }
    }

    /// Every byte value at every place in a word: only a comma sets its
    /// bit, and a comma's neighbours (carries) do not disturb the others.
    #[test]
    fn comma_bits_finds_exactly_the_commas() {
        for b in 0..=255u8 {
            for j in 0..8 {
                for fill in [0u8, b',', 0x2B, 0x2D, 0xAC, 0xFF] {
                    let mut bytes = [fill; 8];
                    bytes[j] = b;
                    let want = bytes
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (i, &x)| m | (u64::from(x == b',') << i));
                    assert_eq!(comma_bits(u64::from_le_bytes(bytes)), want, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn validates_rows() {
        let m = parse_month("2024-01");
        let ok = rec(
            ",2024-01,Lancashire Constabulary,Lancashire Constabulary,-2.7,53.7,On or near X,E01025000,Preston 001A,Anti-social behaviour,,",
        );
        assert!(validate(&ok, m).is_ok());
        let wrong_month = rec(",2024-02,L,L,-2.7,53.7,On or near X,E01025000,Preston 001A,Drugs,,");
        assert!(
            validate(&wrong_month, m)
                .unwrap_err()
                .contains("does not match")
        );
        let bad_type = rec(",2024-01,L,L,,,No Location,,,Jaywalking,,");
        assert!(validate(&bad_type, m).unwrap_err().contains("Jaywalking"));
        let half = rec(",2024-01,L,L,-2.7,,No Location,,,Drugs,,");
        assert!(validate(&half, m).unwrap_err().contains("only one"));
        let old = rec(",2011-05,L,L,,,No location,,,Violent crime,,");
        assert_eq!(
            validate(&old, None).unwrap().crime_type,
            "Violence and sexual offences"
        );
        let bad_id = rec(&format!(
            "{}g,2024-01,L,L,,,No Location,,,Drugs,,",
            "a".repeat(63)
        ));
        assert!(validate(&bad_id, m).unwrap_err().contains("hexadecimal"));
        assert!(all_hex("0123456789abcdefABCDEF") && !all_hex("0123x") && !all_hex("é"));
        let short = rec(",2024-01,L");
        assert!(validate(&short, m).unwrap_err().contains("found 3"));
    }
}
