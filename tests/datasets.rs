//! Datasets beyond MNIST: float-tensor targets, seeded train/validation splits, CSV and NumPy
//! `.npy` files (every malformed one an error naming the path, row and column), and the shipped
//! Friedman #1 regression CSV.

use std::fs;
use std::path::{Path, PathBuf};
use tapegrad::data::{
    BatchOptions, Column, CsvOptions, DataError, Dataset, FRIEDMAN1_CSV_VAR, SplitSize, Targets,
    load_friedman1, read_npy, read_npy_labels, shipped_friedman1_csv,
};
use tapegrad::prelude::*;

/// A fresh folder under the system temp dir, removed again when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tapegrad-datasets-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Writes `contents` to `name` in the folder and returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Asserts that `err`'s message names `path` and contains every one of `parts`.
#[track_caller]
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

/// Sample `i` has inputs `[i, 100 + i, 200 + i]` and float targets `[10 i, -i]`: a batch row
/// names its sample.
fn numbered(n: usize) -> Dataset<f64, Tensor<f64>> {
    let x = Tensor::from_fn(&[n, 3], |ix| (ix[0] + 100 * ix[1]) as f64);
    let y = Tensor::from_fn(&[n, 2], |ix| {
        if ix[1] == 0 {
            10.0 * ix[0] as f64
        } else {
            -(ix[0] as f64)
        }
    });
    Dataset::from_tensors(x, y)
}

/// The sample ids of a batch's rows, read from the inputs' first column.
fn ids(x: &Tensor<f64>) -> Vec<usize> {
    (0..x.shape()[0]).map(|r| x.get(&[r, 0]) as usize).collect()
}

// ---------------------------------------------------------------------------------------------
// Float-tensor targets

#[test]
fn tensor_target_batches_match_manual_gathering() {
    let data = numbered(23);
    let mut rng = StdRng::seed_from_u64(5);
    let mut seen = Vec::new();
    for (x, y) in data.batches(4, &mut rng, BatchOptions::default()) {
        let picked = ids(&x);
        assert_eq!(x.to_vec(), data.x().index_select(0, &picked).to_vec());
        assert_eq!(y.shape(), &[picked.len(), 2]);
        assert_eq!(y.to_vec(), data.y().index_select(0, &picked).to_vec());
        seen.extend(picked);
    }
    assert_ne!(seen, (0..23).collect::<Vec<_>>(), "shuffled");
    seen.sort_unstable();
    assert_eq!(seen, (0..23).collect::<Vec<_>>(), "every sample once");
}

#[test]
fn the_order_depends_on_the_seed_not_on_the_target_kind() {
    let data = numbered(30);
    let labels = Dataset::new(data.x().clone(), (0..30).collect());
    let order = |seed: u64| -> Vec<Vec<usize>> {
        let mut rng = StdRng::seed_from_u64(seed);
        data.batches(7, &mut rng, BatchOptions::default())
            .map(|(x, _)| ids(&x))
            .collect()
    };
    assert_eq!(order(3), order(3));
    assert_ne!(order(3), order(4));
    let mut rng = StdRng::seed_from_u64(3);
    let by_labels: Vec<Vec<usize>> = labels
        .batches(7, &mut rng, BatchOptions::default())
        .map(|(_, y)| y)
        .collect();
    assert_eq!(order(3), by_labels);
}

