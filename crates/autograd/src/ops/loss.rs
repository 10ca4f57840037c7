//! Losses, fused where numerics need it: cross-entropy and BCE-with-logits work from logits
//! through log-sum-exp, so no probability is ever rounded to 0 and then logged.
//!
//! An empty batch follows the rule of every reduction: its mean ([`Reduction::Mean`]) is an error
//! naming the loss and the input's shape, its sum is 0, and without reduction it gives an empty
//! tensor.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor, TensorError};

/// How per-element losses are combined.
///
/// Over an empty batch, `Mean` is an error (the average of nothing has no value), `Sum` is 0 and
/// `None` is an empty tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over elements (the default, as in PyTorch).
    #[default]
    Mean,
    /// The sum over elements.
    Sum,
    /// No reduction: one loss per element (per sample for cross-entropy and NLL).
    None,
}

/// Options of [`Var::cross_entropy_with`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CrossEntropyOptions {
    /// How per-sample losses are combined. Default [`Reduction::Mean`].
    pub reduction: Reduction,
    /// Label smoothing ε in `[0, 1)`: the target is `(1 − ε)·onehot + ε/C`. Default `0`.
    pub label_smoothing: f64,
}

/// `Empty` naming the loss `op` and its `input` shape when a mean is asked of `count` = 0
/// per-element losses.
pub(super) fn check_mean_of_some(
    op: &'static str,
    input: &[usize],
    count: usize,
    reduction: Reduction,
) -> Result<()> {
    if reduction == Reduction::Mean && count == 0 {
        return Err(TensorError::Empty {
            op,
            shape: input.to_vec(),
        }
        .into());
    }
    Ok(())
}

/// Combines per-element losses; a mean of none was refused by [`check_mean_of_some`].
fn reduce<T: Float>(per: Tensor<T>, reduction: Reduction) -> Tensor<T> {
    match reduction {
        Reduction::Mean => per.mean_all(),
        Reduction::Sum => per.sum_all(),
        Reduction::None => per,
    }
}

/// The upstream gradient of each per-element loss, shaped `shape`, for a reduced `g`.
fn per_element_grad<T: Float>(g: &Tensor<T>, reduction: Reduction, shape: &[usize]) -> Tensor<T> {
    let n = shape.iter().product::<usize>().max(1);
    match reduction {
        Reduction::Mean => g.div_scalar(T::from_usize(n)).broadcast_to(shape),
        Reduction::Sum => g.broadcast_to(shape),
        Reduction::None => g.clone(),
    }
}

fn check_targets(op: &'static str, logits: &[usize], targets: &[usize]) -> Result<()> {
    if logits.len() != 2 || logits[0] != targets.len() {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: logits.to_vec(),
            rhs: vec![targets.len()],
            why: "expects [batch, classes] scores and one class index per row".into(),
        }
        .into());
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|&(_, &t)| t >= logits[1]) {
        return Err(TensorError::OutOfRange {
            op,
            what: format!("target {t} of row {i} with {} classes", logits[1]),
        }
        .into());
    }
    Ok(())
}

impl<T: Float> Var<T> {
    /// Mean cross-entropy of `[batch, classes]` logits against class indices.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let logits = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]));
    /// let loss = logits.cross_entropy(&[0]);
    /// assert!((loss.value().item() - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!(loss.backward().wrt(&logits).unwrap().to_vec(), [-0.5, 0.5]); // softmax − one-hot
    /// ```
    ///
    /// # Panics
    /// On a shape mismatch, a target out of range or an empty batch;
    /// [`Var::try_cross_entropy_with`] returns the error.
    #[track_caller]
    pub fn cross_entropy(&self, targets: &[usize]) -> Var<T> {
        or_panic(self.try_cross_entropy_with(targets, CrossEntropyOptions::default()))
    }

