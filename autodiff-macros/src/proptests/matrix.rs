//! Random programs from the matrix helpers: `fn f(x: &[f64], t: f64, m:
//! &[[f64; 3]]) -> f64` with `x` of one entry per row of `m`. Values are
//! kept in pools by shape: R-vectors, 3-vectors, R×3 and 3×3 matrices.

use proptest::collection::vec;
use proptest::prelude::*;

use super::point::{point_of, Point, Shape};
use super::properties::{hvp_property, jvp_property, vjp_property};
use super::{check, signed, source_function, Sample};

/// One step: its kind and operand picks.
#[derive(Clone, Debug)]
struct MatrixCase {
    steps: Vec<(u8, u8, u8)>,
    rows: usize,
    x: Vec<f64>,
    v: Vec<f64>,
    w: Vec<f64>,
}

/// The number of step kinds `matrix_source` knows.
const MATRIX_KINDS: u8 = 13;

/// The Rust source of a matrix case's function.
fn matrix_source(steps: &[(u8, u8, u8)]) -> String {
    // Pools: R-vectors, 3-vectors, R×3, 3×3, scalars.
    let mut rv = vec!["x".to_string()];
    let mut cv = vec!["vecmat(&x, &m)".to_string()];
    let mut rm = vec!["m".to_string()];
    let mut cm: Vec<String> = vec!["outer(&vecmat(&x, &m), &vecmat(&x, &m))".to_string()];
    let mut sc = vec!["t".to_string()];
    let mut body = String::new();
    for (k, &(kind, a, b)) in steps.iter().enumerate() {
        let pick = |l: &Vec<String>, i: u8| l[l.len() - 1 - (i as usize % l.len())].clone();
        let name = format!("v{k}");
        let (line, pool) = match kind % MATRIX_KINDS {
            0 => (
                format!("let {name} = vecmat(&{}, &{});", pick(&rv, a), pick(&rm, b)),
                1,
            ),
            1 => (
                format!("let {name} = matvec(&{}, &{});", pick(&rm, a), pick(&cv, b)),
                0,
            ),
            2 => (
                format!("let {name} = outer(&{}, &{});", pick(&rv, a), pick(&cv, b)),
                2,
            ),
            3 => (format!("let {name} = sigmoid(&{});", pick(&rv, a)), 0),
            4 => (format!("let {name} = sigmoid(&{});", pick(&rm, a)), 2),
            5 => (format!("let {name} = softplus(&{});", pick(&rm, a)), 2),
            6 => (
                format!(
                    "let {name} = dot(&{}, &{}) * {};",
                    pick(&rv, a),
                    pick(&rv, b),
                    pick(&sc, a)
                ),
                4,
            ),
            7 => (format!("let {name} = norm(&{});", pick(&cv, a)), 4),
            8 => (format!("let {name} = sum(&{}) * 0.5;", pick(&rm, a)), 4),
            9 => (format!("let {name} = softmax(&{});", pick(&cv, a)), 1),
            10 => (
                format!("let {name} = matmul(&{}, &{});", pick(&rm, a), pick(&cm, b)),
                2,
            ),
            11 => (
                format!(
                    "let {name} = logsumexp(&{}) + mean(&{});",
                    pick(&rv, a),
                    pick(&cv, b)
                ),
                4,
            ),
            _ => (format!("let {name} = log_softmax(&{});", pick(&rv, a)), 0),
        };
        body.push_str(&line);
        body.push('\n');
        [&mut rv, &mut cv, &mut rm, &mut cm, &mut sc][pool].push(name);
    }
    format!(
        "fn f(x: &[f64], t: f64, m: &[[f64; 3]]) -> f64 {{\n{body}{} + sum(&{}) + sum(&{}) + sum(&{})\n}}",
        sc.join(" + "),
        rv.last().cloned().unwrap_or_default(),
        cv.last().cloned().unwrap_or_default(),
        rm.last().cloned().unwrap_or_default(),
    )
}

fn matrix_case() -> impl Strategy<Value = MatrixCase> {
    let step = (0..MATRIX_KINDS, any::<u8>(), any::<u8>());
    let rows = prop_oneof![1 => Just(0usize), 2 => Just(1), 4 => 2usize..=4];
    (
        vec(step, 1..=6),
        rows,
        vec(signed(0.05, 1.2), 17),
        vec(signed(0.1, 1.0), 17),
        vec(signed(0.1, 1.0), 1),
    )
        .prop_map(|(steps, rows, x, v, w)| MatrixCase {
            steps,
            rows,
            x,
            v,
            w,
        })
}

impl Sample for MatrixCase {
    fn point(&self) -> Result<Point, TestCaseError> {
        let src = matrix_source(&self.steps);
        let f = source_function(&src)?;
        let r = self.rows;
        let ins = vec![
            Shape::Array(vec![r]),
            Shape::Scalar,
            Shape::Array(vec![r, 3]),
        ];
        let n = r + 1 + 3 * r;
        point_of(f, ins, &self.x[..n], &self.v[..n], &self.w)
    }

    fn show(&self) -> String {
        format!(
            "rows = {}, x = {:?}\n{}",
            self.rows,
            &self.x,
            matrix_source(&self.steps)
        )
    }
}

#[test]
fn matrix_helpers_jvp_matches_dual_numbers_and_finite_differences() {
    check("matrix jvp", 0.5, matrix_case(), jvp_property);
}

#[test]
fn matrix_helpers_vjp_matches_dual_numbers_and_finite_differences() {
    check("matrix vjp", 0.5, matrix_case(), vjp_property);
}

#[test]
fn matrix_helpers_forward_over_reverse_matches_dual_numbers() {
    check("matrix hvp", 0.0, matrix_case(), hvp_property);
}

/// Every matrix step kind lowers.
#[test]
fn matrix_generator_covers_every_step() {
    for kind in 0..MATRIX_KINDS {
        let src = matrix_source(&[(kind, 0, 1), (kind, 1, 0)]);
        if let Err(e) = source_function(&src) {
            panic!("kind {kind}: {e}");
        }
    }
}