#[test]
fn tensor_targets_drop_last_and_keep_higher_ranks() {
    let x = Tensor::<f32>::zeros(&[10, 2]);
    let y = Tensor::<f32>::from_fn(&[10, 2, 3], |ix| (ix[0] * 6 + ix[1] * 3 + ix[2]) as f32);
    let data = Dataset::from_tensors(x, y);
    let options = BatchOptions {
        shuffle: false,
        drop_last: true,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let batches: Vec<_> = data.batches(4, &mut rng, options).collect();
    assert_eq!(batches.len(), 2);
    for (b, (_, y)) in batches.iter().enumerate() {
        assert_eq!(y.shape(), &[4, 2, 3]);
        let want: Vec<f32> = (b * 24..(b + 1) * 24).map(|v| v as f32).collect();
        assert_eq!(y.to_vec(), want);
    }
}

#[test]
fn strided_tensor_targets_batch_by_value() {
    let data = numbered(12);
    // same values, column-major storage: a view that is not contiguous
    let y = data.y().t().contiguous().t();
    assert!(!y.is_contiguous());
    let data = Dataset::from_tensors(data.x().clone(), y).subset(3..11);
    let options = BatchOptions {
        shuffle: false,
        drop_last: false,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let mut rows = Vec::new();
    for (x, y) in data.batches(3, &mut rng, options) {
        for (r, id) in ids(&x).into_iter().enumerate() {
            assert_eq!(y.get(&[r, 0]), 10.0 * id as f64);
            assert_eq!(y.get(&[r, 1]), -(id as f64));
            rows.push(id);
        }
    }
    assert_eq!(rows, (3..11).collect::<Vec<_>>());
}

#[test]
fn mismatched_samples_name_both_shapes() {
    let err =
        Dataset::try_from_tensors(Tensor::<f32>::zeros(&[3, 2]), Tensor::<f32>::zeros(&[4, 1]))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: x has 3 samples (shape [3, 2]), but y has 4 targets (shape [4, 1])"
    );
    let err = Dataset::try_from_tensors(Tensor::<f32>::zeros(&[3, 2]), Tensor::<f32>::scalar(1.0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: y must have a sample axis, but it is a scalar"
    );
    // labels keep their message
    let err = Dataset::try_new(Tensor::<f32>::zeros(&[3, 2]), vec![0; 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dataset: x has 3 samples (shape [3, 2]), but y has 4 labels"
    );
}

#[test]
#[should_panic(expected = "dataset: x has 2 samples (shape [2, 1]), but y has 3 targets")]
fn new_panics_with_the_message() {
    Dataset::from_tensors(Tensor::<f32>::zeros(&[2, 1]), Tensor::<f32>::zeros(&[3]));
}

#[test]
fn subset_select_and_cast_carry_tensor_targets() {
    let data = numbered(6);
    let sub = data.subset(2..5);
    assert_eq!(sub.y().to_vec(), [20.0, -2.0, 30.0, -3.0, 40.0, -4.0]);
    let picked = data.select(&[5, 0, 5]);
    assert_eq!(ids(picked.x()), [5, 0, 5]);
    assert_eq!(picked.y().to_vec(), [50.0, -5.0, 0.0, 0.0, 50.0, -5.0]);
    let err = data.try_select(&[1, 6]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "select: index 6 (at position 1) is out of range for 6 samples"
    );
    let single: Dataset<f32, Tensor<f32>> = data.cast();
    assert_eq!(
        single.y().to_vec(),
        [
            0.0f32, 0.0, 10.0, -1.0, 20.0, -2.0, 30.0, -3.0, 40.0, -4.0, 50.0, -5.0
        ]
    );
    let labels: Dataset<f64> = Dataset::new(Tensor::zeros(&[2, 1]), vec![4, 2]);
    assert_eq!(labels.cast::<f32>().y(), &[4, 2]);
    // the trait gathers either kind
    assert_eq!(Targets::<f32>::select(&vec![7, 8, 9], &[2, 0]), [9, 7]);
    assert_eq!(Targets::len(data.y()), 6);
}

// ---------------------------------------------------------------------------------------------
// Splits

/// The sample ids of a dataset of [`numbered`] samples.
fn all_ids(data: &Dataset<f64, Tensor<f64>>) -> Vec<usize> {
    ids(data.x())
}

#[test]
fn split_is_seeded_disjoint_and_covering() {
    let data = numbered(50);
    let (train, val) = data.split(0.2, &mut StdRng::seed_from_u64(11));
    assert_eq!((train.len(), val.len()), (40, 10));
    let (train_ids, val_ids) = (all_ids(&train), all_ids(&val));
    // each part keeps the original order; together they hold every sample once
    assert!(train_ids.windows(2).all(|w| w[0] < w[1]));
    assert!(val_ids.windows(2).all(|w| w[0] < w[1]));
    let mut both = [train_ids.clone(), val_ids.clone()].concat();
    both.sort_unstable();
    assert_eq!(both, (0..50).collect::<Vec<_>>());
    assert_ne!(val_ids, (40..50).collect::<Vec<_>>(), "drawn, not the tail");
    // targets follow their inputs
    for (r, &id) in val_ids.iter().enumerate() {
        assert_eq!(val.y().get(&[r, 0]), 10.0 * id as f64);
    }
    // same seed, same split; another seed, another split
    let (_, again) = data.split(0.2, &mut StdRng::seed_from_u64(11));
    assert_eq!(all_ids(&again), val_ids);
    let (_, other) = data.split(0.2, &mut StdRng::seed_from_u64(12));
    assert_ne!(all_ids(&other), val_ids);
}

#[test]
fn split_sizes_by_fraction_and_count() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[10, 1]), (0..10).collect());
    let sizes = |size: SplitSize| {
        let (train, val) = data.split(size, &mut StdRng::seed_from_u64(0));
        (train.len(), val.len())
    };
    assert_eq!(sizes(0.25.into()), (7, 3), "2.5 rounds to 3");
    assert_eq!(sizes(0.0.into()), (10, 0));
    assert_eq!(sizes(1.0.into()), (0, 10));
    assert_eq!(sizes(0.5f32.into()), (5, 5));
    assert_eq!(sizes(4.into()), (6, 4));
    assert_eq!(sizes(10.into()), (0, 10));
    let (train, val) = data.split(4, &mut StdRng::seed_from_u64(3));
    let mut labels = [train.y(), val.y()].concat();
    labels.sort_unstable();
    assert_eq!(labels, (0..10).collect::<Vec<_>>());
}

#[test]
fn bad_split_sizes_are_errors() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[10, 1]), vec![0; 10]);
    let mut rng = StdRng::seed_from_u64(0);
    for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY] {
        let err = data.try_split(bad, &mut rng).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("split: the validation fraction must lie between 0 and 1, but it is"),
            "{err}"
        );
    }
    let err = data.try_split(11, &mut rng).unwrap_err();
    assert_eq!(
        err.to_string(),
        "split: 11 validation samples asked for, but the dataset has 10"
    );
}