    /// Cross-entropy with a reduction and label smoothing.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let logits = tape.input_with_grad(Tensor::<f64>::zeros(&[2, 2]));
    /// let opts = CrossEntropyOptions { reduction: Reduction::Sum, label_smoothing: 0.5 };
    /// let loss = logits.cross_entropy_with(&[0, 1], opts);
    /// assert!((loss.value().item() - 2.0 * std::f64::consts::LN_2).abs() < 1e-12);
    /// // Smoothed targets are 0.75 for the label and 0.25 for the other class:
    /// let g = loss.backward();
    /// assert_eq!(g.wrt(&logits).unwrap().to_vec(), [-0.25, 0.25, 0.25, -0.25]);
    /// let none = CrossEntropyOptions { reduction: Reduction::None, ..Default::default() };
    /// assert_eq!(logits.cross_entropy_with(&[0, 1], none).shape(), [2]); // one loss per row
    /// assert!(logits.try_cross_entropy_with(&[0, 2], none).is_err()); // class 2 of 2
    /// ```
    ///
    /// # Panics
    /// Where [`Var::try_cross_entropy_with`] returns an error, with its message.
    #[track_caller]
    pub fn cross_entropy_with(&self, targets: &[usize], opts: CrossEntropyOptions) -> Var<T> {
        or_panic(self.try_cross_entropy_with(targets, opts))
    }

    /// Cross-entropy `ℓ_i = −Σ_c q_ic · log_softmax(x_i)_c` with `q = (1 − ε)·onehot(t_i) + ε/C`,
    /// computed through log-sum-exp. Gradient `∂ℓ_i/∂x_i = softmax(x_i) − q_i`.
    ///
    /// A −∞ logit (a masked class) of weight `q = 0` contributes exactly 0 to the loss and its
    /// gradient, as in PyTorch; a −∞ target logit, or any −∞ logit under label smoothing, gives +∞.
    ///
    /// Example: [`Var::cross_entropy_with`].
    ///
    /// # Errors
    /// `ShapeMismatch` unless the logits are `[batch, classes]` with one target per row,
    /// `OutOfRange` for a target `≥ classes`, `InvalidArgument` for a smoothing outside `[0, 1)`,
    /// and `Empty` for the mean over an empty batch.
    pub fn try_cross_entropy_with(
        &self,
        targets: &[usize],
        opts: CrossEntropyOptions,
    ) -> Result<Var<T>> {
        check_targets("cross_entropy", self.shape(), targets)?;
        check_mean_of_some("cross_entropy", self.shape(), targets.len(), opts.reduction)?;
        let eps = opts.label_smoothing;
        if !(0.0..1.0).contains(&eps) {
            return Err(TensorError::InvalidArgument {
                op: "cross_entropy",
                what: format!("label smoothing {eps} is outside [0, 1)"),
            }
            .into());
        }
        let rows = targets.len();
        let weights = SmoothedTarget::new(eps, self.shape()[1]);
        // One log-softmax, then plain loops over its rows: the loss is the hottest small op of a
        // training step, and composing it from one-hot, product, sum and mean cost six tensors.
        let log_p = self.value().try_log_softmax(1)?;
        let lp = contiguous_rows(&log_p);
        let per: Vec<T> = lp
            .chunks_exact(weights.classes.max(1))
            .zip(targets)
            .map(|(row, &t)| -weights.dot(row, t))
            .collect();
        let loss = match opts.reduction {
            Reduction::Mean => {
                Tensor::scalar(per.iter().fold(T::ZERO, |a, &l| a + l) / T::from_usize(rows))
            }
            Reduction::Sum => Tensor::scalar(per.iter().fold(T::ZERO, |a, &l| a + l)),
            Reduction::None => Tensor::from_vec(per, &[rows]),
        };
        let saved = CrossEntropyBackward {
            log_p,
            targets: targets.to_vec(),
            weights,
            reduction: opts.reduction,
        };
        Ok(self.record(loss, &[self], saved))
    }

