//! Per-day bar charts as inline SVG, drawn here (no chart library, nothing downloaded).
//!
//! Takes days with a few counts each; gives an `<svg>` with one stacked bar per day, an axis
//! with the largest value, a `<title>` per bar (the counts, for hover and screen readers)
//! and a legend. Numbers only go in: every label is escaped.

use std::fmt::Write;

/// One series: its name and colour.
pub struct Series {
    pub name: &'static str,
    pub colour: &'static str,
}

/// One day: its label (`2026-11-30`) and a value per series.
pub struct Bar {
    pub label: String,
    pub values: Vec<i64>,
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A bar's label under the axis: a date without its year, anything else as it is (cut to
/// 14 characters, the room a label has).
fn short(label: &str) -> String {
    let date = label.len() == 10 && label.as_bytes()[4] == b'-' && label.as_bytes()[7] == b'-';
    let s = if date { &label[5..] } else { label };
    if s.chars().count() > 14 { s.chars().take(13).chain(['…']).collect() } else { s.to_string() }
}

/// The chart, `title` as its accessible name.
pub fn stacked(title: &str, series: &[Series], bars: &[Bar]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 22.0;
    let max = bars.iter().map(|b| b.values.iter().sum::<i64>()).max().unwrap_or(0).max(1);
    let n = bars.len().max(1) as f64;
    let step = (W - LEFT) / n;
    let width = (step * 0.8).max(1.0);
    let scale = (H - BOTTOM - 8.0) / max as f64;
    let mut svg = String::new();
    let _ = write!(svg, r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#, escape(title));
    let _ = write!(svg, r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#999"/>"##, y = H - BOTTOM);
    let _ = write!(
        svg,
        r##"<text x="{x}" y="14" font-size="11" text-anchor="end" fill="#555">{max}</text>"##,
        x = LEFT - 4.0
    );
    let _ = write!(
        svg,
        r##"<text x="{x}" y="{y}" font-size="11" text-anchor="end" fill="#555">0</text>"##,
        x = LEFT - 4.0,
        y = H - BOTTOM
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + i as f64 * step + (step - width) / 2.0;
        let mut y = H - BOTTOM;
        let tip: Vec<String> = series.iter().zip(&bar.values).map(|(s, v)| format!("{} {v}", s.name)).collect();
        let _ = write!(svg, "<g><title>{}: {}</title>", escape(&bar.label), tip.join(", "));
        for (s, v) in series.iter().zip(&bar.values) {
            let h = *v as f64 * scale;
            if h > 0.0 {
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}" fill="{}"/>"#,
                    s.colour
                );
            }
        }
        svg.push_str("</g>");
        // A date under the first, the last and about every seventh bar (none so close to the
        // last that the two would overlap).
        if i == 0 || i + 1 == bars.len() || (bars.len() > 10 && i % 7 == 0 && i + 3 < bars.len()) {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                x + width / 2.0,
                H - 6.0,
                escape(&short(&bar.label))
            );
        }
    }
    svg.push_str("</svg>");
    let mut legend = String::from(r#"<ul class="legend">"#);
    for s in series {
        let _ = write!(
            legend,
            r#"<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{}"/></svg> {}</li>"#,
            s.colour, s.name
        );
    }
    legend.push_str("</ul>");
    svg + &legend
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_day_and_labels_are_escaped() {
        let series = [Series { name: "hard", colour: "#c00" }, Series { name: "soft", colour: "#e90" }];
        let bars = vec![
            Bar { label: "2026-11-01".into(), values: vec![2, 2] },
            Bar { label: "<b>".into(), values: vec![0, 1] },
        ];
        let svg = stacked("a & b", &series, &bars);
        assert!(svg.contains(r#"aria-label="a &amp; b""#));
        assert!(svg.contains(">4</text>"), "the axis shows the largest day's total: {svg}");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<rect").count(), 3 + 2, "three bars' parts and two legend swatches");
    }
}