#[test]
#[should_panic(expected = "split: the validation fraction must lie between 0 and 1, but it is NaN")]
fn split_panics_with_the_message() {
    let data = Dataset::new(Tensor::<f32>::zeros(&[4, 1]), vec![0; 4]);
    data.split(f64::NAN, &mut StdRng::seed_from_u64(0));
}

#[test]
fn split_at_is_unshuffled() {
    let data = numbered(7);
    let (head, tail) = data.split_at(5);
    assert_eq!(all_ids(&head), [0, 1, 2, 3, 4]);
    assert_eq!(all_ids(&tail), [5, 6]);
    assert_eq!(tail.y().to_vec(), [50.0, -5.0, 60.0, -6.0]);
    let (all, none) = data.split_at(7);
    assert_eq!((all.len(), none.len()), (7, 0));
    assert_eq!(
        data.try_split_at(8).unwrap_err().to_string(),
        "split_at: cannot split 7 samples at 8"
    );
}

// ---------------------------------------------------------------------------------------------
// CSV

const HOUSES: &str = "\
rooms,area,age,price
3,70.5,12,210.5
4,92,3,280
2,48.25,40,150
5,120,7,395.75
";

#[test]
fn csv_round_trips_through_batches() {
    let dir = TempDir::new("csv-round-trip");
    let path = dir.write("houses.csv", HOUSES);
    let data = Dataset::<f64, Tensor<f64>>::from_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(data.x().shape(), &[4, 3]);
    assert_eq!(
        data.x().to_vec(),
        [
            3.0, 70.5, 12.0, 4.0, 92.0, 3.0, 2.0, 48.25, 40.0, 5.0, 120.0, 7.0
        ]
    );
    assert_eq!(data.y().shape(), &[4, 1]);
    assert_eq!(data.y().to_vec(), [210.5, 280.0, 150.0, 395.75]);

    // shuffled batches still pair each row with its own price
    let price_of_rooms = |rooms: f64| match rooms as usize {
        3 => 210.5,
        4 => 280.0,
        2 => 150.0,
        _ => 395.75,
    };
    let mut rng = StdRng::seed_from_u64(1);
    let mut count = 0;
    for (x, y) in data.batches(3, &mut rng, BatchOptions::default()) {
        for r in 0..x.shape()[0] {
            assert_eq!(y.get(&[r, 0]), price_of_rooms(x.get(&[r, 0])));
            count += 1;
        }
    }
    assert_eq!(count, 4);

    // f32 too
    let single = Dataset::<f32, Tensor<f32>>::from_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(single.y().to_vec(), [210.5f32, 280.0, 150.0, 395.75]);
}

#[test]
fn csv_columns_by_name_index_and_choice() {
    let dir = TempDir::new("csv-columns");
    let path = dir.write("houses.csv", HOUSES);
    // two targets, by name and by index, in the order given
    let options = CsvOptions::default().with_targets([Column::from("price"), Column::Index(0)]);
    let data = Dataset::<f64, Tensor<f64>>::from_csv(&path, &options).unwrap();
    assert_eq!(data.y().shape(), &[4, 2]);
    assert_eq!(data.y().to_vec()[..4], [210.5, 3.0, 280.0, 4.0]);
    assert_eq!(data.x().to_vec()[..2], [70.5, 12.0]);
    // chosen features, in the order given
    let options = CsvOptions::default()
        .with_targets(["price"])
        .with_features(["age", "rooms"]);
    let data = Dataset::<f64, Tensor<f64>>::from_csv(&path, &options).unwrap();
    assert_eq!(data.x().shape(), &[4, 2]);
    assert_eq!(data.x().to_vec()[..4], [12.0, 3.0, 3.0, 4.0]);
}

#[test]
fn csv_class_ids() {
    let dir = TempDir::new("csv-classes");
    let path = dir.write(
        "iris-like.csv",
        "sepal,petal,species\n5.1,1.4,0\n7.0,4.7,1\n6.3,6.0,2.0\n",
    );
    // the default target is the last column; `2.0` is a whole number
    let data = Dataset::<f32>::from_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(data.y(), &[0, 1, 2]);
    assert_eq!(data.x().to_vec(), [5.1, 1.4, 7.0, 4.7, 6.3, 6.0]);
    let mut rng = StdRng::seed_from_u64(0);
    for (x, labels) in data.batches(2, &mut rng, BatchOptions::default()) {
        for (r, &label) in labels.iter().enumerate() {
            assert_eq!(x.get(&[r, 0]), [5.1, 7.0, 6.3][label]);
        }
    }
}

#[test]
fn csv_layouts_without_header_quoted_and_windows() {
    let dir = TempDir::new("csv-layouts");
    // no header, semicolons, a target in the first column
    let path = dir.write("plain.csv", "1;0.5;2\n0;1.5;3\n");
    let options = CsvOptions::default()
        .without_header()
        .with_delimiter(b';')
        .with_targets([0]);
    let data = Dataset::<f64>::from_csv(&path, &options).unwrap();
    assert_eq!(data.y(), &[1, 0]);
    assert_eq!(data.x().to_vec(), [0.5, 2.0, 1.5, 3.0]);

    // a byte-order mark, CRLF line ends, quoted fields, padding and a blank line
    let path = dir.write(
        "excel.csv",
        "\u{feff}\"a\",\"b, quoted\",y\r\n\"1.5\", 2 ,3\r\n\r\n4,\" 5 \",6\r\n",
    );
    let options = CsvOptions::default().with_targets(["y"]);
    let data = Dataset::<f64, Tensor<f64>>::from_csv(&path, &options).unwrap();
    assert_eq!(data.x().to_vec(), [1.5, 2.0, 4.0, 5.0]);
    assert_eq!(data.y().to_vec(), [3.0, 6.0]);
    let options = CsvOptions::default().with_targets(["a"]);
    let data = Dataset::<f64, Tensor<f64>>::from_csv(&path, &options).unwrap();
    assert_eq!(
        data.y().to_vec(),
        [1.5, 4.0],
        "the BOM is not part of the name"
    );
}

