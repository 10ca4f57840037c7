//! Run-time choice of the vector instruction set that elementwise loops are compiled for.
//!
//! Each slice loop of the elementwise drivers exists in three copies: one compiled for AVX-512,
//! one for AVX2, one for the target's baseline. The copy is chosen per call from what the CPU
//! reports (once per process), so one binary runs everywhere and uses the widest vectors it
//! finds. The loops and the kernels in [`crate::math`] use no fused multiply-add, so every copy
//! computes the same bits: the choice changes speed, never results.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// An instruction set the elementwise loops can be compiled for, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The target's baseline (SSE2 on x86-64): the portable path every machine runs.
    Portable,
    /// AVX2 (256-bit vectors).
    Avx2,
    /// AVX-512 F/BW/DQ/VL (512-bit vectors).
    Avx512,
}

impl Isa {
    /// Every instruction set, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Whether this CPU can run code compiled for `self`.
    pub fn is_supported(self) -> bool {
        self <= detected()
    }
}

/// The widest instruction set this CPU supports (detected once per process).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Isa {
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        Isa::Avx512
    } else if std::arch::is_x86_feature_detected!("avx2") {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Isa {
    Isa::Portable
}

thread_local! {
    static CAP: Cell<Isa> = const { Cell::new(Isa::Avx512) };
}

/// Runs `f` with elementwise loops started on this thread limited to `cap` (and to what the CPU
/// supports): a way to run, test or time the narrower paths on a machine that has wider ones.
///
/// The limit covers the work of ops called inside `f` on this thread, including the parts they
/// hand to other threads; it does not reach ops that other threads start themselves.
///
/// ```
/// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
/// use tapegrad::prelude::*;
/// use tapegrad_tensor::simd::{Isa, with_isa};
/// let x = Tensor::from_vec(vec![0.5f32, -3.0, 20.0], &[3]);
/// let wide = x.tanh();
/// let portable = with_isa(Isa::Portable, || x.tanh());
/// assert_eq!(wide.to_vec(), portable.to_vec()); // every path gives the same bits
/// ```
pub fn with_isa<R>(cap: Isa, f: impl FnOnce() -> R) -> R {
    struct Restore(Isa);
    impl Drop for Restore {
        fn drop(&mut self) {
            CAP.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CAP.with(|c| c.replace(cap)));
    f()
}

/// The instruction set an elementwise loop started on this thread now uses.
pub fn active() -> Isa {
    detected().min(CAP.with(Cell::get))
}

/// Generates `name(isa, …)`, which runs the `#[inline(always)]` loop `body` compiled for `isa`.
macro_rules! dispatched {
    (
        $(#[$doc:meta])*
        fn $name:ident<$($g:ident),*>($($arg:ident: $ty:ty),*) where { $($bounds:tt)* } $body:block
    ) => {
        $(#[$doc])*
        #[inline]
        pub(crate) fn $name<$($g),*>(isa: $crate::simd::Isa, $($arg: $ty),*) where $($bounds)* {
            #[inline(always)]
            fn body<$($g),*>($($arg: $ty),*) where $($bounds)* $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
            unsafe fn avx512<$($g),*>($($arg: $ty),*) where $($bounds)* {
                body($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2<$($g),*>($($arg: $ty),*) where $($bounds)* {
                body($($arg),*)
            }

            match isa {
                // SAFETY: `isa` comes from `active()`, which never exceeds what the CPU reports.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx2 => unsafe { avx2($($arg),*) },
                _ => body($($arg),*),
            }
        }
    };
}

pub(crate) use dispatched;

dispatched! {
    /// `out[i] = f(a[i])`.
    fn map1<T, U, F>(out: &mut [MaybeUninit<U>], a: &[T], f: &F)
    where { T: Copy, F: Fn(T) -> U }
    {
        for (o, &x) in out.iter_mut().zip(a) {
            o.write(f(x));
        }
    }
}

dispatched! {
    /// `out[i] = f(a[i], b[i])`.
    fn map2<T, F>(out: &mut [MaybeUninit<T>], a: &[T], b: &[T], f: &F)
    where { T: Copy, F: Fn(T, T) -> T }
    {
        for (o, (&x, &y)) in out.iter_mut().zip(a.iter().zip(b)) {
            o.write(f(x, y));
        }
    }
}

dispatched! {
    /// `out[i] = f(a[i], b)`, a row against one broadcast value.
    fn map2_rhs_scalar<T, F>(out: &mut [MaybeUninit<T>], a: &[T], b: T, f: &F)
    where { T: Copy, F: Fn(T, T) -> T }
    {
        for (o, &x) in out.iter_mut().zip(a) {
            o.write(f(x, b));
        }
    }
}

dispatched! {
    /// `out[i] = f(a, b[i])`, one broadcast value against a row.
    fn map2_lhs_scalar<T, F>(out: &mut [MaybeUninit<T>], a: T, b: &[T], f: &F)
    where { T: Copy, F: Fn(T, T) -> T }
    {
        for (o, &y) in out.iter_mut().zip(b) {
            o.write(f(a, y));
        }
    }
}

dispatched! {
    /// `out[i] = f(a[i], b[i], c[i])`.
    fn map3<T, F>(out: &mut [MaybeUninit<T>], a: &[T], b: &[T], c: &[T], f: &F)
    where { T: Copy, F: Fn(T, T, T) -> T }
    {
        for (o, ((&x, &y), &z)) in out.iter_mut().zip(a.iter().zip(b).zip(c)) {
            o.write(f(x, y, z));
        }
    }
}

dispatched! {
    /// `a[i] = f(a[i])` in place.
    fn update1<T, F>(a: &mut [T], f: &F)
    where { T: Copy, F: Fn(T) -> T }
    {
        for x in a.iter_mut() {
            *x = f(*x);
        }
    }
}

dispatched! {
    /// `a[i] = f(a[i], b[i])` in place.
    fn update2<T, F>(a: &mut [T], b: &[T], f: &F)
    where { T: Copy, F: Fn(T, T) -> T }
    {
        for (x, &y) in a.iter_mut().zip(b) {
            *x = f(*x, y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_limits_the_active_path_and_is_restored() {
        let before = active();
        with_isa(Isa::Portable, || assert_eq!(active(), Isa::Portable));
        assert_eq!(active(), before);
        assert_eq!(active(), detected());
        assert!(Isa::Portable.is_supported());
    }

    #[test]
    fn every_supported_path_runs_the_same_loop() {
        let a: Vec<f32> = (0..1000).map(|i| i as f32 * 0.37 - 100.0).collect();
        let want: Vec<f32> = a.iter().map(|x| x * 2.0 + 1.0).collect();
        for isa in Isa::ALL {
            if !isa.is_supported() {
                println!("{isa:?}: skipped (this CPU lacks it)");
                continue;
            }
            let mut out = vec![MaybeUninit::uninit(); a.len()];
            map1(isa, &mut out, &a, &|x: f32| x * 2.0 + 1.0);
            // SAFETY: map1 wrote every element.
            let got: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert_eq!(got, want, "{isa:?}");
            println!("{isa:?}: ran");
        }
    }
}
