//! Reductions: sum and mean over axes or all, max over an axis, variance.
//!
//! Over nothing, a sum is 0 and a mean, variance or maximum is an error naming the op and the
//! input's shape, exactly as for [`Tensor`]'s reductions.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::shape::normalize_axes;
use tapegrad_tensor::{Float, Tensor, TensorError};

/// How many elements `axes` reduce in `shape` (1 for no axes); `Empty` naming `op` when that
/// is none, since an average of nothing has no value.
fn count_reduced(op: &'static str, shape: &[usize], axes: &[isize]) -> Result<usize> {
    let axes = normalize_axes(op, axes, shape.len())?;
    let n = axes.iter().map(|&a| shape[a]).product();
    if n == 0 {
        return Err(TensorError::Empty {
            op,
            shape: shape.to_vec(),
        }
        .into());
    }
    Ok(n)
}

impl<T: Float> Var<T> {
    /// Sum over `axes` (negative from the end), keeping them as size 1 if `keepdim`; a sum over
    /// no element is 0.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.sum(&[0], false);
    /// assert_eq!(y.value().to_vec(), [5.0, 7.0, 9.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [1.0; 6]);
    /// assert_eq!(x.sum(&[-1], true).shape(), [2, 1]);
    /// assert!(x.try_sum(&[0, 0], false).is_err()); // a repeated axis
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or repeated; [`Var::try_sum`] returns the error.
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_sum(axes, keepdim))
    }

    /// Fallible [`Var::sum`].
    pub fn try_sum(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let out = self.value().try_sum(axes, keepdim)?;
        // With keepdim the reduced axes are already size 1, ready to broadcast back.
        let kept = if keepdim {
            out.shape().to_vec()
        } else {
            self.value().try_sum(axes, true)?.shape().to_vec()
        };
        Ok(self.record(
            out,
            &[self],
            SumBackward {
                kept,
                input: self.shape().to_vec(),
            },
        ))
    }

    /// Sum of every element, as a rank-0 var (0 for a var without elements).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.sum_all();
    /// assert_eq!(y.value().item(), 10.0);
    /// assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), [1.0; 4]);
    /// ```
    pub fn sum_all(&self) -> Var<T> {
        let kept = vec![1; self.shape().len()];
        self.record(
            self.value().sum_all(),
            &[self],
            SumBackward {
                kept,
                input: self.shape().to_vec(),
            },
        )
    }

    /// Mean over `axes`: `sum / n`, composed exactly from [`Var::sum`] and a scale.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.mean(&[1], false);
    /// assert_eq!(y.value().to_vec(), [1.5, 3.5]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.5; 4]);
    /// assert!(x.try_mean(&[2], false).is_err());
    /// ```
    ///
    /// # Panics
    /// If an axis is invalid or a reduced axis has size 0; [`Var::try_mean`] returns the error.
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_mean(axes, keepdim))
    }

    /// Fallible [`Var::mean`].
    ///
    /// # Errors
    /// `InvalidAxis`/`InvalidArgument` for bad axes; `Empty` when a reduced axis has size 0.
    pub fn try_mean(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        self.mean_named("mean", axes, keepdim)
    }

    fn mean_named(&self, op: &'static str, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let n = count_reduced(op, self.shape(), axes)?;
        Ok(self.try_sum(axes, keepdim)?.div_scalar(T::from_usize(n)))
    }

    /// Mean of every element.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.mean_all();
    /// assert_eq!(y.value().item(), 2.5);
    /// assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), [0.25; 4]);
    /// assert!(x.constant(Tensor::zeros(&[0])).try_mean_all().is_err());
    /// ```
    ///
    /// # Panics
    /// If the var has no element; [`Var::try_mean_all`] returns the error.
    #[track_caller]
    pub fn mean_all(&self) -> Var<T> {
        or_panic(self.try_mean_all())
    }

    /// Fallible [`Var::mean_all`].
    ///
    /// # Errors
    /// `Empty` for a var without elements.
    pub fn try_mean_all(&self) -> Result<Var<T>> {
        let n = self.value().numel();
        if n == 0 {
            return Err(TensorError::Empty {
                op: "mean_all",
                shape: self.shape().to_vec(),
            }
            .into());
        }
        Ok(self.sum_all().div_scalar(T::from_usize(n)))
    }

    /// Population variance `1/m Σ (x − μ)²` over `axes`, composed from mean, sub and mul.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 3.0], &[2]));
    /// let y = x.var(&[0], false);
    /// assert_eq!(y.value().item(), 1.0);
    /// assert_eq!(y.backward().wrt(&x).unwrap().to_vec(), [-1.0, 1.0]); // 2(x − μ)/m
    /// assert!(x.try_var(&[1], false).is_err());
    /// ```
    ///
    /// # Panics
    /// If an axis is invalid or a reduced axis has size 0; [`Var::try_var`] returns the error.
    #[track_caller]
    pub fn var(&self, axes: &[isize], keepdim: bool) -> Var<T> {
        or_panic(self.try_var(axes, keepdim))
    }

    /// Fallible [`Var::var`].
    ///
    /// # Errors
    /// `InvalidAxis`/`InvalidArgument` for bad axes; `Empty` when a reduced axis has size 0.
    pub fn try_var(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let centered = self.sub(&self.mean_named("var", axes, true)?);
        centered.square().mean_named("var", axes, keepdim)
    }

    /// Maximum along `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.max(1, false);
    /// assert_eq!(y.value().to_vec(), [5.0, 4.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [0.0, 1.0, 0.0, 1.0]);
    /// assert!(x.try_max(2, false).is_err());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has size 0; [`Var::try_max`] returns the error.
    #[track_caller]
    pub fn max(&self, axis: isize, keepdim: bool) -> Var<T> {
        or_panic(self.try_max(axis, keepdim))
    }

    /// Fallible [`Var::max`].
    ///
    /// # Errors
    /// `InvalidAxis` for an axis outside `-rank..rank`; `Empty` when that axis has size 0.
    pub fn try_max(&self, axis: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().try_max(axis, keepdim)?;
        let arg = self.value().try_argmax(axis)?;
        let ax = tapegrad_tensor::shape::normalize_axis("max", axis, self.shape().len())?;
        let saved = MaxBackward {
            arg,
            axis: ax,
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }
}