/// Reads `contents` as a float-target CSV with `options` and returns the path and the error.
fn csv_error(dir: &TempDir, contents: &str, options: &CsvOptions) -> (PathBuf, DataError) {
    let path = dir.write("bad.csv", contents);
    let err = Dataset::<f64, Tensor<f64>>::from_csv(&path, options)
        .expect_err("a malformed file must be an error");
    (path, err)
}

/// As [`csv_error`], for a class-id dataset.
fn class_csv_error(dir: &TempDir, contents: &str, options: &CsvOptions) -> (PathBuf, DataError) {
    let path = dir.write("bad.csv", contents);
    let err =
        Dataset::<f64>::from_csv(&path, options).expect_err("a malformed file must be an error");
    (path, err)
}

#[test]
fn csv_bad_cells_name_row_and_column() {
    let dir = TempDir::new("csv-cells");
    let options = CsvOptions::default().with_targets(["price"]);
    // line 7 counting the header; the third column is "age"
    let mut bad = String::from(HOUSES);
    bad.push_str("1,30,1,99\n6,150,abc,500\n");
    let (path, err) = csv_error(&dir, &bad, &options);
    assert!(
        matches!(
            &err,
            DataError::Cell {
                row: 7,
                column: 3,
                name: Some(name),
                value,
                ..
            } if name == "age" && value == "abc"
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "csv: {}: row 7, column 3 (\"age\"): \"abc\" is not a number",
            path.display()
        )
    );

    let cases: &[(&str, &str)] = &[
        (
            "a,y\n1,2\nNaN,3\n",
            "row 3, column 1 (\"a\"): \"NaN\" is not a finite number",
        ),
        (
            "a,y\n1,2\n3,-inf\n",
            "row 3, column 2 (\"y\"): \"-inf\" is not a finite number",
        ),
        ("a,y\n1,\n", "row 2, column 2 (\"y\"): empty cell"),
        (
            "a,y\n1e999,1\n",
            "row 2, column 1 (\"a\"): \"1e999\" is not a finite number",
        ),
    ];
    let options = CsvOptions::default();
    for (contents, want) in cases {
        let (path, err) = csv_error(&dir, contents, &options);
        assert_message(&err, &path, &[want]);
    }
    // out of f32's range
    let path = dir.write("big.csv", "a,y\n1e39,1\n");
    let err = Dataset::<f32, Tensor<f32>>::from_csv(&path, &options).unwrap_err();
    assert_message(
        &err,
        &path,
        &["row 2, column 1 (\"a\"): \"1e39\" is out of range for f32"],
    );
    // without a header there is no name to give
    let options = CsvOptions::default().without_header();
    let (path, err) = csv_error(&dir, "1,2\n3,x\n", &options);
    assert_eq!(
        err.to_string(),
        format!(
            "csv: {}: row 2, column 2: \"x\" is not a number",
            path.display()
        )
    );
}

#[test]
fn csv_bad_class_ids_name_row_and_column() {
    let dir = TempDir::new("csv-class-cells");
    let options = CsvOptions::default();
    let cases: &[(&str, &str)] = &[
        (
            "x,label\n1,0\n2,1.5\n",
            "row 3, column 2 (\"label\"): \"1.5\" is not a whole number",
        ),
        (
            "x,label\n1,-1\n",
            "row 2, column 2 (\"label\"): \"-1\" is negative",
        ),
        (
            "x,label\n1,cat\n",
            "row 2, column 2 (\"label\"): \"cat\" is not a number",
        ),
    ];
    for (contents, want) in cases {
        let (path, err) = class_csv_error(&dir, contents, &options);
        assert_message(&err, &path, &[want, "class ids are whole numbers from 0"]);
    }
    // class ids come from one column
    let options = CsvOptions::default().with_targets([1, 2]);
    let (path, err) = class_csv_error(&dir, "a,b,c\n1,2,3\n", &options);
    assert_message(
        &err,
        &path,
        &["class-id targets come from one column, but 2 are given"],
    );
}