    /// Negative log-likelihood of `[batch, classes]` log-probabilities: `ℓ_i = −log_p[i, t_i]`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let log_p = tape.input_with_grad(Tensor::from_vec(vec![-1.0f32, -2.0, -3.0, -4.0], &[2, 2]));
    /// let loss = log_p.nll(&[1, 0], Reduction::Mean);
    /// assert_eq!(loss.value().item(), 2.5); // (2 + 3) / 2
    /// assert_eq!(loss.backward().wrt(&log_p).unwrap().to_vec(), [0.0, -0.5, -0.5, 0.0]);
    /// assert!(log_p.try_nll(&[2, 0], Reduction::Mean).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Var::try_nll`] returns an error, with its message.
    #[track_caller]
    pub fn nll(&self, targets: &[usize], reduction: Reduction) -> Var<T> {
        or_panic(self.try_nll(targets, reduction))
    }

    /// Fallible [`Var::nll`].
    ///
    /// # Errors
    /// `ShapeMismatch` unless the input is `[batch, classes]` with one target per row,
    /// `OutOfRange` for a target `≥ classes`, and `Empty` for the mean over an empty batch.
    pub fn try_nll(&self, targets: &[usize], reduction: Reduction) -> Result<Var<T>> {
        check_targets("nll", self.shape(), targets)?;
        check_mean_of_some("nll", self.shape(), targets.len(), reduction)?;
        let onehot = Tensor::<T>::one_hot(targets, self.shape()[1]);
        let per = onehot
            .zip_map(self.value(), weighted)
            .sum(&[1], false)
            .neg();
        Ok(self.record(
            reduce(per, reduction),
            &[self],
            NllBackward { onehot, reduction },
        ))
    }

    /// Mean (or summed) squared error `(self − target)²`, composed from sub, square and a reduction.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let pred = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let target = tape.input(Tensor::from_vec(vec![3.0, 2.0], &[2]));
    /// let loss = pred.mse(&target, Reduction::Mean);
    /// assert_eq!(loss.value().item(), 2.0); // (4 + 0) / 2
    /// assert_eq!(loss.backward().wrt(&pred).unwrap().to_vec(), [-2.0, 0.0]); // 2(pred − target)/n
    /// assert_eq!(pred.mse(&target, Reduction::Sum).value().item(), 4.0);
    /// assert!(pred.try_mse(&pred.constant(Tensor::zeros(&[3])), Reduction::Mean).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Var::try_mse`] returns an error, with its message.
    #[track_caller]
    pub fn mse(&self, target: &Var<T>, reduction: Reduction) -> Var<T> {
        or_panic(self.try_mse(target, reduction))
    }

    /// Fallible [`Var::mse`].
    ///
    /// # Errors
    /// `ShapeMismatch` for shapes that differ, `TapeMismatch` for vars of two tapes, and `Empty`
    /// for the mean of no element.
    pub fn try_mse(&self, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
        self.pair_loss("mse", target, reduction, |d| d.square())
    }

    /// Binary cross-entropy of logits against targets in `[0, 1]`:
    /// `ℓ = max(x, 0) − x·t + ln(1 + e^{−|x|})`, stable for any `x`. Gradient `σ(x) − t`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let logits = tape.input_with_grad(Tensor::from_vec(vec![0.0f64, 0.0], &[2]));
    /// let targets = Tensor::from_vec(vec![1.0, 0.0], &[2]);
    /// let loss = logits.binary_cross_entropy_with_logits(&targets, Reduction::Mean);
    /// assert!((loss.value().item() - std::f64::consts::LN_2).abs() < 1e-12);
    /// assert_eq!(loss.backward().wrt(&logits).unwrap().to_vec(), [-0.25, 0.25]); // (σ(x) − t)/n
    /// let bad = Tensor::zeros(&[3]);
    /// assert!(logits.try_binary_cross_entropy_with_logits(&bad, Reduction::Mean).is_err());
    /// ```
    ///
    /// # Panics
    /// Where [`Var::try_binary_cross_entropy_with_logits`] returns an error, with its message.
    #[track_caller]
    pub fn binary_cross_entropy_with_logits(
        &self,
        targets: &Tensor<T>,
        reduction: Reduction,
    ) -> Var<T> {
        or_panic(self.try_binary_cross_entropy_with_logits(targets, reduction))
    }

