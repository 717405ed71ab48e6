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
/// The end of an interval that runs off the bottom of the axis: an arrowhead pointing down,
/// its tip on the axis edge.
const OPEN_END: [(i32, i32); 3] = [(-3, -5), (0, 0), (3, -5)];
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
    /// Smallest value drawn on a log axis, a power of ten at or below every positive value and
    /// interval end; zero and below have no place on it.
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
            let lo = libm::log10(min_pos).floor();
            let hi = libm::log10(max).ceil().max(lo + 1.0);
            return Scale {
                log: true,
                floor: libm::pow(10.0, lo),
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

    /// The axis widened down to `lows` (the lower ends of intervals), which do not decide
    /// whether it is logarithmic: an interval is drawn to its end, not cut at the axis. On a
    /// log axis only positive ends can be reached; the others are drawn open (see [`Whisker`]).
    fn reach_down(self, lows: impl Iterator<Item = f64>) -> Scale {
        let lows: Vec<f64> = lows.filter(|v| v.is_finite()).collect();
        if self.log {
            let min_pos = lows
                .iter()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            if min_pos < self.floor {
                let lo = libm::log10(min_pos).floor();
                return Scale {
                    floor: libm::pow(10.0, lo),
                    lo: lo - 0.05,
                    ..self
                };
            }
            return self;
        }
        let min = lows.iter().copied().fold(f64::INFINITY, f64::min);
        if min < self.lo {
            return Scale {
                lo: min - (self.hi - min) * 0.04,
                ..self
            };
        }
        self
    }

    fn map(&self, v: f64) -> f64 {
        if self.log {
            libm::log10(v.max(self.floor))
        } else {
            v
        }
    }

    fn label(&self, t: f64) -> String {
        if self.log {
            if (t - t.round()).abs() > 1e-6 {
                return String::new();
            }
            return short(libm::pow(10.0, t.round()));
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
        (-libm::log10(a)).ceil() as usize + 2
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

/// The y axis of a panel: logarithmic or not from its points and the upper ends of their
/// intervals, then reaching down to the lower ends.
fn y_scale(p: &Panel) -> Scale {
    let points = || p.series.iter().flat_map(|s| s.points.iter());
    Scale::fit(
        points()
            .flat_map(|q| [Some(q.y), q.ci.map(|c| c.1)])
            .flatten(),
        true,
        true,
    )
    .reach_down(points().filter_map(|q| q.ci.map(|c| c.0)))
}

/// A point as drawn on an axis: on a log axis a rate of none seen is marked at its interval's
/// upper end, without the interval, since that axis has no zero.
fn as_drawn(q: &Point, ys: Scale) -> Point {
    match (q.bound && ys.log, q.ci) {
        (true, Some((_, hi))) => Point {
            y: hi,
            ci: None,
            ..q.clone()
        },
        _ => q.clone(),
    }
}

/// Whether a point as drawn has a place on the axis. A log axis has no place for zero: such a
/// point is left out (the tables give it).
fn shown(q: &Point, ys: Scale) -> bool {
    q.y.is_finite() && (!ys.log || q.y > 0.0)
}

/// An interval bar in axis coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Whisker {
    lo: f64,
    hi: f64,
    /// The lower end is a bound and gets a cap. Without one, the interval reaches zero or below,
    /// which a log axis cannot show: the bar runs to the axis edge and ends in an arrow, so as
    /// not to claim a lower bound there.
    lo_cap: bool,
}

fn whisker(ys: Scale, (lo, hi): (f64, f64)) -> Whisker {
    if ys.log && lo < ys.floor {
        Whisker {
            lo: ys.lo,
            hi: ys.map(hi),
            lo_cap: false,
        }
    } else {
        Whisker {
            lo: ys.map(lo),
            hi: ys.map(hi),
            lo_cap: true,
        }
    }
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
        let drawn: Vec<Point> = s.points.iter().map(|q| as_drawn(q, ys)).collect();
        let marker_only = |q: &Point| q.bound && ys.log;
        // A point with no place on the axis breaks the line rather than letting it run to the
        // axis floor as if measured.
        let shown = |q: &Point| shown(q, ys);
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
        let whiskers: Vec<(f64, Whisker)> = pts
            .iter()
            .filter_map(|(x, q)| Some((*x, whisker(ys, q.ci?))))
            .collect();
        chart
            .draw_series(
                whiskers
                    .iter()
                    .map(|(x, w)| PathElement::new(vec![(*x, w.lo), (*x, w.hi)], bar)),
            )
            .map_err(err)?;
        let cap = |x: f64, y: f64| {
            EmptyElement::at((x, y)) + PathElement::new(vec![(-4, 0), (4, 0)], bar)
        };
        chart
            .draw_series(
                whiskers
                    .iter()
                    .filter(|(_, w)| w.lo_cap)
                    .map(|(x, w)| cap(*x, w.lo)),
            )
            .map_err(err)?;
        chart
            .draw_series(whiskers.iter().map(|(x, w)| cap(*x, w.hi)))
            .map_err(err)?;
        chart
            .draw_series(whiskers.iter().filter(|(_, w)| !w.lo_cap).map(|(x, w)| {
                EmptyElement::at((*x, w.lo)) + PathElement::new(OPEN_END.to_vec(), bar)
            }))
            .map_err(err)?;
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

/// The interval bars a panel draws around measured points (those of none seen have their
/// own entry in the legend).
fn measured_whiskers(p: &Panel) -> Vec<Whisker> {
    let ys = y_scale(p);
    p.series
        .iter()
        .flat_map(|s| &s.points)
        .filter(|q| !q.bound)
        .filter(|q| shown(q, ys))
        .filter_map(|q| Some(whisker(ys, q.ci?)))
        .collect()
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
    // The legend explains what is drawn, not what the data hold: a figure may leave out the
    // intervals of its measured points.
    let whiskers: Vec<Whisker> = f.panels.iter().flat_map(measured_whiskers).collect();
    let any_ci = !whiskers.is_empty();
    let any_open = whiskers.iter().any(|w| !w.lo_cap);
    let bound_on = |log: bool| {
        f.panels.iter().any(|p| {
            let ys = y_scale(p);
            ys.log == log
                && p.series
                    .iter()
                    .flat_map(|s| &s.points)
                    .any(|q| q.bound && shown(&as_drawn(q, ys), ys))
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
    if any_open {
        area.draw(&PathElement::new(vec![(23, y - 8), (23, y + 8)], grey))
            .map_err(err)?;
        area.draw(&PathElement::new(vec![(19, y - 8), (27, y - 8)], grey))
            .map_err(err)?;
        area.draw(&PathElement::new(
            OPEN_END.map(|(dx, dy)| (23 + dx, y + 8 + dy)).to_vec(),
            grey,
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            "95% interval down to",
            (46, y - 14),
            note.clone(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            "0 or less, off the axis",
            (46, y + 1),
            note.clone(),
        ))
        .map_err(err)?;
        y += 36;
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

    /// The polylines of an SVG drawn in `color`, as their points in pixels.
    fn polylines(svg: &str, color: RGBColor) -> Vec<Vec<(i32, i32)>> {
        let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        svg.split("<polyline ")
            .skip(1)
            .filter(|l| l.split("/>").next().is_some_and(|l| l.contains(&stroke)))
            .filter_map(|l| {
                let pts = l.split("points=\"").nth(1)?.split('"').next()?;
                pts.split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect()
            })
            .collect()
    }

    /// The end caps of interval bars: short level strokes, 8 pixels wide.
    fn caps(svg: &str, color: RGBColor) -> Vec<(i32, i32)> {
        polylines(svg, color)
            .into_iter()
            .filter(|l| l.len() == 2 && l[0].1 == l[1].1 && l[1].0 - l[0].0 == 8)
            .map(|l| (l[0].0 + 4, l[0].1))
            .collect()
    }

    fn point(x: f64, y: f64, ci: Option<(f64, f64)>) -> Point {
        Point {
            x,
            y,
            ci,
            bound: false,
            tag: None,
        }
    }

    /// Regression: a logarithmic y axis was fitted to the points and the upper ends of their
    /// intervals only, and lower ends under its floor were drawn at the floor: an interval of
    /// 0.00077 to 0.011 around 0.00375 got its lower cap at 0.001, and one reaching 0 a cap at
    /// the floor, both bounds the data do not give.
    #[test]
    fn lower_ends_on_a_log_axis_are_drawn_where_they_are_or_left_open() {
        let cats = || XAxis::Categories(vec!["a".into(), "b".into()]);
        let fig = one_series(
            cats(),
            vec![
                point(0.0, 10.0, Some((9.0, 11.0))),
                point(1.0, 0.00375, Some((0.00077, 0.011))),
            ],
        );
        let ys = y_scale(&fig.panels[0]);
        assert!(ys.log);
        assert_eq!(ys.map(0.00077), libm::log10(0.00077), "{ys:?}");
        let (svg, _) = render(&fig).expect("renders");
        assert!(
            svg.contains(">\n0.0001\n</text>"),
            "the axis reaches the decade below"
        );
        assert_eq!(caps(&svg, palette(0)).len(), 4);
        assert!(!svg.contains("off the axis"));

        // An interval reaching 0: no cap at its lower end, but an arrow at the axis edge.
        let fig = one_series(
            cats(),
            vec![point(0.0, 1000.0, None), point(1.0, 1.0, Some((0.0, 5.0)))],
        );
        let (svg, _) = render(&fig).expect("renders");
        let caps = caps(&svg, palette(0));
        assert_eq!(caps.len(), 1, "{caps:?}");
        let lines = polylines(&svg, palette(0));
        let bar = lines
            .iter()
            .find(|l| l.len() == 2 && l[0].0 == l[1].0)
            .expect("the bar");
        let bottom = bar[0].1.max(bar[1].1);
        assert!(bottom > caps[0].1 && bar[0].1.min(bar[1].1) == caps[0].1);
        let arrow = lines.iter().find(|l| l.len() == 3).expect("an arrowhead");
        assert_eq!(arrow[1], (bar[0].0, bottom), "its tip ends the bar");
        assert!(svg.contains(">\n0 or less, off the axis\n</text>"), "{svg}");
    }

    /// Regression: the legend's "95% interval" came from the data, not the drawing: on the
    /// trade-off chart, whose measured points are drawn without intervals and whose points of
    /// none seen are triangles on a log axis, it promised bars that were nowhere, and on a
    /// linear axis it suggested the measured points had them.
    #[test]
    fn the_legend_shows_an_interval_only_where_one_is_drawn() {
        let legend = ">\n95% interval\n</text>";
        let none_seen = Point {
            bound: true,
            ..point(2.0, 0.0, Some((0.0, 40.0)))
        };
        // Log axis: the none-seen point is a triangle, and nothing has a bar.
        let fig = one_series(
            XAxis::Numeric,
            vec![point(1.0, 50_000.0, None), none_seen.clone()],
        );
        let (svg, _) = render(&fig).expect("renders");
        assert!(!svg.contains(legend), "{svg}");
        assert!(svg.contains(">\nnone seen: upper end\n</text>"));
        // Linear axis: the none-seen point keeps its bar, which its own entry explains.
        let fig = one_series(
            XAxis::Numeric,
            vec![point(1.0, 50.0, None), none_seen.clone()],
        );
        let (svg, _) = render(&fig).expect("renders");
        assert!(!svg.contains(legend), "{svg}");
        assert!(svg.contains(">\nits 95% interval\n</text>"));
        // A measured point with its interval: the legend says so.
        let fig = one_series(
            XAxis::Numeric,
            vec![point(1.0, 50_000.0, Some((40_000.0, 60_000.0))), none_seen],
        );
        let (svg, _) = render(&fig).expect("renders");
        assert!(svg.contains(legend), "{svg}");
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