#[test]
fn csv_ragged_rows_say_both_counts() {
    let dir = TempDir::new("csv-ragged");
    let (path, err) = csv_error(&dir, "a,b,y\n1,2,3\n4,5\n", &CsvOptions::default());
    assert!(
        matches!(
            err,
            DataError::Ragged {
                row: 3,
                found: 2,
                expected: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &path, &["row 3 has 2 fields, but the header has 3"]);
    let options = CsvOptions::default().without_header();
    let (path, err) = csv_error(&dir, "1,2\n3,4\n5,6,7\n", &options);
    assert_message(
        &err,
        &path,
        &["row 3 has 3 fields, but the first row has 2"],
    );
    // a quoted field spanning lines: the next row's number is its line in an editor
    let (path, err) = csv_error(&dir, "a,y\n\"1\n\",2\n3,4,5\n", &CsvOptions::default());
    assert_message(&err, &path, &["row 4 has 3 fields"]);
}

#[test]
fn csv_empty_files_and_missing_columns() {
    let dir = TempDir::new("csv-empty");
    let (path, err) = csv_error(&dir, "", &CsvOptions::default());
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert_message(&err, &path, &["empty file"]);
    let (path, err) = csv_error(&dir, "a,b,y\n", &CsvOptions::default());
    assert_message(&err, &path, &["no data rows", "only the header"]);

    let options = CsvOptions::default().with_targets(["cost"]);
    let (path, err) = csv_error(&dir, HOUSES, &options);
    assert!(matches!(err, DataError::MissingColumn { .. }), "{err}");
    assert_message(
        &err,
        &path,
        &[
            "no column \"cost\"",
            "4 columns: \"rooms\", \"area\", \"age\", \"price\"",
        ],
    );
    let options = CsvOptions::default().with_targets([4]);
    let (path, err) = csv_error(&dir, HOUSES, &options);
    assert_message(&err, &path, &["no column index 4"]);
    let options = CsvOptions::default()
        .with_targets(["price"])
        .with_features(["size"]);
    let (path, err) = csv_error(&dir, HOUSES, &options);
    assert_message(&err, &path, &["no column \"size\""]);
}

#[test]
fn csv_options_that_do_not_fit_the_file() {
    let dir = TempDir::new("csv-options");
    let cases: Vec<(CsvOptions, &str)> = vec![
        (
            CsvOptions::default()
                .without_header()
                .with_targets(["price"]),
            "column \"price\" is asked for by name, but has_header is false",
        ),
        (
            CsvOptions::default().with_targets(["price", "price"]),
            "column 4 (\"price\") is a target twice",
        ),
        (
            CsvOptions::default().with_features(["rooms", "price"]),
            "column 4 (\"price\") is both a feature and a target",
        ),
        (
            CsvOptions::default().with_targets(Vec::<Column>::new()),
            "no target columns given",
        ),
        (
            CsvOptions::default().with_targets([0, 1, 2, 3]),
            "no feature columns",
        ),
    ];
    for (options, want) in cases {
        let (path, err) = csv_error(&dir, HOUSES, &options);
        assert!(matches!(err, DataError::Format { .. }), "{err}");
        assert_message(&err, &path, &[want]);
    }
    let (path, err) = csv_error(
        &dir,
        "a,a,y\n1,2,3\n",
        &CsvOptions::default().with_features(["a"]),
    );
    assert_message(&err, &path, &["the header names columns 1 and 2 \"a\""]);
}

#[test]
fn csv_missing_file_says_what_to_do() {
    let dir = TempDir::new("csv-missing");
    let path = dir.0.join("nothing.csv");
    let err = Dataset::<f32>::from_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(
        matches!(err, DataError::NotFound { op: "csv", .. }),
        "{err}"
    );
    assert_message(&err, &path, &["no such file", "check the path"]);
    let relative = Path::new("no/such/dir/data.csv");
    let err = Dataset::<f32>::from_csv(relative, &CsvOptions::default()).unwrap_err();
    assert_message(
        &err,
        relative,
        &["relative paths start from the working directory"],
    );
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy

/// A version 1.0 `.npy` file with header dict `dict` followed by `data`, padded as NumPy pads it.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, fortran: bool, shape: &str) -> String {
    let order = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}")
}

fn le_bytes<const N: usize, V>(
    values: impl IntoIterator<Item = V>,
    f: impl Fn(V) -> [u8; N],
) -> Vec<u8> {
    values.into_iter().flat_map(f).collect()
}

#[test]
fn npy_floats_of_any_rank_and_byte_order() {
    let dir = TempDir::new("npy-floats");
    let values: Vec<f32> = (0..24).map(|v| v as f32 * 0.5).collect();
    let path = dir.write(
        "x.npy",
        npy(
            &dict("<f4", false, "(2, 3, 4)"),
            &le_bytes(values.clone(), f32::to_le_bytes),
        ),
    );
    let x = read_npy::<f32>(&path).unwrap();
    assert_eq!(x.shape(), &[2, 3, 4]);
    assert_eq!(x.to_vec(), values);
    assert_eq!(read_npy::<f64>(&path).unwrap().get(&[1, 2, 3]), 11.5);

    let path = dir.write(
        "big-endian.npy",
        npy(
            &dict(">f8", false, "(3,)"),
            &le_bytes([1.25f64, -2.0, 1e300], f64::to_be_bytes),
        ),
    );
    assert_eq!(
        read_npy::<f64>(&path).unwrap().to_vec(),
        [1.25, -2.0, 1e300]
    );
    let err = read_npy::<f32>(&path).unwrap_err();
    assert_message(
        &err,
        &path,
        &["element [2] is 1e300, which is not a finite f32"],
    );

    let path = dir.write(
        "scalar.npy",
        npy(&dict("<f8", false, "()"), &7.5f64.to_le_bytes()),
    );
    let scalar = read_npy::<f64>(&path).unwrap();
    assert_eq!((scalar.shape(), scalar.item()), (&[][..], 7.5));

    let path = dir.write("empty.npy", npy(&dict("<f4", false, "(0, 3)"), &[]));
    assert_eq!(read_npy::<f32>(&path).unwrap().shape(), &[0, 3]);
}

#[test]
fn npy_integers_and_bools_read_as_floats() {
    let dir = TempDir::new("npy-ints");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("|u1", vec![0, 7, 255]),
        ("|i1", le_bytes([0i8, 7, -1], i8::to_le_bytes)),
        ("<i2", le_bytes([0i16, 7, -300], i16::to_le_bytes)),
        ("<u2", le_bytes([0u16, 7, 65535], u16::to_le_bytes)),
        ("<i4", le_bytes([0i32, 7, -70000], i32::to_le_bytes)),
        (">i8", le_bytes([0i64, 7, 1 << 40], i64::to_be_bytes)),
        ("<u8", le_bytes([0u64, 7, 1 << 50], u64::to_le_bytes)),
        ("|b1", vec![0, 1, 1]),
    ];
    let wants: [[f64; 3]; 8] = [
        [0.0, 7.0, 255.0],
        [0.0, 7.0, -1.0],
        [0.0, 7.0, -300.0],
        [0.0, 7.0, 65535.0],
        [0.0, 7.0, -70000.0],
        [0.0, 7.0, (1u64 << 40) as f64],
        [0.0, 7.0, (1u64 << 50) as f64],
        [0.0, 1.0, 1.0],
    ];
    for ((descr, data), want) in cases.into_iter().zip(wants) {
        let path = dir.write("a.npy", npy(&dict(descr, false, "(3,)"), &data));
        assert_eq!(read_npy::<f64>(&path).unwrap().to_vec(), want, "{descr}");
    }
}

