//! Helpers shared by the examples (not an example itself): PNG line charts and output-path checks.
//!
//! Every chart goes through [`figure`], so the choices that make charts readable live here once:
//! tick positions and labels (1-2-5 steps, integer-only ticks for counts, log axes that say so),
//! a palette that stays visible on white, markers on short series, the legend below the plot
//! rather than over the data, optional contour lines under the series, and an error that names
//! the file and the reason when the PNG cannot be written.

#![allow(dead_code)] // each example uses a different subset

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

/// One named line of `(x, y)` points.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a label and points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// Series with at most this many points get a marker at each point: with few points the reader
/// needs to see where the measurements are (and a single point draws no line at all).
pub const MARKER_MAX_POINTS: usize = 30;

/// Okabe–Ito's colour-blind-safe palette without its yellow, which is too faint on white.
/// Series past the seventh reuse these colours with dashed lines.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

/// Contour lines are thin and light so the series stay in front.
const CONTOUR_COLOR: RGBColor = RGBColor(165, 165, 165);

/// Size of one panel without its legend, in pixels.
const PANEL_SIZE: (u32, u32) = (900, 560);
/// Legend text size, row height and the length of the line drawn before each label, in pixels.
const LEGEND_FONT: u32 = 15;
const LEGEND_ROW: i32 = 24;
const LEGEND_SWATCH: i32 = 32;

/// Level sets of a function of `(x, y)` drawn under a panel's series.
struct Contours<'a> {
    /// Legend label of the contour lines.
    label: String,
    /// The function whose level sets are drawn.
    f: &'a dyn Fn(f64, f64) -> f64,
    /// The levels, in any order.
    levels: Vec<f64>,
}

/// One chart of a figure: a title, axis labels, lines, and how the axes are drawn.
pub struct Panel<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: &'a [Series],
    log_y: bool,
    integer_x: bool,
    contours: Option<Contours<'a>>,
}

impl<'a> Panel<'a> {
    /// A panel with linear axes.
    pub fn new(title: &'a str, x_label: &'a str, y_label: &'a str, series: &'a [Series]) -> Self {
        Panel {
            title,
            x_label,
            y_label,
            series,
            log_y: false,
            integer_x: false,
            contours: None,
        }
    }

    /// Logarithmic y axis (points with y ≤ 0 are left out).
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Ticks at whole numbers only, for counts such as epochs, steps or days.
    pub fn integer_x(mut self) -> Self {
        self.integer_x = true;
        self
    }

    /// Draws the level sets of `f` at `levels` under the series, labelled `label` in the legend.
    pub fn contours(
        mut self,
        label: impl Into<String>,
        f: &'a dyn Fn(f64, f64) -> f64,
        levels: Vec<f64>,
    ) -> Self {
        self.contours = Some(Contours {
            label: label.into(),
            f,
            levels,
        });
        self
    }
}

/// A chart that could not be drawn or written, with the file and the reason.
#[derive(Debug)]
pub struct ChartError {
    path: PathBuf,
    cause: String,
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not write chart to {}: {}",
            self.path.display(),
            self.cause
        )
    }
}

impl std::error::Error for ChartError {}

type DrawResult<T> =
    Result<T, DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

/// Registers the shipped DejaVu Sans as plotters' "sans-serif" (ab_glyph needs a font at start-up).
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).unwrap_or_else(
            |_| panic!("the shipped font assets/fonts/DejaVuSans.ttf is not a valid TTF"),
        );
    });
}

/// Width of `text` in pixels at `size` (a rough estimate if the font cannot measure it).
fn text_width(text: &str, size: u32) -> i32 {
    ("sans-serif", size).into_font().box_size(text).map_or(
        text.chars().count() as i32 * size as i32 * 6 / 10,
        |(w, _)| w as i32,
    )
}

