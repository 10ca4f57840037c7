//! Exponentially weighted moving averages: the idea behind momentum, RMSprop and Adam.
//!
//! Run: `cargo run --release --example ewma` (add `-- --plot ewma.png` for the chart)
//!
//! A year of synthetic daily temperatures (a seasonal sine plus seeded Gaussian noise) is
//! averaged with `v_t = β·v_{t−1} + (1 − β)·θ_t`, `v₀ = 0`, for β = 0.9, 0.98 and 0.5, using
//! [`tapegrad::optim::Ewma`]. The table shows:
//!
//! - **bias**: because `v₀ = 0`, the first values are far too low: `v₁ = (1 − β)·θ₁`, a tenth of
//!   the temperature for β = 0.9. The corrected average `v̂_t = v_t / (1 − βᵗ)` starts at
//!   `v̂₁ = θ₁` exactly and the correction fades as `βᵗ → 0`;
//! - **the window**: `v_t` averages roughly the last `1/(1 − β)` days (10, 50 and 2 days): a
//!   larger β is smoother (smaller day-to-day changes) but lags the seasons by about
//!   `β/(1 − β)` days (9, 49 and 1 day) when that is short next to a year; against a yearly sine
//!   the exact lag is a little less (40 days for β = 0.98).

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::f64::consts::PI;
use std::path::PathBuf;
use tapegrad::optim::Ewma;
use tapegrad::rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

/// The decays compared, in the order of the table's columns.
pub const BETAS: [f64; 3] = [0.9, 0.98, 0.5];

/// Flags of the EWMA example.
#[derive(Debug, Clone, Parser)]
#[command(about = "Exponentially weighted averages of a year of temperatures")]
pub struct Args {
    /// Days to synthesise.
    #[arg(long, default_value_t = 365)]
    pub days: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Write the series and its averages to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// The noise-free seasonal temperature of day `t` (from 1): 15 °C on average, 8 °C colder in
/// mid-January and 8 °C warmer in mid-July.
pub fn seasonal(t: usize) -> f64 {
    15.0 - 8.0 * (2.0 * PI * (t as f64 - 15.0) / 365.0).cos()
}

/// The exact lag in days of an EWMA of a sine with a one-year period: the phase of
/// `(1 − β)/(1 − β·e^{−iω})` over `ω = 2π/365`; about `β/(1 − β)` when that is much shorter than
/// a year.
pub fn sine_lag(beta: f64) -> f64 {
    let w = 2.0 * PI / 365.0;
    (beta * w.sin()).atan2(1.0 - beta * w.cos()) / w
}

/// `days` daily temperatures θ₁, θ₂, …: [`seasonal`] plus Gaussian noise of 2.5 °C (seeded).
pub fn temperatures(days: usize, seed: u64) -> Vec<f64> {
    let noise = Tensor::<f64>::rand_normal(&[days], &mut StdRng::seed_from_u64(seed)).to_vec();
    (1..=days)
        .zip(noise)
        .map(|(t, e)| seasonal(t) + 2.5 * e)
        .collect()
}

/// One β's averages of a series: raw `v_t` and bias-corrected `v̂_t`, one per day.
#[derive(Debug, Clone, PartialEq)]
pub struct Averages {
    /// The decay.
    pub beta: f64,
    /// `v_t = β·v_{t−1} + (1 − β)·θ_t` with `v₀ = 0`.
    pub raw: Vec<f64>,
    /// `v̂_t = v_t / (1 − βᵗ)`.
    pub corrected: Vec<f64>,
}

/// Averages `series` with decay `beta`.
pub fn average(series: &[f64], beta: f64) -> Averages {
    let mut avg: Ewma = Ewma::new(beta);
    let (mut raw, mut corrected) = (Vec::new(), Vec::new());
    for &theta in series {
        avg.update(theta);
        raw.push(avg.value());
        corrected.push(avg.corrected());
    }
    Averages {
        beta,
        raw,
        corrected,
    }
}

/// Mean squared day-to-day change `mean_t (v_t − v_{t−1})²` of `values[skip..]`: small is smooth.
pub fn roughness(values: &[f64], skip: usize) -> f64 {
    let v = &values[skip..];
    v.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// How many days `values` trails the seasons: the shift `k` (0 to 120 days) that best matches
/// `values[t]` with `seasonal(t − k)` by correlation over days `skip + 1 ..`. Correlation ignores
/// the average's smaller amplitude and looks at timing only.
pub fn lag_days(values: &[f64], skip: usize) -> usize {
    let corr = |k: usize| {
        let pairs: Vec<(f64, f64)> = (skip.max(k)..values.len())
            .map(|i| (values[i], seasonal(i + 1 - k)))
            .collect();
        let n = pairs.len() as f64;
        let (ma, mb) = pairs
            .iter()
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x / n, b + y / n));
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for &(a, b) in &pairs {
            sab += (a - ma) * (b - mb);
            saa += (a - ma).powi(2);
            sbb += (b - mb).powi(2);
        }
        sab / (saa * sbb).sqrt()
    };
    (0..=120)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .expect("a non-empty range")
}