#[test]
fn npy_fortran_order_is_transposed() {
    let dir = TempDir::new("npy-fortran");
    // a[i, j, k] = 100 i + 10 j + k for shape (2, 3, 4), stored column-major (i fastest)
    let mut stored = Vec::new();
    for k in 0..4 {
        for j in 0..3 {
            for i in 0..2 {
                stored.push((100 * i + 10 * j + k) as f64);
            }
        }
    }
    let path = dir.write(
        "f.npy",
        npy(
            &dict("<f8", true, "(2, 3, 4)"),
            &le_bytes(stored, f64::to_le_bytes),
        ),
    );
    let a = read_npy::<f64>(&path).unwrap();
    assert_eq!(a.shape(), &[2, 3, 4]);
    let want = Tensor::<f64>::from_fn(&[2, 3, 4], |ix| (100 * ix[0] + 10 * ix[1] + ix[2]) as f64);
    assert_eq!(a.to_vec(), want.to_vec());
    assert!(a.is_contiguous());

    // a non-finite element is named by its logical index, not its stored position
    let mut stored = vec![0.0f64; 6];
    stored[1] = f64::NAN; // column-major (2, 3): position 1 is a[1, 0]
    let path = dir.write(
        "nan.npy",
        npy(
            &dict("<f8", true, "(2, 3)"),
            &le_bytes(stored, f64::to_le_bytes),
        ),
    );
    let err = read_npy::<f64>(&path).unwrap_err();
    assert_message(&err, &path, &["element [1, 0] is NaN", "must be finite"]);
}

#[test]
fn npy_written_by_npyz_round_trips() {
    use npyz::WriterBuilder;
    let dir = TempDir::new("npy-npyz");
    let path = dir.0.join("w.npy");
    let values: Vec<f64> = (0..6).map(|v| v as f64 - 2.5).collect();
    let mut file = fs::File::create(&path).unwrap();
    let mut writer = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&[3, 2])
        .writer(&mut file)
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    let x = read_npy::<f64>(&path).unwrap();
    assert_eq!(x.shape(), &[3, 2]);
    assert_eq!(x.to_vec(), values);
}

