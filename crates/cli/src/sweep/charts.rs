//! Charts as SVG and PNG, drawn by plotters from one description.
//!
//! Text in PNGs is drawn with DejaVu Sans compiled into the binary, so a machine without
//! system fonts (a CI container) draws the same readable chart. Both outputs are built in
//! memory and are the same bytes for the same data.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// A point of a series. `x` is a category index, or a value on a numeric axis.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// The 95% confidence interval, drawn as a bar.
    pub ci: Option<(f64, f64)>,
    /// Nothing was seen: `y` is 0 and `ci` reaches the interval's upper end. Drawn hollow at 0
    /// with its interval; on a logarithmic axis, which has no zero, as a hollow downward
    /// triangle at the upper end.
    pub bound: bool,
    /// A short label written beside the point.
    pub tag: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug)]
pub enum XAxis {
    /// Equally spaced categories, labelled.
    Categories(Vec<String>),
    /// A numeric axis, logarithmic when the values span two decades or more.
    Numeric,
}

#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

#[derive(Clone, Debug)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub x: XAxis,
    pub panels: Vec<Panel>,
    /// Join a series' points with a line.
    pub lines: bool,
    pub width: u32,
    pub height: u32,
}

/// Colours of the built-in policies, the same in every chart.
pub fn policy_color(name: &str) -> RGBColor {
    match name {
        "none" => RGBColor(120, 120, 120),
        "naive" => RGBColor(214, 39, 40),
        "idempotent" => RGBColor(31, 119, 180),
        "reversal" => RGBColor(44, 160, 44),
        "inquiry" => RGBColor(148, 103, 189),
        _ => RGBColor(0, 0, 0),
    }
}

/// A palette for series that are not one policy each (Tableau 10).
pub fn palette(i: usize) -> RGBColor {
    const P: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

const FONT: &str = "sans-serif";
const LEGEND_WIDTH: u32 = 250;

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu is valid TrueType; a failure here would show as missing text, not a crash.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The figure as SVG text and PNG bytes.
pub fn render(f: &Figure) -> Result<(String, Vec<u8>), String> {
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (f.width, f.height)).into_drawing_area();
        draw(&root, f)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut rgb = vec![0u8; f.width as usize * f.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (f.width, f.height)).into_drawing_area();
        draw(&root, f)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, f.width, f.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(&rgb).map_err(|e| e.to_string())?;
    }
    Ok((svg, png_bytes))
}

/// How values map onto an axis: as they are, or as their base-10 logarithm.
#[derive(Clone, Copy, Debug)]
struct Scale {
    log: bool,
    /// Smallest value drawn on a log axis; below it (zero, a low CI end) is clamped.
    floor: f64,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn fit(values: impl Iterator<Item = f64>, allow_log: bool, from_zero: bool) -> Scale {
        let vals: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let min_pos = vals
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        if vals.is_empty() {
            return Scale {
                log: false,
                floor: 0.0,
                lo: 0.0,
                hi: 1.0,
            };
        }
        if allow_log && min_pos.is_finite() && max / min_pos >= 100.0 {
            let lo = min_pos.log10().floor();
            let hi = max.log10().ceil().max(lo + 1.0);
            return Scale {
                log: true,
                floor: 10f64.powf(lo),
                lo: lo - 0.05,
                hi: hi + 0.05,
            };
        }
        let lo = if from_zero { min.min(0.0) } else { min };
        let (lo, hi) = if max > lo {
            let pad = (max - lo) * 0.08;
            (
                if from_zero && lo >= 0.0 { lo } else { lo - pad },
                max + pad,
            )
        } else if max > 0.0 {
            (0.0, max * 1.5)
        } else {
            (lo - 1.0, lo + 1.0)
        };
        Scale {
            log: false,
            floor: 0.0,
            lo,
            hi,
        }
    }

    fn map(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.floor).log10()
        } else {
            v
        }
    }

    fn label(&self, t: f64) -> String {
        if self.log {
            if (t - t.round()).abs() > 1e-6 {
                return String::new();
            }
            return short(10f64.powf(t.round()));
        }
        short(t)
    }
}

