//! Inline SVG charts for the pack: an XmR (SPC) chart of a monthly series.
//!
//! Charts are decoration over data the pack also prints as a table, so each
//! has a title and a text description, and special causes are shown by
//! marker shape and a printed label as well as colour.

use std::fmt::Write;

/// One point to plot. `None` values (suppressed or missing) are gaps.
#[derive(Debug, Clone)]
pub struct ChartPoint {
    /// Axis label (`Jan 2025`).
    pub label: String,
    /// Value, or `None` for a gap.
    pub value: Option<f64>,
    /// `improvement`, `concern`, `neither` or empty.
    pub signal: &'static str,
}

/// Escape text for XML/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An XmR chart with mean and process limits.
pub fn spc_chart(
    id: &str,
    title: &str,
    description: &str,
    points: &[ChartPoint],
    mean: Option<f64>,
    limits: Option<(f64, f64)>,
    target: Option<f64>,
) -> String {
    let (w, h) = (720.0, 260.0);
    let (left, right, top, bottom) = (56.0, 36.0, 16.0, 44.0);
    let vals: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
    let mut lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some((l, u)) = limits {
        lo = lo.min(l);
        hi = hi.max(u);
    }
    if let Some(t) = target {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if !lo.is_finite() || !hi.is_finite() {
        lo = 0.0;
        hi = 1.0;
    }
    lo = lo.min(0.0);
    if (hi - lo).abs() < 1e-9 {
        hi = lo + 1.0;
    }
    let n = points.len().max(2) as f64;
    let x = |i: usize| left + (w - left - right) * i as f64 / (n - 1.0);
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(description)
    );
    // Axis and gridlines with values.
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#b1b4b6" stroke-width="1"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#0b0c0c">{}</text>"##,
            w - right,
            left - 6.0,
            yy + 4.0,
            fmt_axis(v)
        );
    }
    let step = (points.len() / 8).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % step == 0 || i + 1 == points.len() {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#0b0c0c">{}</text>"##,
                x(i),
                h - bottom + 16.0,
                esc(&p.label)
            );
        }
    }
    if let Some(m) = mean {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#0b0c0c" stroke-width="1.5"/>"##,
            w - right,
            y(m),
            y(m)
        );
    }
    if let Some((l, u)) = limits {
        for v in [l, u] {
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#505a5f" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
                w - right,
                y(v),
                y(v)
            );
        }
    }
    if let Some(t) = target {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#00703c" stroke-width="2" stroke-dasharray="2 3"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#00703c">target</text>"##,
            w - right,
            y(t),
            y(t),
            w - right,
            y(t) - 4.0
        );
    }
    // The series, broken at gaps.
    let mut path = String::new();
    let mut pen_down = false;
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(
        s,
        r##"<path d="{}" fill="none" stroke="#1d70b8" stroke-width="2"/>"##,
        path.trim()
    );
    for (i, p) in points.iter().enumerate() {
        let Some(v) = p.value else { continue };
        let (cx, cy) = (x(i), y(v));
        let marker = match p.signal {
            "concern" => format!(
                r##"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="#d4351c" stroke="#0b0c0c"/>"##,
                cx - 4.5,
                cy - 4.5
            ),
            "improvement" => format!(
                r##"<path d="M{cx:.1},{:.1} L{:.1},{cy:.1} L{cx:.1},{:.1} L{:.1},{cy:.1} Z" fill="#1d70b8" stroke="#0b0c0c"/>"##,
                cy - 6.0,
                cx + 6.0,
                cy + 6.0,
                cx - 6.0
            ),
            "neither" => format!(
                r##"<path d="M{cx:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="#4c2c92" stroke="#0b0c0c"/>"##,
                cy - 6.0,
                cx + 6.0,
                cy + 5.0,
                cx - 6.0,
                cy + 5.0
            ),
            _ => format!(r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="#1d70b8"/>"##),
        };
        s.push_str(&marker);
    }
    s.push_str("</svg>");
    s
}

fn fmt_axis(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