#[test]
fn npy_labels_and_datasets() {
    let dir = TempDir::new("npy-dataset");
    let x = dir.write(
        "x.npy",
        npy(
            &dict("<f4", false, "(3, 2)"),
            &le_bytes((0..6).map(|v| v as f32), f32::to_le_bytes),
        ),
    );
    let y = dir.write(
        "y.npy",
        npy(
            &dict("<i8", false, "(3,)"),
            &le_bytes([2i64, 0, 1], i64::to_le_bytes),
        ),
    );
    assert_eq!(read_npy_labels(&y).unwrap(), [2, 0, 1]);
    let data = Dataset::<f32>::from_npy(&x, &y).unwrap();
    assert_eq!(data.y(), &[2, 0, 1]);
    assert_eq!(data.x().to_vec(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);

    // u8 labels of shape [n, 1]
    let y8 = dir.write("y8.npy", npy(&dict("|u1", false, "(3, 1)"), &[9, 8, 7]));
    assert_eq!(Dataset::<f64>::from_npy(&x, &y8).unwrap().y(), &[9, 8, 7]);

    // float targets
    let yf = dir.write(
        "yf.npy",
        npy(
            &dict("<f8", false, "(3, 1)"),
            &le_bytes([0.5f64, 1.5, 2.5], f64::to_le_bytes),
        ),
    );
    let data = Dataset::<f32, Tensor<f32>>::from_npy(&x, &yf).unwrap();
    assert_eq!(data.y().shape(), &[3, 1]);
    assert_eq!(data.y().to_vec(), [0.5, 1.5, 2.5]);

    // sample counts must agree
    let y2 = dir.write(
        "y2.npy",
        npy(
            &dict("<i4", false, "(2,)"),
            &le_bytes([0i32, 1], i32::to_le_bytes),
        ),
    );
    let err = Dataset::<f32>::from_npy(&x, &y2).unwrap_err();
    assert!(matches!(err, DataError::SampleMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "npy: {}: 3 samples (shape [3, 2]), but the targets in {} number 2 (shape [2])",
            x.display(),
            y2.display()
        )
    );
    let yf2 = dir.write("yf2.npy", npy(&dict("<f4", false, "(4, 2)"), &[0; 32]));
    let err = Dataset::<f32, Tensor<f32>>::from_npy(&x, &yf2).unwrap_err();
    assert_message(&err, &x, &["3 samples", "number 4 (shape [4, 2])"]);
    let scalar = dir.write("s.npy", npy(&dict("<f4", false, "()"), &[0; 4]));
    let err = Dataset::<f32>::from_npy(&scalar, &y).unwrap_err();
    assert_message(&err, &scalar, &["need a sample axis"]);
}

#[test]
fn npy_bad_labels_are_errors() {
    let dir = TempDir::new("npy-labels");
    let path = dir.write(
        "neg.npy",
        npy(
            &dict("<i8", false, "(4,)"),
            &le_bytes([0i64, 3, -2, 1], i64::to_le_bytes),
        ),
    );
    let err = read_npy_labels(&path).unwrap_err();
    assert_message(&err, &path, &["label 2 is -2", "whole numbers from 0"]);

    let path = dir.write("float.npy", npy(&dict("<f4", false, "(2,)"), &[0; 8]));
    let err = read_npy_labels(&path).unwrap_err();
    assert_message(&err, &path, &["integer dtype", "<f4", "astype(np.int64)"]);

    let path = dir.write("matrix.npy", npy(&dict("<i4", false, "(2, 3)"), &[0; 24]));
    let err = read_npy_labels(&path).unwrap_err();
    assert_message(&err, &path, &["labels need shape [n] or [n, 1]", "[2, 3]"]);
}

/// Writes `bytes` and reads them with `read_npy::<f32>`, expecting an error.
fn npy_error(dir: &TempDir, bytes: &[u8]) -> (PathBuf, DataError) {
    let path = dir.write("bad.npy", bytes);
    let err = read_npy::<f32>(&path).expect_err("a defective file must be an error");
    assert!(matches!(err, DataError::Format { op: "npy", .. }), "{err}");
    (path, err)
}

#[test]
fn npy_defects_are_errors_naming_the_file() {
    let dir = TempDir::new("npy-defects");
    let good = npy(&dict("<f4", false, "(2, 3)"), &[0; 24]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            good[..good.len() - 14].to_vec(),
            "truncated data: shape [2, 3] of <f4 needs 24 bytes, found 10",
        ),
        (
            [&good[..], &[0; 5]].concat(),
            "trailing bytes: shape [2, 3] of <f4 needs 24 bytes, found 29 (5 extra)",
        ),
        (
            good[..40].to_vec(),
            "truncated header: it is 118 bytes long, but the file ends after 30",
        ),
        (
            good[..9].to_vec(),
            "truncated header: the file ends inside the header size",
        ),
        (b"PK\x03\x04 a zip".to_vec(), "not a NumPy .npy file"),
        (Vec::new(), "empty file"),
        (
            b"\x93NUMPY\x07\x00".to_vec(),
            "unsupported .npy format version 7.0",
        ),
        (
            npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) ",
                &[0; 24],
            ),
            "corrupt header: could not parse Python expression",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False}", &[]),
            "no 'shape' entry",
        ),
        (
            npy(&dict("<f4", false, "(-2, 3)"), &[]),
            "shape size \"-2\" is not a whole number",
        ),
        (
            npy(
                &dict("<f4", false, "(4294967296, 4294967296, 4294967296)"),
                &[],
            ),
            "is too large to address",
        ),
        (
            npy(
                "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }",
                &[0; 4],
            ),
            "corrupt header: 'fortran_order' value is not a bool",
        ),
        (
            npy(&dict("<U3", false, "(2,)"), &[0; 24]),
            "unsupported dtype <U3",
        ),
        (
            npy(&dict("<f2", false, "(2,)"), &[0; 4]),
            "unsupported dtype <f2",
        ),
        (
            npy(&dict("<c8", false, "(2,)"), &[0; 16]),
            "unsupported dtype <c8",
        ),
        (
            npy(
                "{'descr': [('a', '<i4'), ('b', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                &[0; 16],
            ),
            "structured dtype",
        ),
        (
            npy(&dict("|b1", false, "(2,)"), &[0, 2]),
            "corrupt data: invalid value for bool: 2",
        ),
        (
            npy(
                &dict("<f4", false, "(2,)"),
                &le_bytes([1.0f32, f32::INFINITY], f32::to_le_bytes),
            ),
            "element [1] is inf",
        ),
    ];
    for (bytes, want) in cases {
        let (path, err) = npy_error(&dir, &bytes);
        assert_message(&err, &path, &["npy: ", want]);
    }
}