/// Draws `series` as lines into a PNG at `path`; `log_y` uses a logarithmic y axis.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), ChartError> {
    let panel = Panel::new(title, x_label, y_label, series);
    figure(path, &[if log_y { panel.log_y() } else { panel }])
}

/// Draws panels side by side into one PNG at `path`, each with its legend below it.
pub fn figure(path: &Path, panels: &[Panel]) -> Result<(), ChartError> {
    register_font();
    let legends: Vec<Legend> = panels.iter().map(Legend::of).collect();
    let legend_height = legends.iter().map(Legend::height).max().unwrap_or(0);
    let size = (
        PANEL_SIZE.0 * panels.len().max(1) as u32,
        PANEL_SIZE.1 + legend_height as u32,
    );
    // Drawn in memory and written in one go: a failed drawing leaves no half-finished file, and
    // a failed write reports the plain I/O error.
    let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    let drawn = (|| -> DrawResult<()> {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)?;
        let columns = root.split_evenly((1, panels.len().max(1)));
        for ((area, panel), legend) in columns.iter().zip(panels).zip(&legends) {
            let (plot, below) = area.split_vertically(PANEL_SIZE.1);
            draw_panel(&plot, panel)?;
            legend.draw(&below)?;
        }
        root.present()
    })();
    let error = |cause: String| ChartError {
        path: path.to_path_buf(),
        cause,
    };
    drawn.map_err(|e| error(e.to_string()))?;
    let png = encode_png(&rgb, size).map_err(error)?;
    std::fs::write(path, png).map_err(|e| error(e.to_string()))
}

/// The pixels as PNG bytes, encoded by the `image` crate (already plotters' PNG writer).
fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// One axis in drawing coordinates (log10 of the value on a log axis), with its ticks.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    /// Labelled ticks with their labels.
    major: Vec<(f64, String)>,
    /// Unlabelled grid lines.
    minor: Vec<f64>,
}

impl Axis {
    /// The label of the tick at `c`.
    fn label(&self, c: f64) -> String {
        let tol = 1e-9 * (self.hi - self.lo);
        self.major
            .iter()
            .find(|(t, _)| (t - c).abs() <= tol)
            .map_or_else(String::new, |(_, l)| l.clone())
    }
}

/// plotters asks the axis where its grid lines go and how to label them, so the ticks chosen
/// here are exactly the ones drawn.
impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.iter().map(|(t, _)| *t).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// `v` with `decimals` digits after the point and a true minus sign.
fn decimal_label(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    // "-0.0" is zero, and a hyphen is narrower than the minus in the titles.
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        return text.trim_start_matches('-').to_string();
    }
    text.replacen('-', "\u{2212}", 1)
}

/// Multiples of `step` in `[lo, hi]`.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Digits after the point that labels a multiple of `step` exactly.
fn decimals_for(step: f64) -> usize {
    (-step.log10() - 1e-9).ceil().max(0.0) as usize
}

/// A linear axis over the data range `[lo, hi]`, widened by `pad` of its span on each side, with
/// about `target` labelled ticks at multiples of 1, 2 or 5 × 10^k (whole numbers if `integer`).
fn linear_axis(lo: f64, hi: f64, pad: f64, target: usize, integer: bool) -> Axis {
    let (mut lo, mut hi) = (lo, hi);
    if hi <= lo {
        // A single value: a unit around a count, ±10% around anything else (±0.5 around 0).
        let half = if integer || lo == 0.0 {
            0.5
        } else {
            0.1 * lo.abs()
        };
        (lo, hi) = (lo - half, hi + half);
    }
    let span = hi - lo;
    (lo, hi) = (lo - pad * span, hi + pad * span);
    let mut step = nice_step((hi - lo) / target as f64);
    if integer {
        step = step.max(1.0);
    }
    let decimals = decimals_for(step);
    let major = multiples(lo, hi, step)
        .into_iter()
        .map(|t| (t, decimal_label(t, decimals)))
        .collect();
    // Grid lines between the labelled ticks: fifths of a 1 or 5 step, quarters of a 2 step, and
    // only whole numbers on an integer axis.
    let leading = (step / 10f64.powf(step.log10().floor())).round();
    let mut minor_step = step / if leading == 2.0 { 4.0 } else { 5.0 };
    if integer && minor_step.fract() != 0.0 {
        minor_step = if (step / 2.0).fract() == 0.0 && step >= 2.0 {
            step / 2.0
        } else {
            step
        };
    }
    let minor = multiples(lo, hi, minor_step);
    Axis {
        lo,
        hi,
        major,
        minor,
    }
}

