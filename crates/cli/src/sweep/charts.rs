//! Charts as SVG and PNG, drawn by plotters from one description.
//!
//! Text in PNGs is drawn with DejaVu Sans compiled into the binary, so a machine without
//! system fonts (a CI container) draws the same readable chart. Both outputs are built in
//! memory and are the same bytes for the same data.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A point of a series. `x` is a category index, or a value on a numeric axis.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// The 95% confidence interval, drawn as a bar.
    pub ci: Option<(f64, f64)>,
    /// Nothing was seen: `y` is 0 and `ci` reaches the interval's upper end. Drawn hollow at 0
    /// with its interval; on a logarithmic axis, which has no zero, hollow in a shaded band
    /// labelled 0 under the lowest decade, with a bar up to the upper end, so that its height
    /// is not read as a rate below (or above) the measured ones.
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
    /// Join a series' points with a line. Without, a numeric x axis (a scatter) gets a faint
    /// path that shows the order of the points, and categories (kinds, not amounts) none.
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

/// A marker's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// A line's dash pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dash {
    Solid,
    Long,
    Short,
}

/// How a series is told from the others of its colour, in the plot and in the legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Look {
    shape: Shape,
    dash: Dash,
}

const SHAPES: [Shape; 4] = [
    Shape::Circle,
    Shape::Square,
    Shape::Triangle,
    Shape::Diamond,
];
const DASHES: [Dash; 3] = [Dash::Solid, Dash::Long, Dash::Short];

/// The look of each series: the k-th series of a colour gets the k-th shape and dash, so that
/// series stay apart where the palette repeats (shape and dash repeat together only after 12
/// series of one colour). Series of distinct colours keep a plain circle and solid line.
fn looks(series: &[Series]) -> Vec<Look> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let k = series[..i].iter().filter(|o| o.color == s.color).count();
            Look {
                shape: SHAPES[k % SHAPES.len()],
                dash: DASHES[k % DASHES.len()],
            }
        })
        .collect()
}

/// Draws a marker centred on `at`: filled for a measured point, an outline of stroke width 2
/// on white for a point of none seen (the white hides its interval bar inside it).
fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    shape: Shape,
    color: RGBColor,
    filled: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    // An outline is drawn a pixel larger, so that its inside shows.
    let r = if filled { 4 } else { 5 };
    let fill = if filled { color } else { WHITE };
    if shape == Shape::Circle {
        area.draw(&(EmptyElement::at(at.clone()) + Circle::new((0, 0), r, fill.filled())))?;
        if !filled {
            area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), r, color.stroke_width(2))))?;
        }
        return Ok(());
    }
    let outline: Vec<(i32, i32)> = match shape {
        Shape::Circle | Shape::Square => vec![(-r, -r), (r, -r), (r, r), (-r, r)],
        Shape::Triangle => vec![(0, -r - 1), (r + 1, r), (-r - 1, r)],
        Shape::Diamond => vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)],
    };
    area.draw(&(EmptyElement::at(at.clone()) + Polygon::new(outline.clone(), fill.filled())))?;
    if !filled {
        let mut closed = outline.clone();
        closed.push(outline[0]);
        area.draw(&(EmptyElement::at(at) + PathElement::new(closed, color.stroke_width(2))))?;
    }
    Ok(())
}

/// Draws a line through `points` in `dash`.
fn draw_line<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    points: Vec<CT::From>,
    dash: Dash,
    style: ShapeStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    match dash {
        Dash::Solid => area.draw(&PathElement::new(points, style)),
        Dash::Long => area.draw(&DashedPathElement::new(points, 9, 4, style)),
        Dash::Short => area.draw(&DashedPathElement::new(points, 3, 3, style)),
    }
}

