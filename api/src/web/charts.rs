//! Charts drawn as SVG on the server: interval (forest) plots, stacked distribution bars, a
//! willingness-to-pay curve, a heat map and line charts. No chart crate draws interval plots, and
//! these are small, so they are our own. Every chart is an `img` with a title, and the page shows
//! its numbers in a table beside it; marks carry their values in `data-*` attributes.

use maud::{Markup, html};

const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 200.0;
const ROW: f64 = 28.0;
const TOP: f64 = 10.0;
const AXIS: f64 = 30.0;

/// One row of an interval plot: a mean and its 95% interval.
pub struct Interval {
    pub label: String,
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// Drawn hollow and greyed: the interval does not settle the question.
    pub inconclusive: bool,
}

/// Maps a value in `domain` onto `[left, right]` pixels.
fn scale(domain: (f64, f64), left: f64, right: f64) -> impl Fn(f64) -> f64 {
    let span = (domain.1 - domain.0).max(f64::EPSILON);
    move |v| left + (v.clamp(domain.0, domain.1) - domain.0) / span * (right - left)
}

/// Evenly spaced ticks across `domain`.
fn ticks(domain: (f64, f64), count: usize) -> Vec<f64> {
    (0..=count)
        .map(|i| domain.0 + (domain.1 - domain.0) * i as f64 / count as f64)
        .collect()
}

fn tick_label(value: f64, percent: bool) -> String {
    if percent {
        format!("{:.0}%", value * 100.0)
    } else if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Means with 95% intervals on a common axis; `reference` draws a line (0 for effects).
pub fn intervals(
    id: &str,
    title: &str,
    rows: &[Interval],
    domain: (f64, f64),
    reference: Option<f64>,
) -> Markup {
    let height = TOP + ROW * rows.len() as f64 + AXIS;
    let x = scale(domain, LABEL_WIDTH, WIDTH - 20.0);
    let plot_bottom = TOP + ROW * rows.len() as f64;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            @for tick in ticks(domain, 4) {
                line.grid x1=(x(tick)) x2=(x(tick)) y1=(TOP) y2=(plot_bottom) {}
                text.tick x=(x(tick)) y=(plot_bottom + 18.0) text-anchor="middle" { (tick_label(tick, false)) }
            }
            @if let Some(reference) = reference {
                line.reference x1=(x(reference)) x2=(x(reference)) y1=(TOP) y2=(plot_bottom) {}
            }
            @for (i, row) in rows.iter().enumerate() {
                @let y = TOP + ROW * (i as f64 + 0.5);
                g.interval.inconclusive[row.inconclusive] data-label=(row.label) data-mean=(row.mean) data-low=(row.low) data-high=(row.high) {
                    text.label x=(LABEL_WIDTH - 8.0) y=(y + 4.0) text-anchor="end" { (truncate(&row.label, 30)) }
                    line.whisker x1=(x(row.low)) x2=(x(row.high)) y1=(y) y2=(y) {}
                    circle.mean cx=(x(row.mean)) cy=(y) r="5" {}
                }
            }
        }
    }
}

/// Each row's shares of the five Likert points as one stacked bar.
pub fn stacked(id: &str, title: &str, rows: &[(String, [f64; 5])], legend: [&str; 5]) -> Markup {
    let height = TOP + ROW * rows.len() as f64 + AXIS;
    let x = scale((0.0, 1.0), LABEL_WIDTH, WIDTH - 20.0);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            @for (i, (label, shares)) in rows.iter().enumerate() {
                @let y = TOP + ROW * i as f64 + 4.0;
                text.label x=(LABEL_WIDTH - 8.0) y=(y + 14.0) text-anchor="end" { (truncate(label, 30)) }
                @for (point, (start, share)) in segments(shares).into_iter().enumerate() {
                    rect class={ "likert-" (point + 1) } x=(x(start)) y=(y) width=((x(start + share) - x(start)).max(0.0)) height=(ROW - 8.0) data-share=(share) {
                        title { (legend[point]) ": " (format!("{:.0}%", share * 100.0)) }
                    }
                }
            }
            @for (point, name) in legend.iter().enumerate() {
                @let lx = LABEL_WIDTH + point as f64 * 84.0;
                rect class={ "likert-" (point + 1) } x=(lx) y=(height - 18.0) width="12" height="12" {}
                text.tick x=(lx + 16.0) y=(height - 8.0) { (name) }
            }
        }
    }
}