/// A number for an axis label: few digits, no trailing zeros.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.0e}");
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 1.0 {
        2
    } else {
        (-a.log10()).ceil() as usize + 2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, f: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(&f.title, (FONT, 22).into_font().style(FontStyle::Bold))
        .map_err(err)?;
    let (plots, legend) = root.split_horizontally(f.width.saturating_sub(LEGEND_WIDTH));
    // Panels one above the other: each keeps the full width for its category labels.
    let panels = plots.split_evenly((f.panels.len().max(1), 1));
    let all_x: Vec<f64> = f
        .panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.x)))
        .collect();
    let xs = match &f.x {
        XAxis::Categories(c) => Scale {
            log: false,
            floor: 0.0,
            lo: -0.5,
            hi: c.len() as f64 - 0.5,
        },
        XAxis::Numeric => Scale::fit(all_x.iter().copied(), true, false),
    };
    for (area, p) in panels.iter().zip(&f.panels) {
        draw_panel(area, f, p, xs)?;
    }
    draw_legend(&legend, f)
}

/// The y axis of a panel, from its points and the upper ends of their intervals.
fn y_scale(p: &Panel) -> Scale {
    Scale::fit(
        p.series.iter().flat_map(|s| {
            s.points
                .iter()
                .flat_map(|q| [Some(q.y), q.ci.map(|c| c.1)])
                .flatten()
        }),
        true,
        true,
    )
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    f: &Figure,
    p: &Panel,
    xs: Scale,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let ys = y_scale(p);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64);
    if !p.title.is_empty() {
        builder.caption(&p.title, (FONT, 16));
    }
    let mut chart = builder
        .build_cartesian_2d(xs.lo..xs.hi, ys.lo..ys.hi)
        .map_err(err)?;
    let x_fmt = |v: &f64| -> String {
        match &f.x {
            XAxis::Categories(c) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                    c[i as usize].clone()
                } else {
                    String::new()
                }
            }
            XAxis::Numeric => xs.label(*v),
        }
    };
    let y_fmt = |v: &f64| ys.label(*v);
    let x_labels = match &f.x {
        XAxis::Categories(c) => (c.len() * 2).max(10),
        XAxis::Numeric => 8,
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(f.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_labels(x_labels)
        // On a log axis, one label a decade: a tick at every power of ten, and none between.
        .y_labels(if ys.log {
            ((ys.hi - ys.lo).round() as usize + 1).max(2)
        } else {
            8
        })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245));
    if matches!(f.x, XAxis::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(err)?;

    let n = p.series.len().max(1) as f64;
    let step = (0.5 / n).min(0.08);
    for (si, s) in p.series.iter().enumerate() {
        // Series side by side at a category, so that their bars do not hide each other.
        let dodge = match f.x {
            XAxis::Categories(_) => (si as f64 - (n - 1.0) / 2.0) * step,
            XAxis::Numeric => 0.0,
        };
        // On a log axis a rate of none seen is marked at its interval's upper end, not joined
        // to the measured points.
        let drawn: Vec<Point> = s
            .points
            .iter()
            .map(|q| match (q.bound && ys.log, q.ci) {
                (true, Some((_, hi))) => Point {
                    y: hi,
                    ci: None,
                    ..q.clone()
                },
                _ => q.clone(),
            })
            .collect();
        let marker_only = |q: &Point| q.bound && ys.log;
        // A log axis has no place for zero: such a point is left out (the tables give it),
        // and the line breaks there rather than running to the axis floor as if measured.
        let shown = |q: &Point| q.y.is_finite() && (!ys.log || q.y > 0.0);
        let runs_of: Vec<Vec<(f64, &Point)>> = drawn
            .split(|q| !shown(q))
            .map(|run| run.iter().map(|q| (xs.map(q.x) + dodge, q)).collect())
            .collect();
        let pts: Vec<(f64, &Point)> = runs_of.iter().flatten().copied().collect();
        let line_style = ShapeStyle {
            color: s.color.mix(if f.lines { 0.9 } else { 0.35 }),
            filled: false,
            stroke_width: if matches!(f.x, XAxis::Numeric) { 1 } else { 2 },
        };
        // A line through measured points only (a none-seen 0 is one): an upper end is not a
        // value to join up, except on a scatter, where the faint path only shows the order of
        // the points.
        let runs: Vec<&[(f64, &Point)]> = if f.lines {
            runs_of
                .iter()
                .flat_map(|run| run.split(|(_, q)| marker_only(q)))
                .collect()
        } else {
            vec![&pts[..]]
        };
        for run in runs.into_iter().filter(|r| r.len() > 1) {
            chart
                .draw_series(LineSeries::new(
                    run.iter().map(|(x, q)| (*x, ys.map(q.y))),
                    line_style,
                ))
                .map_err(err)?;
        }
        let bar = ShapeStyle {
            color: s.color.to_rgba(),
            filled: false,
            stroke_width: 1,
        };
        chart
            .draw_series(pts.iter().filter_map(|(x, q)| {
                let (lo, hi) = q.ci?;
                Some(PathElement::new(
                    vec![(*x, ys.map(lo)), (*x, ys.map(hi))],
                    bar,
                ))
            }))
            .map_err(err)?;
        for end in [0, 1] {
            chart
                .draw_series(pts.iter().filter_map(|(x, q)| {
                    let (lo, hi) = q.ci?;
                    let v = if end == 0 { lo } else { hi };
                    Some(
                        EmptyElement::at((*x, ys.map(v)))
                            + PathElement::new(vec![(-4, 0), (4, 0)], bar),
                    )
                }))
                .map_err(err)?;
        }
        chart
            .draw_series(
                pts.iter()
                    .filter(|(_, q)| !q.bound)
                    .map(|(x, q)| Circle::new((*x, ys.map(q.y)), 4, s.color.filled())),
            )
            .map_err(err)?;
        let hollow = ShapeStyle {
            color: s.color.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        chart
            .draw_series(pts.iter().filter(|(_, q)| marker_only(q)).map(|(x, q)| {
                EmptyElement::at((*x, ys.map(q.y)))
                    + PathElement::new(vec![(-6, -5), (6, -5), (0, 6), (-6, -5)], hollow)
            }))
            .map_err(err)?;
        chart
            .draw_series(
                pts.iter()
                    .filter(|(_, q)| q.bound && !marker_only(q))
                    .map(|(x, q)| Circle::new((*x, ys.map(q.y)), 5, hollow)),
            )
            .map_err(err)?;
        chart
            .draw_series(pts.iter().filter_map(|(x, q)| {
                let tag = q.tag.clone()?;
                Some(
                    EmptyElement::at((*x, ys.map(q.y)))
                        // Series stacked apart, so that tags at one place stay legible.
                        + Text::new(
                            tag,
                            (7, -16 - 12 * (si as i32 % 4)),
                            (FONT, 11).into_font().color(&s.color),
                        ),
                )
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    f: &Figure,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let series: Vec<&Series> = f
        .panels
        .first()
        .map_or(Vec::new(), |p| p.series.iter().collect());
    let font = (FONT, 14).into_font();
    let mut y = 50;
    for s in &series {
        let style = ShapeStyle {
            color: s.color.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        area.draw(&PathElement::new(vec![(8, y), (38, y)], style))
            .map_err(err)?;
        area.draw(&Circle::new((23, y), 4, s.color.filled()))
            .map_err(err)?;
        area.draw(&Text::new(s.label.clone(), (46, y - 8), font.clone()))
            .map_err(err)?;
        y += 24;
    }
    let any_ci = f.panels.iter().any(|p| {
        p.series
            .iter()
            .any(|s| s.points.iter().any(|q| q.ci.is_some()))
    });
    let bound_on = |log: bool| {
        f.panels.iter().any(|p| {
            y_scale(p).log == log && p.series.iter().any(|s| s.points.iter().any(|q| q.bound))
        })
    };
    let note = (FONT, 12).into_font().color(&RGBColor(80, 80, 80));
    let grey = ShapeStyle {
        color: RGBColor(80, 80, 80).to_rgba(),
        filled: false,
        stroke_width: 1,
    };
    y += 14;
    if any_ci {
        area.draw(&PathElement::new(vec![(23, y - 8), (23, y + 8)], grey))
            .map_err(err)?;
        area.draw(&PathElement::new(vec![(19, y - 8), (27, y - 8)], grey))
            .map_err(err)?;
        area.draw(&PathElement::new(vec![(19, y + 8), (27, y + 8)], grey))
            .map_err(err)?;
        area.draw(&Text::new("95% interval", (46, y - 7), note.clone()))
            .map_err(err)?;
        y += 26;
    }
    let hollow = ShapeStyle {
        color: RGBColor(80, 80, 80).to_rgba(),
        filled: false,
        stroke_width: 2,
    };
    if bound_on(false) {
        area.draw(&Circle::new((23, y), 5, hollow)).map_err(err)?;
        area.draw(&Text::new("none seen: 0, with", (46, y - 14), note.clone()))
            .map_err(err)?;
        area.draw(&Text::new("its 95% interval", (46, y + 1), note.clone()))
            .map_err(err)?;
        y += 36;
    }
    if bound_on(true) {
        area.draw(&PathElement::new(
            vec![(17, y - 5), (29, y - 5), (23, y + 6), (17, y - 5)],
            hollow,
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            "none seen: upper end",
            (46, y - 14),
            note.clone(),
        ))
        .map_err(err)?;
        area.draw(&Text::new("of its 95% interval", (46, y + 1), note))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small figure of one panel and one series, titled "t", with lines.
    fn one_series(x: XAxis, points: Vec<Point>) -> Figure {
        Figure {
            title: "t".into(),
            x_label: "x".into(),
            x,
            panels: vec![Panel {
                title: String::new(),
                y_label: "y".into(),
                series: vec![Series {
                    label: "s".into(),
                    color: palette(0),
                    points,
                }],
            }],
            lines: true,
            width: 400,
            height: 300,
        }
    }

    #[test]
    fn short_numbers_for_axes() {
        for (v, s) in [
            (0.0, "0"),
            (1000.0, "1000"),
            (2.5, "2.5"),
            (0.001, "0.001"),
            (0.0125, "0.0125"),
            (3e6, "3e6"),
        ] {
            assert_eq!(short(v), s);
        }
    }

    #[test]
    fn log_scale_only_across_decades() {
        let s = Scale::fit([0.5, 3.0, 900.0].into_iter(), true, true);
        assert!(s.log);
        assert_eq!(s.label(2.0), "100");
        assert_eq!(s.label(2.5), "");
        assert!(!Scale::fit([1.0, 50.0].into_iter(), true, true).log);
        assert!(!Scale::fit([0.0, 0.0].into_iter(), true, true).log);
    }

    /// Regression: on a log axis a mean of exactly zero was drawn as a measured point at the
    /// axis floor, joined by lines to its neighbours.
    #[test]
    fn a_zero_on_a_log_axis_is_left_out_and_breaks_the_line() {
        let point = |x: f64, y: f64| Point {
            x,
            y,
            ci: None,
            bound: false,
            tag: None,
        };
        let fig = |ys: [f64; 5]| {
            one_series(
                XAxis::Numeric,
                (0..5).map(|i| point(1.0 + i as f64, ys[i])).collect(),
            )
        };
        let count = |svg: &str, what: &str| svg.matches(what).count();
        // Five decades, so a log axis.
        let (all, _) = render(&fig([0.01, 0.1, 1.0, 10.0, 1000.0])).expect("renders");
        let (gap, _) = render(&fig([0.01, 0.1, 0.0, 10.0, 1000.0])).expect("renders");
        assert_eq!(count(&all, "<circle") - count(&gap, "<circle"), 1, "{gap}");
        assert_eq!(
            count(&gap, "<polyline"),
            count(&all, "<polyline") + 1,
            "two lines, one each side of the zero, where there was one: {gap}"
        );
    }

    #[test]
    fn png_text_is_drawn_without_system_fonts() {
        let fig = one_series(
            XAxis::Categories(vec!["a".into(), "b".into()]),
            vec![Point {
                x: 0.0,
                y: 1.0,
                ci: Some((0.5, 1.5)),
                bound: false,
                tag: None,
            }],
        );
        let (svg, png) = render(&fig).expect("renders");
        assert!(svg.starts_with("<svg") && svg.contains(">\ns\n</text>"));
        assert_eq!(&png[1..4], b"PNG");
        // Same data, same bytes.
        assert_eq!(render(&fig).expect("renders").1, png);
        // Text reaches the pixels: another title, another image.
        let retitled = Figure {
            title: "u".into(),
            ..fig
        };
        assert_ne!(render(&retitled).expect("renders").1, png);
    }
}