    /// Fallible [`Var::binary_cross_entropy_with_logits`].
    ///
    /// # Errors
    /// `ShapeMismatch` for logits and targets of different shapes, and `Empty` for the mean of
    /// no element.
    pub fn try_binary_cross_entropy_with_logits(
        &self,
        targets: &Tensor<T>,
        reduction: Reduction,
    ) -> Result<Var<T>> {
        if self.shape() != targets.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "binary_cross_entropy_with_logits",
                lhs: self.shape().to_vec(),
                rhs: targets.shape().to_vec(),
                why: "logits and targets must have the same shape".into(),
            }
            .into());
        }
        check_mean_of_some(
            "binary_cross_entropy_with_logits",
            self.shape(),
            self.value().numel(),
            reduction,
        )?;
        let x = self.value();
        let per = x
            .relu()
            .sub(&x.mul(targets))
            .add(&x.abs().neg().exp().map(|e| e.ln_1p()));
        let saved = BceBackward {
            sigmoid: x.sigmoid(),
            targets: targets.clone(),
            reduction,
        };
        Ok(self.record(reduce(per, reduction), &[self], saved))
    }
}

/// The elements of a contiguous tensor (none for an empty one, whatever its layout).
fn contiguous_rows<T: Float>(t: &Tensor<T>) -> &[T] {
    if t.numel() == 0 {
        return &[];
    }
    t.as_contiguous_slice()
        .expect("log_softmax and contiguous() return contiguous tensors")
}

/// The label-smoothed target row `q = (1 − ε)·onehot(t) + ε/C`, never materialised.
#[derive(Clone, Copy)]
struct SmoothedTarget<T> {
    classes: usize,
    /// `q` at the target class.
    on: T,
    /// `q` at every other class (0 without smoothing).
    off: T,
}

impl<T: Float> SmoothedTarget<T> {
    fn new(eps: f64, classes: usize) -> Self {
        let (on, off) = if eps > 0.0 {
            let off = T::from_f64(eps / classes as f64);
            (T::from_f64(1.0 - eps) + off, off)
        } else {
            (T::ONE, T::ZERO)
        };
        SmoothedTarget { classes, on, off }
    }

    fn at(&self, c: usize, target: usize) -> T {
        if c == target { self.on } else { self.off }
    }

    /// `Σ_c q_c · l_c`, a class of weight 0 adding exactly 0 (see [`weighted`]).
    fn dot(&self, l: &[T], target: usize) -> T {
        if self.off == T::ZERO {
            return weighted(self.on, l[target]);
        }
        l.iter().enumerate().fold(T::ZERO, |acc, (c, &lc)| {
            acc + weighted(self.at(c, target), lc)
        })
    }
}

/// Gradient of cross-entropy: `(softmax − q) ⊙ g_i`, row by row, with `softmax = exp(log_p)`.
struct CrossEntropyBackward<T> {
    log_p: Tensor<T>,
    targets: Vec<usize>,
    weights: SmoothedTarget<T>,
    reduction: Reduction,
}

impl<T: Float> Backward<T> for CrossEntropyBackward<T> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let rows = self.targets.len();
        let g = g.contiguous();
        let gs = contiguous_rows(&g);
        let per_row = |r: usize| match self.reduction {
            Reduction::Mean => gs[0] / T::from_usize(rows),
            Reduction::Sum => gs[0],
            Reduction::None => gs[r],
        };
        let classes = self.weights.classes;
        let scale = Tensor::from_vec((0..rows).map(per_row).collect(), &[rows, 1]);
        // Every class but the target in one wide pass (threads share the rows), then the targets.
        let off = self.weights.off;
        let mut dx = self.log_p.zip_map(
            &scale,
            #[inline(always)]
            |l, gr| (l.exp() - off) * gr,
        );
        let lp = contiguous_rows(&self.log_p);
        let d = dx.as_mut_slice();
        for (r, &t) in self.targets.iter().enumerate() {
            let at = r * classes + t;
            d[at] = (lp[at].exp() - self.weights.on) * per_row(r);
        }
        vec![Some(dx)]
    }
}