const FONT: &str = "sans-serif";
/// The end of an interval that runs off the bottom of the axis: an arrowhead pointing down,
/// its tip at the bottom of the decades (the top of the band of none seen, if there is one).
const OPEN_END: [(i32, i32); 3] = [(-3, -5), (0, 0), (3, -5)];
const LEGEND_WIDTH: u32 = 250;
/// The shading of the band that holds the points of none seen under a log axis.
const BAND: RGBColor = RGBColor(238, 238, 238);
const GREY: RGBColor = RGBColor(80, 80, 80);

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
    /// On a log y axis with points of none seen, the strip under the lowest decade that holds
    /// them; `lo` is its bottom.
    band: Option<Band>,
}

/// A strip at the bottom of a log axis standing for zero, which the axis has no place for.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Band {
    /// Its top edge, the bottom of the axis's values.
    top: f64,
    /// Where its markers sit.
    mid: f64,
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
                band: None,
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
                band: None,
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
        } else if from_zero && lo == 0.0 {
            // Zero everywhere: a count or rate that cannot go below it keeps its axis at 0.
            (0.0, 1.0)
        } else {
            (lo - 1.0, lo + 1.0)
        };
        Scale {
            log: false,
            floor: 0.0,
            lo,
            hi,
            band: None,
        }
    }

    /// The axis with a band under its lowest decade for points of none seen, when it is
    /// logarithmic. The band is a share of the axis, less than a decade, so that no power of
    /// ten falls in it.
    fn with_band(self) -> Scale {
        if !self.log {
            return self;
        }
        let height = (0.12 * (self.hi - self.lo)).clamp(0.25, 0.6);
        Scale {
            lo: self.lo - height,
            band: Some(Band {
                top: self.lo,
                mid: self.lo - height / 2.0,
            }),
            ..self
        }
    }

    /// The bottom of the axis's values: the top of its band, if it has one.
    fn edge(&self) -> f64 {
        self.band.map_or(self.lo, |b| b.top)
    }

    /// The axis widened down to `lows` (the lower ends of intervals), which do not decide
    /// whether it is logarithmic: an interval is drawn to its end, not cut at the axis. On a
    /// log axis only positive ends can be reached; the others are drawn open (see [`Whisker`]).
    fn reach_down(self, lows: impl Iterator<Item = f64>) -> Scale {
        let lows: Vec<f64> = lows.filter(|v| v.is_finite()).collect();
        if self.log {
            // At most three decades further: the interval of a rate over two seeds that vary
            // widely may reach down to 1e-32, which would crush the points into a sliver. A
            // lower end beyond is drawn open, as one reaching 0 is.
            let min_pos = lows
                .iter()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min)
                .max(self.floor / 1000.0);
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
            band: None,
        },
        XAxis::Numeric => Scale::fit(all_x.iter().copied(), true, false),
    };
    for (area, p) in panels.iter().zip(&f.panels) {
        draw_panel(area, f, p, xs)?;
    }
    draw_legend(&legend, f)
}

/// The y axis of a panel: logarithmic or not from its points and the upper ends of their
/// intervals, then reaching down to the lower ends, with a band for points of none seen when
/// it is logarithmic.
fn y_scale(p: &Panel) -> Scale {
    let points = || p.series.iter().flat_map(|s| s.points.iter());
    let ys = Scale::fit(
        points()
            .flat_map(|q| [Some(q.y), q.ci.map(|c| c.1)])
            .flatten(),
        true,
        true,
    )
    .reach_down(points().filter_map(|q| q.ci.map(|c| c.0)));
    if points().any(|q| q.bound) {
        ys.with_band()
    } else {
        ys
    }
}

/// Where a point is drawn on the y axis, in axis coordinates, or `None` where it has no place:
/// a log axis has no place for a measured zero (the tables give it), which is left out.
fn y_at(q: &Point, ys: Scale) -> Option<f64> {
    match ys.band {
        Some(b) if q.bound => Some(b.mid),
        _ if q.y.is_finite() && (!ys.log || q.y > 0.0) => Some(ys.map(q.y)),
        _ => None,
    }
}

/// How a figure draws its points of none seen, for the words beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoneSeen {
    /// It has none.
    Absent,
    /// Hollow at 0 with their intervals, on a linear axis.
    AtZero,
    /// Hollow in the band labelled 0 under a log axis, with bars up to their upper ends.
    InBand,
}

