//! The data module against files on disk: every defect a reader can meet is an error that names the
//! file, small IDX files round-trip, and the shipped MNIST loads with its published counts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegrad::data::{
    DataError, FileError, IdxArray, MNIST_CLASSES, Mnist, MnistOptions, load_split,
    shipped_data_dir,
};

/// A fresh folder under the system temp dir, removed again when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tapegrad-data-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Raw IDX bytes: magic with `type_byte`, then `dims`, then `data` (which may disagree with dims).
fn idx_bytes(type_byte: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, type_byte, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Writes `bytes` to `name` in `dir` and reads it back as IDX.
fn read_written(dir: &TempDir, name: &str, bytes: &[u8]) -> (PathBuf, DataError) {
    let path = dir.file(name);
    fs::write(&path, bytes).unwrap();
    let err = IdxArray::read(&path).expect_err("a defective file must be an error");
    (path, err)
}

/// Asserts that `err`'s message names `path` and contains every one of `parts`.
fn assert_message(err: &DataError, path: &Path, parts: &[&str]) {
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message does not name {}: {message}",
        path.display()
    );
    for part in parts {
        assert!(message.contains(part), "message lacks {part:?}: {message}");
    }
}

/// A small MNIST-format folder: `n` images of 2×3 pixels and the given labels, gzip-compressed,
/// under the standard names.
fn fake_mnist(dir: &TempDir, n: usize, labels: &[u8]) {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 37 % 256) as u8).collect();
    let images = IdxArray::new(vec![n, 2, 3], pixels).unwrap();
    let labels = IdxArray::new(vec![labels.len()], labels.to_vec()).unwrap();
    for split in ["train", "t10k"] {
        images
            .write(dir.file(&format!("{split}-images-idx3-ubyte.gz")), true)
            .unwrap();
        labels
            .write(dir.file(&format!("{split}-labels-idx1-ubyte.gz")), true)
            .unwrap();
    }
}

#[test]
fn idx_round_trips_raw_and_gzip() {
    let dir = TempDir::new("round-trip");
    let data: Vec<u8> = (0..165u32)
        .map(|i| (i * 47 % 256) as u8)
        .chain([0, 255])
        .collect();
    let array = IdxArray::new(vec![167, 1], data).unwrap();
    for gzip in [false, true] {
        let path = dir.file(if gzip { "a.idx.gz" } else { "a.idx" });
        array.write(&path, gzip).unwrap();
        let on_disk = fs::read(&path).unwrap();
        assert_eq!(on_disk.starts_with(&[0x1f, 0x8b]), gzip);
        let back = IdxArray::read(&path).unwrap();
        assert_eq!(back, array);
        assert_eq!(back.dims(), &[167, 1]);
    }
}

#[test]
fn missing_file_says_which_where_and_what_to_do() {
    let dir = TempDir::new("missing");
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    assert_message(
        &err,
        dir.path(),
        &[
            "train-images-idx3-ubyte.gz not found",
            "--data DIR",
            "MNIST_DIR",
            "data/mnist",
        ],
    );

    // with the training images present, the next missing file is the one named
    fake_mnist(&dir, 2, &[1, 2]);
    fs::remove_file(dir.file("t10k-labels-idx1-ubyte.gz")).unwrap();
    let err = Mnist::load(dir.path()).unwrap_err();
    assert_message(&err, dir.path(), &["t10k-labels-idx1-ubyte.gz not found"]);

    // a missing file read directly is an I/O error naming it
    let path = dir.file("nothing.idx");
    let err = IdxArray::read(&path).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::File {
                op: "idx",
                source: FileError::Io { action: "read", .. }
            }
        ),
        "{err}"
    );
    assert_message(&err, &path, &["idx: ", "cannot read"]);
    // The chain reaches the OS error through the shared file error.
    let file_error = std::error::Error::source(&err).expect("the file error");
    let os_error = file_error.source().expect("the OS error");
    assert!(os_error.downcast_ref::<std::io::Error>().is_some());
}

