//! RTT over time for several runs in one hand-written SVG: one line per
//! run, lost probes as ticks under the axis, the move as a vertical line.

use std::fmt::Write as _;

use crate::measure::Probe;

/// One series: a label, a colour, probes, and when the VM moved (ms on the
/// probes' clock).
pub struct Series<'a> {
    pub label: String,
    pub colour: &'static str,
    pub probes: &'a [Probe],
    pub move_ms: f64,
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 70.0;

/// The SVG document. Time is shown relative to each series' move, so the
/// moves line up at 0.
pub fn rtt_svg(title: &str, series: &[Series<'_>]) -> String {
    let rel = |s: &Series<'_>, p: &Probe| (p.sent_ms - s.move_ms) / 1000.0;
    let (mut t_min, mut t_max, mut y_max) = (0.0f64, 0.0f64, 1.0f64);
    for s in series {
        for p in s.probes {
            let t = rel(s, p);
            t_min = t_min.min(t);
            t_max = t_max.max(t);
            if let Some(r) = p.rtt_ms {
                y_max = y_max.max(r);
            }
        }
    }
    let y_max = nice_ceiling(y_max * 1.1);
    if t_max <= t_min {
        t_max = t_min + 1.0;
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + (t - t_min) / (t_max - t_min) * plot_w;
    let y = |r: f64| TOP + plot_h - r / y_max * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Axes and grid.
    for i in 0..=5 {
        let r = y_max * f64::from(i) / 5.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{r:.0}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(r) + 4.0,
            y = y(r)
        );
    }
    let step = nice_step((t_max - t_min) / 8.0);
    let mut t = (t_min / step).ceil() * step;
    while t <= t_max {
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{t:.1}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            x = x(t)
        );
        t += step;
    }
    let _ = writeln!(
        out,
        r#"<line x1="{x0:.1}" x2="{x0:.1}" y1="{TOP}" y2="{}" stroke="black" stroke-dasharray="4 3"/><text x="{:.1}" y="{}">move</text>"#,
        TOP + plot_h,
        x(0.0) + 4.0,
        TOP + 12.0,
        x0 = x(0.0)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">time from the move (s)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 30.0
    );
    let _ = writeln!(
        out,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">RTT client to VM (ms)</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    for (i, s) in series.iter().enumerate() {
        let mut points = String::new();
        let mut lost = 0usize;
        for p in s.probes {
            match p.rtt_ms {
                Some(r) => {
                    let _ = write!(points, "{:.1},{:.1} ", x(rel(s, p)), y(r));
                }
                None => {
                    lost += 1;
                    let tick_y = TOP + plot_h + 24.0 + 8.0 * i as f64;
                    let _ = writeln!(
                        out,
                        r#"<line x1="{x:.1}" x2="{x:.1}" y1="{tick_y:.1}" y2="{:.1}" stroke="{}"/>"#,
                        tick_y + 6.0,
                        s.colour,
                        x = x(rel(s, p))
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.2" points="{}"/>"#,
            s.colour,
            points.trim_end()
        );
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{} ({lost} lost; ticks below the axis)</text>"#,
            LEFT + 10.0,
            TOP + 8.0 + 18.0 * i as f64,
            s.colour,
            LEFT + 28.0,
            TOP + 18.0 + 18.0 * i as f64,
            escape(&s.label)
        );
    }
    let _ = writeln!(out, "</svg>");
    out
}

fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-3);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn nice_ceiling(v: f64) -> f64 {
    let step = nice_step(v / 5.0);
    (v / step).ceil() * step
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_lines_and_lost_ticks() {
        let probes = [
            Probe {
                seq: 0,
                sent_ms: 0.0,
                rtt_ms: Some(40.0),
            },
            Probe {
                seq: 1,
                sent_ms: 1.0,
                rtt_ms: None,
            },
            Probe {
                seq: 2,
                sent_ms: 2.0,
                rtt_ms: Some(2.0),
            },
        ];
        let svg = rtt_svg(
            "t <1>",
            &[Series {
                label: "hostroute".into(),
                colour: "blue",
                probes: &probes,
                move_ms: 1.0,
            }],
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("1 lost") && svg.contains("t &lt;1&gt;"));
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
    }
}
