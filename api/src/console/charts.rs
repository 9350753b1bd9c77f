//! The dashboard's charts, drawn by the server as SVG (no scripts): each child unit's two
//! rates, and the unit's last 30 days.

use std::fmt::Write;

use fieldsurvey_db::clues::UnitStats;
use fieldsurvey_db::trend::Day;

use super::labels::percent;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// Two bars per child unit (达标率, 整改销号率); a rate without a denominator is drawn as no
/// bar and named as such, never as 0.0%.
pub(super) fn rates(rows: &[UnitStats]) -> String {
    let bar_h = 14;
    let row_h = 2 * bar_h + 10;
    let height = 40 + row_h * rows.len().max(1);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{height}\" role=\"img\" \
         aria-label=\"各单位达标率与整改销号率\">\
         <text x=\"10\" y=\"18\" font-size=\"13\">达标率 = 达标户 / 已核实户（绿）；\
         整改销号率 = 已销号线索 / 问题线索（蓝）</text>"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 30 + i * row_h;
        let meets = r.meets_standard_rate;
        let closure = (r.clues_raised > 0).then_some(r.closure_rate);
        let name: String = r.name.chars().take(10).collect();
        let w1 = 500.0 * meets.unwrap_or(0.0);
        let w2 = 500.0 * closure.unwrap_or(0.0);
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{ty}\" font-size=\"12\">{name}</text>\
             <rect x=\"160\" y=\"{y}\" width=\"{w1:.0}\" height=\"{bar_h}\" fill=\"#2e7d32\"/>\
             <text x=\"{t1:.0}\" y=\"{ty1}\" font-size=\"11\">{p1}</text>\
             <rect x=\"160\" y=\"{y2}\" width=\"{w2:.0}\" height=\"{bar_h}\" fill=\"#1565c0\"/>\
             <text x=\"{t2:.0}\" y=\"{ty2}\" font-size=\"11\">{p2}</text>",
            name = escape(&name),
            ty = y + bar_h + 4,
            t1 = 165.0 + w1,
            ty1 = y + bar_h - 2,
            p1 = meets.map_or_else(|| "无已核实户".to_owned(), percent),
            y2 = y + bar_h + 2,
            t2 = 165.0 + w2,
            ty2 = y + 2 * bar_h,
            p2 = closure.map_or_else(|| "无线索".to_owned(), percent),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The last days of a unit: per day, households verified (green) and clues closed (blue),
/// on one scale; each day's group carries its date and counts, and a tooltip in words.
pub(super) fn trend(dates: &[String], days: &[Day]) -> String {
    let (left, base, tall, width) = (50.0, 180.0, 140.0, 690.0);
    let top = days
        .iter()
        .map(|d| d.verified.max(d.clues_closed))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = width / days.len().max(1) as f64;
    let bar = (slot / 2.0 - 1.5).max(1.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"215\" role=\"img\" \
         id=\"trend\" aria-label=\"近 {n} 天每日核实户数与销号线索数\">\
         <text x=\"10\" y=\"16\" font-size=\"13\">近 {n} 天：每日核实户数（绿）与销号线索数（蓝）</text>\
         <line x1=\"{left}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"#888\"/>\
         <text x=\"{lx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{top}</text>\
         <text x=\"{lx}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        n = days.len(),
        right = left + width,
        lx = left - 6.0,
        ty = base - tall + 4.0,
    );
    for (i, (date, d)) in dates.iter().zip(days).enumerate() {
        let x = left + slot * i as f64 + 1.0;
        let h1 = tall * d.verified as f64 / top as f64;
        let h2 = tall * d.clues_closed as f64 / top as f64;
        let _ = write!(
            svg,
            "<g class=\"day\" data-date=\"{date}\" data-verified=\"{v}\" data-closed=\"{c}\">\
             <title>{date}：核实 {v} 户，销号 {c} 条</title>\
             <rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{h1:.1}\" fill=\"#2e7d32\"/>\
             <rect x=\"{x2:.1}\" y=\"{y2:.1}\" width=\"{bar:.1}\" height=\"{h2:.1}\" fill=\"#1565c0\"/>\
             </g>",
            date = escape(date),
            v = d.verified,
            c = d.clues_closed,
            y1 = base - h1,
            x2 = x + bar + 1.0,
            y2 = base - h2,
        );
        // A date under every fifth day and the last.
        if i.is_multiple_of(5) || i + 1 == days.len() {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{ly}\" font-size=\"10\">{md}</text>",
                ly = base + 16.0,
                md = escape(date.get(5..).unwrap_or(date)),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_day_carries_its_counts_on_one_scale() {
        let dates = ["2026-12-01".to_owned(), "2026-12-02".to_owned()];
        let days = [
            Day {
                verified: 4,
                clues_closed: 0,
            },
            Day {
                verified: 1,
                clues_closed: 2,
            },
        ];
        let svg = trend(&dates, &days);
        assert!(svg.contains("data-date=\"2026-12-02\" data-verified=\"1\" data-closed=\"2\""));
        assert!(svg.contains("<title>2026-12-01：核实 4 户，销号 0 条</title>"));
        // The tallest bar is the whole height; the others are to scale.
        assert!(svg.contains("height=\"140.0\""), "{svg}");
        assert!(svg.contains("height=\"35.0\""), "{svg}");
    }

    #[test]
    fn a_rate_without_a_denominator_is_no_bar() {
        let unit = UnitStats {
            code: "522732101202".into(),
            name: "示例12村".into(),
            level: fieldsurvey_core::vocab::OrgLevel::Village,
            households: 10,
            surveyed: 0,
            meets_standard: 0,
            clues_raised: 0,
            clues_closed: 0,
            closure_rate: 1.0,
            clues: Default::default(),
            unregistered: 0,
            coverage_rate: Some(0.0),
            meets_standard_rate: None,
        };
        let svg = rates(&[unit]);
        assert!(
            svg.contains("无已核实户") && svg.contains("无线索"),
            "{svg}"
        );
        assert!(!svg.contains("0.0%") && !svg.contains("100.0%"), "{svg}");
    }
}