/// Everything the example prints: the series, each β's averages, and their roughness and lag
/// (both measured on the corrected averages after a 60-day start-up).
pub struct Report {
    /// θ₁ … θ_days.
    pub series: Vec<f64>,
    /// One entry per β of [`BETAS`].
    pub averages: Vec<Averages>,
    /// [`roughness`] of each corrected average, and of the series itself last.
    pub roughness: Vec<f64>,
    /// [`lag_days`] of each corrected average.
    pub lag: Vec<usize>,
}

/// Days skipped before measuring roughness and lag, so start-up effects do not count.
pub const SKIP: usize = 60;

/// Builds the series and its averages.
pub fn run(days: usize, seed: u64) -> Report {
    let series = temperatures(days, seed);
    let averages: Vec<Averages> = BETAS.iter().map(|&b| average(&series, b)).collect();
    let mut roughness: Vec<f64> = averages
        .iter()
        .map(|a| self::roughness(&a.corrected, SKIP))
        .collect();
    roughness.push(self::roughness(&series, SKIP));
    let lag = averages
        .iter()
        .map(|a| lag_days(&a.corrected, SKIP))
        .collect();
    Report {
        series,
        averages,
        roughness,
        lag,
    }
}

fn print_report(r: &Report) {
    let days = r.series.len();
    print!("  day  θ (°C) ");
    for a in &r.averages {
        print!("│ β={:<4} v_t    v̂_t ", a.beta);
    }
    println!();
    let mut rows: Vec<usize> = (1..=10.min(days)).collect();
    rows.extend([30, 60, 100, 200, 300, 365].iter().filter(|&&d| d <= days));
    for (i, &day) in rows.iter().enumerate() {
        if i == 10 {
            println!("  ...");
        }
        print!("{day:>5}  {:>6.2} ", r.series[day - 1]);
        for a in &r.averages {
            print!(
                "│      {:>6.2} {:>6.2} ",
                a.raw[day - 1],
                a.corrected[day - 1]
            );
        }
        println!();
    }
    println!();
    println!(
        "day 1: v₁ = (1 − β)·θ₁ is far too low (θ₁ = {:.2}); v̂₁ = v₁ / (1 − β) = θ₁ exactly.",
        r.series[0]
    );
    println!();
    println!(
        "  β      window ≈ 1/(1 − β)   roughness mean (Δv)²   lag (days)   β/(1 − β)   lag of a yearly sine"
    );
    for (i, a) in r.averages.iter().enumerate() {
        println!(
            "  {:<5}  {:>13.0} days   {:>20.3}   {:>10}   {:>9.0}   {:>20.1}",
            a.beta,
            1.0 / (1.0 - a.beta),
            r.roughness[i],
            r.lag[i],
            a.beta / (1.0 - a.beta),
            sine_lag(a.beta)
        );
    }
    println!(
        "  raw θ  {:>13} day    {:>20.3}",
        "1",
        r.roughness[r.averages.len()]
    );
    println!("(roughness and lag from day {} on, on v̂)", SKIP + 1);
}

fn plot(path: &std::path::Path, r: &Report) -> Result<(), support::ChartError> {
    use support::{Panel, Series, figure};
    let pts = |v: &[f64], n: usize| {
        v.iter()
            .take(n)
            .enumerate()
            .map(|(i, &y)| (i as f64 + 1.0, y))
            .collect::<Vec<_>>()
    };
    let n = r.series.len();
    let mut year = vec![Series::new("θ (daily)", pts(&r.series, n))];
    for a in &r.averages {
        year.push(Series::new(
            format!("β = {} (corrected)", a.beta),
            pts(&a.corrected, n),
        ));
    }
    let start = 60.min(n);
    let b = &r.averages[1];
    let early = [
        Series::new("θ (daily)", pts(&r.series, start)),
        Series::new(format!("β = {}, no correction", b.beta), pts(&b.raw, start)),
        Series::new(
            format!("β = {}, corrected", b.beta),
            pts(&b.corrected, start),
        ),
    ];
    figure(
        path,
        &[
            Panel::new(
                "A year of temperatures and its averages",
                "day",
                "°C",
                &year,
            )
            .integer_x(),
            Panel::new("The first 60 days: bias correction", "day", "°C", &early).integer_x(),
        ],
    )
}

#[allow(dead_code)] // a test includes this file as a module and calls `run` directly
fn main() {
    let args = Args::parse();
    support::require_plot_path(args.plot.as_deref());
    let report = run(args.days, args.seed);
    print_report(&report);
    if let Some(path) = &args.plot {
        if let Err(e) = plot(path, &report) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        println!("chart written to {}", path.display());
    }
}
