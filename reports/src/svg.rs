//! Inline SVG charts: the outcome histogram and a failure card's timeline. Plain strings, no
//! scripts; hover text uses SVG `<title>`, which browsers show without JavaScript.

use std::fmt::Write as _;

use crate::{OutcomeCount, TimelinePoint};

const LANES: [&str; 5] = ["app", "disk", "fault", "recovery", "check"];

/// Escapes text for XML (SVG) content and attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A horizontal bar per outcome class: ok classes marked ✓, failure classes ✗ (and red).
pub fn outcome_histogram(outcomes: &[OutcomeCount]) -> String {
    let rows: Vec<&OutcomeCount> = outcomes.iter().filter(|o| o.count > 0 || o.failure).collect();
    let total: u64 = outcomes.iter().map(|o| o.count).sum();
    let max = rows.iter().map(|o| o.count).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (190.0, 360.0, 22.0);
    let height = row_h * rows.len() as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" role=\"img\" aria-label=\"outcome histogram\" width=\"680\" \
         height=\"{height}\" viewBox=\"0 0 680 {height}\">"
    );
    for (i, o) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let w = if o.count == 0 { 0.0 } else { (bar_w * o.count as f64 / max as f64).max(2.0) };
        let (class, mark) = match (o.failure, o.count) {
            (true, 0) => ("bar-zero", "·"),
            (true, _) => ("bar-fail", "✗"),
            (false, _) => ("bar-ok", "✓"),
        };
        let share = if total == 0 { 0.0 } else { 100.0 * o.count as f64 / total as f64 };
        let _ = write!(
            s,
            "<g><title>{name}: {count} runs ({share:.2} %)</title>\
             <text x=\"0\" y=\"{ty}\" class=\"lbl\">{mark} {name}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" class=\"{class}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" class=\"num\">{count} ({share:.2} %)</text></g>",
            name = esc(&o.name),
            count = o.count,
            ty = y + 14.0,
            bh = row_h - 6.0,
            tx = label_w + w + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Swimlanes of a run on simulated time: one lane per kind of event, faults shaded across
/// every lane, crashes as vertical lines.
pub fn timeline(points: &[TimelinePoint]) -> String {
    let (left, width, lane_h) = (80.0, 600.0, 26.0);
    let height = lane_h * LANES.len() as f64 + 30.0;
    let end = points.iter().map(|p| p.at_nanos).max().unwrap_or(0).max(1);
    let x = |at: u64| left + width * at as f64 / end as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart timeline\" role=\"img\" aria-label=\"timeline\" width=\"{w}\" \
         height=\"{height}\" viewBox=\"0 0 {w} {height}\">",
        w = left + width + 20.0
    );
    for (i, lane) in LANES.iter().enumerate() {
        let y = lane_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{ty}\" class=\"lbl\">{lane}</text>\
             <line x1=\"{left}\" y1=\"{ly}\" x2=\"{x2}\" y2=\"{ly}\" class=\"lane\"/>",
            ty = y + 17.0,
            ly = y + 13.0,
            x2 = left + width,
        );
    }
    let lanes_h = lane_h * LANES.len() as f64;
    for p in points.iter().filter(|p| p.lane == "fault") {
        let _ = write!(
            s,
            "<rect x=\"{bx:.1}\" y=\"0\" width=\"4\" height=\"{lanes_h}\" class=\"fault-band\">\
             <title>{}</title></rect>",
            esc(&p.label),
            bx = x(p.at_nanos) - 2.0,
        );
    }
    for p in points.iter().filter(|p| p.lane == "disk" && p.label.contains("crash")) {
        let _ = write!(
            s,
            "<line x1=\"{cx:.1}\" y1=\"0\" x2=\"{cx:.1}\" y2=\"{lanes_h}\" class=\"crash\"/>",
            cx = x(p.at_nanos),
        );
    }
    for p in points {
        let lane = LANES.iter().position(|l| *l == p.lane).unwrap_or(0);
        let cy = lane_h * lane as f64 + 13.0;
        let (class, mark) = match p.lane.as_str() {
            "fault" => ("pt-fault", "▲"),
            "check" => ("pt-check", "✗"),
            "disk" => ("pt-disk", "■"),
            "recovery" => ("pt-rec", "◆"),
            _ => ("pt-app", "●"),
        };
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{ty:.1}\" class=\"{class}\" text-anchor=\"middle\">{mark}\
             <title>{t} ns: {label}</title></text>",
            cx = x(p.at_nanos),
            ty = cy + 5.0,
            t = p.at_nanos,
            label = esc(&p.label),
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{ay}\" class=\"num\">0</text>\
         <text x=\"{ex}\" y=\"{ay}\" class=\"num\" text-anchor=\"end\">{ms:.3} ms simulated</text>",
        ay = lanes_h + 20.0,
        ex = left + width,
        ms = end as f64 / 1e6,
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let svg = timeline(&[TimelinePoint {
            at_nanos: 5,
            lane: "app".into(),
            label: "<script>&".into(),
        }]);
        assert!(svg.contains("&lt;script&gt;&amp;"));
        assert!(!svg.contains("<script>"));
    }
}
