//! Loading MNIST (and datasets in its format, such as Fashion-MNIST) from a folder of IDX files.

use super::batches::Dataset;
use super::error::{DataError, Result};
use super::idx::IdxArray;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use tapegrad_tensor::Tensor;

/// The number of classes: the digits 0 to 9. Every label must be below it.
pub const MNIST_CLASSES: usize = 10;

/// The environment variable [`resolve_data_dir`] reads.
pub const MNIST_DIR_VAR: &str = "MNIST_DIR";

/// One of the four files: its standard name (without `.gz`), the name the original gzip header
/// stores (what `gunzip -N` writes), and the SHA-256 of the published `.gz` file.
struct StandardFile {
    stem: &'static str,
    gunzip_name: &'static str,
    sha256: &'static str,
}

const TRAIN_IMAGES: StandardFile = StandardFile {
    stem: "train-images-idx3-ubyte",
    gunzip_name: "train-images.idx3-ubyte",
    sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
};
const TRAIN_LABELS: StandardFile = StandardFile {
    stem: "train-labels-idx1-ubyte",
    gunzip_name: "train-labels.idx1-ubyte",
    sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
};
const TEST_IMAGES: StandardFile = StandardFile {
    stem: "t10k-images-idx3-ubyte",
    gunzip_name: "t10k-images.idx3-ubyte",
    sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
};
const TEST_LABELS: StandardFile = StandardFile {
    stem: "t10k-labels-idx1-ubyte",
    gunzip_name: "t10k-labels.idx1-ubyte",
    sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
};

/// The published SHA-256 of a file with a standard MNIST `.gz` name, if `path` has one.
fn known_sha256(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
        .into_iter()
        .find(|f| name.strip_suffix(".gz") == Some(f.stem))
        .map(|f| f.sha256)
}

/// How [`Mnist::load_with`] reads the files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MnistOptions {
    /// Check each file with a standard MNIST `.gz` name against its published SHA-256. Default
    /// `false`, because Fashion-MNIST uses the same file names; files under other names (or
    /// uncompressed) are never checked, having no published digest.
    pub verify_checksums: bool,
}

/// MNIST's training (60 000) and test (10 000) samples: images `[n, 784]` in `[0, 1]`, labels 0–9.
///
/// ```
/// # use tapegrad::data::{shipped_data_dir, Mnist};
/// // usually `resolve_data_dir(flag)`: a --data flag, else $MNIST_DIR, else this shipped copy
/// let mnist = Mnist::load(shipped_data_dir())?;
/// assert_eq!(mnist.train.x().shape(), &[60_000, 784]);
/// # Ok::<(), tapegrad::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The training samples.
    pub train: Dataset<f32>,
    /// The test samples.
    pub test: Dataset<f32>,
}

impl Mnist {
    /// Loads the four files from `dir` with the default [`MnistOptions`] (no checksums).
    ///
    /// # Errors
    /// As [`Mnist::load_with`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, MnistOptions::default())
    }

    /// Loads `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
    /// `t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz` from `dir`.
    ///
    /// Each file may also be there uncompressed, without `.gz` or under the name `gunzip -N` gives
    /// it (`train-images.idx3-ubyte`).
    ///
    /// # Errors
    /// [`DataError::MissingFile`] naming the file and the folder; any error of [`load_split`].
    pub fn load_with(dir: impl AsRef<Path>, options: MnistOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let train = load_split(
            &find(dir, &TRAIN_IMAGES)?,
            &find(dir, &TRAIN_LABELS)?,
            options,
        )?;
        let test = load_split(
            &find(dir, &TEST_IMAGES)?,
            &find(dir, &TEST_LABELS)?,
            options,
        )?;
        Ok(Mnist { train, test })
    }
}