#[test]
fn wrong_magic_is_an_error() {
    let dir = TempDir::new("magic");
    let (path, err) = read_written(&dir, "bad", b"PK\x03\x04 a zip, not IDX");
    assert!(matches!(err, DataError::BadMagic { .. }), "{err}");
    assert_message(&err, &path, &["bad magic number", "50 4b 03 04"]);
}

#[test]
fn wrong_type_byte_is_an_error() {
    let dir = TempDir::new("type");
    let (path, err) = read_written(&dir, "floats", &idx_bytes(0x0d, &[1], &[0; 4]));
    assert!(
        matches!(
            err,
            DataError::UnsupportedType {
                type_byte: 0x0d,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &path, &["0x0d (f32)", "only 0x08"]);
    let (_, err) = read_written(&dir, "unknown", &idx_bytes(0x42, &[1], &[0]));
    assert!(err.to_string().contains("0x42 (not an IDX type)"), "{err}");
}

#[test]
fn truncated_data_says_expected_and_found_bytes() {
    let dir = TempDir::new("truncated-data");
    let bytes = idx_bytes(8, &[2, 3], &[1, 2, 3, 4]);
    let (path, err) = read_written(&dir, "raw", &bytes);
    assert!(
        matches!(
            err,
            DataError::TruncatedData {
                expected: 6,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &path, &["truncated data", "need 6 bytes, found 4"]);
    let (path, err) = read_written(&dir, "gz", &gzip(&bytes));
    assert_message(&err, &path, &["truncated data", "need 6 bytes, found 4"]);
}

#[test]
fn truncated_header_is_an_error() {
    let dir = TempDir::new("truncated-header");
    // a 3-dimensional image header cut after its second size
    let bytes = &idx_bytes(8, &[60000, 28, 28], &[])[..12];
    let (path, err) = read_written(&dir, "raw", bytes);
    assert!(
        matches!(
            err,
            DataError::TruncatedHeader {
                expected: 16,
                found: 12,
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &path,
        &["truncated header", "expected 16 bytes, found 12"],
    );
    let (_, err) = read_written(&dir, "empty", &[]);
    assert!(matches!(err, DataError::TruncatedHeader { found: 0, .. }));
    let (_, err) = read_written(&dir, "gz", &gzip(bytes));
    assert!(matches!(err, DataError::TruncatedHeader { found: 12, .. }));
}

#[test]
fn trailing_bytes_are_an_error() {
    let dir = TempDir::new("trailing");
    let bytes = idx_bytes(8, &[3], &[1, 2, 3, 4, 5]);
    let (path, err) = read_written(&dir, "raw", &bytes);
    assert!(
        matches!(
            err,
            DataError::TrailingBytes {
                expected: 3,
                found: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &path,
        &["trailing bytes", "need 3 bytes, found 5 (2 extra)"],
    );
    let (_, err) = read_written(&dir, "gz", &gzip(&bytes));
    assert!(matches!(err, DataError::TrailingBytes { .. }), "{err}");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let dir = TempDir::new("gzip");
    let pixels: Vec<u8> = (0..2000).map(|i| (i * 7 % 251) as u8).collect();
    let good = gzip(&idx_bytes(8, &[2000], &pixels));

    let (path, err) = read_written(&dir, "cut.gz", &good[..good.len() / 2]);
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    assert_message(&err, &path, &["corrupt gzip"]);

    // every single flipped byte past the gzip header: caught by inflate or by the CRC
    for i in 10..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x55;
        let (_, err) = read_written(&dir, "flipped.gz", &bad);
        assert!(matches!(err, DataError::Gzip { .. }), "byte {i}: {err}");
    }

    let (_, err) = read_written(&dir, "header-only.gz", &[0x1f, 0x8b, 0x08]);
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = TempDir::new("count");
    fake_mnist(&dir, 5, &[0, 1, 2, 3]);
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                image_count: 5,
                label_count: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &dir.file("train-images-idx3-ubyte.gz"),
        &[
            "count mismatch",
            "5 images",
            "train-labels-idx1-ubyte.gz holds 4 labels",
        ],
    );
}

#[test]
fn labels_must_be_below_ten() {
    let dir = TempDir::new("label");
    fake_mnist(&dir, 4, &[0, 9, 10, 3]);
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                classes: MNIST_CLASSES,
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &dir.file("train-labels-idx1-ubyte.gz"),
        &["label 2 is 10", "below 10"],
    );
}

#[test]
fn images_and_labels_need_their_ranks() {
    let dir = TempDir::new("rank");
    let flat = dir.file("flat-images");
    IdxArray::new(vec![2, 6], vec![0; 12])
        .unwrap()
        .write(&flat, false)
        .unwrap();
    let labels = dir.file("labels");
    IdxArray::new(vec![2], vec![0, 1])
        .unwrap()
        .write(&labels, false)
        .unwrap();
    let err = load_split(&flat, &labels, MnistOptions::default()).unwrap_err();
    assert_message(
        &err,
        &flat,
        &["expected 3 (count, rows, columns), found 2 [2, 6]"],
    );
    let err = load_split(&flat, &flat, MnistOptions::default());
    assert!(err.is_err());
}

#[test]
fn checksums_are_verified_only_when_asked() {
    let dir = TempDir::new("checksum");
    fake_mnist(&dir, 3, &[7, 8, 9]);
    let verify = MnistOptions {
        verify_checksums: true,
    };
    let err = Mnist::load_with(dir.path(), verify).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
    assert_message(
        &err,
        &dir.file("train-images-idx3-ubyte.gz"),
        &[
            "checksum mismatch",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "verify_checksums off",
        ],
    );
    // Fashion-MNIST and other look-alikes load with verification off
    let mnist = Mnist::load(dir.path()).unwrap();
    assert_eq!(mnist.train.y(), &[7, 8, 9]);
}

#[test]
fn a_small_mnist_folder_loads_scaled_and_flattened() {
    let dir = TempDir::new("small");
    fake_mnist(&dir, 3, &[4, 0, 9]);
    let mnist = Mnist::load(dir.path()).unwrap();
    for split in [&mnist.train, &mnist.test] {
        assert_eq!(split.x().shape(), &[3, 6]);
        assert_eq!(split.y(), &[4, 0, 9]);
        let want: Vec<f32> = (0..18).map(|i| (i * 37 % 256) as f32 / 255.0).collect();
        assert_eq!(split.x().to_vec(), want);
    }
}

#[test]
fn uncompressed_files_under_either_name_load() {
    let dir = TempDir::new("uncompressed");
    fake_mnist(&dir, 2, &[1, 2]);
    // replace two files with raw copies: one without `.gz`, one under the name `gunzip -N` gives
    for (gz, raw) in [
        ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
        ("t10k-labels-idx1-ubyte.gz", "t10k-labels.idx1-ubyte"),
    ] {
        let array = IdxArray::read(dir.file(gz)).unwrap();
        array.write(dir.file(raw), false).unwrap();
        fs::remove_file(dir.file(gz)).unwrap();
    }
    let verify = MnistOptions {
        verify_checksums: true,
    };
    // The gzip files that remain still fail verification; raw ones have no digest to check.
    assert!(Mnist::load_with(dir.path(), verify).is_err());
    let mnist = Mnist::load(dir.path()).unwrap();
    assert_eq!(mnist.train.len(), 2);
    assert_eq!(mnist.test.y(), &[1, 2]);
}

/// The real files: 60 000 + 10 000 samples with the label counts published in data/mnist/README.md.
#[test]
fn shipped_mnist_loads_with_published_counts() {
    let verify = MnistOptions {
        verify_checksums: true,
    };
    let mnist = Mnist::load_with(shipped_data_dir(), verify).unwrap();
    assert_eq!(mnist.train.x().shape(), &[60_000, 784]);
    assert_eq!(mnist.test.x().shape(), &[10_000, 784]);

    let counts = |labels: &[usize]| {
        let mut counts = [0usize; 10];
        for &l in labels {
            counts[l] += 1;
        }
        counts
    };
    assert_eq!(
        counts(mnist.train.y()),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        counts(mnist.test.y()),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(mnist.train.y()[..5], [5, 0, 4, 1, 9]);

    let pixels = mnist.test.x().as_contiguous_slice().unwrap();
    let (min, max) = pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert_eq!((min, max), (0.0, 1.0));
}
