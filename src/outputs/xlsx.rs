//! The returns workbook (rust_xlsxwriter).
//!
//! Cover, one sheet per priority (indicator rows, district table, trend
//! chart), data dictionary, methods, provenance, and any statutory-return
//! template sheets. Built in memory and written atomically. In a public
//! workbook every suppressed figure is the text `[c]` with a note, in every
//! cell, chart range and sheet: the values are never written at all.

use std::collections::BTreeMap;

use rust_xlsxwriter::{
    Chart, ChartType, Color, Format, FormatAlign, FormatBorder, Note, Table, TableColumn, Workbook,
    Worksheet, XlsxError,
};

use super::{Error, PackData, RunView, SUPPRESSED};
use crate::evaluation::ResultRow;
use crate::evaluation::rag::RagRule;

fn xerr(e: XlsxError) -> Error {
    Error::Xlsx(e.to_string())
}

struct Formats {
    title: Format,
    bold: Format,
    num: Format,
    wrap: Format,
    green: Format,
    amber: Format,
    red: Format,
    grey: Format,
}

impl Formats {
    fn new() -> Self {
        let tag = |bg: u32, fg: u32| {
            Format::new()
                .set_background_color(Color::RGB(bg))
                .set_font_color(Color::RGB(fg))
                .set_bold()
                .set_border(FormatBorder::Thin)
        };
        Formats {
            title: Format::new().set_bold().set_font_size(16),
            bold: Format::new().set_bold(),
            num: Format::new()
                .set_num_format("#,##0.0#")
                .set_align(FormatAlign::Right),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            green: tag(0xCCE2D8, 0x005A30),
            amber: tag(0xFCD6C3, 0x6E3619),
            red: tag(0xF4CDC6, 0x2A0B06),
            grey: tag(0xE5E6E7, 0x282D30),
        }
    }
}

/// Write a figure: the number, or `[c]` with a note when hidden.
fn figure(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    v: Option<f64>,
    hidden: bool,
) -> Result<(), Error> {
    if hidden {
        ws.write_string(row, col, SUPPRESSED).map_err(xerr)?;
        let note = Note::new("Suppressed to protect individuals: a count from 1 to 4, or a figure that would reveal one.")
            .set_author("safer");
        ws.insert_note(row, col, &note).map_err(xerr)?;
    } else if let Some(v) = v {
        ws.write_number_with_format(row, col, v, &f.num)
            .map_err(xerr)?;
    }
    Ok(())
}