/// A falling step curve of (price, share at or above it), with marked prices.
pub fn price_curve(
    id: &str,
    title: &str,
    points: &[(f64, f64)],
    marks: &[(f64, &str)],
    money: impl Fn(f64) -> String,
) -> Markup {
    let height = 240.0;
    let (left, right, top, bottom) = (70.0, WIDTH - 20.0, 14.0, height - AXIS);
    let prices = points.iter().map(|p| p.0).chain(marks.iter().map(|m| m.0));
    let (low, high) = prices.fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p), hi.max(p)));
    // A tenth of the range either side, or 5% of the price when every price is the same.
    let pad = ((high - low) * 0.1).max(high.abs() * 0.05).max(1.0);
    let domain = (low - pad, high + pad);
    let x = scale(domain, left, right);
    let y = scale((0.0, 1.0), bottom, top);
    let mut path = format!("M{:.1},{:.1}", x(domain.0), y(1.0));
    let mut share = 1.0;
    for &(price, at_or_above) in points {
        path.push_str(&format!(" H{:.1} V{:.1}", x(price), y(share)));
        share = at_or_above;
        path.push_str(&format!(" V{:.1}", y(share)));
    }
    path.push_str(&format!(" H{:.1}", x(domain.1)));
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            @for tick in ticks((0.0, 1.0), 4) {
                line.grid x1=(left) x2=(right) y1=(y(tick)) y2=(y(tick)) {}
                text.tick x=(left - 6.0) y=(y(tick) + 4.0) text-anchor="end" { (tick_label(tick, true)) }
            }
            path.curve d=(path) {}
            @for (i, (price, name)) in marks.iter().enumerate() {
                line.mark x1=(x(*price)) x2=(x(*price)) y1=(top) y2=(bottom) data-price=(price) {}
                text.tick x=(x(*price) + 4.0) y=(top + 12.0 + 14.0 * i as f64) { (name) " " (money(*price)) }
            }
            text.tick x=(left) y=(height - 6.0) { (money(domain.0)) }
            text.tick x=(right) y=(height - 6.0) text-anchor="end" { (money(domain.1)) }
        }
    }
}

/// A grid of rates in [0, 1], darker for higher; `None` cells are left empty.
pub fn heat_map(
    id: &str,
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<Option<f64>>],
) -> Markup {
    let cell_width = ((WIDTH - LABEL_WIDTH) / columns.len().max(1) as f64).min(140.0);
    let height = TOP + 24.0 + ROW * rows.len() as f64;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            @for (c, column) in columns.iter().enumerate() {
                text.tick x=(LABEL_WIDTH + cell_width * (c as f64 + 0.5)) y=(TOP + 12.0) text-anchor="middle" { (column) }
            }
            @for (r, row) in rows.iter().enumerate() {
                @let y = TOP + 24.0 + ROW * r as f64;
                text.label x=(LABEL_WIDTH - 8.0) y=(y + 18.0) text-anchor="end" { (truncate(row, 30)) }
                @for (c, cell) in cells[r].iter().enumerate() {
                    @if let Some(rate) = cell {
                        rect.heat x=(LABEL_WIDTH + cell_width * c as f64) y=(y) width=(cell_width - 2.0) height=(ROW - 2.0)
                            fill-opacity=(format!("{:.2}", 0.15 + 0.85 * rate.clamp(0.0, 1.0))) data-rate=(rate) {
                            title { (row) " × " (columns[c]) ": " (format!("{:.1}%", rate * 100.0)) }
                        }
                        text.cell x=(LABEL_WIDTH + cell_width * (c as f64 + 0.5)) y=(y + 18.0) text-anchor="middle" { (format!("{:.0}%", rate * 100.0)) }
                    }
                }
            }
        }
    }
}