/// Label of `m × 10^k`: decimal when every tick of the axis is between 0.001 and 10,000,
/// otherwise `m×10ᵏ` (just `10ᵏ` for m = 1).
fn log_label(m: u32, k: i32, decimal: bool) -> String {
    if decimal {
        let v = m as f64 * 10f64.powi(k);
        return decimal_label(v, (-k).max(0) as usize);
    }
    const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut power = String::from("10");
    if k < 0 {
        power.push('⁻');
    }
    power.extend(
        k.unsigned_abs()
            .to_string()
            .chars()
            .map(|d| SUPERSCRIPT[d.to_digit(10).unwrap_or(0) as usize]),
    );
    if m == 1 {
        power
    } else {
        format!("{m}×{power}")
    }
}

/// A log axis over the positive data range `[lo, hi]`, in log10 coordinates: labelled ticks at
/// 1, 2, 3 … 9 × 10^k on a narrow range, 1-2-3-5 or 1-2-5 × 10^k over a few decades, 1-3 × 10^k
/// or whole decades over more, so there are 2 to 9 labels that do not crowd (linear steps if
/// the range is too narrow for two of those); grid lines at every 1 … 9 × 10^k up to 6 decades.
fn log_axis(lo: f64, hi: f64) -> Axis {
    let (mut a, mut b) = (lo.log10(), hi.log10());
    if b <= a {
        (a, b) = (a - 0.5, b + 0.5);
    }
    let pad = 0.04 * (b - a);
    (a, b) = (a - pad, b + pad);
    let span = b - a;
    let inside = |c: f64| c >= a - 1e-9 && c <= b + 1e-9;
    let ticks = |mults: &[u32], every: i32| -> Vec<(u32, i32)> {
        let (k0, k1) = (a.floor() as i32 - 1, b.ceil() as i32 + 1);
        (k0..=k1)
            .filter(|k| k.rem_euclid(every) == 0)
            .flat_map(|k| mults.iter().map(move |&m| (m, k)))
            .filter(|&(m, k)| inside((m as f64).log10() + k as f64))
            .collect()
    };
    // Candidate labels, densest first, each with the smallest gap between neighbours in
    // decades. A set is used if its labels are at least 1/18 of the axis apart (about 24 pixels)
    // and number at most 9; 1-2-5 is passed over while it gives fewer than 4 labels, since
    // 1-2-3-5 then labels the range better.
    let sets: [(&[u32], f64, usize); 6] = [
        (&[1, 2, 3, 4, 5, 6, 7, 8, 9], (9.0f64 / 8.0).log10(), 2),
        (&[1, 2, 5], 2f64.log10(), 4),
        (&[1, 2, 3, 5], 1.5f64.log10(), 2),
        (&[1, 2, 5], 2f64.log10(), 2),
        (&[1, 3], 3f64.log10(), 2),
        (&[1], 1.0, 2),
    ];
    let mut chosen = sets
        .iter()
        .map(|&(mults, gap, least)| (ticks(mults, 1), gap, least))
        .find(|(t, gap, least)| (*least..=9).contains(&t.len()) && *gap >= span / 18.0)
        .map(|(t, _, _)| t);
    if chosen.is_none() {
        // Over nine decades: every 2nd, 5th, 10th … decade.
        chosen = [2, 5, 10, 20, 50, 100]
            .into_iter()
            .map(|every| ticks(&[1], every))
            .find(|t| t.len() <= 9);
    }
    let chosen = chosen.unwrap_or_default();
    let minor = if span <= 6.0 {
        ticks(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 1)
    } else {
        ticks(&[1], 1)
    }
    .into_iter()
    .map(|(m, k)| (m as f64).log10() + k as f64)
    .collect();
    let major = if chosen.len() >= 2 {
        let decimal = chosen.iter().all(|&(_, k)| (-3..=4).contains(&k));
        chosen
            .into_iter()
            .map(|(m, k)| ((m as f64).log10() + k as f64, log_label(m, k, decimal)))
            .collect()
    } else {
        // Too narrow for two of those labels: linear steps between the ends, placed on the log
        // axis.
        let (lo, hi) = (10f64.powf(a), 10f64.powf(b));
        let step = nice_step((hi - lo) / 5.0);
        let decimals = decimals_for(step);
        multiples(lo, hi, step)
            .into_iter()
            .filter(|&t| t > 0.0)
            .map(|t| (t.log10(), decimal_label(t, decimals)))
            .collect()
    };
    Axis {
        lo: a,
        hi: b,
        major,
        minor,
    }
}