/// How `f` draws its points of none seen; a figure with both kinds of axis gives the band.
pub fn none_seen(f: &Figure) -> NoneSeen {
    let mut out = NoneSeen::Absent;
    for p in &f.panels {
        let ys = y_scale(p);
        let any = p.series.iter().flat_map(|s| &s.points).any(|q| q.bound);
        if any && ys.band.is_some() {
            return NoneSeen::InBand;
        }
        if any {
            out = NoneSeen::AtZero;
        }
    }
    out
}

/// Whether a point sits in the band of none seen rather than at a value.
fn in_band(q: &Point, ys: Scale) -> bool {
    q.bound && ys.band.is_some()
}

/// How an interval bar ends at the bottom.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Low {
    /// At its lower bound, with a cap.
    Cap,
    /// The interval reaches zero or below, which a log axis cannot show, or below the decades
    /// it shows: the bar runs to the bottom of the axis's values and ends in an arrow, so as
    /// not to claim a lower bound there.
    Open,
    /// At its marker in the band of none seen, whose zero is the bound.
    Band,
}

/// An interval bar in axis coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Whisker {
    lo: f64,
    hi: f64,
    low: Low,
}

/// A point's interval bar as drawn, or `None` where it has none or one of no height (a value
/// equal on every seed), which would draw as a stray cap.
fn whisker(q: &Point, ys: Scale) -> Option<Whisker> {
    let (lo, hi) = q.ci?;
    let w = match ys.band {
        Some(b) if q.bound => Whisker {
            lo: b.mid,
            hi: ys.map(hi),
            low: Low::Band,
        },
        _ if ys.log && lo < ys.floor => Whisker {
            lo: ys.edge(),
            hi: ys.map(hi),
            low: Low::Open,
        },
        _ => Whisker {
            lo: ys.map(lo),
            hi: ys.map(hi),
            low: Low::Cap,
        },
    };
    (w.hi > w.lo).then_some(w)
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
        // On a log axis, one label a decade: a tick at every power of ten, and none between
        // (the band below the decades holds none).
        .y_labels(if ys.log {
            ((ys.hi - ys.edge()).round() as usize + 1).max(2)
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
    let plot = chart.plotting_area();
    if let Some(b) = ys.band {
        // Shaded and ruled off from the decades, so that its markers read as zero, not as the
        // smallest values.
        plot.draw(&Rectangle::new(
            [(xs.lo, ys.lo), (xs.hi, b.top)],
            BAND.filled(),
        ))
        .map_err(err)?;
        plot.draw(&PathElement::new(
            vec![(xs.lo, b.top), (xs.hi, b.top)],
            GREY.stroke_width(1),
        ))
        .map_err(err)?;
        let label =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        plot.draw(&(EmptyElement::at((xs.lo, b.mid)) + Text::new("0", (-10, 0), label)))
            .map_err(err)?;
    }

    let looks = looks(&p.series);
    let n = p.series.len().max(1) as f64;
    let step = (0.5 / n).min(0.08);
    for (si, (s, look)) in p.series.iter().zip(&looks).enumerate() {
        // Series side by side at a category, so that their bars do not hide each other.
        let dodge = match f.x {
            XAxis::Categories(_) => (si as f64 - (n - 1.0) / 2.0) * step,
            XAxis::Numeric => 0.0,
        };
        let placed: Vec<(f64, f64, &Point)> = s
            .points
            .iter()
            .filter_map(|q| Some((xs.map(q.x) + dodge, y_at(q, ys)?, q)))
            .collect();
        let line_style = ShapeStyle {
            color: s.color.mix(if f.lines { 0.9 } else { 0.35 }),
            filled: false,
            stroke_width: if matches!(f.x, XAxis::Numeric) { 1 } else { 2 },
        };
        // A line joins measured values only: a point with no place on the axis breaks it
        // rather than letting it run to the axis floor as if measured, and so does a point in
        // the band, which is no value. On a scatter the faint path only shows the order of
        // the points, and passes over both.
        let values: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|q| match y_at(q, ys) {
                Some(y) if !in_band(q, ys) => Some((xs.map(q.x) + dodge, y)),
                _ => None,
            })
            .collect::<Vec<_>>()
            .split(Option::is_none)
            .flat_map(|run| run.iter().flatten().copied().chain([(f64::NAN, 0.0)]))
            .collect();
        let runs: Vec<Vec<(f64, f64)>> = if f.lines {
            values
                .split(|(x, _)| x.is_nan())
                .map(<[_]>::to_vec)
                .collect()
        } else if matches!(f.x, XAxis::Categories(_)) {
            Vec::new()
        } else {
            vec![values
                .iter()
                .copied()
                .filter(|(x, _)| !x.is_nan())
                .collect()]
        };
        for run in runs.into_iter().filter(|r| r.len() > 1) {
            draw_line(plot, run, look.dash, line_style).map_err(err)?;
        }
        let bar = s.color.stroke_width(1);
        let whiskers: Vec<(f64, Whisker)> = placed
            .iter()
            .filter_map(|&(x, _, q)| Some((x, whisker(q, ys)?)))
            .collect();
        let cap = |x: f64, y: f64| {
            EmptyElement::at((x, y)) + PathElement::new(vec![(-4, 0), (4, 0)], bar)
        };
        for &(x, w) in &whiskers {
            plot.draw(&PathElement::new(vec![(x, w.lo), (x, w.hi)], bar))
                .map_err(err)?;
            plot.draw(&cap(x, w.hi)).map_err(err)?;
            match w.low {
                Low::Cap => plot.draw(&cap(x, w.lo)).map_err(err)?,
                Low::Open => plot
                    .draw(&(EmptyElement::at((x, w.lo)) + PathElement::new(OPEN_END.to_vec(), bar)))
                    .map_err(err)?,
                Low::Band => {}
            }
        }
        for &(x, y, q) in &placed {
            draw_marker(plot, (x, y), look.shape, s.color, !q.bound).map_err(err)?;
        }
        for &(x, y, q) in &placed {
            let Some(tag) = q.tag.clone() else { continue };
            plot.draw(
                &(EmptyElement::at((x, y))
                    // Series stacked apart, so that tags at one place stay legible.
                    + Text::new(
                        tag,
                        (7, -16 - 12 * (si as i32 % 4)),
                        (FONT, 11).into_font().color(&s.color),
                    )),
            )
            .map_err(err)?;
        }
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
        .filter(|q| !q.bound && y_at(q, ys).is_some())
        .filter_map(|q| whisker(q, ys))
        .collect()
}

/// An entry of the legend below the series, explaining a kind of mark.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Note {
    Interval,
    Open,
    NoneAtZero,
    NoneInBand,
}

impl Note {
    fn height(self) -> i32 {
        match self {
            Note::Interval => 26,
            Note::Open | Note::NoneAtZero | Note::NoneInBand => 36,
        }
    }
}

/// The entries the legend needs: it explains what is drawn, not what the data hold, since a
/// figure may leave out the intervals of its measured points.
fn notes(f: &Figure) -> Vec<Note> {
    let whiskers: Vec<Whisker> = f.panels.iter().flat_map(measured_whiskers).collect();
    let bound = |band: bool| {
        f.panels.iter().any(|p| {
            let ys = y_scale(p);
            ys.band.is_some() == band
                && p.series
                    .iter()
                    .flat_map(|s| &s.points)
                    .any(|q| q.bound && y_at(q, ys).is_some())
        })
    };
    [
        (Note::Interval, !whiskers.is_empty()),
        (Note::Open, whiskers.iter().any(|w| w.low == Low::Open)),
        (Note::NoneAtZero, bound(false)),
        (Note::NoneInBand, bound(true)),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
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
    let looks = f.panels.first().map_or(Vec::new(), |p| looks(&p.series));
    let notes = notes(f);
    // Rows close up where many series would push the notes off the bottom.
    let room =
        area.dim_in_pixel().1 as i32 - 50 - 24 - notes.iter().map(|n| n.height()).sum::<i32>();
    let pitch = (room / series.len().max(1) as i32).clamp(16, 24);
    let font = (FONT, 14).into_font();
    let mut y = 50;
    for (s, look) in series.iter().zip(&looks) {
        let style = s.color.stroke_width(2);
        draw_line(area, vec![(8, y), (38, y)], look.dash, style).map_err(err)?;
        draw_marker(area, (23, y), look.shape, s.color, true).map_err(err)?;
        area.draw(&Text::new(s.label.clone(), (46, y - 8), font.clone()))
            .map_err(err)?;
        y += pitch;
    }
    let note = (FONT, 12).into_font().color(&GREY);
    let grey = GREY.stroke_width(1);
    let text = |lines: &[&str], y: i32| -> Result<(), String> {
        let top = if lines.len() == 1 { y - 7 } else { y - 14 };
        for (i, l) in lines.iter().enumerate() {
            area.draw(&Text::new(*l, (46, top + 15 * i as i32), note.clone()))
                .map_err(err)?;
        }
        Ok(())
    };
    y += 14;
    for n in notes {
        match n {
            Note::Interval | Note::Open => {
                area.draw(&PathElement::new(vec![(23, y - 8), (23, y + 8)], grey))
                    .map_err(err)?;
                area.draw(&PathElement::new(vec![(19, y - 8), (27, y - 8)], grey))
                    .map_err(err)?;
            }
            Note::NoneAtZero => {
                draw_marker(area, (23, y), Shape::Circle, GREY, false).map_err(err)?;
            }
            Note::NoneInBand => {
                area.draw(&Rectangle::new([(8, y + 3), (38, y + 15)], BAND.filled()))
                    .map_err(err)?;
                area.draw(&PathElement::new(vec![(8, y + 3), (38, y + 3)], grey))
                    .map_err(err)?;
                area.draw(&PathElement::new(vec![(23, y + 9), (23, y - 8)], grey))
                    .map_err(err)?;
                area.draw(&PathElement::new(vec![(19, y - 8), (27, y - 8)], grey))
                    .map_err(err)?;
                draw_marker(area, (23, y + 9), Shape::Circle, GREY, false).map_err(err)?;
            }
        }
        match n {
            Note::Interval => {
                area.draw(&PathElement::new(vec![(19, y + 8), (27, y + 8)], grey))
                    .map_err(err)?;
                text(&["95% interval"], y)?;
            }
            Note::Open => {
                area.draw(&PathElement::new(
                    OPEN_END.map(|(dx, dy)| (23 + dx, y + 8 + dy)).to_vec(),
                    grey,
                ))
                .map_err(err)?;
                text(&["95% interval down to", "0 or less, off the axis"], y)?;
            }
            Note::NoneAtZero => text(&["none seen: 0, with", "its 95% interval"], y)?,
            Note::NoneInBand => text(
                &[
                    "none seen: in the band at 0,",
                    "bar up to its 95% upper end",
                ],
                y,
            )?,
        }
        y += n.height();
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

    /// Regression (an axis of thirty decades): a rate's interval over two widely varying
    /// seeds reached down to about 1e-32, and the log axis followed it, crushing the points.
    #[test]
    fn a_log_axis_reaches_down_at_most_three_decades_for_intervals() {
        let s = Scale::fit([1.0, 100.0].into_iter(), true, true);
        assert!(s.log);
        let down = s.reach_down([1.7e-32, 0.5].into_iter());
        assert_eq!(down.floor, 1e-3);
        let q = point(0.0, 1.0, Some((1.7e-32, 2.0)));
        assert_eq!(whisker(&q, down).map(|w| w.low), Some(Low::Open));
        // Within three decades the axis reaches the lower end, which gets its cap.
        let near = s.reach_down([0.02].into_iter());
        assert_eq!(near.floor, 0.01);
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

    /// Regression (a trend between kinds): the points of a parameter's variants (kinds of
    /// backoff, say), which have no order, were joined by a line as if one led to the next.
    #[test]
    fn variants_without_an_order_are_not_joined() {
        let labels: Vec<String> = ["fixed", "exponential", "full jitter"]
            .into_iter()
            .map(String::from)
            .collect();
        let points: Vec<Point> = (0..3)
            .map(|i| point(i as f64, 1.0 + i as f64, None))
            .collect();
        let mut f = one_series(XAxis::Categories(labels), points);
        let joined = |f: &Figure| {
            let (svg, _) = render(f).expect("renders");
            polylines(&svg, palette(0))
                .into_iter()
                .filter(|l| l.len() > 2)
                .count()
        };
        assert_eq!(joined(&f), 1, "values in order are joined");
        f.lines = false;
        assert_eq!(joined(&f), 0, "variants are not");
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
        assert!(svg.contains(">\nnone seen: in the band at 0,\n</text>"));
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

    /// The SVG colour of `c`, as plotters writes it.
    fn hex(c: RGBColor) -> String {
        format!("\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2)
    }

    /// The centres of the SVG circles whose `attr` (`fill` or `stroke`) is `c`.
    fn circles(svg: &str, attr: &str, c: RGBColor) -> Vec<(i32, i32)> {
        let want = format!("{attr}={}", hex(c));
        svg.split("<circle ")
            .skip(1)
            .map(|l| l.split("/>").next().unwrap_or(""))
            .filter(|l| l.contains(&want))
            .filter_map(|l| {
                let num = |k: &str| l.split(k).nth(1)?.split('"').next()?.parse().ok();
                Some((num("cx=\"")?, num("cy=\"")?))
            })
            .collect()
    }

    /// Regression (15 series, 5 policies by 3 drop rates, drew "none, drop=0.01" and
    /// "reversal, drop=0.05" in one colour with one marker and line: the palette wraps at 10,
    /// and the legend could not tell them apart).
    #[test]
    fn series_that_share_a_colour_get_their_own_marker_and_dash() {
        let series: Vec<Series> = (0..15)
            .map(|i| Series {
                label: format!("s{i}"),
                color: palette(i),
                points: vec![point(0.0, 1.0 + i as f64, None)],
            })
            .collect();
        assert_eq!(series[0].color, series[10].color);
        let looks = looks(&series);
        for i in 0..series.len() {
            for j in 0..i {
                assert!(
                    series[i].color != series[j].color || looks[i] != looks[j],
                    "series {j} and {i} look alike"
                );
            }
        }
        assert_eq!(looks[0], looks[9], "distinct colours keep the plain look");
        let fig = Figure {
            panels: vec![Panel {
                title: String::new(),
                y_label: "y".into(),
                series,
            }],
            ..one_series(XAxis::Categories(vec!["a".into()]), Vec::new())
        };
        let (svg, _) = render(&fig).expect("renders");
        // Series 10's marker is a square, in the plot and in the legend; series 0's a circle.
        let squares = svg
            .split("<polygon ")
            .skip(1)
            .filter(|l| {
                l.split("/>")
                    .next()
                    .is_some_and(|l| l.contains(&hex(palette(0))))
            })
            .count();
        assert_eq!(squares, 2, "{svg}");
        assert_eq!(circles(&svg, "fill", palette(0)).len(), 2, "{svg}");
        // Its legend line is dashed, drawn in pieces, where series 0's is one stroke (the
        // points stand alone, so every line of the colour is the legend's).
        assert!(polylines(&svg, palette(0)).len() > 3, "{svg}");
    }

    /// Regression (drop-rate's failure chart at drop = 0.01: inquiry, with no failure, was
    /// drawn at its upper bound of 0.0092%, above the cells that saw 3 failures at 0.0075%, so
    /// that it ranked worst by height).
    #[test]
    fn none_seen_on_a_log_axis_sits_in_a_band_under_every_measured_point() {
        let measured = RGBColor(214, 39, 40);
        let none = RGBColor(148, 103, 189);
        let series = |label: &str, color, points| Series {
            label: label.into(),
            color,
            points,
        };
        let fig = Figure {
            panels: vec![Panel {
                title: String::new(),
                y_label: "y".into(),
                series: vec![
                    series(
                        "naive",
                        measured,
                        vec![
                            point(0.0, 0.0075, Some((0.0015, 0.022))),
                            point(1.0, 4.0, Some((3.5, 4.5))),
                        ],
                    ),
                    series(
                        "inquiry",
                        none,
                        vec![
                            Point {
                                bound: true,
                                ..point(0.0, 0.0, Some((0.0, 0.0092)))
                            },
                            point(1.0, 0.6, Some((0.5, 0.7))),
                        ],
                    ),
                ],
            }],
            ..one_series(XAxis::Categories(vec!["a".into(), "b".into()]), Vec::new())
        };
        let ys = y_scale(&fig.panels[0]);
        let band = ys.band.expect("a log axis with a band");
        assert!(band.top < ys.map(0.0015) && ys.lo < band.mid && band.mid < band.top);
        let (svg, _) = render(&fig).expect("renders");
        // The plot's markers, not the legend's.
        let in_plot = |c: &(i32, i32)| c.0 < (fig.width - LEGEND_WIDTH) as i32;
        let hollow: Vec<(i32, i32)> = circles(&svg, "stroke", none)
            .into_iter()
            .filter(in_plot)
            .collect();
        assert_eq!(hollow.len(), 1, "{svg}");
        let filled: Vec<(i32, i32)> = [measured, none]
            .into_iter()
            .flat_map(|c| circles(&svg, "fill", c))
            .filter(in_plot)
            .collect();
        assert_eq!(filled.len(), 3, "{svg}");
        assert!(filled.iter().all(|m| m.1 < hollow[0].1), "below {filled:?}");
        // A bar from the marker up past the measured 0.0075, to the bound.
        let lowest = filled.iter().map(|m| m.1).max().unwrap_or(0);
        let bar = polylines(&svg, none)
            .into_iter()
            .find(|l| l.len() == 2 && l[0].0 == hollow[0].0 && l[1].0 == hollow[0].0)
            .expect("a bar");
        assert_eq!(bar[0].1.max(bar[1].1), hollow[0].1);
        assert!(bar[0].1.min(bar[1].1) < lowest, "{bar:?}");
        assert!(svg.contains(">\n0\n</text>"), "the band is labelled 0");
        assert!(svg.contains(">\nbar up to its 95% upper end\n</text>"));
        assert_eq!(none_seen(&fig), NoneSeen::InBand);
    }

    /// Regression (a custom chart of `crashes`, 0 on every seed, ran its y axis from -1 to 1
    /// and its legend showed "95% interval" though no bar has width).
    #[test]
    fn a_count_of_zero_everywhere_keeps_its_axis_at_zero_and_shows_no_interval() {
        let ys = Scale::fit([0.0, 0.0].into_iter(), true, true);
        assert_eq!((ys.lo, ys.hi), (0.0, 1.0));
        let fig = one_series(
            XAxis::Categories(vec!["a".into(), "b".into()]),
            vec![
                point(0.0, 0.0, Some((0.0, 0.0))),
                point(1.0, 0.0, Some((0.0, 0.0))),
            ],
        );
        let (svg, _) = render(&fig).expect("renders");
        assert!(!svg.contains(">\n-"), "no label below 0: {svg}");
        assert!(!svg.contains(">\n95% interval\n</text>"), "{svg}");
        assert!(caps(&svg, palette(0)).is_empty(), "{svg}");
        // An interval with width still shows.
        let fig = one_series(
            XAxis::Categories(vec!["a".into()]),
            vec![point(0.0, 1.0, Some((0.5, 1.5)))],
        );
        let (svg, _) = render(&fig).expect("renders");
        assert!(svg.contains(">\n95% interval\n</text>"), "{svg}");
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
