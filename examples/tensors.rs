//! A tour of `Tensor`: constructors, views that share storage instead of copying (transpose,
//! permute, a stepped slice, broadcast), broadcasting arithmetic, reductions with `keepdim`,
//! softmax, a matmul whose operand is a transposed view, and the error a `try_` op returns.
//!
//! Run: `cargo run --release --example tensors`

use std::fmt::Display;
use tapegrad::rand::{SeedableRng, rngs::StdRng};
use tapegrad::tensor::Tensor;

/// Prints `label:` and then the value indented, so a matrix's rows line up.
fn show(label: &str, value: impl Display) {
    println!("{label}:");
    for line in value.to_string().lines() {
        println!("    {line}");
    }
}

/// Runs the tour; `tests/examples.rs` calls it too.
/// No flags: `--help` says what the example shows.
#[derive(clap::Parser)]
#[command(
    about = "A tour of Tensor: constructors, views, broadcasting, reductions, softmax, matmul on a transposed view, errors."
)]
struct Cli {}

/// Parses the flags (there are none), then runs the example.
#[allow(dead_code)] // tests include this file as a module and call `run`
pub fn main() {
    <Cli as clap::Parser>::parse();
    run();
}

/// The example itself (tests call this, without parsing the test runner's arguments).
pub fn run() {
    println!("== constructors (f32 or f64; a shape is a slice of sizes)");
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    show("from_vec", format_args!("{a:.0}"));
    show("arange(0, 5, 1)", Tensor::<f32>::arange(0.0, 5.0, 1.0));
    show("linspace(0, 1, 5)", Tensor::<f32>::linspace(0.0, 1.0, 5));
    show("eye(2)", format_args!("{:.0}", Tensor::<f32>::eye(2)));
    let from_fn = Tensor::<f32>::from_fn(&[2, 3], |ix| (10 * ix[0] + ix[1]) as f32);
    show("from_fn(|[i, j]| 10i + j)", format_args!("{from_fn:.0}"));
    let mut rng = StdRng::seed_from_u64(0);
    let noise = Tensor::<f32>::rand_normal(&[4], &mut rng);
    show("rand_normal, seeded", format_args!("{noise:.3}"));
    show("scalar (rank 0)", Tensor::scalar(2.5f32));

    println!("\n== views: new shape and strides over the same buffer, nothing copied");
    println!("a has strides {:?}", a.strides());
    let t = a.t();
    show(
        &format!(
            "a.t(): strides {:?}, contiguous {}",
            t.strides(),
            t.is_contiguous()
        ),
        format_args!("{t:.0}"),
    );
    let cube = Tensor::<f32>::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]);
    let p = cube.permute(&[2, 0, 1]);
    println!(
        "[2, 3, 4].permute(&[2, 0, 1]): shape {:?}, strides {:?}",
        p.shape(),
        p.strides()
    );
    let ten = Tensor::<f32>::arange(0.0, 10.0, 1.0);
    let odd = ten.slice(0, 1, 10, 2);
    show(
        &format!(
            "arange(10).slice(axis 0, 1..10, step 2): strides {:?}",
            odd.strides()
        ),
        format_args!("{odd:.0}"),
    );
    let row = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
    let b = row.broadcast_to(&[2, 3]);
    show(
        &format!(
            "[3].broadcast_to(&[2, 3]): strides {:?}, one row read twice",
            b.strides()
        ),
        format_args!("{b:.0}"),
    );
    let shared = [
        t.shares_storage(&a),
        p.shares_storage(&cube),
        odd.shares_storage(&ten),
        b.shares_storage(&row),
    ];
    assert!(shared.iter().all(|&s| s));
    println!("share storage with their source (t, permute, slice, broadcast_to): {shared:?}");
    let copy = t.contiguous();
    assert!(copy.is_contiguous() && !copy.shares_storage(&a));
    println!(
        "t.contiguous() is a copy: shares storage {}",
        copy.shares_storage(&a)
    );

    println!("\n== broadcasting: shapes align from the right, size-1 axes stretch");
    show("a + [10, 20, 30]", format_args!("{:.0}", &a + &row));
    let col = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3, 1]);
    let outer = &col * &Tensor::from_vec(vec![1.0f32, 10.0], &[1, 2]);
    show("[3, 1] * [1, 2]", format_args!("{outer:.0}"));
    show("2 * a - 1", format_args!("{:.0}", 2.0 * &a - 1.0));

    println!("\n== reductions of a: keepdim keeps the axis as size 1, so it broadcasts back");
    show(
        "a.sum(&[0], false)",
        format_args!("{:.0}", a.sum(&[0], false)),
    );
    let row_sums = a.sum(&[1], true);
    show("a.sum(&[1], true)", format_args!("{row_sums:.0}"));
    show(
        "a / a.sum(&[1], true)",
        format_args!("{:.3}", a.div(&row_sums)),
    );
    show("a.max(1, false)", format_args!("{:.0}", a.max(1, false)));
    println!("a.argmax(1): {:?}", a.argmax(1));
    println!("a.mean_all(): {}", a.mean_all().item());

    println!("\n== softmax: subtracts each row's max first, so huge logits are fine");
    let logits = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 1000.0, 1000.0, 1000.0], &[2, 3]);
    let probs = logits.softmax(-1);
    show("softmax([[1, 2, 3], [1000, 1000, 1000]], axis -1)", &probs);
    let sums = probs.sum(&[-1], false).to_vec();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6));

    println!("\n== matmul with a transposed view: the kernel reads its strides, no copy");
    let gram = a.t().matmul(&a);
    show("a.t().matmul(&a)", format_args!("{gram:.0}"));
    assert_eq!(gram.to_vec(), a.t().contiguous().matmul(&a).to_vec());

    println!("\n== errors: try_x returns the error (naming the op and shapes); x panics with it");
    let err = a
        .try_matmul(&a)
        .expect_err("[2, 3]·[2, 3]: the inner dimensions differ");
    println!("a.try_matmul(&a): Err({err})");
}
