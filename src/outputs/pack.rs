//! The scrutiny committee pack as one self-contained, accessible HTML file.
//!
//! Designed against what members complain of: the exceptions come first
//! (red, special-cause concern, failed or stale indicators, and districts
//! getting worse behind a better county figure), every status is words as
//! well as colour, the RAG rule is printed, commentary is shown for every
//! exception or marked "commentary awaited", and small numbers are never
//! shown in a public pack. Inline CSS and SVG only: no scripts, no external
//! requests. Headings are in order, tables have captions and scoped header
//! cells, and every chart has a text alternative and a data table.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::svg::{ChartPoint, esc, spc_chart};
use super::{PackData, fmt_value};
use crate::evaluation::ResultRow;
use crate::evaluation::rag::RagRule;
use crate::evaluation::spc;

const CSS: &str = r#"
:root { --text: #0b0c0c; --muted: #505a5f; --border: #b1b4b6; --link: #1d70b8; --focus: #ffdd00; }
* { box-sizing: border-box; }
body { font-family: Arial, "Helvetica Neue", Helvetica, sans-serif; color: var(--text); background: #fff; margin: 0; line-height: 1.45; font-size: 1rem; }
header.masthead { background: #0b0c0c; color: #fff; padding: 1rem 2rem; }
header.masthead p { margin: 0.2rem 0; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem 2rem 3rem; }
h1 { font-size: 2rem; margin: 0.5rem 0; }
h2 { font-size: 1.6rem; margin-top: 2.5rem; border-top: 2px solid var(--text); padding-top: 1rem; }
h3 { font-size: 1.25rem; margin-top: 2rem; }
h4 { font-size: 1.05rem; margin-top: 1.2rem; }
a { color: var(--link); }
a:focus, summary:focus { outline: 3px solid var(--focus); background: var(--focus); color: var(--text); }
table { border-collapse: collapse; width: 100%; margin: 0.8rem 0 1.2rem; font-size: 0.92rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
th, td { border-bottom: 1px solid var(--border); padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group th { background: #f3f2f1; padding-top: 0.6rem; }
svg.icon { vertical-align: middle; }
.tag { display: inline-block; padding: 0.1rem 0.4rem; font-weight: bold; border-radius: 2px; }
.tag-green { color: #005a30; background: #cce2d8; }
.tag-amber { color: #6e3619; background: #fcd6c3; }
.tag-red { color: #2a0b06; background: #f4cdc6; }
.tag-grey { color: #282d30; background: #e5e6e7; }
.tag-blue { color: #0c2d4a; background: #bbd4ea; }
.summary { font-size: 1.1rem; }
.meta { color: var(--muted); }
dl.figures { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.figures dt { font-weight: bold; }
dl.figures dd { margin: 0; }
figure { margin: 1rem 0; }
figcaption { color: var(--muted); font-size: 0.9rem; }
svg.chart { width: 100%; height: auto; max-width: 45rem; }
.scroll { overflow-x: auto; max-width: 100%; }
.scroll:focus { outline: 3px solid var(--focus); }
@media (max-width: 40rem) {
  main { padding: 0.5rem 0.75rem 2rem; }
  header.masthead { padding: 0.75rem; }
  h1 { font-size: 1.5rem; }
  nav ol { columns: 1; }
  /* Chart text stays legible: the chart keeps a readable size and scrolls. */
  svg.chart { min-width: 34rem; }
  dl.figures { grid-template-columns: 1fr; }
  dl.figures dd { margin-bottom: 0.4rem; }
}
.commentary { border-left: 5px solid var(--border); padding: 0.2rem 1rem; margin: 0.8rem 0; }
.awaited { border-left-color: #d4351c; }
nav ol { columns: 2; }
nav li { padding: 0.3rem 0; min-height: 24px; }
footer { border-top: 1px solid var(--border); margin-top: 3rem; padding-top: 1rem; color: var(--muted); }
@page {
  size: A4;
  margin: 16mm 14mm 18mm;
  @bottom-center { content: "Page " counter(page) " of " counter(pages); font: 9pt Arial, sans-serif; color: #505a5f; }
}
@media print {
  body { font-size: 10pt; }
  /* The front sheet (title, contents, summary, top issues, improving,
     late) is the first page; the exception report starts the next. */
  nav ol { columns: 3; font-size: 8.5pt; }
  nav li { padding: 0; min-height: 0; }
  #summary ~ ul, #summary ~ p { font-size: 9pt; }
  h1 { font-size: 16pt; }
  h2#exceptions { break-before: page; }
  header.masthead { background: #fff; color: #000; border-bottom: 3px solid #000; padding: 0 0 0.5rem; }
  main { max-width: none; padding: 0; }
  h2 { border-top: none; margin-top: 1.2rem; }
  h2, h3, h4, caption { break-after: avoid; }
  figure, dl.figures, tr, .commentary { break-inside: avoid; }
  table { font-size: 8.5pt; }
  th, td { padding: 0.15rem 0.3rem; }
  svg.chart { max-width: 16cm; }
  /* Controls do nothing on paper: the chart data stays in the HTML. */
  details { display: none; }
  .scroll { overflow: visible; }
  a { color: #000; text-decoration: none; }
}
"#;

fn tag(class: &str, text: &str) -> String {
    format!(r#"<span class="tag tag-{class}">{}</span>"#, esc(text))
}

/// The status words and colour class for a year row.
pub fn status_of(
    row: Option<&ResultRow>,
    polarity: crate::evaluation::spc::Polarity,
) -> (&'static str, &'static str) {
    match row.and_then(|r| r.status) {
        Some(s) => (s.colour().name(), s.label()),
        _ if polarity == crate::evaluation::spc::Polarity::Monitor => {
            ("grey", "Monitor only: no target")
        }
        _ => ("grey", "No target set"),
    }
}

/// A Making Data Count variation icon: a circle, orange for concern, blue
/// for improvement, grey otherwise, with H or L for a special cause high or
/// low. Decoration beside the words, so hidden from screen readers.
fn mdc_icon(v: Option<spc::Variation>, high: Option<bool>) -> String {
    let (fill, letter) = match (v, high) {
        (Some(spc::Variation::Concern), Some(h)) => ("#ed8b00", if h { "H" } else { "L" }),
        (Some(spc::Variation::Improvement), Some(h)) => ("#1d70b8", if h { "H" } else { "L" }),
        (Some(spc::Variation::Neither), Some(h)) => ("#4c2c92", if h { "H" } else { "L" }),
        _ => ("#505a5f", ""),
    };
    format!(
        r##"<svg class="icon" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true" focusable="false"><circle cx="9" cy="9" r="8" fill="{fill}"/><text x="9" y="13" font-size="10" font-weight="bold" text-anchor="middle" fill="#fff">{letter}</text></svg> "##
    )
}

/// A Making Data Count assurance icon: P (consistently met), F
/// (consistently missed), ? (hit and miss). Hidden from screen readers: the
/// words follow it.
fn assurance_icon(a: spc::Assurance) -> String {
    let (fill, letter) = match a {
        spc::Assurance::AlwaysMet => ("#1d70b8", "P"),
        spc::Assurance::AlwaysMissed => ("#ed8b00", "F"),
        spc::Assurance::HitAndMiss => ("#505a5f", "?"),
    };
    format!(
        r##"<svg class="icon" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true" focusable="false"><rect x="1" y="1" width="16" height="16" rx="3" fill="{fill}"/><text x="9" y="13" font-size="10" font-weight="bold" text-anchor="middle" fill="#fff">{letter}</text></svg> "##
    )
}

/// (colour class, kind) for an SPC variation label.
pub fn spc_class(variation: Option<spc::Variation>) -> (&'static str, &'static str) {
    match variation {
        Some(spc::Variation::Concern) => ("red", "concern"),
        Some(spc::Variation::Improvement) => ("blue", "improvement"),
        Some(spc::Variation::Neither) => ("grey", "neither"),
        _ => ("grey", ""),
    }
}

/// Build the HTML.
pub fn build(d: &PackData<'_>) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let title = format!("{}: {}", d.def.title, d.period_label);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{CSS}</style></head><body>"#,
        esc(&title)
    );
    let _ = write!(
        h,
        r#"<header class="masthead"><p>{}</p><p>{}</p></header><main id="main">"#,
        esc(&d.organisation),
        if d.public {
            "Public committee pack"
        } else {
            "Internal: not for publication (contains unsuppressed small numbers)"
        }
    );
    let figures = if d.figures_run_id == d.run_id {
        String::new()
    } else {
        format!(
            "; the figures are those computed by run {}, as nothing they are drawn from has changed since",
            esc(d.figures_run_id)
        )
    };
    let _ = write!(
        h,
        r#"<h1>{}</h1><p class="meta">Reporting period: {}. Produced {} (run {}{figures}).</p>"#,
        esc(&d.def.title),
        esc(&d.period_label),
        esc(d.run_time),
        esc(d.run_id)
    );

    let themes = d.themes();
    h.push_str(r##"<nav aria-label="Contents"><h2 id="contents">Contents</h2><ol><li><a href="#summary">Summary</a></li><li><a href="#exceptions">Exception report</a></li><li><a href="#headlines">Headline table</a></li>"##);
    let shown = |theme: &str| {
        d.def.detail == super::Detail::All
            || d.items()
                .iter()
                .any(|i| i.theme == theme && i.is_exception())
    };
    for (slug, theme) in themes.iter().filter(|(_, t)| shown(t)) {
        let _ = write!(h, r##"<li><a href="#{slug}">{}</a></li>"##, esc(theme));
    }
    h.push_str(r##"<li><a href="#glossary">Glossary</a></li><li><a href="#methods">Methods</a></li><li><a href="#sources">Data sources</a></li></ol></nav>"##);

    // Summary in plain English.
    let items = d.items();
    let count = |f: &dyn Fn(&super::Item<'_>) -> bool| items.iter().filter(|i| f(i)).count();
    use crate::evaluation::rag::Status;
    let red = count(&|i| i.rated == Some(Status::MissedNotImproving));
    let amber = count(&|i| i.rated == Some(Status::MissedImproving));
    let green = count(&|i| i.rated == Some(Status::OnTarget));
    let within = count(&|i| i.rated == Some(Status::WithinTolerance));
    use crate::evaluation::spc::Variation;
    let concern = count(&|i| i.variation == Some(Variation::Concern));
    let exceptions: Vec<&super::Item<'_>> = items.iter().filter(|i| i.is_exception()).collect();
    let concern_verb = if concern == 1 { "shows" } else { "show" };
    let need_verb = if exceptions.len() == 1 {
        "needs"
    } else {
        "need"
    };
    let are = if exceptions.len() == 1 { "is" } else { "are" };
    let _ = write!(
        h,
        r#"<h2 id="summary">Summary</h2><p class="summary">This pack reports {} indicators for {}. Of those with a target, {green} are on target, {within} missed their target by no more than its tolerance, {amber} missed their target but improved on last year, and {red} missed their target without improving. {concern} {concern_verb} special-cause variation of concern on the latest month. {} {need_verb} the committee's attention and {are} listed first in the exception report.</p>"#,
        items.len(),
        esc(&d.period_label),
        exceptions.len()
    );
    // The top issues, what is improving and what is late, named.
    let hide = |s: bool| s && d.public;
    let figure_words = |i: &super::Item<'_>| -> Option<String> {
        let r = i.rolling?;
        if hide(r.suppressed) {
            return Some(format!(
                "{}: figures suppressed to protect individuals",
                i.title
            ));
        }
        let now = fmt_value(r.value, false, r.unit);
        let then = if hide(r.sply_suppressed) || r.sply_value.is_none() {
            String::new()
        } else {
            format!(
                ", {} a year earlier",
                fmt_value(r.sply_value, false, r.unit)
            )
        };
        let label = r.period_label.replace("12 months to ", "");
        Some(format!(
            "{}: {now} in the 12 months to {label}{then}",
            i.title
        ))
    };
    if !exceptions.is_empty() {
        h.push_str("<h3 id=\"top-issues\">Top issues</h3><ul>");
        for i in exceptions.iter().take(6) {
            let why = i.reasons().join("; ");
            let line = match figure_words(i) {
                Some(f) => format!("{f} ({why})."),
                None => format!("{}: {why}.", i.title),
            };
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        if exceptions.len() > 6 {
            let _ = write!(
                h,
                "<li>and {} more in the exception report.</li>",
                exceptions.len() - 6
            );
        }
        h.push_str("</ul>");
    }
    let improving: Vec<&super::Item<'_>> = items
        .iter()
        .filter(|i| !i.is_exception())
        .filter(|i| {
            // Improving means getting better: a special-cause improvement,
            // or on target and better than a year ago (on target while
            // falling is not improving).
            let better = i
                .rolling
                .filter(|r| !hide(r.suppressed || r.sply_suppressed))
                .and_then(|r| r.direction_sply)
                .is_some_and(|d| d.judgement == crate::evaluation::rag::Judgement::Better);
            i.variation == Some(Variation::Improvement)
                || (i.rated == Some(Status::OnTarget) && better)
        })
        .collect();
    if !improving.is_empty() {
        h.push_str("<h3 id=\"improving\">Improving</h3><ul>");
        for i in improving.iter().take(6) {
            let why = if i.variation == Some(Variation::Improvement) {
                "special-cause improvement in the latest month"
            } else {
                "on target and better than a year earlier"
            };
            let line = match figure_words(i) {
                Some(f) => format!("{f} ({why})."),
                None => format!("{}: {why}.", i.title),
            };
            let _ = write!(h, "<li>{}</li>", esc(&line));
        }
        h.push_str("</ul>");
    }
    let late: Vec<&super::Item<'_>> = items
        .iter()
        .filter(|i| i.stale.is_some() || i.error.is_some())
        .collect();
    h.push_str("<h3 id=\"late\">Data late or missing</h3>");
    if late.is_empty() {
        h.push_str("<p>None: every indicator has data as recent as its source publishes.</p>");
    } else {
        h.push_str("<ul>");
        for i in &late {
            let why = match (&i.error, &i.stale) {
                (Some(_), _) => "not available this period".to_string(),
                (None, Some(s)) => s.clone(),
                _ => String::new(),
            };
            let _ = write!(h, "<li>{}: {}.</li>", esc(&i.title), esc(&why));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        r#"<p>Status uses this rule: {} Figures are for {} unless stated.</p>"#,
        esc(RagRule.describe()),
        esc(&d.headline_area_name)
    );

    // Exception report.
    h.push_str(r#"<h2 id="exceptions">Exception report</h2>"#);
    if exceptions.is_empty() {
        h.push_str("<p>No indicator is red, showing special-cause concern, failed or out of date this period.</p>");
    } else {
        h.push_str(r#"<table><caption>Indicators needing attention</caption><thead><tr><th scope="col">Indicator</th><th scope="col">Why it is here</th><th scope="col" class="num">Latest value</th><th scope="col">Commentary</th></tr></thead><tbody>"#);
        for i in &exceptions {
            let value = i
                .rolling
                .map(|r| fmt_value(r.value, r.suppressed && d.public, r.unit))
                .unwrap_or_else(|| "not available".into());
            let commentary = match d.commentary.get(&i.id) {
                Some(_) => format!(
                    r##"<a href="#{}-commentary">See commentary</a>"##,
                    esc(&i.id)
                ),
                None => tag("red", "Commentary awaited"),
            };
            let _ = write!(
                h,
                r##"<tr><th scope="row"><a href="#{}">{}</a></th><td>{}</td><td class="num">{}</td><td>{}</td></tr>"##,
                esc(&i.id),
                esc(&i.title),
                esc(&i.reasons().join("; ")),
                esc(&value),
                commentary
            );
        }
        h.push_str("</tbody></table>");
    }

    let in_full = |i: &super::Item<'_>| d.def.detail == super::Detail::All || i.is_exception();
    // Headline table.
    h.push_str(r#"<h2 id="headlines">Headline table</h2><table><caption>Every indicator: latest complete rolling 12 months and reporting year</caption><thead><tr><th scope="col">Indicator</th><th scope="col">Rolling 12 months</th><th scope="col" class="num">Value</th><th scope="col" class="num">Same period last year</th><th scope="col">Direction</th><th scope="col">Target (year)</th><th scope="col">Status</th><th scope="col">Latest month (SPC)</th></tr></thead><tbody>"#);
    let mut group_shown: Option<String> = None;
    for i in &items {
        // A group heading row where a group starts.
        let group = i.meta("group").map(str::to_string);
        if group.is_some() && group != group_shown {
            let _ = write!(
                h,
                r#"<tr class="group"><th scope="colgroup" colspan="8">{}</th></tr>"#,
                esc(group.as_deref().unwrap_or_default())
            );
        }
        group_shown = group;
        let r = i.rolling;
        let _ = write!(
            h,
            r##"<tr><th scope="row">{}</th><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"##,
            if in_full(i) {
                format!(r##"<a href="#{}">{}</a>"##, esc(&i.id), esc(&i.title))
            } else {
                esc(&i.title)
            },
            r.map(|r| if r.provisional {
                format!("{} (provisional)", esc(&r.period_label))
            } else {
                esc(&r.period_label)
            })
            .unwrap_or_default(),
            r.map(|r| esc(&fmt_value(r.value, hide(r.suppressed), r.unit)))
                .unwrap_or_else(|| "-".into()),
            r.map(|r| esc(&fmt_value(r.sply_value, hide(r.sply_suppressed), r.unit)))
                .unwrap_or_else(|| "-".into()),
            match (
                r.filter(|r| !hide(r.suppressed || r.sply_suppressed)),
                i.wider
            ) {
                (Some(r), _) => r
                    .direction_sply
                    .map(|d| esc(&d.label()))
                    .unwrap_or_else(|| "-".into()),
                // What can be said: the wider area's comparison.
                (None, Some(w)) => format!(
                    "{}: {} (from {} to {})",
                    esc(&w.area_name),
                    esc(&w.direction_sply.map(|d| d.label()).unwrap_or_default()),
                    esc(&fmt_value(w.sply_value, false, w.unit)),
                    esc(&fmt_value(w.value, false, w.unit))
                ),
                (None, None) => "-".into(),
            },
            i.year
                .and_then(|y| y.target.map(|t| (t, y)))
                .map(|(t, y)| format!(
                    "{} ({})",
                    esc(&fmt_value(Some(t), false, y.unit)),
                    esc(&y.period_label)
                ))
                .unwrap_or_else(|| "-".into()),
            if i.error.is_some() {
                tag("red", "Failed")
            } else {
                tag(i.status.0, i.status.1)
            },
            {
                let side = i
                    .month
                    .and_then(|m| m.value.zip(m.spc_mean))
                    .map(|(v, mean)| v >= mean);
                let variation = if i.spc.1.is_empty() {
                    format!("{}Common cause", mdc_icon(i.variation, side))
                } else {
                    format!(
                        "{}{}",
                        mdc_icon(i.variation, side),
                        tag(i.spc.0, &format!("Special cause: {}", i.spc.1))
                    )
                };
                // Making Data Count assurance, in words, where the chart is
                // published and the target is fixed.
                match i
                    .month
                    .filter(|m| !hide(m.suppressed))
                    .and_then(|m| m.spc_assurance)
                {
                    Some(a) => format!("{variation}; {}{}", assurance_icon(a), esc(a.label())),
                    None => variation,
                }
            },
        );
    }
    h.push_str("</tbody></table>");

    // A section per priority: every indicator in the full pack; in the
    // members' pack only those in exception (the rest are in the headline
    // table above).
    if d.def.detail == super::Detail::Exceptions {
        h.push_str("<p>This is the members' pack: indicators in exception are shown in full below; every other indicator is in the headline table above. The full pack has them all.</p>");
    }
    for (slug, theme) in &themes {
        if !items.iter().any(|i| &i.theme == theme && in_full(i)) {
            continue;
        }
        let _ = write!(h, r#"<h2 id="{slug}">{}</h2>"#, esc(theme));
        for i in items.iter().filter(|i| &i.theme == theme && in_full(i)) {
            indicator_section(&mut h, d, i);
        }
    }

    glossary(&mut h);
    methods(&mut h, d);
    sources(&mut h, d);
    let _ = write!(
        h,
        r#"<footer><p>Contains public sector information licensed under the Open Government Licence v3.0.</p><p>Produced by safer {} from run {}.</p></footer></main></body></html>"#,
        env!("CARGO_PKG_VERSION"),
        esc(d.run_id)
    );
    reflow(&h)
}

/// Wide tables and charts scroll inside their own region rather than
/// pushing the page sideways at 320 CSS px (WCAG 1.4.10); each region can
/// be reached and scrolled from the keyboard and is named for screen
/// readers.
fn reflow(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16 * 1024);
    let mut rest = html;
    let mut n = 0;
    while let Some(at) = rest.find("<table>") {
        out.push_str(&rest[..at]);
        n += 1;
        let _ = write!(
            out,
            r#"<div class="scroll" role="region" tabindex="0" aria-label="Table {n} (scrolls sideways on small screens)"><table>"#
        );
        rest = &rest[at + "<table>".len()..];
    }
    out.push_str(rest);
    out.replace("</table>", "</table></div>")
        .replace("<figure>", r#"<figure class="scroll" tabindex="0">"#)
}

fn indicator_section(h: &mut String, d: &PackData<'_>, i: &super::Item<'_>) {
    let _ = write!(
        h,
        r#"<section class="indicator" aria-labelledby="{id}"><h3 id="{id}">{}</h3><p>{}</p>"#,
        esc(&i.title),
        esc(&i.description),
        id = esc(&i.id)
    );
    if let Some(e) = &i.error {
        let _ = write!(
            h,
            "<p>{} This indicator could not be produced: {}</p></section>",
            tag("red", "Failed"),
            esc(e)
        );
        return;
    }
    let hide = |s: bool| s && d.public;
    h.push_str(r#"<dl class="figures">"#);
    let mut fig = |k: &str, v: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), v);
    };
    if let Some(r) = i.rolling {
        fig(
            &r.period_label,
            esc(&fmt_value(r.value, hide(r.suppressed), r.unit)),
        );
        fig(
            "Same period last year",
            esc(&fmt_value(r.sply_value, hide(r.sply_suppressed), r.unit)),
        );
        if let Some(dir) = r
            .direction_sply
            .as_ref()
            .filter(|_| !hide(r.suppressed || r.sply_suppressed))
        {
            fig("Direction of travel", esc(&dir.label()));
        } else if let Some(w) = i.wider {
            fig(
                "Direction of travel",
                esc(&format!(
                    "{} cannot be compared with last year here without revealing a small number; across {}, {} ({} a year earlier, {} now)",
                    d.headline_area_name,
                    w.area_name,
                    w.direction_sply.map(|x| x.label()).unwrap_or_default(),
                    fmt_value(w.sply_value, false, w.unit),
                    fmt_value(w.value, false, w.unit)
                )),
            );
        }
    }
    if let Some(y) = i.year {
        fig(
            &y.period_label,
            esc(&fmt_value(y.value, hide(y.suppressed), y.unit)),
        );
        if let Some(t) = y.target {
            fig("Target", esc(&fmt_value(Some(t), false, y.unit)));
        }
    }
    if i.rolling.is_some_and(|r| r.provisional) || i.month.is_some_and(|r| r.provisional) {
        let n = i
            .meta("provisional_months")
            .unwrap_or("the latest")
            .to_string();
        fig(
            "Provisional",
            esc(&format!(
                "the latest {n} months are still being recorded (outcomes take time to be entered), so recent figures will rise; they are not rated and the chart stops before them"
            )),
        );
    }
    fig("Status", tag(i.status.0, i.status.1));
    if let Some(detail) = &i.status_detail {
        fig("How it is rated", esc(detail));
    }
    if let Some(note) = &i.basis_note {
        fig("Comparability", esc(note));
    }
    if !i.restated.is_empty() {
        fig("Revised figures", esc(&restatement_words(i)));
    }
    if let Some(m) = i.month.filter(|m| !hide(m.suppressed))
        && m.spc_assurance == Some(crate::evaluation::spc::Assurance::AlwaysMissed)
    {
        fig(
            "Target assurance",
            esc(
                "the target lies outside the process limits on the wrong side: at this level of variation it will not be met without a change in how the service works. Its owner may wish to review the target or the plan.",
            ),
        );
    }
    fig("Unit", esc(&i.unit));
    fig("Polarity", esc(&i.polarity));
    if let Some(s) = &i.stale {
        fig("Data", tag("red", s));
    }
    if let Some(note) = i.year.and_then(|y| y.population_note.clone()) {
        fig("Population", esc(&note));
    }
    h.push_str("</dl>");

    // SPC chart over the headline area's months, with its data as a table.
    let months: Vec<&ResultRow> = d.months(&i.id);
    if !months.is_empty() && months.iter().all(|r| hide(r.suppressed)) {
        // Small counts: the months are not published at all (a chart of
        // hidden points says nothing); the longer periods above are.
        let _ = write!(
            h,
            "<p>Monthly figures for {} are not published: the numbers are small enough that they could identify people. The 12-month and yearly figures above are published where they are large enough.</p>",
            esc(&d.headline_area_name)
        );
    } else if !months.is_empty() {
        let points: Vec<ChartPoint> = months
            .iter()
            .map(|r| ChartPoint {
                label: r.period_label.clone(),
                value: if hide(r.suppressed) { None } else { r.value },
                signal: spc_class(r.spc_variation).1,
            })
            .collect();
        let last = months.last().copied();
        let hidden_any = months.iter().any(|r| hide(r.suppressed));
        // The mean and limits are computed from every month, hidden ones
        // included, so they would give a hidden value away: not drawn.
        let limits = last
            .filter(|_| !hidden_any)
            .and_then(|r| Some((r.spc_lower?, r.spc_upper?)));
        let mean = last.filter(|_| !hidden_any).and_then(|r| r.spc_mean);
        let desc = match (mean, limits, hidden_any) {
            (_, _, true) => format!(
                "Monthly values for {} from {} to {}. Some months are suppressed to protect individuals, so no limits are described; see the table.",
                d.headline_area_name,
                months[0].period_label,
                months[months.len() - 1].period_label
            ),
            (Some(m), Some((lo, hi)), false) => format!(
                "Monthly values for {} from {} to {}, with mean {} and process limits {} to {}. Latest month: {}.",
                d.headline_area_name,
                months[0].period_label,
                months[months.len() - 1].period_label,
                fmt_value(Some(m), false, crate::evaluation::spec::Unit::Count),
                fmt_value(Some(lo), false, crate::evaluation::spec::Unit::Count),
                fmt_value(Some(hi), false, crate::evaluation::spec::Unit::Count),
                last.and_then(|r| r.spc_variation)
                    .map(|v| v.label())
                    .unwrap_or("too few points for limits")
            ),
            _ => format!(
                "Monthly values for {} from {} to {}; fewer than 15 months, so no process limits.",
                d.headline_area_name,
                months[0].period_label,
                months[months.len() - 1].period_label
            ),
        };
        let chart_id = format!("{}-chart", i.id);
        // The target on the chart, in monthly terms, when it is a fixed one.
        let target = i
            .spec
            .as_ref()
            .and_then(crate::evaluation::monthly_target)
            .filter(|_| !hidden_any);
        let target_words = target
            .map(|t| {
                format!(
                    " The dotted green line is the target in monthly terms ({}).",
                    fmt_value(
                        Some(t),
                        false,
                        i.spec
                            .as_ref()
                            .map(|s| s.unit)
                            .unwrap_or(crate::evaluation::spec::Unit::Count)
                    )
                )
            })
            .unwrap_or_default();
        let drawn = match (mean, limits) {
            (Some(_), Some(_)) => {
                "line is the monthly value, solid line the mean, dashed lines the process limits."
            }
            _ => {
                "line is the monthly value; there are too few months, or hidden months, for a mean and process limits."
            }
        };
        let _ = write!(
            h,
            r#"<figure>{}<figcaption>SPC chart: {drawn}{} Square markers show special-cause concern, diamonds improvement, triangles special cause on a monitor-only indicator.</figcaption></figure>"#,
            spc_chart(
                &chart_id,
                &format!("{}: monthly values", i.title),
                &format!("{desc}{target_words}"),
                &points,
                mean,
                limits,
                target
            ),
            esc(&target_words)
        );
        let _ = write!(
            h,
            r#"<details><summary>Chart data: {}</summary><table><caption>Monthly values, {}</caption><thead><tr><th scope="col">Month</th><th scope="col" class="num">Value</th><th scope="col">Signal</th></tr></thead><tbody>"#,
            esc(&i.title),
            esc(&d.headline_area_name)
        );
        for r in &months {
            let _ = write!(
                h,
                r#"<tr><th scope="row">{}</th><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&r.period_label),
                esc(&fmt_value(r.value, hide(r.suppressed), r.unit)),
                esc(r.spc_variation.map(|v| v.label()).unwrap_or(""))
            );
        }
        h.push_str("</tbody></table></details>");
    }

    // Districts: so a county figure cannot hide a struggling district. For
    // a rate, each district is also placed in the funnel around the
    // headline area's rate (a test of significance, not a raw comparison).
    let districts = d.districts(&i.id);
    if !districts.is_empty() {
        let total = d.total_for(districts[0]);
        let is_rate = matches!(
            districts[0].unit,
            crate::evaluation::spec::Unit::Rate { .. }
        );
        let funnel_head = if is_rate {
            r#"<th scope="col">Against the county rate (99.8% funnel limits)</th>"#
        } else {
            ""
        };
        let _ = write!(
            h,
            r#"<table><caption>{} by district, {}</caption><thead><tr><th scope="col">District</th><th scope="col" class="num">Value</th><th scope="col" class="num">Same period last year</th><th scope="col">Direction</th>{funnel_head}</tr></thead><tbody>"#,
            esc(&i.title),
            esc(&districts[0].period_label)
        );
        let row = |h: &mut String, r: &ResultRow, name: &str, funnel: Option<&str>| {
            let dir = if hide(r.suppressed || r.sply_suppressed) {
                "-".to_string()
            } else {
                r.direction_sply
                    .map(|d| d.label())
                    .unwrap_or_else(|| "-".into())
            };
            let _ = write!(
                h,
                r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td>{}</td>{}</tr>"#,
                esc(name),
                esc(&fmt_value(r.value, hide(r.suppressed), r.unit)),
                esc(&fmt_value(r.sply_value, hide(r.sply_suppressed), r.unit)),
                esc(&dir),
                funnel
                    .map(|f| format!("<td>{}</td>", esc(f)))
                    .unwrap_or_default()
            );
        };
        for r in &districts {
            let f = if is_rate {
                Some(
                    total
                        .filter(|_| !hide(r.suppressed))
                        .and_then(|t| super::funnel(r, t))
                        .map(|f| f.label())
                        .unwrap_or("-"),
                )
            } else {
                None
            };
            row(h, r, &r.area_name, f);
        }
        // The total row: the districts above add up to it (rates and
        // percentages are the area's own, not a sum).
        if let Some(t) = total {
            h.push_str("</tbody><tfoot>");
            row(h, t, &t.area_name, is_rate.then_some(""));
            // Neighbours, labelled as comparators: not part of the total.
            for c in d.comparators_for(districts[0]) {
                let f = if is_rate {
                    Some(
                        super::funnel(c, t)
                            .filter(|_| !hide(c.suppressed))
                            .map(|f| f.label())
                            .unwrap_or("-"),
                    )
                } else {
                    None
                };
                row(
                    h,
                    c,
                    &format!("{} (comparator, not in {})", c.area_name, t.area_name),
                    f,
                );
            }
            h.push_str("</tfoot></table>");
        } else {
            h.push_str("</tbody></table>");
        }
    }

    let _ = write!(h, r#"<h4 id="{}-commentary">Commentary</h4>"#, esc(&i.id));
    match d.commentary.get(&i.id) {
        Some(text) => {
            h.push_str(r#"<div class="commentary">"#);
            for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                let _ = write!(h, "<p>{}</p>", esc(&para.replace('\n', " ")));
            }
            h.push_str("</div>");
        }
        None if i.is_exception() => {
            h.push_str(r#"<div class="commentary awaited"><p><strong>Commentary awaited.</strong> This indicator is in the exception report and the responsible officer has not yet provided commentary.</p></div>"#);
        }
        None => h.push_str("<p>No commentary this period.</p>"),
    }
    let _ = write!(
        h,
        r#"<p class="meta">Definition: {}. Source: {}. Owner: {}.</p></section>"#,
        esc(i.meta("basis").unwrap_or("not stated")),
        esc(i.meta("source").unwrap_or("not stated")),
        esc(i.meta("owner").unwrap_or("not stated"))
    );
}

/// The restatement note: which published figures moved, from what to
/// what, and why, in words a member can repeat.
fn restatement_words(i: &super::Item<'_>) -> String {
    use crate::diff::Reason;
    let unit = i
        .year
        .or(i.rolling)
        .or(i.month)
        .map(|r| r.unit)
        .unwrap_or(crate::evaluation::spec::Unit::Count);
    const SHOWN: usize = 4;
    let figures: Vec<String> = i
        .restated
        .iter()
        .take(SHOWN)
        .map(|c| {
            format!(
                "{} was {}, now {}",
                c.period_label,
                super::fmt_value(c.before, false, unit),
                super::fmt_value(c.after, false, unit)
            )
        })
        .collect();
    let more = i.restated.len().saturating_sub(SHOWN);
    let mut why: Vec<String> = Vec::new();
    for c in &i.restated {
        for r in &c.reasons {
            let w = match r {
                Reason::RevisedData { .. } => {
                    "the source re-sent or corrected its data for these periods".to_string()
                }
                Reason::NewData { .. } => "late data for these periods arrived".to_string(),
                Reason::ChangedSql => "the way the figure is counted changed".to_string(),
                Reason::NewPopulation { to: Some(y), .. } => {
                    format!("rates now use the mid-{y} population estimates")
                }
                Reason::NewPopulation { .. } => "the population estimates changed".to_string(),
                Reason::Other => "the evaluation settings changed".to_string(),
            };
            if !why.contains(&w) {
                why.push(w);
            }
        }
    }
    format!(
        "These figures have changed since they were last produced: {}{}; {}.",
        figures.join("; "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        },
        if why.is_empty() {
            "the reason is not recorded".to_string()
        } else {
            format!("because {}", why.join(", and "))
        }
    )
}

fn glossary(h: &mut String) {
    let terms: BTreeMap<&str, &str> = [
        ("CSP", "Community Safety Partnership: the statutory partnership of council, police, fire, health and probation for an area."),
        ("Financial year", "April to March, labelled 2024-25."),
        ("KSI", "Killed or seriously injured road casualties; adjusted for the change to injury-based police reporting."),
        ("Lancashire-12", "The twelve districts of Lancashire County Council."),
        ("Lancashire-14", "Pan-Lancashire: the twelve districts plus Blackburn with Darwen and Blackpool; the police force area."),
        ("MARAC", "Multi-Agency Risk Assessment Conference for high-risk domestic abuse cases."),
        ("Rolling 12 months", "The twelve months ending with the latest month: smooths seasonal effects."),
        ("SPC", "Statistical process control: tells signal from noise in a series over time."),
        ("SPLY", "Same period last year."),
        ("SVD", "Serious Violence Duty (Police, Crime, Sentencing and Courts Act 2022)."),
        ("[c]", "Suppressed to protect individuals: a small number, or one that would reveal one."),
    ]
    .into_iter()
    .collect();
    h.push_str(r#"<h2 id="glossary">Glossary</h2><dl class="figures">"#);
    for (k, v) in terms {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    h.push_str("</dl>");
}

fn methods(h: &mut String, d: &PackData<'_>) {
    let _ = write!(
        h,
        r#"<h2 id="methods">Methods</h2><h3>Status (RAG)</h3><p>{}</p><h3>Statistical process control</h3><p>Each chart is an XmR chart as NHS England's Making Data Count describes: the mean of the monthly values and natural process limits at the mean plus or minus 2.66 times the mean moving range (needs at least 15 months). A special cause is flagged when a point falls outside the limits; when 7 or more points in a row are on one side of the mean; when 7 or more points in a row rise or fall; or when 2 of 3 points in a row are more than two-thirds of the way to a limit on the same side. A special cause is improvement or concern according to the indicator's polarity; for monitor-only indicators it is neither. Assurance compares the target with the limits: outside them the target is consistently met or missed; inside them it will be hit and missed by chance.</p><h3>Periods and rates</h3><p>Financial years run April to March; calendar-year indicators (road safety, National Referral Mechanism) are labelled as such. A period is marked incomplete, and not rated, until data has arrived for every month of it. Rates use ONS mid-year population estimates for the year containing the middle of the period; when that year is not yet published, the latest estimate is used and the pack says so. Areas roll up from LSOA to district, Community Safety Partnership, Lancashire-12 and Lancashire-14 through the ONS lookup.</p><h3>Small numbers</h3><p>{}</p>"#,
        esc(RagRule.describe()),
        if d.public {
            "In this public pack, counts from 1 to 4 are suppressed and shown as [c], together with any further figures (other districts, partnership or county totals, comparisons, and other periods: once any figure of an area is hidden its monthly figures are not published, and its quarters, years and rolling years are protected together) from which a suppressed count could be worked out. Rates and percentages built on a suppressed count are suppressed too. Zero is shown."
        } else {
            "This is an internal pack: small numbers are shown. Do not publish it."
        }
    );
}

fn sources(h: &mut String, d: &PackData<'_>) {
    h.push_str(r#"<h2 id="sources">Data sources</h2><table><caption>Data freshness</caption><thead><tr><th scope="col">Dataset</th><th scope="col" class="num">Rows</th><th scope="col">Data from</th><th scope="col">Data to</th></tr></thead><tbody>"#);
    for f in d.freshness {
        let _ = write!(
            h,
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&f.dataset),
            f.rows,
            esc(f.from.as_deref().unwrap_or("-")),
            esc(f.to.as_deref().unwrap_or("-"))
        );
    }
    h.push_str("</tbody></table>");
    if !d.sources.is_empty() {
        h.push_str(r#"<table><caption>How up to date each source is</caption><thead><tr><th scope="col">Source</th><th scope="col">Data to end of</th><th scope="col">Expected by now</th><th scope="col">Status</th></tr></thead><tbody>"#);
        for f in d.sources {
            let newest = match (f.newest_month, f.rows) {
                (Some(m), _) => m.format("%B %Y").to_string(),
                (None, 0) => "no data".into(),
                (None, _) => "reference data (no dates)".into(),
            };
            let expected = f
                .expected_from
                .map(|e| format!("{} or later", e.format("%B %Y")))
                .unwrap_or_else(|| "-".into());
            let status = match (f.stale, f.max_lag_months) {
                (true, _) => "Late: figures from this source are out of date",
                (false, Some(_)) => "Up to date",
                (false, None) => "Not checked",
            };
            let _ = write!(
                h,
                r#"<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&f.source),
                esc(&newest),
                esc(&expected),
                status
            );
        }
        h.push_str("</tbody></table>");
    }
    if !d.data_checks.is_empty() {
        h.push_str(r#"<h3 id="data-quality">Data quality</h3><p>These checks on the data as it arrived did not pass. Where a check is marked as a warning the data was used; otherwise the previous data was kept and figures from that source may be out of date.</p><ul>"#);
        for c in d.data_checks {
            let what = if d.public {
                format!("{} row(s) failed", c.failing)
            } else {
                c.detail.clone()
            };
            let effect = match c.severity {
                crate::config::Severity::Warn => "warning: the data was used",
                crate::config::Severity::Error => "the new data was not used",
            };
            let _ = write!(
                h,
                "<li><strong>{}</strong>, check {}: {} ({effect}).</li>",
                esc(&c.dataset),
                esc(&c.test),
                esc(&what)
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("<p>data.police.uk street-level crime, DfT STATS19 road casualty statistics and ONS population estimates and lookups are published under the Open Government Licence v3.0. Partner data (force recorded-crime extract, council and health service data) is shared under the Crime and Disorder Act 1998 s115 and the Serious Violence Duty.</p>");
}
