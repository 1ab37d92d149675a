//! The returns workbook (rust_xlsxwriter).
//!
//! Built in memory and written atomically, so a failed run never leaves a
//! half-written workbook where the last good one was.

use chrono::Datelike;
use rust_xlsxwriter::{
    ExcelDateTime, Format, FormatAlign, Table, TableColumn, Workbook, XlsxError,
};

use super::{Error, RunView};
use crate::evaluation::ResultRow;
use crate::geography::{self, LANCASHIRE_12_CODE, LANCASHIRE_14_CODE};

fn xerr(e: XlsxError) -> Error {
    Error::Xlsx(e.to_string())
}

/// Build the workbook bytes.
pub fn build(view: &RunView<'_>) -> Result<Vec<u8>, Error> {
    let mut wb = Workbook::new();
    let title = Format::new().set_bold().set_font_size(16);
    let bold = Format::new().set_bold();
    let month_fmt = Format::new()
        .set_num_format("mmm yyyy")
        .set_align(FormatAlign::Left);
    let int_fmt = Format::new().set_num_format("#,##0");
    let dec_fmt = Format::new().set_num_format("#,##0.0#");

    // Cover: who, when, and how fresh each source is.
    let ws = wb.add_worksheet();
    ws.set_name("Cover").map_err(xerr)?;
    ws.write_string_with_format(0, 0, &view.organisation, &title)
        .map_err(xerr)?;
    ws.write_string(1, 0, "Community safety performance return")
        .map_err(xerr)?;
    let rows: [(&str, String); 4] = [
        ("Reporting period", view.period_label()),
        ("Run id", view.run_id.to_string()),
        ("Run time (UTC)", view.run_time.to_string()),
        ("Software", format!("safer {}", env!("CARGO_PKG_VERSION"))),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        ws.write_string_with_format(3 + i as u32, 0, *k, &bold)
            .map_err(xerr)?;
        ws.write_string(3 + i as u32, 1, v).map_err(xerr)?;
    }
    let mut r = 8u32;
    ws.write_string_with_format(r, 0, "Data freshness", &bold)
        .map_err(xerr)?;
    r += 1;
    for (col, h) in ["Dataset", "Rows", "Data from", "Data to"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(r, col as u16, *h, &bold)
            .map_err(xerr)?;
    }
    for f in &view.freshness {
        r += 1;
        ws.write_string(r, 0, &f.dataset).map_err(xerr)?;
        ws.write_number_with_format(r, 1, f.rows as f64, &int_fmt)
            .map_err(xerr)?;
        ws.write_string(r, 2, f.from.as_deref().unwrap_or(""))
            .map_err(xerr)?;
        ws.write_string(r, 3, f.to.as_deref().unwrap_or(""))
            .map_err(xerr)?;
    }
    r += 2;
    ws.write_string(
        r,
        0,
        "Contains public sector information licensed under the Open Government Licence v3.0.",
    )
    .map_err(xerr)?;
    ws.set_column_width(0, 28).map_err(xerr)?;
    ws.set_column_width(1, 40).map_err(xerr)?;
    ws.set_column_width(2, 14).map_err(xerr)?;
    ws.set_column_width(3, 14).map_err(xerr)?;

    // Summary: one row per indicator, the headline area's latest complete
    // month, rolling year and reporting year, as evaluated by the engine.
    let ws = wb.add_worksheet();
    ws.set_name("Indicators").map_err(xerr)?;
    let headers = [
        "Indicator id",
        "Title",
        "Theme",
        "Unit",
        "Polarity",
        "Area",
        "Latest month",
        "Month value",
        "Rolling 12 months",
        "Rolling 12 value",
        "Same period last year",
        "Direction vs last year",
        "Year",
        "Year value",
        "Target",
        "Status",
        "SPC (latest month)",
        "Assurance",
        "Notes",
    ];
    let mut n = 0u32;
    for s in &view.series {
        n += 1;
        ws.write_string(n, 0, &s.indicator.id).map_err(xerr)?;
        ws.write_string(n, 1, &s.indicator.title).map_err(xerr)?;
        ws.write_string(n, 2, &s.indicator.theme).map_err(xerr)?;
        ws.write_string(n, 3, &s.indicator.unit).map_err(xerr)?;
        ws.write_string(n, 4, &s.indicator.polarity).map_err(xerr)?;
        if let Some(e) = &s.error {
            ws.write_string(n, 15, "Failed").map_err(xerr)?;
            ws.write_string(n, 18, e).map_err(xerr)?;
            continue;
        }
        let h = headline(&view.results, &s.indicator.id);
        let Some(area) = h.month.or(h.rolling).map(|r| r.area_name.clone()) else {
            ws.write_string(n, 15, "No data").map_err(xerr)?;
            continue;
        };
        ws.write_string(n, 5, &area).map_err(xerr)?;
        let num = |ws: &mut rust_xlsxwriter::Worksheet, c: u16, v: Option<f64>, hidden: bool| match (
            hidden, v,
        ) {
            (true, _) => ws.write_string(n, c, SUPPRESSED).map(|_| ()),
            (false, Some(v)) => ws.write_number_with_format(n, c, v, &dec_fmt).map(|_| ()),
            (false, None) => Ok(()),
        };
        if let Some(m) = h.month {
            ws.write_string(n, 6, &m.period_label).map_err(xerr)?;
            num(ws, 7, m.value, m.suppressed).map_err(xerr)?;
            if let Some(v) = &m.spc_variation {
                ws.write_string(n, 16, v).map_err(xerr)?;
            }
            if let Some(a) = &m.spc_assurance {
                ws.write_string(n, 17, a).map_err(xerr)?;
            }
        }
        if let Some(r) = h.rolling {
            ws.write_string(n, 8, &r.period_label).map_err(xerr)?;
            num(ws, 9, r.value, r.suppressed).map_err(xerr)?;
            num(ws, 10, r.sply_value, r.sply_suppressed).map_err(xerr)?;
            if let (Some(d), false) = (&r.direction_sply, r.suppressed || r.sply_suppressed) {
                ws.write_string(n, 11, d).map_err(xerr)?;
            }
        }
        if let Some(y) = h.year {
            ws.write_string(n, 12, &y.period_label).map_err(xerr)?;
            num(ws, 13, y.value, y.suppressed).map_err(xerr)?;
            num(ws, 14, y.target, false).map_err(xerr)?;
            let status = match y.rag.as_deref() {
                Some("green") => "Green: on target",
                Some("amber") => "Amber: target missed, improving",
                Some("red") => "Red: target missed, not improving",
                _ if y.polarity == "monitor only" => "Monitor only (no target)",
                _ => "No target",
            };
            ws.write_string(n, 15, status).map_err(xerr)?;
            if let Some(note) = &y.population_note {
                ws.write_string(n, 18, note).map_err(xerr)?;
            }
        }
    }
    add_table(ws, &headers, n)?;
    for (c, w) in [
        (0u16, 30.0),
        (1, 50.0),
        (2, 22.0),
        (3, 16.0),
        (4, 16.0),
        (5, 22.0),
    ] {
        ws.set_column_width(c, w).map_err(xerr)?;
    }
    for c in 6..=18 {
        ws.set_column_width(c, 18).map_err(xerr)?;
    }
    ws.set_column_width(15, 34).map_err(xerr)?;
    ws.set_column_width(16, 40).map_err(xerr)?;
    ws.set_freeze_panes(1, 1).map_err(xerr)?;

    // Monthly data: the full series, long format, for pivoting.
    let ws = wb.add_worksheet();
    ws.set_name("Monthly data").map_err(xerr)?;
    let headers = [
        "Indicator id",
        "Month",
        "Area code",
        "Area name",
        "Numerator",
        "Denominator",
    ];
    let mut n = 0u32;
    for s in &view.series {
        for p in &s.points {
            n += 1;
            ws.write_string(n, 0, &s.indicator.id).map_err(xerr)?;
            ws.write_datetime_with_format(n, 1, excel_month(p.month)?, &month_fmt)
                .map_err(xerr)?;
            ws.write_string(n, 2, &p.area_code).map_err(xerr)?;
            let name = geography::district_by_code(&p.area_code)
                .map(|d| d.name)
                .unwrap_or("");
            ws.write_string(n, 3, name).map_err(xerr)?;
            ws.write_number_with_format(n, 4, p.numerator, &dec_fmt)
                .map_err(xerr)?;
            if let Some(d) = p.denominator {
                ws.write_number_with_format(n, 5, d, &dec_fmt)
                    .map_err(xerr)?;
            }
        }
    }
    add_table(ws, &headers, n)?;
    for (c, w) in [
        (0u16, 30.0),
        (1, 12.0),
        (2, 12.0),
        (3, 24.0),
        (4, 12.0),
        (5, 12.0),
    ] {
        ws.set_column_width(c, w).map_err(xerr)?;
    }
    ws.set_freeze_panes(1, 0).map_err(xerr)?;

    wb.save_to_buffer().map_err(xerr)
}

