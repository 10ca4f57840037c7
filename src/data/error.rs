//! `DataError`: what went wrong reading a data file or building a dataset.

use std::fmt;
use std::io;
use std::path::PathBuf;
pub use tapegrad_tensor::io::FileError;

/// A `Result` whose error is a [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

/// What went wrong reading a data file or building a dataset.
///
/// Every file variant names the path; the message form is `op: path: what: detail`, where `op` is
/// `idx`, `mnist`, `csv`, `npy` or `dataset`. CSV messages name the row as an editor numbers lines
/// (from 1, header included) and the column from 1, with its header name when there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system could not read or write the file; the shared file error of
    /// checkpoints and optimizer state, naming the path and the step that failed.
    File {
        /// The reader or writer that failed (`idx` or `mnist`).
        op: &'static str,
        /// What went wrong, with the path.
        source: FileError,
    },
    /// A file the loader needs is not there.
    MissingFile {
        /// The loader that looked.
        op: &'static str,
        /// The file name that was wanted.
        file: String,
        /// The folder it looked in.
        dir: PathBuf,
        /// Other names tried in the same folder.
        also_tried: Vec<String>,
    },
    /// The file starts with the gzip magic but does not decompress.
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor reported.
        detail: String,
    },
    /// The first two bytes are not the zeros an IDX magic number starts with.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The four magic bytes found (after decompression).
        found: [u8; 4],
    },
    /// The IDX element type is not unsigned byte (0x08), the only one supported.
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type byte of the magic number.
        type_byte: u8,
    },
    /// The number of dimensions is not what the file should have.
    BadRank {
        /// The file.
        path: PathBuf,
        /// What the reader needs: e.g. `"3 (count, rows, columns)"`, or `"at least 1"`.
        expected: &'static str,
        /// The dimensions found.
        dims: Vec<usize>,
    },
    /// The dimensions multiply to more elements than memory can address.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions found.
        dims: Vec<usize>,
    },
    /// The file ends inside its header.
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Header bytes the magic number calls for.
        expected: usize,
        /// Header bytes present.
        found: usize,
    },
    /// The file ends before the data its dimensions call for.
    TruncatedData {
        /// The file.
        path: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Data bytes the dimensions call for.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// Bytes follow the data the dimensions call for.
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Data bytes the dimensions call for.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// An image file and its label file disagree on the number of samples.
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Samples it holds.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Labels it holds.
        label_count: usize,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        label: usize,
        /// The number of classes; labels must be below it.
        classes: usize,
    },
    /// A file's SHA-256 differs from the published one.
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The published digest, in hex.
        expected: String,
        /// The file's digest, in hex.
        found: String,
    },
    /// A dataset's inputs and labels do not fit together, or a request on it is out of range.
    Dataset {
        /// The dataset method.
        op: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The file a reader was pointed at does not exist.
    NotFound {
        /// The reader (`csv`, `npy`).
        op: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// The file holds no samples: no bytes at all, or a header and no rows.
    Empty {
        /// The reader (`csv`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// A CSV cell does not hold what its column needs: a finite number, or a class id.
    Cell {
        /// The file.
        path: PathBuf,
        /// The line the row starts on, from 1, header included (as an editor numbers lines).
        row: u64,
        /// The column, from 1.
        column: usize,
        /// The column's header name, if the file has a header.
        name: Option<String>,
        /// The cell's text (after trimming surrounding whitespace).
        value: String,
        /// What is wrong with it, quoting the value: e.g. `"abc" is not a number`.
        why: String,
    },
    /// A CSV row has a different number of fields than the first row (the header, if any).
    Ragged {
        /// The file.
        path: PathBuf,
        /// The line the bad row starts on, from 1.
        row: u64,
        /// Fields in that row.
        found: usize,
        /// Fields in the first row.
        expected: usize,
        /// Whether the first row is a header.
        header: bool,
    },
    /// A target or feature column asked for is not in the CSV file.
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column as asked for: `"price"` or `index 7`.
        column: String,
        /// The columns the file has: header names, or a count.
        available: String,
    },
    /// The file cannot be used as asked: a corrupt or unsupported NumPy header or dtype, data
    /// shorter or longer than the header says, a bad label, or CSV options that do not fit it.
    Format {
        /// The reader (`csv`, `npy`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An inputs file and its targets file hold different numbers of samples.
    SampleMismatch {
        /// The reader (`npy`).
        op: &'static str,
        /// The inputs file.
        x: PathBuf,
        /// Its shape; the first size is the sample count.
        x_shape: Vec<usize>,
        /// The targets file.
        y: PathBuf,
        /// Its shape.
        y_shape: Vec<usize>,
    },
}

const HINT: &str = "pass --data DIR or set MNIST_DIR to a folder holding the four MNIST .gz files; \
     a clone of the tapegrad repository ships them in data/mnist, and tapegrad installed from \
     crates.io does not: copy that folder (or the original files) anywhere and point to it";

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::File { op, source } => write!(f, "{op}: {source}"),
            DataError::MissingFile {
                op,
                file,
                dir,
                also_tried,
            } => {
                write!(f, "{op}: {file} not found in {}", dir.display())?;
                if !also_tried.is_empty() {
                    write!(f, " (also tried {})", also_tried.join(", "))?;
                }
                write!(f, ": {HINT}")
            }
            DataError::Gzip { path, detail } => write!(
                f,
                "idx: {}: corrupt gzip: the file starts like gzip but does not decompress: {detail}",
                path.display()
            ),
            DataError::BadMagic { path, found } => write!(
                f,
                "idx: {}: bad magic number: expected 00 00 TT NN, found {:02x} {:02x} {:02x} {:02x}; \
                 this is not an IDX file",
                path.display(),
                found[0],
                found[1],
                found[2],
                found[3]
            ),
            DataError::UnsupportedType { path, type_byte } => {
                let name = match type_byte {
                    0x09 => "signed byte",
                    0x0B => "i16",
                    0x0C => "i32",
                    0x0D => "f32",
                    0x0E => "f64",
                    _ => "not an IDX type",
                };
                write!(
                    f,
                    "idx: {}: unsupported element type: 0x{type_byte:02x} ({name}); only 0x08 \
                     (unsigned byte) is supported",
                    path.display()
                )
            }
            DataError::BadRank {
                path,
                expected,
                dims,
            } => write!(
                f,
                "idx: {}: wrong number of dimensions: expected {expected}, found {} {dims:?}",
                path.display(),
                dims.len()
            ),
            DataError::TooLarge { path, dims } => write!(
                f,
                "idx: {}: dimensions too large: {dims:?} multiply past the addressable size",
                path.display()
            ),
            DataError::TruncatedHeader {
                path,
                expected,
                found,
            } => write!(
                f,
                "idx: {}: truncated header: expected {expected} bytes, found {found}",
                path.display()
            ),
            DataError::TruncatedData {
                path,
                dims,
                expected,
                found,
            } => write!(
                f,
                "idx: {}: truncated data: dimensions {dims:?} need {expected} bytes, found {found}",
                path.display()
            ),
            DataError::TrailingBytes {
                path,
                dims,
                expected,
                found,
            } => write!(
                f,
                "idx: {}: trailing bytes: dimensions {dims:?} need {expected} bytes, found {found} \
                 ({} extra)",
                path.display(),
                found - expected
            ),
            DataError::CountMismatch {
                images,
                image_count,
                labels,
                label_count,
            } => write!(
                f,
                "mnist: {}: count mismatch: {image_count} images, but {} holds {label_count} labels",
                images.display(),
                labels.display()
            ),
            DataError::LabelOutOfRange {
                path,
                index,
                label,
                classes,
            } => write!(
                f,
                "mnist: {}: label out of range: label {index} is {label}, labels must be below \
                 {classes}",
                path.display()
            ),
            DataError::ChecksumMismatch {
                path,
                expected,
                found,
            } => write!(
                f,
                "mnist: {}: checksum mismatch: SHA-256 {found}, the published MNIST file has \
                 {expected}; the file is damaged, or it is another dataset under MNIST's name \
                 (Fashion-MNIST?): load that with verify_checksums off",
                path.display()
            ),
            DataError::Dataset { op, why } => write!(f, "{op}: {why}"),
            DataError::NotFound { op, path, hint } => {
                write!(f, "{op}: {}: no such file; {hint}", path.display())
            }
            DataError::Empty { op, path, why } | DataError::Format { op, path, why } => {
                write!(f, "{op}: {}: {why}", path.display())
            }
            DataError::Cell {
                path,
                row,
                column,
                name,
                why,
                ..
            } => {
                write!(f, "csv: {}: row {row}, column {column}", path.display())?;
                if let Some(name) = name {
                    write!(f, " ({name:?})")?;
                }
                write!(f, ": {why}")
            }
            DataError::Ragged {
                path,
                row,
                found,
                expected,
                header,
            } => write!(
                f,
                "csv: {}: row {row} has {found} fields, but the {} has {expected}; every row needs \
                 one field per column (quote a field that contains the delimiter)",
                path.display(),
                if *header { "header" } else { "first row" }
            ),
            DataError::MissingColumn {
                path,
                column,
                available,
            } => write!(
                f,
                "csv: {}: no column {column}; the file has {available}",
                path.display()
            ),
            DataError::SampleMismatch {
                op,
                x,
                x_shape,
                y,
                y_shape,
            } => write!(
                f,
                "{op}: {}: {} samples (shape {x_shape:?}), but the targets in {} number {} \
                 (shape {y_shape:?})",
                x.display(),
                x_shape.first().copied().unwrap_or(0),
                y.display(),
                y_shape.first().copied().unwrap_or(0)
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::File { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl DataError {
    /// The OS error `source` from `op` doing `action` (`"read"`, `"write"`) to `path`.
    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
        action: &'static str,
        source: io::Error,
    ) -> Self {
        DataError::File {
            op,
            source: FileError::io(path, action, source),
        }
    }
}

/// The error for a file that cannot be opened: [`DataError::NotFound`] with `hint` if it is not
/// there, else the OS error.
pub(crate) fn open_error(
    op: &'static str,
    path: &std::path::Path,
    source: io::Error,
    hint: impl FnOnce() -> String,
) -> DataError {
    if source.kind() == io::ErrorKind::NotFound {
        DataError::NotFound {
            op,
            path: path.to_path_buf(),
            hint: hint(),
        }
    } else {
        DataError::io(op, path, "read", source)
    }
}

/// The hint for a missing file given by the caller: where relative paths start from.
pub(crate) fn path_hint(path: &std::path::Path) -> String {
    match std::env::current_dir() {
        Ok(dir) if path.is_relative() => format!(
            "check the path: relative paths start from the working directory {}",
            dir.display()
        ),
        _ => "check the path".to_string(),
    }
}

/// Unwraps a dataset result; a failure panics with the error's message at the caller's line.
#[track_caller]
pub(crate) fn or_panic<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