/// The first of the file's accepted names that exists in `dir`.
fn find(dir: &Path, file: &StandardFile) -> Result<PathBuf> {
    let names = [
        format!("{}.gz", file.stem),
        file.stem.to_string(),
        file.gunzip_name.to_string(),
    ];
    for name in &names {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    let [wanted, also_tried @ ..] = names;
    Err(DataError::MissingFile {
        op: "mnist",
        file: wanted,
        dir: dir.to_path_buf(),
        also_tried: also_tried.to_vec(),
    })
}

/// Loads one split from an image file `[n, rows, cols]` and a label file `[n]`, both IDX.
///
/// Images become `[n, rows·cols]` scaled from bytes to `[0, 1]`; every label must be below
/// [`MNIST_CLASSES`]. Use this for files under non-standard names.
///
/// # Errors
/// [`DataError::File`] if a file cannot be read, the errors of [`IdxArray::from_bytes`],
/// [`DataError::BadRank`] unless the images have 3 dimensions and the labels 1,
/// [`DataError::CountMismatch`], [`DataError::LabelOutOfRange`], and
/// [`DataError::ChecksumMismatch`] when verifying a file with a standard name.
pub fn load_split(images: &Path, labels: &Path, options: MnistOptions) -> Result<Dataset<f32>> {
    let (image_dims, pixels) = read_checked(images, options)?.into_parts();
    let [count, rows, cols] = image_dims[..] else {
        return Err(DataError::BadRank {
            path: images.to_path_buf(),
            expected: "3 (count, rows, columns)",
            dims: image_dims,
        });
    };
    let (label_dims, label_bytes) = read_checked(labels, options)?.into_parts();
    let [label_count] = label_dims[..] else {
        return Err(DataError::BadRank {
            path: labels.to_path_buf(),
            expected: "1 (count)",
            dims: label_dims,
        });
    };
    if label_count != count {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count: count,
            labels: labels.to_path_buf(),
            label_count,
        });
    }
    if let Some(index) = label_bytes
        .iter()
        .position(|&l| usize::from(l) >= MNIST_CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            path: labels.to_path_buf(),
            index,
            label: usize::from(label_bytes[index]),
            classes: MNIST_CLASSES,
        });
    }
    // Division rather than a reciprocal multiply: 255 maps to exactly 1.0.
    let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Tensor::from_vec(x, &[count, rows * cols]);
    Ok(Dataset::new(
        x,
        label_bytes.into_iter().map(usize::from).collect(),
    ))
}

/// Reads an IDX file, first checking its SHA-256 when asked to and its name has a published one.
fn read_checked(path: &Path, options: MnistOptions) -> Result<IdxArray> {
    let bytes = fs::read(path).map_err(|e| DataError::io("mnist", path, "read", e))?;
    if options.verify_checksums {
        if let Some(expected) = known_sha256(path) {
            let found = hex(&Sha256::digest(&bytes));
            if found != expected {
                return Err(DataError::ChecksumMismatch {
                    path: path.to_path_buf(),
                    expected: expected.to_string(),
                    found,
                });
            }
        }
    }
    IdxArray::from_bytes(&bytes, path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MNIST folder to use: `flag` if given, else `$MNIST_DIR` if set and non-empty, else the copy
/// shipped in this repository's `data/mnist`.
///
/// The shipped path is fixed at compile time, so examples find it from any working directory.
pub fn resolve_data_dir(flag: Option<PathBuf>) -> PathBuf {
    resolve_from(flag, std::env::var_os(MNIST_DIR_VAR))
}

/// The `data/mnist` folder of the tapegrad source tree this crate was built from.
pub fn shipped_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("mnist")
}

/// [`resolve_data_dir`] with the environment passed in, so tests need not set process state.
fn resolve_from(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(shipped_data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_prefers_flag_then_env_then_shipped() {
        let flag = Some(PathBuf::from("/flag"));
        let env = Some(OsString::from("/env"));
        assert_eq!(
            resolve_from(flag.clone(), env.clone()),
            PathBuf::from("/flag")
        );
        assert_eq!(resolve_from(None, env), PathBuf::from("/env"));
        assert_eq!(
            resolve_from(None, Some(OsString::new())),
            shipped_data_dir()
        );
        assert_eq!(resolve_from(None, None), shipped_data_dir());
        assert!(shipped_data_dir().ends_with("data/mnist"));
    }

    #[test]
    fn checksums_apply_to_standard_gz_names_only() {
        let dir = Path::new("/somewhere");
        assert_eq!(
            known_sha256(&dir.join("t10k-labels-idx1-ubyte.gz")),
            Some(TEST_LABELS.sha256)
        );
        assert_eq!(known_sha256(&dir.join("t10k-labels-idx1-ubyte")), None);
        assert_eq!(known_sha256(&dir.join("fashion-labels.gz")), None);
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0a, 0xff]), "000aff");
    }
}