/// `q·l`, with a zero weight giving exactly 0 whatever `l` is (a masked −∞ class adds nothing).
fn weighted<T: Float>(q: T, l: T) -> T {
    if q == T::ZERO { T::ZERO } else { q * l }
}

/// Gradient of NLL: `−g_i` at each row's target, 0 elsewhere.
struct NllBackward<T> {
    onehot: Tensor<T>,
    reduction: Reduction,
}

impl<T: Float> Backward<T> for NllBackward<T> {
    fn name(&self) -> &'static str {
        "nll"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let rows = [self.onehot.shape()[0]];
        let per_row = per_element_grad(g, self.reduction, &rows).reshape(&[rows[0], 1]);
        vec![Some(self.onehot.mul(&per_row).neg())]
    }
}

/// Gradient of BCE with logits: `(σ(x) − t) ⊙ g`.
struct BceBackward<T> {
    sigmoid: Tensor<T>,
    targets: Tensor<T>,
    reduction: Reduction,
}

impl<T: Float> Backward<T> for BceBackward<T> {
    fn name(&self) -> &'static str {
        "binary_cross_entropy_with_logits"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let per = per_element_grad(g, self.reduction, self.targets.shape());
        vec![Some(self.sigmoid.sub(&self.targets).mul(&per))]
    }
}

#[cfg(test)]
mod tests {
    use crate::Tape;
    use crate::ops::Reduction;
    use tapegrad_tensor::{Float, Tensor};

    /// Masked logits (−∞ in non-target classes) give exact losses and gradients, as PyTorch: the
    /// masked class has probability 0 and contributes nothing; a masked target is an infinite loss.
    fn masked_logits_are_exact<T: Float>() {
        let inf = T::NEG_INFINITY;
        let z = T::ZERO;
        let rows = [
            (vec![z, inf], 0usize, 0.0f64, vec![0.0, 0.0]),
            (
                vec![T::from_f64(2.0), inf, T::from_f64(2.0)],
                2,
                2f64.ln(),
                vec![0.5, 0.0, -0.5],
            ),
        ];
        for (logits, target, loss, grad) in rows {
            let n = logits.len();
            let tape = Tape::<T>::new();
            let x = tape.input_with_grad(Tensor::from_vec(logits.clone(), &[1, n]));
            let ce = x.cross_entropy(&[target]);
            let g = ce.backward();
            let got = ce.value().item().to_f64();
            assert!(
                (got - loss).abs() < 1e-6,
                "{}: loss {got}, want {loss}",
                T::DTYPE
            );
            let dx: Vec<f64> = g
                .wrt(&x)
                .unwrap()
                .to_vec()
                .iter()
                .map(|v| v.to_f64())
                .collect();
            for (a, b) in dx.iter().zip(&grad) {
                assert!(
                    (a - b).abs() < 1e-6,
                    "{}: grad {dx:?}, want {grad:?}",
                    T::DTYPE
                );
            }
            // NLL of log-probabilities with a −∞ (impossible) class.
            let tape = Tape::<T>::new();
            let lp = tape.input_with_grad(Tensor::from_vec(logits, &[1, n]).log_softmax(1));
            let nll = lp.nll(&[target], Reduction::Mean);
            assert!((nll.value().item().to_f64() - loss).abs() < 1e-6);
            assert!(
                nll.backward()
                    .wrt(&lp)
                    .unwrap()
                    .to_vec()
                    .iter()
                    .all(|v| v.is_finite())
            );
        }
        // The target itself masked: +∞, not NaN.
        let tape = Tape::<T>::new();
        let x = tape.input(Tensor::from_vec(vec![z, inf], &[1, 2]));
        assert_eq!(x.cross_entropy(&[1]).value().item().to_f64(), f64::INFINITY);
    }

