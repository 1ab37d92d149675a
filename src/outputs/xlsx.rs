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
    /// Whole counts: 90,152.
    count: Format,
    /// Fractional counts (severity-adjusted casualties): 947.9.
    count1: Format,
    /// Rates: 11.22.
    rate: Format,
    /// Percentages, stored as fractions: 12.5%.
    pct: Format,
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
            count: Format::new()
                .set_num_format("#,##0")
                .set_align(FormatAlign::Right),
            count1: Format::new()
                .set_num_format("#,##0.0")
                .set_align(FormatAlign::Right),
            rate: Format::new()
                .set_num_format("0.00")
                .set_align(FormatAlign::Right),
            pct: Format::new()
                .set_num_format("0.0%")
                .set_align(FormatAlign::Right),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            green: tag(0xCCE2D8, 0x005A30),
            amber: tag(0xFCD6C3, 0x6E3619),
            red: tag(0xF4CDC6, 0x2A0B06),
            grey: tag(0xE5E6E7, 0x282D30),
        }
    }
}

/// Write a figure in its unit's format (a percentage is stored as a
/// fraction so that it sums and charts as one), or `[c]` with a note when
/// hidden.
#[allow(clippy::too_many_arguments)]
fn figure(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    v: Option<f64>,
    hidden: bool,
    unit: crate::evaluation::spec::Unit,
) -> Result<(), Error> {
    if hidden {
        ws.write_string(row, col, SUPPRESSED).map_err(xerr)?;
        let note = Note::new("Suppressed to protect individuals: a count from 1 to 4, or a figure that would reveal one.")
            .set_author("safer");
        ws.insert_note(row, col, &note).map_err(xerr)?;
    } else if let Some(v) = v {
        use crate::evaluation::spec::Unit;
        let (v, fmt) = if unit == Unit::Percentage {
            (v / 100.0, &f.pct)
        } else if matches!(unit, Unit::Rate { .. }) {
            (v, &f.rate)
        } else if (v - v.round()).abs() < 1e-9 {
            (v, &f.count)
        } else {
            (v, &f.count1)
        };
        ws.write_number_with_format(row, col, v, fmt)
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
                .filter(|i| i.rated.is_none() && i.error.is_none())
                .count(),
        ),
        (
            "SPC special cause: concern",
            items
                .iter()
                .filter(|i| i.variation == Some(crate::evaluation::spc::Variation::Concern))
                .count(),
        ),
        (
            "SPC special cause: improvement",
            items
                .iter()
                .filter(|i| i.variation == Some(crate::evaluation::spc::Variation::Improvement))
                .count(),
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

    // The sheet names, decided once so the contents can list them.
    let mut used_names: Vec<String> =
        vec!["Cover".into(), "Contents".into(), "All indicators".into()];
    let theme_sheets: Vec<(String, String)> = d
        .themes()
        .into_iter()
        .map(|(_, theme)| {
            let name = sheet_name(&theme, &used_names);
            used_names.push(name.clone());
            (theme, name)
        })
        .collect();

    // Contents: every sheet, what it holds, and a link to it.
    let ws = wb.add_worksheet();
    ws.set_name("Contents").map_err(xerr)?;
    print_setup(ws);
    ws.write_string_with_format(0, 0, "Contents", &f.title)
        .map_err(xerr)?;
    let mut contents: Vec<(String, String)> = vec![
        ("Cover".into(), "Title, period, audience and a status summary".into()),
        (
            "All indicators".into(),
            "One row per indicator, area and period (latest month, quarter, year and rolling 12 months), with status".into(),
        ),
    ];
    for (theme, name) in &theme_sheets {
        contents.push((
            name.clone(),
            format!("{theme}: headline figures, districts and monthly charts"),
        ));
    }
    contents.push((
        "Data dictionary".into(),
        "What each indicator measures and where it comes from".into(),
    ));
    contents.push((
        "Methods".into(),
        "Status rule, SPC, suppression, periods and rates".into(),
    ));
    contents.push((
        "Provenance".into(),
        "Run, software, query and input fingerprints".into(),
    ));
    let mut return_sheets: Vec<&str> = d.def.cells.iter().map(|c| c.sheet.as_str()).collect();
    return_sheets.sort();
    return_sheets.dedup();
    for r in return_sheets {
        contents.push((
            r.to_string(),
            "Statutory return: each figure with its area and period".into(),
        ));
    }
    ws.write_string_with_format(2, 0, "Sheet", &f.bold)
        .map_err(xerr)?;
    ws.write_string_with_format(2, 1, "What it holds", &f.bold)
        .map_err(xerr)?;
    for (k, (name, what)) in contents.iter().enumerate() {
        let row = 3 + k as u32;
        let url = rust_xlsxwriter::Url::new(format!("internal:'{}'!A1", name.replace('\'', "''")))
            .set_text(name);
        ws.write_url(row, 0, url).map_err(xerr)?;
        ws.write_string(row, 1, what).map_err(xerr)?;
    }
    ws.set_column_width(0, 32).map_err(xerr)?;
    ws.set_column_width(1, 90).map_err(xerr)?;

    // All indicators, tidy: one row per indicator x area x period, for the
    // headline area and its districts, latest complete period of each kind.
    let ws = wb.add_worksheet();
    ws.set_name("All indicators").map_err(xerr)?;
    print_setup(ws);
    let headers = [
        "Indicator id",
        "Indicator",
        "Area code",
        "Area",
        "Period type",
        "Period",
        "Value",
        "Unit",
        "Same period last year",
        "Direction vs last year",
        "Target",
        "Status",
        "Provisional",
        "Suppressed",
    ];
    use crate::evaluation::periods::PeriodType;
    let kinds = [
        PeriodType::Month,
        PeriodType::Quarter,
        PeriodType::FinancialYear,
        PeriodType::CalendarYear,
        PeriodType::Rolling12,
    ];
    let mut n = 0u32;
    for s in &d.series {
        for kind in kinds {
            let rows: Vec<&ResultRow> = d
                .rows_of(&s.indicator.id)
                .iter()
                .copied()
                .filter(|r| {
                    r.period_type == kind
                        && r.complete
                        && (r.area_code == d.headline_area || d.in_headline_area(&r.area_code))
                })
                .collect();
            let Some(latest) = rows.iter().map(|r| r.period_end).max() else {
                continue;
            };
            let mut rows: Vec<&ResultRow> = rows
                .into_iter()
                .filter(|r| r.period_end == latest)
                .collect();
            // The headline area first, then its districts by name.
            rows.sort_by_key(|r| (r.area_code != d.headline_area, r.area_name.clone()));
            for r in rows {
                n += 1;
                ws.write_string(n, 0, &r.indicator_id).map_err(xerr)?;
                ws.write_string(n, 1, &s.indicator.title).map_err(xerr)?;
                ws.write_string(n, 2, &r.area_code).map_err(xerr)?;
                ws.write_string(n, 3, &r.area_name).map_err(xerr)?;
                ws.write_string(n, 4, r.period_type.name()).map_err(xerr)?;
                ws.write_string(n, 5, &r.period_label).map_err(xerr)?;
                figure(ws, &f, n, 6, r.value, hide(r.suppressed), r.unit)?;
                ws.write_string(n, 7, r.unit.label()).map_err(xerr)?;
                figure(ws, &f, n, 8, r.sply_value, hide(r.sply_suppressed), r.unit)?;
                if !hide(r.suppressed || r.sply_suppressed)
                    && let Some(dir) = r.direction_sply
                {
                    ws.write_string(n, 9, dir.label()).map_err(xerr)?;
                }
                figure(ws, &f, n, 10, r.target, false, r.unit)?;
                if let Some(st) = r.status {
                    ws.write_string(n, 11, st.label()).map_err(xerr)?;
                }
                ws.write_string(n, 12, if r.provisional { "yes" } else { "no" })
                    .map_err(xerr)?;
                ws.write_string(n, 13, if hide(r.suppressed) { "yes" } else { "no" })
                    .map_err(xerr)?;
            }
        }
    }
    add_table(ws, 0, &headers, n)?;
    ws.set_column_width(1, 44).map_err(xerr)?;
    ws.set_column_width(3, 24).map_err(xerr)?;
    ws.set_column_width(5, 22).map_err(xerr)?;
    ws.set_column_width(9, 30).map_err(xerr)?;
    ws.set_column_width(11, 36).map_err(xerr)?;
    ws.set_freeze_panes(1, 2).map_err(xerr)?;

    // One sheet per priority.
    for (theme, name) in theme_sheets {
        let ws = wb.add_worksheet();
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
                figure(ws, &f, n, 4, m.value, hide(m.suppressed), m.unit)?;
                figure(
                    ws,
                    &f,
                    n,
                    5,
                    m.previous_value,
                    hide(m.previous_suppressed),
                    m.unit,
                )?;
                ws.write_string(n, 14, m.spc_variation.map(|v| v.label()).unwrap_or(""))
                    .map_err(xerr)?;
            }
            if let Some(rr) = i.rolling {
                ws.write_string(n, 6, &rr.period_label).map_err(xerr)?;
                figure(ws, &f, n, 7, rr.value, hide(rr.suppressed), rr.unit)?;
                figure(
                    ws,
                    &f,
                    n,
                    8,
                    rr.sply_value,
                    hide(rr.sply_suppressed),
                    rr.unit,
                )?;
                if !hide(rr.suppressed || rr.sply_suppressed) {
                    let dir = rr.direction_sply.map(|d| d.label()).unwrap_or_default();
                    ws.write_string(n, 9, &dir).map_err(xerr)?;
                }
            }
            if let Some(y) = i.year {
                ws.write_string(n, 10, &y.period_label).map_err(xerr)?;
                figure(ws, &f, n, 11, y.value, hide(y.suppressed), y.unit)?;
                figure(ws, &f, n, 12, y.target, false, y.unit)?;
            }
            use crate::evaluation::rag::Rag;
            let fmt = match i.rated.map(|s| s.colour()) {
                Some(Rag::Green) => &f.green,
                Some(Rag::Amber) => &f.amber,
                Some(Rag::Red) => &f.red,
                None => &f.grey,
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
                        figure(
                            ws,
                            &f,
                            row,
                            1 + ci as u16,
                            x.value,
                            hide(x.suppressed),
                            x.unit,
                        )?;
                    }
                }
            }
            // The headline area's total, which the districts add up to.
            let total_row = top + 1 + names.len() as u32;
            ws.write_string(total_row, 0, &d.headline_area_name)
                .map_err(xerr)?;
            for (ci, (_, v)) in district_rows.iter().enumerate() {
                if let Some(t) = v.first().and_then(|r| d.total_for(r)) {
                    figure(
                        ws,
                        &f,
                        total_row,
                        1 + ci as u16,
                        t.value,
                        hide(t.suppressed),
                        t.unit,
                    )?;
                }
            }
            let hdr_refs: Vec<&str> = hdr.iter().map(String::as_str).collect();
            add_table(ws, top, &hdr_refs, names.len() as u32 + 1)?;
        }

        // Trend: the headline area's months for each indicator, each with
        // a native line chart and alt text. Months that are all hidden are
        // not charted.
        let trend_col: u16 = 17;
        let mut chart_row = top + names.len() as u32 + 4;
        let mut col = trend_col;
        for i in theme_items.iter().filter(|i| i.error.is_none()) {
            let months = d.months(&i.id);
            if months.len() < 2 || months.iter().all(|m| hide(m.suppressed)) {
                continue;
            }
            ws.write_string_with_format(0, col, "Month", &f.bold)
                .map_err(xerr)?;
            ws.write_string_with_format(0, col + 1, &i.title, &f.bold)
                .map_err(xerr)?;
            for (k, m) in months.iter().enumerate() {
                let row = 1 + k as u32;
                ws.write_string(row, col, &m.period_label).map_err(xerr)?;
                figure(ws, &f, row, col + 1, m.value, hide(m.suppressed), m.unit)?;
            }
            let last = months.len() as u32;
            let mut chart = Chart::new(ChartType::Line);
            chart
                .add_series()
                .set_categories((name.as_str(), 1, col, last, col))
                .set_values((name.as_str(), 1, col + 1, last, col + 1))
                .set_name(i.title.as_str());
            chart
                .title()
                .set_name(&format!("{} ({})", i.title, d.headline_area_name));
            chart.legend().set_hidden();
            chart.set_alt_text(format!(
                "Line chart of {} for {}, monthly from {} to {}. The figures are in columns {} and {} of this sheet.",
                i.title,
                d.headline_area_name,
                months[0].period_label,
                months[months.len() - 1].period_label,
                column_letter(col),
                column_letter(col + 1)
            ));
            ws.insert_chart(chart_row, 0, &chart).map_err(xerr)?;
            chart_row += 16;
            ws.set_column_width(col, 12).map_err(xerr)?;
            ws.set_column_width(col + 1, 18).map_err(xerr)?;
            col += 3;
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
        ws.write_string(row, 3 + keys.len() as u16, query_file(&s.indicator))
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
            "Public outputs hide counts from 1 to 4 as [c], plus any other figure from which a hidden count could be worked out (secondary suppression across districts, partnerships and county totals, and across time: once any figure of an area is hidden, its monthly figures are hidden and its quarters, years and rolling years are protected together), and any rate, percentage or comparison built on a hidden count. Zero is shown. Internal outputs show everything.",
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
    ws.write_string_with_format(2, 0, "Figures computed by run", &f.bold)
        .map_err(xerr)?;
    ws.write_string(2, 1, d.figures_run_id).map_err(xerr)?;
    let mut row = 3u32;
    for (c, h) in ["Query", "File", "SHA-256", "Status"].iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, &f.bold)
            .map_err(xerr)?;
    }
    for s in &d.series {
        row += 1;
        ws.write_string(row, 0, &s.indicator.id).map_err(xerr)?;
        ws.write_string(row, 1, query_file(&s.indicator))
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
        for (k, h) in ["Measure", "Value", "Area", "Period"].iter().enumerate() {
            ws.write_string_with_format(0, k as u16, *h, &f.bold)
                .map_err(xerr)?;
        }
        ws.set_column_width(2, 24).map_err(xerr)?;
        ws.set_column_width(3, 24).map_err(xerr)?;
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
            let latest = |indicator: &str, end: Option<chrono::NaiveDate>| {
                d.rows_of(indicator)
                    .iter()
                    .filter(|r| {
                        r.area_code == area
                            && r.period_type.name() == kind
                            && r.complete
                            && end.is_none_or(|e| r.period_end == e)
                    })
                    .max_by_key(|r| r.period_end)
                    .copied()
            };
            // A subset ("of which under 25") is for the same period as its
            // total, and is checked not to exceed it.
            let total = c
                .subset_of
                .as_ref()
                .and_then(|t| {
                    d.def
                        .cells
                        .iter()
                        .find(|x| x.sheet == c.sheet && &x.cell == t)
                })
                .and_then(|t| latest(&t.indicator, None));
            let found = latest(&c.indicator, total.map(|t| t.period_end));
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
                Some(r) => {
                    figure(ws, &f, row, col, r.value, hide(r.suppressed), r.unit)?;
                    // Geography and period beside every figure.
                    ws.write_string(row, col + 1, &r.area_name).map_err(xerr)?;
                    ws.write_string(row, col + 2, &r.period_label)
                        .map_err(xerr)?;
                    if let (Some(t), Some(v), Some(tv)) =
                        (total, r.value, total.and_then(|t| t.value))
                        && v > tv + 1e-9
                    {
                        let msg = format!(
                            "CHECK: {} is larger than its total in {} ({} > {})",
                            c.cell,
                            c.subset_of.as_deref().unwrap_or_default(),
                            v,
                            tv
                        );
                        tracing::warn!(sheet = %c.sheet, cell = %c.cell, total = %t.indicator_id, "{msg}");
                        ws.write_string(row, col + 3, msg).map_err(xerr)?;
                    }
                }
                None => {
                    ws.write_string(row, col, "not available").map_err(xerr)?;
                }
            }
        }
    }

    wb.save_to_buffer().map_err(xerr)
}

