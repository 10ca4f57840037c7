//! Gradient clipping, in place on a [`Grads`]: by global norm and by value.

use tapegrad_autograd::{Grads, ParamId};
use tapegrad_tensor::Float;

/// Scales every parameter gradient by `max_norm / (‖g‖ + 1e-6)` when the global L2 norm
/// `‖g‖ = √(Σ over all parameters of Σ g²)` exceeds `max_norm`, and returns `‖g‖` before clipping.
///
/// The norm is accumulated in `f64` over parameters in id order, so it does not depend on the
/// map's iteration order. The `1e-6` guards the division, as in PyTorch's
/// `torch.nn.utils.clip_grad_norm_`. A non-finite norm (a NaN or infinite gradient) is returned
/// and the gradients are left unchanged, so the caller can skip the step.
///
/// # Panics
/// If `max_norm` is negative or NaN.
///
/// ```
/// # use tapegrad_optim::clip_grad_norm;
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![0.0f64, 0.0], &[2]));
/// let tape = Tape::new();
/// let c = tape.input(Tensor::from_vec(vec![3.0, 4.0], &[2]));
/// let mut grads = (tape.param(&w) * c).sum_all().backward(); // g = [3, 4], ‖g‖ = 5
/// let norm = clip_grad_norm(&mut grads, 1.0);
/// assert_eq!(norm, 5.0);
/// let g = grads.get(&w).unwrap().to_vec();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
#[track_caller]
pub fn clip_grad_norm<T: Float>(grads: &mut Grads<T>, max_norm: f64) -> f64 {
    if max_norm.is_nan() || max_norm < 0.0 {
        panic!("clip_grad_norm: max_norm must be non-negative, got {max_norm}");
    }
    let mut ids: Vec<ParamId> = grads.iter().map(|(id, _)| id).collect();
    ids.sort_unstable();
    let mut total = 0.0f64;
    for &id in &ids {
        let g = grads.get_by_id(id).expect("id listed above");
        let sum = match g.as_contiguous_slice() {
            Some(s) => sum_of_squares(s),
            None => sum_of_squares(&g.to_vec()),
        };
        total += sum;
    }
    let norm = total.sqrt();
    if norm.is_finite() && norm > max_norm {
        let scale = T::from_f64(max_norm / (norm + 1e-6));
        for (_, g) in grads.iter_mut() {
            for x in g.as_mut_slice() {
                *x *= scale;
            }
        }
    }
    norm
}

fn sum_of_squares<T: Float>(s: &[T]) -> f64 {
    s.iter()
        .map(|&x| {
            let x = x.to_f64();
            x * x
        })
        .sum()
}

/// Clamps every gradient element to `[−clip, clip]`, in place.
///
/// PyTorch: `torch.nn.utils.clip_grad_value_`. NaN elements stay NaN.
///
/// # Panics
/// If `clip` is negative or NaN.
///
/// ```
/// # use tapegrad_optim::clip_grad_value;
/// # use tapegrad_autograd::{Param, Tape};
/// # use tapegrad_tensor::Tensor;
/// let w = Param::new("w", Tensor::from_vec(vec![0.0f64, 0.0, 0.0], &[3]));
/// let tape = Tape::new();
/// let c = tape.input(Tensor::from_vec(vec![-3.0, 0.5, 4.0], &[3]));
/// let mut grads = (tape.param(&w) * c).sum_all().backward();
/// clip_grad_value(&mut grads, 1.0);
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![-1.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn clip_grad_value<T: Float>(grads: &mut Grads<T>, clip: f64) {
    if clip.is_nan() || clip < 0.0 {
        panic!("clip_grad_value: clip must be non-negative, got {clip}");
    }
    let (low, high) = (T::from_f64(-clip), T::from_f64(clip));
    for (_, g) in grads.iter_mut() {
        for x in g.as_mut_slice() {
            if *x < low {
                *x = low;
            } else if *x > high {
                *x = high;
            }
        }
    }
}