    #[test]
    fn masked_logits_f32_and_f64() {
        masked_logits_are_exact::<f32>();
        masked_logits_are_exact::<f64>();
    }

    /// Every loss on every empty batch, each reduction: the mean of nothing is an error naming
    /// the loss and the input's shape; a sum is 0 and no reduction gives an empty tensor, each
    /// with a backward pass that works. Returns the number of cases.
    fn empty_walk<T: Float>(failures: &mut Vec<String>) -> usize {
        use crate::ops::CrossEntropyOptions;
        use crate::ops::reduce::tests::{Want, check, leaf, out, with_backward};
        let mut cases = 0;
        let reductions = [Reduction::Mean, Reduction::Sum, Reduction::None];
        let dt = T::DTYPE;
        let v = |r: crate::Result<crate::Var<T>>| r.map_err(|e| e.to_string());
        let want = |op, reduction, per: &[usize]| match reduction {
            Reduction::Mean => Want::Err(op),
            Reduction::Sum => Want::Filled(vec![], 0.0),
            Reduction::None => Want::Filled(per.to_vec(), 0.0),
        };
        for shape in [&[0usize, 10][..], &[0, 0], &[0, 1]] {
            for reduction in reductions {
                for label_smoothing in [0.0, 0.1] {
                    let opts = CrossEntropyOptions {
                        reduction,
                        label_smoothing,
                    };
                    let (_t, x) = leaf::<T>(shape);
                    check(
                        failures,
                        &format!("cross_entropy {dt} {shape:?} {opts:?}"),
                        shape,
                        &want("cross_entropy", reduction, &[0]),
                        || with_backward(&x, v(x.try_cross_entropy_with(&[], opts))?),
                        || match opts == CrossEntropyOptions::default() {
                            true => out(x.cross_entropy(&[]).value()),
                            false => out(x.cross_entropy_with(&[], opts).value()),
                        },
                    );
                    cases += 1;
                }
                let (_t, x) = leaf::<T>(shape);
                check(
                    failures,
                    &format!("nll {dt} {shape:?} {reduction:?}"),
                    shape,
                    &want("nll", reduction, &[0]),
                    || with_backward(&x, v(x.try_nll(&[], reduction))?),
                    || out(x.nll(&[], reduction).value()),
                );
                cases += 1;
            }
        }
        for shape in [&[0usize][..], &[0, 10], &[3, 0], &[0, 0], &[2, 0, 3]] {
            for reduction in reductions {
                let (tape, x) = leaf::<T>(shape);
                let target = tape.input(Tensor::zeros(shape));
                check(
                    failures,
                    &format!("mse {dt} {shape:?} {reduction:?}"),
                    shape,
                    &want("mse", reduction, shape),
                    || with_backward(&x, v(x.try_mse(&target, reduction))?),
                    || out(x.mse(&target, reduction).value()),
                );
                let targets = Tensor::zeros(shape);
                check(
                    failures,
                    &format!("binary_cross_entropy_with_logits {dt} {shape:?} {reduction:?}"),
                    shape,
                    &want("binary_cross_entropy_with_logits", reduction, shape),
                    || {
                        let y = x.try_binary_cross_entropy_with_logits(&targets, reduction);
                        with_backward(&x, v(y)?)
                    },
                    || {
                        out(x
                            .binary_cross_entropy_with_logits(&targets, reduction)
                            .value())
                    },
                );
                cases += 2;
            }
        }
        cases
    }

    /// The empty-batch rule over every loss: see [`empty_walk`].
    #[test]
    fn empty_batches_follow_one_rule() {
        use crate::ops::reduce::tests::assert_walk_passes;
        let mut failures = Vec::new();
        let cases = empty_walk::<f32>(&mut failures) + empty_walk::<f64>(&mut failures);
        assert_eq!(cases, 114);
        assert_walk_passes(cases, &failures);
    }
}