/// The query file relative to `queries/` (`overall/homicides.sql`): never
/// a path on the machine that ran it.
fn query_file(ind: &crate::indicators::Indicator) -> String {
    format!(
        "{}/{}",
        ind.path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ind.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

/// `A`, `B`, ..., `AA` for a zero-based column.
fn column_letter(col: u16) -> String {
    let mut n = u32::from(col) + 1;
    let mut s = String::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        s.insert(0, (b'A' + r) as char);
        n = (n - 1) / 26;
    }
    s
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
    // Shorten deliberately: "and" becomes "&", then whole words are kept.
    let words = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let words = if words.chars().count() > 31 {
        words.replace(" and ", " & ")
    } else {
        words
    };
    let mut clean = String::new();
    for w in words.split(' ') {
        let next = if clean.is_empty() {
            w.to_string()
        } else {
            format!("{clean} {w}")
        };
        if next.chars().count() > 31 {
            break;
        }
        clean = next;
    }
    if clean.is_empty() {
        clean = words.chars().take(31).collect();
    }
    let mut name = clean.clone();
    let mut k = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
        let suffix = format!(" {k}");
        let room = 31 - suffix.chars().count();
        name = format!("{}{suffix}", clean.chars().take(room).collect::<String>());
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
        // Shortened deliberately: "and" to "&", whole words kept.
        assert_eq!(
            sheet_name("Criminal and sexual exploitation", &[]),
            "Criminal & sexual exploitation"
        );
        assert_eq!(
            sheet_name("Community cohesion and tension", &[]),
            "Community cohesion and tension"
        );
    }
}