/// The labelled ticks `(value, label)` of a log axis drawn for data in `[lo, hi]` (both > 0).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    log_axis(lo, hi)
        .major
        .into_iter()
        .map(|(c, label)| (10f64.powf(c), label))
        .collect()
}

/// The labelled ticks `(value, label)` of a linear axis drawn for data in `[lo, hi]`, whole
/// numbers only if `integer`.
pub fn linear_ticks(lo: f64, hi: f64, integer: bool) -> Vec<(f64, String)> {
    linear_axis(lo, hi, 0.0, 10, integer).major
}

/// The range of the finite values of `values`, or `None` if there are none.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Line segments where `f` crosses each of `levels` on a `cells × cells` grid over
/// `[x0, x1] × [y0, y1]`, by marching squares: in each grid cell, every edge whose ends lie on
/// either side of the level is cut where the straight line between the two values reaches it,
/// and the cuts are joined in pairs.
pub fn contour_segments(
    f: &dyn Fn(f64, f64) -> f64,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    cells: usize,
    levels: &[f64],
) -> Vec<[(f64, f64); 2]> {
    let n = cells.max(1);
    let xs: Vec<f64> = (0..=n)
        .map(|i| x0 + (x1 - x0) * i as f64 / n as f64)
        .collect();
    let ys: Vec<f64> = (0..=n)
        .map(|j| y0 + (y1 - y0) * j as f64 / n as f64)
        .collect();
    let values: Vec<Vec<f64>> = ys
        .iter()
        .map(|&y| xs.iter().map(|&x| f(x, y)).collect())
        .collect();
    let mut segments = Vec::new();
    for j in 0..n {
        for i in 0..n {
            // Corners counter-clockwise from bottom left; edge e joins corner e to corner e + 1.
            let corners = [
                (xs[i], ys[j], values[j][i]),
                (xs[i + 1], ys[j], values[j][i + 1]),
                (xs[i + 1], ys[j + 1], values[j + 1][i + 1]),
                (xs[i], ys[j + 1], values[j + 1][i]),
            ];
            if corners.iter().any(|c| !c.2.is_finite()) {
                continue;
            }
            for &level in levels {
                let above = corners.map(|c| c.2 >= level);
                let mut cuts = [(0.0, 0.0); 4];
                let mut count = 0;
                for e in 0..4 {
                    // Each edge is cut from its lower grid point (edges 2 and 3 run backwards),
                    // so the two cells that share an edge compute the very same point and
                    // `contour_lines` can join their segments.
                    let (p, q) = if e < 2 {
                        (corners[e], corners[e + 1])
                    } else {
                        (corners[(e + 1) % 4], corners[e])
                    };
                    if above[e] != above[(e + 1) % 4] {
                        let t = (level - p.2) / (q.2 - p.2);
                        cuts[count] = (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
                        count += 1;
                    }
                }
                match count {
                    2 => segments.push([cuts[0], cuts[1]]),
                    4 => {
                        // A saddle cell: corners 0 and 2 are on one side, 1 and 3 on the other.
                        // Cuts are on edges 0, 1, 2, 3 in order. If the centre sides with
                        // corners 0 and 2, the level cuts off corners 1 and 3 (edges 0-1 and
                        // 2-3); otherwise it cuts off corners 0 and 2 (edges 3-0 and 1-2).
                        let centre = corners.iter().map(|c| c.2).sum::<f64>() / 4.0;
                        if (centre >= level) == above[0] {
                            segments.push([cuts[0], cuts[1]]);
                            segments.push([cuts[2], cuts[3]]);
                        } else {
                            segments.push([cuts[3], cuts[0]]);
                            segments.push([cuts[1], cuts[2]]);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    segments
}

/// [`contour_segments`] joined into polylines at their shared ends: drawn one short segment at a
/// time, a 1-pixel line shows gaps at every joint.
pub fn contour_lines(
    f: &dyn Fn(f64, f64) -> f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    cells: usize,
    levels: &[f64],
) -> Vec<Vec<(f64, f64)>> {
    let segments = contour_segments(f, x_range, y_range, cells, levels);
    let key = |p: (f64, f64)| (p.0.to_bits(), p.1.to_bits());
    let mut at: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        for &p in s {
            at.entry(key(p)).or_default().push(i);
        }
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for first in 0..segments.len() {
        if used[first] {
            continue;
        }
        used[first] = true;
        let mut line = VecDeque::from(segments[first].to_vec());
        // Grow the line at its back, then at its front, while an unused segment touches the end.
        for back in [true, false] {
            loop {
                let end = if back { line.back() } else { line.front() };
                let end = *end.expect("a line has two points or more");
                let Some(next) = at[&key(end)].iter().copied().find(|&s| !used[s]) else {
                    break;
                };
                used[next] = true;
                let [a, b] = segments[next];
                let other = if key(a) == key(end) { b } else { a };
                if back {
                    line.push_back(other);
                } else {
                    line.push_front(other);
                }
            }
        }
        lines.push(Vec::from(line));
    }
    lines
}

/// The colour of series `i`.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Whether series `i` is dashed: once the palette has run out, so no two series look alike.
fn dashed(i: usize) -> bool {
    i >= PALETTE.len()
}

/// Vertices of marker shape `i` (circle, square, triangle, diamond, inverted triangle) around
/// (0, 0), in pixels.
fn marker_shape(i: usize) -> Vec<(i32, i32)> {
    match i % 5 {
        0 => (0..12)
            .map(|k| {
                let a = k as f64 * std::f64::consts::PI / 6.0;
                (
                    (5.0 * a.cos()).round() as i32,
                    (5.0 * a.sin()).round() as i32,
                )
            })
            .collect(),
        1 => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        2 => vec![(0, -6), (5, 4), (-5, 4)],
        3 => vec![(0, -6), (6, 0), (0, 6), (-6, 0)],
        _ => vec![(0, 6), (5, -4), (-5, -4)],
    }
}

/// Marker `i` centred on `at`, in whatever coordinates the drawing area uses (a macro because
/// plotters does not export the composed element's type).
macro_rules! marker {
    ($at:expr, $i:expr) => {
        EmptyElement::at($at) + Polygon::new(marker_shape($i), color($i).filled())
    };
}

/// Whether `s` is short enough for a marker at each point.
fn has_markers(s: &Series) -> bool {
    let finite = s
        .points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .count();
    finite <= MARKER_MAX_POINTS
}

fn draw_panel(area: &DrawingArea<BitMapBackend, Shift>, p: &Panel) -> DrawResult<()> {
    let shown = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!p.log_y || y > 0.0);
    let all = || {
        p.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(shown)
    };
    let markers = p.series.iter().any(has_markers);
    // Room around the data so markers and contour lines at the edges are not cut off.
    let x_pad = if markers || p.contours.is_some() {
        0.03
    } else {
        0.0
    };
    let (x0, x1) = range(all().map(|(x, _)| x)).unwrap_or((0.0, 1.0));
    let x_axis = linear_axis(x0, x1, x_pad, 10, p.integer_x);
    let y_axis = if p.log_y {
        let (y0, y1) = range(all().map(|(_, y)| y)).unwrap_or((1.0, 10.0));
        log_axis(y0, y1)
    } else {
        let (y0, y1) = range(all().map(|(_, y)| y)).unwrap_or((0.0, 1.0));
        linear_axis(y0, y1, 0.05, 8, false)
    };
    let y_of = |y: f64| if p.log_y { y.log10() } else { y };
    let y_desc = if p.log_y {
        format!("{} (log scale)", p.y_label)
    } else {
        p.y_label.to_string()
    };

    let label_size = 15;
    let widest = y_axis
        .major
        .iter()
        .map(|(_, l)| text_width(l, label_size))
        .max()
        .unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(widest + 42)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    let mut mesh = chart.configure_mesh();
    if p.contours.is_some() {
        // Grid lines would read as more contour lines.
        mesh.disable_mesh();
    }
    mesh.x_desc(p.x_label)
        .y_desc(y_desc)
        .label_style(("sans-serif", label_size))
        .axis_desc_style(("sans-serif", 17))
        .bold_line_style(BLACK.mix(0.16))
        .light_line_style(BLACK.mix(0.05))
        .draw()?;

    if let Some(c) = &p.contours {
        // The grid covers the whole plotting area so lines run out to the frame.
        let g = |x: f64, cy: f64| (c.f)(x, if p.log_y { 10f64.powf(cy) } else { cy });
        let lines = contour_lines(
            &g,
            (x_axis.lo, x_axis.hi),
            (y_axis.lo, y_axis.hi),
            240,
            &c.levels,
        );
        // Pixel by pixel: plotters' anti-aliased 1-pixel lines drop pixels at the ends of short
        // segments, which turns a polyline of 3-pixel steps into a dashed line.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let base = area.get_base_pixel();
        for line in lines {
            let pixels: Vec<(i32, i32)> = line.iter().map(|p| chart.backend_coord(p)).collect();
            for w in pixels.windows(2) {
                let (a, b) = (w[0], w[1]);
                let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1);
                for k in 0..=steps {
                    let t = k as f64 / steps as f64;
                    let x = (a.0 as f64 + t * (b.0 - a.0) as f64).round() as i32;
                    let y = (a.1 as f64 + t * (b.1 - a.1) as f64).round() as i32;
                    if xs.contains(&x) && ys.contains(&y) {
                        area.draw_pixel((x - base.0, y - base.1), &CONTOUR_COLOR)?;
                    }
                }
            }
        }
    }

    for (i, s) in p.series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(shown)
            .map(|(x, y)| (x, y_of(y)))
            .collect();
        let style = color(i).stroke_width(2);
        if dashed(i) {
            chart.draw_series(DashedLineSeries::new(pts.clone(), 10, 6, style))?;
        } else {
            chart.draw_series(LineSeries::new(pts.clone(), style))?;
        }
        if has_markers(s) {
            chart.draw_series(pts.into_iter().map(|pt| marker!(pt, i)))?;
        }
    }
    Ok(())
}

/// One legend entry: what its swatch looks like and its label.
struct Entry {
    label: String,
    /// Series index (its colour, dash and marker), or `None` for the contour lines.
    series: Option<usize>,
    marker: bool,
    width: i32,
}

/// A panel's legend, laid out in centred rows below the plot, where it cannot hide any data.
struct Legend {
    entries: Vec<Entry>,
    rows: Vec<Vec<usize>>,
}

impl Legend {
    fn of(p: &Panel) -> Legend {
        let entry = |label: &str, series, marker| Entry {
            label: label.to_string(),
            series,
            marker,
            width: LEGEND_SWATCH + 8 + text_width(label, LEGEND_FONT),
        };
        let mut entries: Vec<Entry> = p
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| entry(&s.name, Some(i), has_markers(s)))
            .collect();
        if let Some(c) = &p.contours {
            entries.push(entry(&c.label, None, false));
        }
        // Fill rows left to right; an entry wider than a row gets a row of its own.
        let (avail, gap) = (PANEL_SIZE.0 as i32 - 40, 26);
        let mut rows: Vec<Vec<usize>> = Vec::new();
        let mut used = 0;
        for (i, e) in entries.iter().enumerate() {
            match rows.last_mut() {
                Some(row) if used + gap + e.width <= avail => {
                    row.push(i);
                    used += gap + e.width;
                }
                _ => {
                    rows.push(vec![i]);
                    used = e.width;
                }
            }
        }
        Legend { entries, rows }
    }

    fn height(&self) -> i32 {
        if self.rows.is_empty() {
            0
        } else {
            self.rows.len() as i32 * LEGEND_ROW + 12
        }
    }

    fn draw(&self, area: &DrawingArea<BitMapBackend, Shift>) -> DrawResult<()> {
        let (width, _) = area.dim_in_pixel();
        let gap = 26;
        let font = ("sans-serif", LEGEND_FONT)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (r, row) in self.rows.iter().enumerate() {
            let total: i32 = row.iter().map(|&i| self.entries[i].width).sum::<i32>()
                + gap * (row.len() as i32 - 1);
            let mut x = (width as i32 - total) / 2;
            let y = 4 + r as i32 * LEGEND_ROW + LEGEND_ROW / 2;
            for &i in row {
                let e = &self.entries[i];
                let (a, b) = ((x, y), (x + LEGEND_SWATCH, y));
                match e.series {
                    Some(s) if dashed(s) => {
                        let style = color(s).stroke_width(2);
                        area.draw(&PathElement::new(vec![a, (x + 12, y)], style))?;
                        area.draw(&PathElement::new(vec![(x + 20, y), b], style))?;
                    }
                    Some(s) => {
                        area.draw(&PathElement::new(vec![a, b], color(s).stroke_width(2)))?
                    }
                    None => {
                        area.draw(&PathElement::new(vec![a, b], CONTOUR_COLOR.stroke_width(1)))?
                    }
                }
                if let (Some(s), true) = (e.series, e.marker) {
                    area.draw(&marker!((x + LEGEND_SWATCH / 2, y), s))?;
                }
                area.draw(&Text::new(
                    e.label.clone(),
                    (x + LEGEND_SWATCH + 8, y),
                    font.clone(),
                ))?;
                x += e.width + gap;
            }
        }
        Ok(())
    }
}

/// Checks that `path` can be written (its folder exists and accepts a file there), without
/// leaving a file behind, so examples refuse a bad output path before they start working.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a folder, not a file".into());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot be written: {e}"))?;
    if !existed {
        std::fs::remove_file(path).map_err(|e| format!("cannot be written: {e}"))?;
    }
    Ok(())
}

/// Checks a `--plot` path before any work; the message names the flag and the path.
pub fn check_plot_path(path: &Path) -> Result<(), String> {
    check_writable(path).map_err(|e| format!("--plot {}: {e}", path.display()))
}

/// [`check_plot_path`] for an optional `--plot` flag, in an example's `main`: prints the error
/// and exits with status 1 if the path cannot be used.
pub fn require_plot_path(path: Option<&Path>) {
    if let Some(path) = path {
        if let Err(e) = check_plot_path(path) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