/// Build the workbook bytes.
pub fn build(view: &RunView, d: &PackData<'_>) -> Result<Vec<u8>, Error> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    let items = d.items();
    let hide = |s: bool| s && d.public;

    // Cover.
    let ws = wb.add_worksheet();
    ws.set_name("Cover").map_err(xerr)?;
    print_setup(ws);
    ws.write_string_with_format(0, 0, &d.organisation, &f.title)
        .map_err(xerr)?;
    ws.write_string(1, 0, &d.def.title).map_err(xerr)?;
    let audience = if d.public {
        "Public: small numbers suppressed as [c]"
    } else {
        "Internal: contains unsuppressed small numbers, not for publication"
    };
    let rows: [(&str, String); 6] = [
        ("Reporting period", d.period_label.clone()),
        ("Headline area", d.headline_area_name.clone()),
        ("Audience", audience.to_string()),
        ("Run id", d.run_id.to_string()),
        ("Run time (UTC)", d.run_time.to_string()),
        ("Software", format!("safer {}", env!("CARGO_PKG_VERSION"))),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        ws.write_string_with_format(3 + i as u32, 0, *k, &f.bold)
            .map_err(xerr)?;
        ws.write_string(3 + i as u32, 1, v).map_err(xerr)?;
    }
    let mut r = 10u32;
    ws.write_string_with_format(r, 0, "Status summary", &f.bold)
        .map_err(xerr)?;
    use crate::evaluation::rag::Status;
    let counts: [(&str, usize); 8] = [
        (
            Status::OnTarget.label(),
            items
                .iter()
                .filter(|i| i.rated == Some(Status::OnTarget))
                .count(),
        ),
        (
            Status::WithinTolerance.label(),
            items
                .iter()
                .filter(|i| i.rated == Some(Status::WithinTolerance))
                .count(),
        ),
        (
            Status::MissedImproving.label(),
            items
                .iter()
                .filter(|i| i.rated == Some(Status::MissedImproving))
                .count(),
        ),
        (
            Status::MissedNotImproving.label(),
            items
                .iter()
                .filter(|i| i.rated == Some(Status::MissedNotImproving))
                .count(),
        ),
        (
            "No target or monitor only",
            items
                .iter()
                .filter(|i| i.status.0 == "grey" && i.error.is_none())
                .count(),
        ),
        (
            "SPC special cause: concern",
            items.iter().filter(|i| i.spc.1 == "concern").count(),
        ),
        (
            "SPC special cause: improvement",
            items.iter().filter(|i| i.spc.1 == "improvement").count(),
        ),
        ("Failed", items.iter().filter(|i| i.error.is_some()).count()),
    ];
    for (k, n) in counts {
        r += 1;
        ws.write_string(r, 0, k).map_err(xerr)?;
        ws.write_number(r, 1, n as f64).map_err(xerr)?;
    }
    r += 2;
    ws.write_string_with_format(r, 0, "Data freshness", &f.bold)
        .map_err(xerr)?;
    r += 1;
    for (c, h) in ["Dataset", "Rows", "Data from", "Data to"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(r, c as u16, *h, &f.bold)
            .map_err(xerr)?;
    }
    for fr in &view.freshness {
        r += 1;
        ws.write_string(r, 0, &fr.dataset).map_err(xerr)?;
        ws.write_number(r, 1, fr.rows as f64).map_err(xerr)?;
        ws.write_string(r, 2, fr.from.as_deref().unwrap_or(""))
            .map_err(xerr)?;
        ws.write_string(r, 3, fr.to.as_deref().unwrap_or(""))
            .map_err(xerr)?;
    }
    r += 2;
    ws.write_string(
        r,
        0,
        "Contains public sector information licensed under the Open Government Licence v3.0.",
    )
    .map_err(xerr)?;
    for (c, w) in [(0u16, 36.0), (1, 48.0), (2, 14.0), (3, 14.0)] {
        ws.set_column_width(c, w).map_err(xerr)?;
    }

    // One sheet per priority.
    let mut used_names: Vec<String> = vec!["Cover".into()];
    for (_, theme) in d.themes() {
        let ws = wb.add_worksheet();
        let name = sheet_name(&theme, &used_names);
        used_names.push(name.clone());
        ws.set_name(&name).map_err(xerr)?;
        print_setup(ws);
        let headers = [
            "Indicator",
            "Unit",
            "Polarity",
            "Latest month",
            "Month value",
            "Previous month",
            "Rolling 12 months",
            "Rolling 12 value",
            "Same period last year",
            "Direction vs last year",
            "Year",
            "Year value",
            "Target",
            "Status",
            "SPC (latest month)",
        ];
        let theme_items: Vec<&super::Item<'_>> =
            items.iter().filter(|i| i.theme == theme).collect();
        let mut n = 0u32;
        for i in &theme_items {
            n += 1;
            ws.write_string(n, 0, &i.title).map_err(xerr)?;
            ws.write_string(n, 1, &i.unit).map_err(xerr)?;
            ws.write_string(n, 2, &i.polarity).map_err(xerr)?;
            if let Some(e) = &i.error {
                ws.write_string_with_format(n, 13, "Failed", &f.red)
                    .map_err(xerr)?;
                ws.write_string(n, 14, e).map_err(xerr)?;
                continue;
            }
            if let Some(m) = i.month {
                ws.write_string(n, 3, &m.period_label).map_err(xerr)?;
                figure(ws, &f, n, 4, m.value, hide(m.suppressed))?;
                figure(ws, &f, n, 5, m.previous_value, hide(m.previous_suppressed))?;
                ws.write_string(n, 14, m.spc_variation.map(|v| v.label()).unwrap_or(""))
                    .map_err(xerr)?;
            }
            if let Some(rr) = i.rolling {
                ws.write_string(n, 6, &rr.period_label).map_err(xerr)?;
                figure(ws, &f, n, 7, rr.value, hide(rr.suppressed))?;
                figure(ws, &f, n, 8, rr.sply_value, hide(rr.sply_suppressed))?;
                if !hide(rr.suppressed || rr.sply_suppressed) {
                    let dir = rr.direction_sply.map(|d| d.label()).unwrap_or_default();
                    ws.write_string(n, 9, &dir).map_err(xerr)?;
                }
            }
            if let Some(y) = i.year {
                ws.write_string(n, 10, &y.period_label).map_err(xerr)?;
                figure(ws, &f, n, 11, y.value, hide(y.suppressed))?;
                figure(ws, &f, n, 12, y.target, false)?;
            }
            let fmt = match i.status.0 {
                "green" => &f.green,
                "amber" => &f.amber,
                "red" => &f.red,
                _ => &f.grey,
            };
            ws.write_string_with_format(n, 13, i.status.1, fmt)
                .map_err(xerr)?;
        }
        add_table(ws, 0, &headers, n)?;
        ws.set_column_width(0, 48).map_err(xerr)?;
        for c in 1..=12u16 {
            ws.set_column_width(c, 16).map_err(xerr)?;
        }
        ws.set_column_width(13, 34).map_err(xerr)?;
        ws.set_column_width(14, 40).map_err(xerr)?;
        ws.set_freeze_panes(1, 1).map_err(xerr)?;

        // District breakdown: rolling 12 months, so a county figure cannot
        // hide a struggling district.
        let mut top = n + 3;
        ws.write_string_with_format(top, 0, "Districts: latest rolling 12 months", &f.bold)
            .map_err(xerr)?;
        top += 1;
        let district_rows: Vec<(String, Vec<&ResultRow>)> = theme_items
            .iter()
            .map(|i| (i.title.clone(), d.districts(&i.id)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let mut names: Vec<String> = district_rows
            .iter()
            .flat_map(|(_, v)| v.iter().map(|r| r.area_name.clone()))
            .collect();
        names.sort();
        names.dedup();
        if !names.is_empty() {
            let mut hdr = vec!["District".to_string()];
            hdr.extend(district_rows.iter().map(|(t, _)| t.clone()));
            for (di, dname) in names.iter().enumerate() {
                let row = top + 1 + di as u32;
                ws.write_string(row, 0, dname).map_err(xerr)?;
                for (ci, (_, v)) in district_rows.iter().enumerate() {
                    if let Some(x) = v.iter().find(|r| &r.area_name == dname) {
                        figure(ws, &f, row, 1 + ci as u16, x.value, hide(x.suppressed))?;
                    }
                }
            }
            let hdr_refs: Vec<&str> = hdr.iter().map(String::as_str).collect();
            add_table(ws, top, &hdr_refs, names.len() as u32)?;
        }

        // Trend: the headline area's months for each indicator, and a native
        // line chart of the first indicator's series.
        let trend_col: u16 = 17;
        let first = theme_items.iter().find(|i| i.error.is_none());
        if let Some(first) = first {
            let months = d.months(&first.id);
            if months.len() >= 2 {
                ws.write_string_with_format(0, trend_col, "Month", &f.bold)
                    .map_err(xerr)?;
                ws.write_string_with_format(0, trend_col + 1, &first.title, &f.bold)
                    .map_err(xerr)?;
                for (k, m) in months.iter().enumerate() {
                    let row = 1 + k as u32;
                    ws.write_string(row, trend_col, &m.period_label)
                        .map_err(xerr)?;
                    figure(ws, &f, row, trend_col + 1, m.value, hide(m.suppressed))?;
                }
                let last = months.len() as u32;
                let mut chart = Chart::new(ChartType::Line);
                chart
                    .add_series()
                    .set_categories((name.as_str(), 1, trend_col, last, trend_col))
                    .set_values((name.as_str(), 1, trend_col + 1, last, trend_col + 1))
                    .set_name(first.title.as_str());
                chart
                    .title()
                    .set_name(&format!("{} ({})", first.title, d.headline_area_name));
                chart.legend().set_hidden();
                ws.insert_chart(top + names.len() as u32 + 3, 0, &chart)
                    .map_err(xerr)?;
                ws.set_column_width(trend_col, 12).map_err(xerr)?;
                ws.set_column_width(trend_col + 1, 18).map_err(xerr)?;
            }
        }
    }

    // Data dictionary.
    let ws = wb.add_worksheet();
    ws.set_name("Data dictionary").map_err(xerr)?;
    print_setup(ws);
    let keys = [
        "description",
        "priority",
        "unit",
        "denominator",
        "polarity",
        "target",
        "tolerance",
        "target_period",
        "calendar",
        "frequency",
        "disclosure",
        "owner",
        "basis",
        "source",
        "tables",
    ];
    let mut hdr = vec!["Indicator id", "Title", "Theme"];
    hdr.extend(keys);
    hdr.push("SQL file");
    for (k, s) in d.series.iter().enumerate() {
        let row = 1 + k as u32;
        ws.write_string(row, 0, &s.indicator.id).map_err(xerr)?;
        ws.write_string(row, 1, &s.indicator.title).map_err(xerr)?;
        ws.write_string(row, 2, &s.indicator.theme).map_err(xerr)?;
        for (j, key) in keys.iter().enumerate() {
            if let Some(v) = s.indicator.meta.get(*key) {
                ws.write_string(row, 3 + j as u16, v).map_err(xerr)?;
            }
        }
        ws.write_string(
            row,
            3 + keys.len() as u16,
            s.indicator.path.display().to_string(),
        )
        .map_err(xerr)?;
    }
    add_table(ws, 0, &hdr, d.series.len() as u32)?;
    ws.set_column_width(1, 48).map_err(xerr)?;
    ws.set_column_width(3, 70).map_err(xerr)?;
    ws.set_freeze_panes(1, 1).map_err(xerr)?;

    // Methods.
    let ws = wb.add_worksheet();
    ws.set_name("Methods").map_err(xerr)?;
    print_setup(ws);
    let methods: [(&str, &str); 4] = [
        ("Status (RAG) rule", RagRule.describe()),
        (
            "Statistical process control",
            "XmR chart (NHS England Making Data Count): mean and natural process limits at mean +/- 2.66 x mean moving range, from at least 15 months. Special cause: a point outside the limits; 7 or more in a row on one side of the mean; 7 or more in a row rising or falling; 2 of 3 in a row beyond two-thirds of the way to a limit on one side. Read as improvement or concern by polarity; neither for monitor-only indicators. Assurance: a target outside the limits is consistently met or missed, inside them hit and miss.",
        ),
        (
            "Suppression",
            "Public outputs hide counts from 1 to 4 as [c], plus any other figure from which a hidden count could be worked out (secondary suppression across districts, partnerships and county totals), and any rate, percentage or comparison built on a hidden count. Zero is shown. Internal outputs show everything.",
        ),
        (
            "Periods and rates",
            "Financial years run April to March; calendar-year indicators are labelled. Incomplete periods are marked and not rated. Rates use the ONS mid-year estimate for the year containing the middle of the period, or the latest published estimate when that year is not yet out (stated beside the figure).",
        ),
    ];
    ws.set_column_width(0, 30).map_err(xerr)?;
    ws.set_column_width(1, 110).map_err(xerr)?;
    for (k, (a, b)) in methods.iter().enumerate() {
        ws.write_string_with_format(k as u32, 0, *a, &f.bold)
            .map_err(xerr)?;
        ws.write_string_with_format(k as u32, 1, *b, &f.wrap)
            .map_err(xerr)?;
        ws.set_row_height(k as u32, 90).map_err(xerr)?;
    }

    // Provenance.
    let ws = wb.add_worksheet();
    ws.set_name("Provenance").map_err(xerr)?;
    print_setup(ws);
    ws.write_string_with_format(0, 0, "Run id", &f.bold)
        .map_err(xerr)?;
    ws.write_string(0, 1, d.run_id).map_err(xerr)?;
    ws.write_string_with_format(1, 0, "Software version", &f.bold)
        .map_err(xerr)?;
    ws.write_string(1, 1, format!("safer {}", env!("CARGO_PKG_VERSION")))
        .map_err(xerr)?;
    let mut row = 3u32;
    for (c, h) in ["Query", "File", "SHA-256", "Status"].iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, &f.bold)
            .map_err(xerr)?;
    }
    for s in &d.series {
        row += 1;
        ws.write_string(row, 0, &s.indicator.id).map_err(xerr)?;
        ws.write_string(row, 1, s.indicator.path.display().to_string())
            .map_err(xerr)?;
        ws.write_string(row, 2, &s.indicator.sql_hash)
            .map_err(xerr)?;
        ws.write_string(row, 3, if s.error.is_some() { "failed" } else { "ok" })
            .map_err(xerr)?;
    }
    row += 2;
    for (c, h) in ["Dataset", "Input", "SHA-256"].iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, &f.bold)
            .map_err(xerr)?;
    }
    for fr in &view.freshness {
        for (unit, fp) in &fr.inputs {
            row += 1;
            ws.write_string(row, 0, &fr.dataset).map_err(xerr)?;
            ws.write_string(row, 1, unit).map_err(xerr)?;
            ws.write_string(row, 2, fp).map_err(xerr)?;
        }
    }
    ws.set_column_width(0, 32).map_err(xerr)?;
    ws.set_column_width(1, 48).map_err(xerr)?;
    ws.set_column_width(2, 70).map_err(xerr)?;

    // Statutory-return template cells.
    let mut sheets: BTreeMap<&str, Vec<&super::TemplateCell>> = BTreeMap::new();
    for c in &d.def.cells {
        sheets.entry(c.sheet.as_str()).or_default().push(c);
    }
    for (sheet, cells) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet).map_err(xerr)?;
        print_setup(ws);
        ws.set_column_width(0, 60).map_err(xerr)?;
        for c in cells {
            let (row, col) = parse_cell(&c.cell).ok_or_else(|| {
                Error::Xlsx(format!(
                    "template cell `{}` is not a cell reference like C5",
                    c.cell
                ))
            })?;
            let area = c
                .area
                .as_deref()
                .unwrap_or(crate::geography::LANCASHIRE_14_CODE);
            let kind = c.period.as_deref().unwrap_or("financial_year");
            let found = d
                .results
                .iter()
                .filter(|r| {
                    r.indicator_id == c.indicator
                        && r.area_code == area
                        && r.period_type.name() == kind
                        && r.complete
                })
                .max_by_key(|r| r.period_end);
            if let Some(label) = &c.label
                && col > 0
            {
                let text = match found {
                    Some(r) => format!("{label} ({})", r.period_label),
                    None => label.clone(),
                };
                ws.write_string(row, col - 1, text).map_err(xerr)?;
            }
            match found {
                Some(r) => figure(ws, &f, row, col, r.value, hide(r.suppressed))?,
                None => {
                    ws.write_string(row, col, "not available").map_err(xerr)?;
                }
            }
        }
    }

    wb.save_to_buffer().map_err(xerr)
}

