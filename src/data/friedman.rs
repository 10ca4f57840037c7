//! The regression dataset shipped in `data/regression/friedman1.csv`: Friedman's first benchmark
//! function of five features plus unit Gaussian noise (see that folder's README).

use super::batches::Dataset;
use super::csv::{CsvOptions, read_csv};
use super::error::Result;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tapegrad_tensor::{Float, Tensor};

/// The environment variable [`resolve_friedman1_csv`] reads.
pub const FRIEDMAN1_CSV_VAR: &str = "FRIEDMAN1_CSV";

/// The `data/regression/friedman1.csv` file of the tapegrad source tree this crate was built from.
///
/// The path is fixed at compile time, so examples find it from any working directory.
pub fn shipped_friedman1_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("regression")
        .join("friedman1.csv")
}

/// The Friedman #1 CSV file to use: `flag` if given, else `$FRIEDMAN1_CSV` if set and non-empty,
/// else [`shipped_friedman1_csv`].
pub fn resolve_friedman1_csv(flag: Option<PathBuf>) -> PathBuf {
    resolve_from(flag, std::env::var_os(FRIEDMAN1_CSV_VAR))
}

/// [`resolve_friedman1_csv`] with the environment passed in, so tests need not set process state.
fn resolve_from(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(shipped_friedman1_csv)
}

/// Loads a Friedman #1 CSV file: features `x1`–`x5` as `x` `[n, 5]`, column `y` as the targets
/// `[n, 1]`.
///
/// ```
/// use tapegrad::data::{load_friedman1, resolve_friedman1_csv};
///
/// let data = load_friedman1::<f64>(resolve_friedman1_csv(None))?; // a flag, $FRIEDMAN1_CSV or shipped
/// assert_eq!(data.x().shape(), &[500, 5]);
/// assert_eq!(data.y().shape(), &[500, 1]);
/// # Ok::<(), tapegrad::data::DataError>(())
/// ```
///
/// # Errors
/// The errors of [`Dataset::from_csv`]; a missing file's error says where else to look.
pub fn load_friedman1<T: Float>(path: impl AsRef<Path>) -> Result<Dataset<T, Tensor<T>>> {
    let options = CsvOptions::default()
        .with_targets(["y"])
        .with_features(["x1", "x2", "x3", "x4", "x5"]);
    read_csv(path.as_ref(), &options, &|| {
        format!(
            "pass --data FILE or set {FRIEDMAN1_CSV_VAR}; the repo ships {}",
            shipped_friedman1_csv().display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefers_flag_then_env_then_shipped() {
        let flag = Some(PathBuf::from("/flag.csv"));
        let env = Some(OsString::from("/env.csv"));
        assert_eq!(resolve_from(flag, env.clone()), PathBuf::from("/flag.csv"));
        assert_eq!(resolve_from(None, env), PathBuf::from("/env.csv"));
        assert_eq!(
            resolve_from(None, Some(OsString::new())),
            shipped_friedman1_csv()
        );
        assert!(shipped_friedman1_csv().ends_with("data/regression/friedman1.csv"));
    }
}