/// Gradient of a sum: `g` broadcast back over the reduced axes.
struct SumBackward {
    kept: Vec<usize>,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.reshape(&self.kept).broadcast_to(&self.input))]
    }
}

/// Gradient of `max` along an axis: `g` goes to the first maximal element of each slice (argmax), 0 elsewhere.
struct MaxBackward {
    arg: Vec<usize>,
    axis: usize,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for MaxBackward {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let mut index_shape = self.input.clone();
        index_shape[self.axis] = 1;
        let g = g.reshape(&index_shape);
        let grad =
            Tensor::scatter_add(self.axis as isize, &self.arg, &index_shape, &g, &self.input);
        vec![Some(grad)]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The empty-input rule, walked over every reduction of `Tensor` and `Var`.

    use crate::Tape;
    use tapegrad_tensor::{Float, Tensor};

    /// What the rule speaks about in a result: its shape and its values.
    pub(crate) type Out = (Vec<usize>, Vec<f64>);

    /// What the empty-input rule says a case gives.
    pub(crate) enum Want {
        /// An error whose message starts with `op:` and names the input's shape; the short form
        /// panics with the same message.
        Err(&'static str),
        /// A result of this shape with every element equal to the value (0 for an empty sum, −∞
        /// for an empty logsumexp); the short form returns the same.
        Filled(Vec<usize>, f64),
    }

    pub(crate) use tapegrad_tensor::testing::{assert_walk_passes, caught};

    pub(crate) fn out<T: Float>(t: &Tensor<T>) -> Out {
        (
            t.shape().to_vec(),
            t.to_vec().iter().map(|v| v.to_f64()).collect(),
        )
    }

    /// Checks one case against `want`; a broken rule is pushed onto `failures`.
    pub(crate) fn check(
        failures: &mut Vec<String>,
        label: &str,
        input: &[usize],
        want: &Want,
        try_form: impl FnOnce() -> Result<Out, String>,
        short_form: impl FnOnce() -> Out,
    ) {
        let tried = match caught(try_form) {
            Ok(result) => result,
            Err(msg) => return failures.push(format!("{label}: the try_ form panicked: {msg}")),
        };
        let short = caught(short_form);
        match (want, tried) {
            (Want::Err(op), Err(msg)) => {
                if !msg.starts_with(&format!("{op}:")) || !msg.contains(&format!("{input:?}")) {
                    failures.push(format!(
                        "{label}: the error should name {op} and {input:?}: {msg}"
                    ));
                }
                if short.as_ref() != Err(&msg) {
                    failures.push(format!(
                        "{label}: the short form should panic with {msg:?}, gave {short:?}"
                    ));
                }
            }
            (Want::Err(op), Ok(got)) => {
                failures.push(format!("{label}: want an error from {op}, got {got:?}"))
            }
            (Want::Filled(shape, fill), Ok(got)) => {
                let fits = &got.0 == shape && got.1.iter().all(|v| v == fill);
                if !fits {
                    failures.push(format!("{label}: want {shape:?} of {fill}, got {got:?}"));
                }
                if short.as_ref() != Ok(&got) {
                    failures.push(format!(
                        "{label}: the short form gave {short:?}, the try_ form {got:?}"
                    ));
                }
            }
            (Want::Filled(shape, _), Err(msg)) => failures.push(format!(
                "{label}: want a result of shape {shape:?}, got {msg}"
            )),
        }
    }

    /// Shapes with an axis of size 0.
    const EMPTY_SHAPES: [&[usize]; 5] = [&[0], &[0, 3], &[3, 0], &[0, 0], &[2, 0, 3]];

    fn reduced(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, &d) in shape.iter().enumerate() {
            match (axes.contains(&i), keepdim) {
                (false, _) => out.push(d),
                (true, true) => out.push(1),
                (true, false) => {}
            }
        }
        out
    }

    /// Axis lists to reduce over: none, each axis (as given and counted from the end), all, and
    /// the outer two of a rank-3 shape.
    fn axis_lists(rank: usize) -> Vec<(Vec<usize>, Vec<isize>)> {
        let mut lists = vec![(vec![], vec![])];
        for a in 0..rank {
            lists.push((vec![a], vec![a as isize]));
            lists.push((vec![a], vec![a as isize - rank as isize]));
        }
        lists.push(((0..rank).collect(), (0..rank as isize).collect()));
        if rank == 3 {
            lists.push((vec![0, 2], vec![0, -1]));
        }
        lists
    }

    /// A grad-wanting var holding `shape`'s zeros, and its tape.
    pub(crate) fn leaf<T: Float>(shape: &[usize]) -> (Tape<T>, crate::Var<T>) {
        let tape = Tape::new();
        let x = tape.input_with_grad(Tensor::zeros(shape));
        (tape, x)
    }

    /// `y`'s value, after checking that a backward pass from it gives `x` a gradient of its shape.
    pub(crate) fn with_backward<T: Float>(
        x: &crate::Var<T>,
        y: crate::Var<T>,
    ) -> Result<Out, String> {
        let grads = y
            .try_backward_with(Tensor::ones(y.shape()))
            .map_err(|e| e.to_string())?;
        match grads.wrt(x) {
            Some(g) if g.shape() == x.shape() && g.to_vec().iter().all(|v| *v == T::ZERO) => {
                Ok(out(y.value()))
            }
            other => Err(format!("backward gave {:?}", other.map(out))),
        }
    }

    /// Every reduction of `Tensor` and `Var` on every empty shape; returns the number of cases.
    fn walk<T: Float>(failures: &mut Vec<String>) -> usize {
        let mut cases = 0;
        let e =
            |r: tapegrad_tensor::Result<Tensor<T>>| r.map(|t| out(&t)).map_err(|e| e.to_string());
        let v = |r: crate::Result<crate::Var<T>>| r.map_err(|e| e.to_string());
        for shape in EMPTY_SHAPES {
            let x = Tensor::<T>::zeros(shape);
            let rank = shape.len();
            let dt = T::DTYPE;
            for (axes, given) in axis_lists(rank) {
                let n: usize = axes.iter().map(|&a| shape[a]).product();
                let empty_set = !axes.is_empty() && n == 0;
                for keepdim in [false, true] {
                    let at = format!("{dt} {shape:?} axes {given:?} keepdim {keepdim}");
                    let kept = if axes.is_empty() {
                        shape.to_vec()
                    } else {
                        reduced(shape, &axes, keepdim)
                    };
                    let sum = Want::Filled(kept.clone(), 0.0);
                    let or_err = |op| {
                        if empty_set {
                            Want::Err(op)
                        } else {
                            Want::Filled(kept.clone(), 0.0)
                        }
                    };
                    let g = &given;
                    check(
                        failures,
                        &format!("Tensor::sum {at}"),
                        shape,
                        &sum,
                        || e(x.try_sum(g, keepdim)),
                        || out(&x.sum(g, keepdim)),
                    );
                    check(
                        failures,
                        &format!("Tensor::mean {at}"),
                        shape,
                        &or_err("mean"),
                        || e(x.try_mean(g, keepdim)),
                        || out(&x.mean(g, keepdim)),
                    );
                    check(
                        failures,
                        &format!("Tensor::var {at}"),
                        shape,
                        &or_err("var"),
                        || e(x.try_var(g, keepdim)),
                        || out(&x.var(g, keepdim)),
                    );
                    let (_t, xv) = leaf::<T>(shape);
                    check(
                        failures,
                        &format!("Var::sum {at}"),
                        shape,
                        &sum,
                        || with_backward(&xv, v(xv.try_sum(g, keepdim))?),
                        || out(xv.sum(g, keepdim).value()),
                    );
                    check(
                        failures,
                        &format!("Var::mean {at}"),
                        shape,
                        &or_err("mean"),
                        || with_backward(&xv, v(xv.try_mean(g, keepdim))?),
                        || out(xv.mean(g, keepdim).value()),
                    );
                    check(
                        failures,
                        &format!("Var::var {at}"),
                        shape,
                        &or_err("var"),
                        || with_backward(&xv, v(xv.try_var(g, keepdim))?),
                        || out(xv.var(g, keepdim).value()),
                    );
                    cases += 6;
                }
            }
            for a in 0..rank {
                for axis in [a as isize, a as isize - rank as isize] {
                    let at = format!("{dt} {shape:?} axis {axis}");
                    let empty_axis = shape[a] == 0;
                    let along = |op, keepdim| {
                        if empty_axis {
                            Want::Err(op)
                        } else {
                            Want::Filled(reduced(shape, &[a], keepdim), 0.0)
                        }
                    };
                    let idx = |r: tapegrad_tensor::Result<Vec<usize>>| {
                        r.map(|i| {
                            (
                                reduced(shape, &[a], false),
                                i.iter().map(|&i| i as f64).collect(),
                            )
                        })
                        .map_err(|e| e.to_string())
                    };
                    let as_out = |i: Vec<usize>| {
                        (
                            reduced(shape, &[a], false),
                            i.iter().map(|&i| i as f64).collect(),
                        )
                    };
                    check(
                        failures,
                        &format!("Tensor::argmax {at}"),
                        shape,
                        &along("argmax", false),
                        || idx(x.try_argmax(axis)),
                        || as_out(x.argmax(axis)),
                    );
                    check(
                        failures,
                        &format!("Tensor::argmin {at}"),
                        shape,
                        &along("argmin", false),
                        || idx(x.try_argmin(axis)),
                        || as_out(x.argmin(axis)),
                    );
                    let whole = Want::Filled(shape.to_vec(), 0.0);
                    check(
                        failures,
                        &format!("Tensor::softmax {at}"),
                        shape,
                        &whole,
                        || e(x.try_softmax(axis)),
                        || out(&x.softmax(axis)),
                    );
                    check(
                        failures,
                        &format!("Tensor::log_softmax {at}"),
                        shape,
                        &whole,
                        || e(x.try_log_softmax(axis)),
                        || out(&x.log_softmax(axis)),
                    );
                    let (_t, xv) = leaf::<T>(shape);
                    check(
                        failures,
                        &format!("Var::softmax {at}"),
                        shape,
                        &whole,
                        || with_backward(&xv, v(xv.try_softmax(axis))?),
                        || out(xv.softmax(axis).value()),
                    );
                    check(
                        failures,
                        &format!("Var::log_softmax {at}"),
                        shape,
                        &whole,
                        || with_backward(&xv, v(xv.try_log_softmax(axis))?),
                        || out(xv.log_softmax(axis).value()),
                    );
                    cases += 6;
                    for keepdim in [false, true] {
                        let at = format!("{at} keepdim {keepdim}");
                        let lse = Want::Filled(reduced(shape, &[a], keepdim), f64::NEG_INFINITY);
                        check(
                            failures,
                            &format!("Tensor::max {at}"),
                            shape,
                            &along("max", keepdim),
                            || e(x.try_max(axis, keepdim)),
                            || out(&x.max(axis, keepdim)),
                        );
                        check(
                            failures,
                            &format!("Tensor::min {at}"),
                            shape,
                            &along("min", keepdim),
                            || e(x.try_min(axis, keepdim)),
                            || out(&x.min(axis, keepdim)),
                        );
                        check(
                            failures,
                            &format!("Tensor::logsumexp {at}"),
                            shape,
                            &lse,
                            || e(x.try_logsumexp(axis, keepdim)),
                            || out(&x.logsumexp(axis, keepdim)),
                        );
                        let (_t, xv) = leaf::<T>(shape);
                        check(
                            failures,
                            &format!("Var::max {at}"),
                            shape,
                            &along("max", keepdim),
                            || with_backward(&xv, v(xv.try_max(axis, keepdim))?),
                            || out(xv.max(axis, keepdim).value()),
                        );
                        check(
                            failures,
                            &format!("Var::logsumexp {at}"),
                            shape,
                            &lse,
                            || with_backward(&xv, v(xv.try_logsumexp(axis, keepdim))?),
                            || out(xv.logsumexp(axis, keepdim).value()),
                        );
                        cases += 5;
                    }
                }
            }
            let at = format!("{dt} {shape:?}");
            let zero = Want::Filled(vec![], 0.0);
            check(
                failures,
                &format!("Tensor::sum_all {at}"),
                shape,
                &zero,
                || Ok(out(&x.sum_all())),
                || out(&x.sum_all()),
            );
            check(
                failures,
                &format!("Tensor::mean_all {at}"),
                shape,
                &Want::Err("mean_all"),
                || e(x.try_mean_all()),
                || out(&x.mean_all()),
            );
            check(
                failures,
                &format!("Tensor::var_all {at}"),
                shape,
                &Want::Err("var_all"),
                || e(x.try_var_all()),
                || out(&x.var_all()),
            );
            check(
                failures,
                &format!("Tensor::max_all {at}"),
                shape,
                &Want::Err("max_all"),
                || e(x.try_max_all()),
                || out(&x.max_all()),
            );
            check(
                failures,
                &format!("Tensor::min_all {at}"),
                shape,
                &Want::Err("min_all"),
                || e(x.try_min_all()),
                || out(&x.min_all()),
            );
            let (_t, xv) = leaf::<T>(shape);
            check(
                failures,
                &format!("Var::sum_all {at}"),
                shape,
                &zero,
                || with_backward(&xv, xv.sum_all()),
                || out(xv.sum_all().value()),
            );
            check(
                failures,
                &format!("Var::mean_all {at}"),
                shape,
                &Want::Err("mean_all"),
                || with_backward(&xv, v(xv.try_mean_all())?),
                || out(xv.mean_all().value()),
            );
            cases += 7;
        }
        cases
    }

    /// One rule for every reduction over nothing: a sum is 0 (a logsumexp −∞); a mean, variance,
    /// maximum or minimum is an error naming the op and the shape, and the short form panics with it.
    #[test]
    fn empty_reductions_follow_one_rule() {
        let mut failures = Vec::new();
        let cases = walk::<f32>(&mut failures) + walk::<f64>(&mut failures);
        assert_eq!(cases, 1454);
        assert_walk_passes(cases, &failures);
    }
}