/// Shown in place of a suppressed figure.
pub const SUPPRESSED: &str = "[c]";

/// The rows a summary shows for one indicator.
#[derive(Debug, Default)]
pub struct Headline<'a> {
    /// Latest complete month.
    pub month: Option<&'a ResultRow>,
    /// Latest complete rolling 12 months.
    pub rolling: Option<&'a ResultRow>,
    /// Latest complete reporting year (financial or calendar).
    pub year: Option<&'a ResultRow>,
}

/// Headline rows: Lancashire-12 where the indicator has it, else the
/// widest area it has; the latest complete period of each type.
pub fn headline<'a>(results: &'a [ResultRow], id: &str) -> Headline<'a> {
    let rows: Vec<&ResultRow> = results.iter().filter(|r| r.indicator_id == id).collect();
    let area = [LANCASHIRE_12_CODE, LANCASHIRE_14_CODE]
        .into_iter()
        .find(|a| rows.iter().any(|r| r.area_code == *a))
        .map(str::to_string)
        .or_else(|| rows.first().map(|r| r.area_code.clone()));
    let Some(area) = area else {
        return Headline::default();
    };
    let latest = |kinds: &[&str]| {
        rows.iter()
            .filter(|r| {
                r.area_code == area && r.complete && kinds.contains(&r.period_type.as_str())
            })
            .max_by_key(|r| r.period_end)
            .copied()
    };
    Headline {
        month: latest(&["month"]),
        rolling: latest(&["rolling_12_months"]),
        year: latest(&["financial_year", "calendar_year"]),
    }
}

fn add_table(
    ws: &mut rust_xlsxwriter::Worksheet,
    headers: &[&str],
    rows: u32,
) -> Result<(), Error> {
    let cols: Vec<TableColumn> = headers
        .iter()
        .map(|h| TableColumn::new().set_header(*h))
        .collect();
    if rows == 0 {
        // An Excel table needs at least one data row; write headers plainly.
        for (c, h) in headers.iter().enumerate() {
            ws.write_string(0, c as u16, *h).map_err(xerr)?;
        }
        return Ok(());
    }
    let table = Table::new().set_columns(&cols);
    ws.add_table(0, 0, rows, headers.len() as u16 - 1, &table)
        .map_err(xerr)?;
    Ok(())
}

fn excel_month(d: chrono::NaiveDate) -> Result<ExcelDateTime, Error> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, 1).map_err(xerr)
}

/// The first day of the month `n` months from `d`.
pub fn shift_months(d: chrono::NaiveDate, n: i32) -> chrono::NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n;
    chrono::NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(d)
}
