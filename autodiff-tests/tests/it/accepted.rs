//! Constructs the attribute accepts (formerly trybuild's pass cases):
//! each module is one, written as a user would, compiled with the rest
//! of this binary and called once; the numbers are checked elsewhere.

#![allow(clippy::all, dead_code)]

mod break_in_loop {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() {
            if x[i] < 0.0 {
                break;
            }
            s += x[i];
        }
        s
    }

    #[test]
    fn compiles_and_runs() {
        let _: Vec<f64> = f_grad(&[1.0, 2.0]);
    }
}

mod cast_to_integer {
    //! A float cast to an integer is piecewise constant: its derivative is 0.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        let n = x as i64;
        x * 2.0 + n as f64
    }

    #[test]
    fn compiles_and_runs() {
        assert_eq!(f_grad(1.5), 2.0);
        assert_eq!(f(1.5), 4.0);
    }
}

mod closure_on_active {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        let g = |t: f64| t * x;
        g(2.0)
    }

    #[test]
    fn compiles_and_runs() {
        let _: f64 = f_grad(1.0);
    }
}

mod early_return {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        if x < 0.0 {
            return 0.0;
        }
        x * x
    }

    #[test]
    fn compiles_and_runs() {
        let _: f64 = f_grad(1.0);
    }
}

mod hessian_of_two_arrays {
    //! A Hessian over two array parameters: a `Matrix` over both, flattened.
    use autodiff::differentiate;

    #[differentiate(hessian)]
    fn f(a: [f64; 2], b: [f64; 2]) -> f64 {
        a[0] * b[1]
    }

    #[test]
    fn compiles_and_runs() {
        let _: ([f64; 2], [f64; 2]) = f_grad([1.0; 2], [2.0; 2]);
        let h = f_hessian([1.0; 2], [2.0; 2]);
        assert_eq!((h.nrows(), h.ncols()), (4, 4));
        assert_eq!(h[(0, 3)], 1.0);
        assert_eq!(h[(3, 0)], 1.0);
        assert_eq!(h[(1, 2)], 0.0);
    }
}

mod if_let {
    //! `if let` on data that is not differentiated.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64, o: Option<f64>) -> f64 {
        let y = if let Some(v) = o { v * x } else { x };
        y
    }

    #[test]
    fn compiles_and_runs() {
        assert_eq!(f_grad(1.0, None), 1.0);
        assert_eq!(f_grad(1.0, Some(3.0)), 3.0);
    }
}

mod inactive_constructs_are_constants {
    //! `match`, closures, macros, iterator chains and casts on values that do not depend
    //! on a differentiated parameter are opaque constants, kept as written.
    use autodiff::differentiate;

    macro_rules! double {
        ($e:expr) => {
            2.0 * $e
        };
    }

    #[differentiate]
    fn f(x: f64, n: usize) -> f64 {
        let k = match n {
            0 => 1.0,
            _ => 2.0,
        };
        let c = (|m: usize| m as f64 + 0.5)(n);
        let d = double!(n as f64);
        let e = (0..n).map(|i| i as f64).sum::<f64>();
        x * k + x.sin() * c + d * x + e
    }

    #[test]
    fn compiles_and_runs() {
        let g = f_grad(0.5, 3);
        let (v, dv) = f_jvp(0.5, 3, 1.0);
        let _ = (g, v, dv);
    }
}

mod loop_on_active {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        let mut y = x;
        loop {
            y = y * 2.0;
            if y > 10.0 {
                break;
            }
        }
        y
    }

    #[test]
    fn compiles_and_runs() {
        let _: f64 = f_grad(1.0);
    }
}

mod loop_over_iterator {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for v in x.iter() {
            s += v;
        }
        s
    }

    #[test]
    fn compiles_and_runs() {
        let _: Vec<f64> = f_grad(&[1.0, 2.0]);
    }
}

mod loop_over_strings {
    //! A loop over constant data of any element type.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64, names: &[String]) -> f64 {
        let mut s = x;
        for name in names.iter() {
            s = s * name.len() as f64;
        }
        s
    }

    #[test]
    fn compiles_and_runs() {
        let names = ["ab".to_string(), "cde".to_string()];
        assert_eq!(f_grad(1.0, &[]), 1.0);
        assert_eq!(f_grad(1.0, &names), 6.0);
    }
}

mod match_on_bool {
    //! A `match` on a comparison of a differentiated value.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        let y = match x > 0.0 {
            true => x,
            false => -x,
        };
        y * 2.0
    }

    #[test]
    fn compiles_and_runs() {
        assert_eq!(f_grad(1.0), 2.0);
        assert_eq!(f_grad(-1.0), -2.0);
    }
}

mod statement_macros_dropped {
    //! Statement macros (`assert!`, `println!`, `debug_assert!`) run in the
    //! original function only; companions compute values, not effects.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64, n: usize) -> f64 {
        assert!(n > 0);
        debug_assert!(x.is_finite());
        println!("x = {x}");
        x * x * n as f64
    }

    #[test]
    fn compiles_and_runs() {
        let g: f64 = f_grad(3.0, 2);
        let _ = (g, f(3.0, 2), f_pp());
    }
}

mod tuple_output_companions {
    //! A tuple output has `_jvp`, `_vjp` and `_jacobian` companions.
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64, y: f64) -> (f64, f64) {
        (x * y, x.sin() + y)
    }

    #[test]
    fn compiles_and_runs() {
        let ((a, b), (da, db)) = f_jvp(1.0, 2.0, 1.0, 0.0);
        let ((_, _), (gx, gy)) = f_vjp(1.0, 2.0, (1.0, 0.0));
        let (jx, jy): ([f64; 2], [f64; 2]) = f_jacobian(1.0, 2.0);
        let _ = (a, b, da, db, gx, gy, jx, jy);
    }
}

mod while_on_active {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64) -> f64 {
        let mut y = x;
        while y < 10.0 {
            y = y * 2.0;
        }
        y
    }

    #[test]
    fn compiles_and_runs() {
        let _: f64 = f_grad(1.0);
    }
}

mod while_on_constants_that_carries_state {
    use autodiff::differentiate;

    #[differentiate]
    fn f(x: f64, n: usize) -> f64 {
        let mut k = 0;
        while k < n {
            k += 1;
        }
        x * (k as f64)
    }

    #[test]
    fn compiles_and_runs() {
        let _: f64 = f_grad(1.0, 3);
    }
}

mod wrt_subset {
    //! `wrt` on a subset of the float parameters: the others are constants.
    use autodiff::differentiate;

    #[differentiate(wrt(x))]
    fn f(x: f64, y: f64) -> f64 {
        x * y + y.sin()
    }

    #[differentiate(wrt(x, z))]
    fn h(x: f64, y: f64, z: f64) -> f64 {
        x * y * z
    }

    #[test]
    fn compiles_and_runs() {
        let gx: f64 = f_grad(1.0, 2.0);
        let (v, g): (f64, f64) = f_value_and_grad(1.0, 2.0);
        let (_, t): (f64, f64) = f_jvp(1.0, 2.0, 1.0);
        let (gx2, gz): (f64, f64) = h_grad(1.0, 2.0, 3.0);
        let _ = (gx, v, g, t, gx2, gz);
    }
}
