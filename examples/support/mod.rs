//! Helpers shared by the examples (not an example itself): PNG line charts.

#![allow(dead_code)] // each example uses a different subset

use plotters::prelude::*;
use std::path::Path;

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

fn bounds(series: &[Series], log_y: bool) -> (f64, f64, f64, f64) {
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    if x0 == x1 {
        x1 = x0 + 1.0;
    }
    if y0 == y1 {
        y1 = y0 + 1.0;
    }
    let pad = if log_y { 0.0 } else { 0.05 * (y1 - y0) };
    (x0, x1, y0 - pad, y1 + pad)
}

/// One chart of a figure: a title, axis labels, lines, and whether y is logarithmic.
pub struct Panel<'a> {
    /// Chart caption.
    pub title: &'a str,
    /// x axis label.
    pub x_label: &'a str,
    /// y axis label.
    pub y_label: &'a str,
    /// The lines.
    pub series: &'a [Series],
    /// Logarithmic y axis.
    pub log_y: bool,
}

/// Draws `series` as lines into a PNG at `path`; `log_y` uses a logarithmic y axis.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    figure(
        path,
        &[Panel {
            title,
            x_label,
            y_label,
            series,
            log_y,
        }],
    )
}

/// Draws panels side by side into one PNG at `path`.
pub fn figure(path: &Path, panels: &[Panel]) -> Result<(), Box<dyn std::error::Error>> {
    register_font();
    let root = BitMapBackend::new(path, (900 * panels.len() as u32, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    p: &Panel,
) -> Result<(), Box<dyn std::error::Error>> {
    let (series, log_y) = (p.series, p.log_y);
    let (x0, x1, y0, y1) = bounds(series, log_y);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(p.title, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(p.x_label)
                .y_desc(p.y_label)
                .draw()?;
            for (i, s) in series.iter().enumerate() {
                let color = Palette99::pick(i).mix(0.9);
                let pts = s
                    .points
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0));
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }};
    }
    if log_y {
        draw!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?);
    } else {
        draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
    }
    Ok(())
}

/// Checks that `path` can be written (its folder exists and accepts a file there), without
/// leaving a file behind, so examples refuse a bad output path before they start working.
#[allow(dead_code)] // not every example that includes this module writes files
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
