//! The rendered report's structure, pinned: an insta snapshot of the page for a fixed report
//! (fixed timings and commit), so a template change shows up as a reviewed diff.

use mtlog_audit_reports::{render_html, Report};

#[test]
fn the_example_report_renders_to_the_pinned_page() {
    let html = render_html(&Report::example()).expect("the template renders");
    insta::assert_snapshot!("example_report_html", html);
}

#[test]
fn the_page_outline_lists_every_section_in_order() {
    let html = render_html(&Report::example()).expect("the template renders");
    let outline: Vec<&str> =
        html.lines().filter(|l| l.starts_with("<h2") || l.contains("class=\"verdict")).collect();
    insta::assert_snapshot!("example_report_outline", outline.join("\n"));
}

#[test]
fn a_passing_report_says_pass_and_has_no_failure_cards() {
    let mut report = Report::example();
    report.verdict = "PASS".into();
    report.failures.clear();
    report.cards.clear();
    let html = render_html(&report).unwrap();
    assert!(html.contains("✓ PASS"));
    assert!(html.contains("No failing seed"));
    assert!(!html.contains("id=\"cards\""));
}

#[test]
fn zero_coverage_cells_are_red_and_marked() {
    let html = render_html(&Report::example()).unwrap();
    assert!(html.contains("<td class=\"n zero\">✗ 0</td>"), "a zero cell is red and has ✗");
}

#[test]
fn json_round_trips() {
    let report = Report::example();
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}