/// Lines of (x, y) points, y a probability in [0, 1].
pub fn lines(id: &str, title: &str, x_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> Markup {
    let height = 240.0;
    let (left, right, top, bottom) = (50.0, WIDTH - 160.0, 14.0, height - AXIS);
    let max_x = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max);
    let x = scale((0.0, max_x), left, right);
    let y = scale((0.0, 1.0), bottom, top);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            @for tick in ticks((0.0, 1.0), 4) {
                line.grid x1=(left) x2=(right) y1=(y(tick)) y2=(y(tick)) {}
                text.tick x=(left - 6.0) y=(y(tick) + 4.0) text-anchor="end" { (tick_label(tick, true)) }
            }
            text.tick x=((left + right) / 2.0) y=(height - 6.0) text-anchor="middle" { (x_label) }
            @for (i, (name, points)) in series.iter().enumerate() {
                @let d = points.iter().enumerate().map(|(j, p)| format!("{}{:.1},{:.1}", if j == 0 { "M" } else { " L" }, x(p.0), y(p.1))).collect::<String>();
                path class={ "series series-" (i % 4) } d=(d) {}
                @for point in points {
                    circle class={ "series-" (i % 4) } cx=(x(point.0)) cy=(y(point.1)) r="3" data-value=(point.1) {}
                }
                rect class={ "series-" (i % 4) } x=(right + 16.0) y=(top + 18.0 * i as f64) width="12" height="12" {}
                text.tick x=(right + 32.0) y=(top + 10.0 + 18.0 * i as f64) { (truncate(name, 18)) }
            }
        }
    }
}

/// Each share, normalised to sum to one, with where its bar segment starts.
fn segments(shares: &[f64; 5]) -> [(f64, f64); 5] {
    let total = shares.iter().sum::<f64>().max(f64::EPSILON);
    let mut start = 0.0;
    shares.map(|share| {
        let share = share / total;
        let segment = (start, share);
        start += share;
        segment
    })
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// One part of a score: its name and what it adds.
pub struct Part<'a> {
    pub name: &'a str,
    pub contribution: f64,
    pub detail: &'a str,
}

/// A score as one bar split into what each part contributes, on a 0–1 axis.
pub fn breakdown(id: &str, title: &str, parts: &[Part<'_>]) -> Markup {
    const PER_ROW: usize = 4;
    let rows = parts.len().div_ceil(PER_ROW).max(1);
    let (left, right) = (0.0, WIDTH - 20.0);
    let height = 30.0 + 18.0 * rows as f64;
    let x = scale((0.0, 1.0), left, right);
    let mut start = 0.0;
    let segments: Vec<(f64, &Part<'_>)> = parts
        .iter()
        .map(|part| {
            let at = start;
            start += part.contribution.max(0.0);
            (at, part)
        })
        .collect();
    html! {
        svg.chart.breakdown viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-labelledby={ (id) "-title" } {
            title id={ (id) "-title" } { (title) }
            rect.track x=(left) y="4" width=(right - left) height="18" {}
            @for (i, (at, part)) in segments.iter().enumerate() {
                rect class={ "series-" (i % 6) } x=(x(*at)) y="4" width=((x(at + part.contribution.max(0.0)) - x(*at)).max(0.0)) height="18"
                    data-part=(part.name) data-contribution=(part.contribution) {
                    title { (part.name) ": +" (format!("{:.2}", part.contribution)) " — " (part.detail) }
                }
            }
            @for (i, part) in parts.iter().enumerate() {
                @let lx = left + (i % PER_ROW) as f64 * 155.0;
                @let ly = 30.0 + 18.0 * (i / PER_ROW) as f64;
                rect class={ "series-" (i % 6) } x=(lx) y=(ly) width="12" height="12" {}
                text.tick x=(lx + 16.0) y=(ly + 10.0) { (truncate(&part.name.replace('_', " "), 16)) " +" (format!("{:.2}", part.contribution)) }
            }
        }
    }
}