/// Landscape, one page wide: a sheet printed for a meeting keeps its
/// columns together.
fn print_setup(ws: &mut Worksheet) {
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
}

/// `C5` -> (row 4, col 2).
pub fn parse_cell(s: &str) -> Option<(u32, u16)> {
    let s = s.trim().to_ascii_uppercase();
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() {
        return None;
    }
    let mut col: u32 = 0;
    for ch in letters.chars() {
        if !ch.is_ascii_uppercase() {
            return None;
        }
        col = col * 26 + (ch as u32 - 'A' as u32 + 1);
    }
    let row: u32 = digits.parse().ok()?;
    (row >= 1 && (1..=16_384).contains(&col)).then(|| (row - 1, (col - 1) as u16))
}

/// A sheet name Excel accepts: at most 31 characters, no `[]:*?/\`, unique.
fn sheet_name(theme: &str, used: &[String]) -> String {
    let spaced: String = theme
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { ' ' } else { c })
        .collect();
    let clean: String = spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(28)
        .collect();
    let mut name = clean.clone();
    let mut k = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
        name = format!("{clean} {k}");
        k += 1;
    }
    name
}

fn add_table(ws: &mut Worksheet, top: u32, headers: &[&str], rows: u32) -> Result<(), Error> {
    if rows == 0 {
        for (c, h) in headers.iter().enumerate() {
            ws.write_string(top, c as u16, *h).map_err(xerr)?;
        }
        return Ok(());
    }
    let cols: Vec<TableColumn> = headers
        .iter()
        .map(|h| TableColumn::new().set_header(*h))
        .collect();
    let table = Table::new().set_columns(&cols);
    ws.add_table(top, 0, top + rows, headers.len() as u16 - 1, &table)
        .map_err(xerr)?;
    Ok(())
}

/// The first day of the month `n` months from `d`.
pub fn shift_months(d: chrono::NaiveDate, n: i32) -> chrono::NaiveDate {
    crate::evaluation::periods::month_from_index(crate::evaluation::periods::month_index(d) + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(parse_cell("A1"), Some((0, 0)));
        assert_eq!(parse_cell("c5"), Some((4, 2)));
        assert_eq!(parse_cell("AA10"), Some((9, 26)));
        assert_eq!(parse_cell("5C"), None);
        assert_eq!(parse_cell("A0"), None);
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let used = vec!["Hate crime".to_string()];
        assert_eq!(sheet_name("Hate crime", &used), "Hate crime 2");
        assert_eq!(
            sheet_name("Violence: serious/other", &[]),
            "Violence serious other"
        );
        assert!(sheet_name(&"x".repeat(40), &[]).len() <= 31);
    }
}