#[test]
fn npy_missing_file_says_what_to_do() {
    let dir = TempDir::new("npy-missing");
    let path = dir.0.join("x.npy");
    let err = read_npy::<f32>(&path).unwrap_err();
    assert!(
        matches!(err, DataError::NotFound { op: "npy", .. }),
        "{err}"
    );
    assert_message(&err, &path, &["no such file", "check the path"]);
    let err = Dataset::<f32>::from_npy(&path, &path).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
}

/// No prefix of a valid file, and no single corrupted byte, makes the reader panic.
#[test]
fn npy_no_prefix_or_single_byte_corruption_panics() {
    let dir = TempDir::new("npy-fuzz");
    let good = npy(
        &dict("<i2", true, "(3, 2)"),
        &le_bytes(0..6i16, i16::to_le_bytes),
    );
    let path = dir.0.join("f.npy");
    for len in 0..good.len() {
        fs::write(&path, &good[..len]).unwrap();
        assert!(read_npy::<f32>(&path).is_err(), "prefix of {len} bytes");
    }
    for i in 0..good.len() {
        for flip in [0x01u8, 0x10, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            fs::write(&path, &bad).unwrap();
            let _ = read_npy::<f64>(&path);
            let _ = read_npy_labels(&path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The shipped Friedman #1 CSV

/// The rows of `data/regression/friedman1.csv` as its README describes them: `x1`–`x5` uniform
/// on [0, 1) and rounded to 4 decimals, then
/// `y = 10 sin(π x1 x2) + 20 (x3 − 0.5)² + 10 x4 + 5 x5 + ε` with `ε ~ N(0, 1)`, rounded to 4
/// decimals, all drawn from SplitMix64 seeded with 1991.
fn friedman1_rows() -> Vec<[f64; 6]> {
    let mut state: u64 = 1991;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut uniform = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    let round4 = |v: f64| (v * 1e4).round() / 1e4;
    (0..500)
        .map(|_| {
            let x: [f64; 5] = std::array::from_fn(|_| round4(uniform()));
            // Box–Muller, one draw per row: 1 − u lies in (0, 1], so the logarithm is finite.
            let (u1, u2) = (1.0 - uniform(), uniform());
            let noise = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let y = friedman1(&x) + noise;
            [x[0], x[1], x[2], x[3], x[4], round4(y)]
        })
        .collect()
}

/// Friedman's first function, without noise.
fn friedman1(x: &[f64]) -> f64 {
    10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
        + 20.0 * (x[2] - 0.5).powi(2)
        + 10.0 * x[3]
        + 5.0 * x[4]
}

/// The CSV text of [`friedman1_rows`].
fn friedman1_csv() -> String {
    let mut out = String::from("x1,x2,x3,x4,x5,y\n");
    for row in friedman1_rows() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Rewrites the shipped file: `cargo test -p tapegrad --test datasets -- --ignored regenerate`.
#[test]
#[ignore = "writes data/regression/friedman1.csv"]
fn regenerate_friedman1_csv() {
    fs::write(shipped_friedman1_csv(), friedman1_csv()).unwrap();
}

#[test]
fn shipped_friedman1_is_what_its_readme_says() {
    let path = shipped_friedman1_csv();
    let size = fs::metadata(&path).unwrap().len();
    assert!(size < 50_000, "{} is {size} bytes", path.display());

    let data = load_friedman1::<f64>(&path).unwrap();
    assert_eq!(data.x().shape(), &[500, 5]);
    assert_eq!(data.y().shape(), &[500, 1]);
    // the generator reproduces every value (up to the last printed digit, whatever the libm)
    let want = friedman1_rows();
    let (x, y) = (data.x().to_vec(), data.y().to_vec());
    for (i, row) in want.iter().enumerate() {
        for j in 0..5 {
            assert!((x[i * 5 + j] - row[j]).abs() < 1.5e-4, "row {i} x{}", j + 1);
        }
        assert!((y[i] - row[5]).abs() < 1.5e-4, "row {i} y");
    }
    // the features are uniform on [0, 1), the noise about the formula standard normal
    assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
    let residuals: Vec<f64> = (0..500)
        .map(|i| y[i] - friedman1(&x[i * 5..i * 5 + 5]))
        .collect();
    let mean = residuals.iter().sum::<f64>() / 500.0;
    let var = residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 499.0;
    assert!(mean.abs() < 0.15, "noise mean {mean}");
    assert!(
        (0.85..1.15).contains(&var.sqrt()),
        "noise std {}",
        var.sqrt()
    );
}

#[test]
fn friedman1_missing_file_names_the_alternatives() {
    let path = Path::new("/no/such/friedman1.csv");
    let err = load_friedman1::<f32>(path).unwrap_err();
    assert_message(
        &err,
        path,
        &[
            "no such file",
            "--data FILE",
            FRIEDMAN1_CSV_VAR,
            "data/regression/friedman1.csv",
        ],
    );
}
