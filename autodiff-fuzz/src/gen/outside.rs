//! Functions outside the supported subset: constructs SPEC §5 does not
//! list ([`Expect::Reject`]: a spanned macro error), forms SPEC lists but
//! the guide does not support yet ([`Expect::Either`]: accepted, or a clean
//! macro error), malformed options, the attribute on other items, and
//! signatures it cannot take. Each is a small template with random names,
//! types and arithmetic around the construct, and plain Rust without the
//! attribute.

use super::{Case, Elem, Expect, OutKind, PKind, PRecipe, Recipe};
use crate::rng::Rng;

const NAMES: &[&str] = &[
    "x", "y", "a", "b", "w", "t", "u", "v", "out_bar", "x_dot", "value", "i", "n", "acc", "core",
    "e",
];

/// A template being filled in.
struct T<'r> {
    rng: &'r mut Rng,
    ty: &'static str,
    elem: Elem,
    x: String,
    y: String,
}

impl T<'_> {
    fn lit(&mut self) -> &'static str {
        const LITS: [&str; 6] = ["0.5", "0.25", "1.5", "2.0", "0.75", "3.0"];
        LITS[self.rng.below(LITS.len())]
    }

    /// A smooth unary function of `e`, as text.
    fn smooth(&mut self, e: &str) -> String {
        match self.rng.below(5) {
            0 => format!("{e}.sin()"),
            1 => format!("{e}.cos()"),
            2 => format!("{e}.tanh()"),
            3 => format!("({e} * {e} + 1.0).ln()"),
            _ => format!("{e}.atan()"),
        }
    }
}

/// A case over `fn f(x: T, y: T) -> T` with `body` (two scalar
/// parameters, every companion checkable when accepted).
fn scalar_case(t: &T, class: &str, expect: Expect, attr: &str, body: &str, prelude: &str) -> Case {
    let ty = t.ty;
    let item = format!(
        "/// A generated function.\n#[allow(clippy::needless_range_loop)]\npub fn f({x}: {ty}, {y}: {ty}) -> {ty} {{\n{body}\n}}\n",
        x = t.x,
        y = t.y
    );
    Case {
        seed: 0,
        index: 0,
        class: class.to_string(),
        expect,
        prelude: prelude.to_string(),
        attr: attr.to_string(),
        item,
        plain: true,
        recipe: Some(Recipe {
            func: "f".into(),
            elem: t.elem,
            params: vec![
                PRecipe {
                    kind: PKind::Scalar,
                    wrt: true,
                },
                PRecipe {
                    kind: PKind::Scalar,
                    wrt: true,
                },
            ],
            out: OutKind::Scalar,
            hessian: attr.contains("hessian"),
            linearize: false,
            nan_edges: false,
        }),
        import_attr: attr.starts_with("#[differentiate"),
        prelude_uses_attr: false,
        plain_prelude: None,
    }
}

/// A case with any item and no numeric recipe.
fn item_case(class: &str, expect: Expect, attr: &str, item: &str, prelude: &str) -> Case {
    Case {
        seed: 0,
        index: 0,
        class: class.to_string(),
        expect,
        prelude: prelude.to_string(),
        attr: attr.to_string(),
        item: item.to_string(),
        plain: true,
        recipe: None,
        import_attr: attr.starts_with("#[differentiate"),
        prelude_uses_attr: false,
        plain_prelude: None,
    }
}

/// One case outside the subset.
pub fn generate(rng: &mut Rng) -> Case {
    let elem = if rng.chance(0.2) {
        Elem::F32
    } else {
        Elem::F64
    };
    let x = rng.pick(NAMES).to_string();
    let mut y = rng.pick(NAMES).to_string();
    if y == x {
        y = format!("{x}2");
    }
    let mut t = T {
        rng,
        ty: elem.ty(),
        elem,
        x,
        y,
    };
    let (x, y, ty) = (t.x.clone(), t.y.clone(), t.ty);
    let attr = "#[differentiate]";
    let which = t.rng.below(44);
    let l = t.lit();
    let sx = t.smooth(&x);
    let sy = t.smooth(&y);
    match which {
        // ---- SPEC §5 lists these; the guide does not support them yet ----
        0 => {
            let body = format!("    let mut s = {x} * {y};\n    let mut k = 0;\n    while k < 3 {{\n        s = s.sin() + {x} * {l};\n        k += 1;\n    }}\n    s");
            scalar_case(&t, "either_while", Expect::Either, attr, &body, "")
        }
        1 => {
            let body = format!("    let mut s = {sx};\n    let mut k = 0;\n    loop {{\n        s = s * {l} + {y};\n        k += 1;\n        if k >= 3 {{\n            break;\n        }}\n    }}\n    s");
            scalar_case(&t, "either_loop_break", Expect::Either, attr, &body, "")
        }
        2 => {
            let body = format!("    let mut s = {x};\n    let mut k = 0;\n    let r = loop {{\n        s = s * {l} + {sy};\n        k += 1;\n        if k > 2 {{\n            break s * {y};\n        }}\n    }};\n    r + {x}");
            scalar_case(&t, "either_break_value", Expect::Either, attr, &body, "")
        }
        3 => {
            let body = format!("    let mut s = {y};\n    for k in 0..4 {{\n        if k == 1 {{\n            continue;\n        }}\n        s += {x} * k as {ty} + s.sin() * {l};\n    }}\n    s");
            scalar_case(&t, "either_continue", Expect::Either, attr, &body, "")
        }
        4 => {
            let body = format!(
                "    if {x} > {l} {{\n        return {sx} * {y};\n    }}\n    {x} * {y} + {sy}"
            );
            scalar_case(&t, "either_early_return", Expect::Either, attr, &body, "")
        }
        5 => {
            let body = format!("    let mut s = {x};\n    for _ in 0..3 {{\n        s = s * {y} + {l};\n        if s > 10.0 {{\n            return s;\n        }}\n    }}\n    s * {sy}");
            scalar_case(&t, "either_return_in_loop", Expect::Either, attr, &body, "")
        }
        6 => {
            let item = format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}, k: usize) -> {ty} {{\n    let w = match k {{\n        0 => {x} * {y},\n        1 => {sx},\n        _ => {y} * {l},\n    }};\n    w + {x}\n}}\n");
            let mut c = item_case("either_match_int", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(
                elem,
                &[
                    PKind::Scalar,
                    PKind::Scalar,
                    PKind::Other(t.rng.range(0, 2).to_string()),
                ],
            ));
            c
        }
        7 => {
            let item = format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}, o: Option<{ty}>) -> {ty} {{\n    if let Some(cv) = o {{\n        {x} * cv + {sy}\n    }} else {{\n        {x} * {y}\n    }}\n}}\n");
            let mut c = item_case("either_if_let", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(
                elem,
                &[
                    PKind::Scalar,
                    PKind::Scalar,
                    PKind::Other("Some(0.5)".into()),
                ],
            ));
            c
        }
        8 => {
            let body = format!("    let sq = |v: {ty}| v * v + {l};\n    sq({x}) * sq({y})");
            scalar_case(&t, "either_closure_let", Expect::Either, attr, &body, "")
        }
        9 => {
            let body = format!(
                "    let k = ({x} * 3.0).floor() as i32;\n    {y}.powi(k.abs() + 1) + {sx}"
            );
            scalar_case(&t, "either_cast_to_int", Expect::Either, attr, &body, "")
        }
        10 => {
            let (other, back) = if ty == "f64" {
                ("f32", "f64")
            } else {
                ("f64", "f32")
            };
            let body =
                format!("    let lo = {x} as {other};\n    (lo.sin() as {back}) * {y} + {sy}");
            scalar_case(&t, "either_float_cast", Expect::Either, attr, &body, "")
        }
        11 => {
            let body = format!("    if {x}.is_finite() && {y}.is_sign_positive() {{\n        {sx} * {y}\n    }} else {{\n        {x} - {y}\n    }}");
            scalar_case(&t, "either_predicates", Expect::Either, attr, &body, "")
        }
        12 => {
            let body = format!("    let (sn, cs) = {x}.sin_cos();\n    sn * {y} + cs");
            scalar_case(&t, "either_sin_cos", Expect::Either, attr, &body, "")
        }
        13 => {
            let body = format!("    let mut s = {y};\n    for k in 0..=2 {{\n        s += {x} * k as {ty};\n    }}\n    s * {sy}");
            scalar_case(
                &t,
                "either_inclusive_range",
                Expect::Either,
                attr,
                &body,
                "",
            )
        }
        14 => {
            let body = format!("    let mut s = {y};\n    for k in (0..5).step_by(2) {{\n        s += {x}.powi(k) * {l};\n    }}\n    s");
            scalar_case(&t, "either_step_by", Expect::Either, attr, &body, "")
        }
        15 | 16 => {
            let (class, lp) = if which == 15 {
                (
                    "either_windows",
                    format!(
                        "    for win in {x}.windows(2) {{\n        s += win[0] * win[1];\n    }}"
                    ),
                )
            } else {
                (
                    "either_chunks",
                    format!("    for ch in {x}.chunks(2) {{\n        s += ch[0].sin();\n    }}"),
                )
            };
            let item = format!("/// A generated function.\npub fn f({x}: &[{ty}], {y}: {ty}) -> {ty} {{\n    let mut s = {y};\n{lp}\n    s * {y}\n}}\n");
            let mut c = item_case(class, Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Slice(4), PKind::Scalar]));
            c
        }
        17 => {
            let item = format!("/// A generated function.\npub fn f({x}: &[{ty}], {y}: {ty}) -> {ty} {{\n    let mut copy = {x}.to_vec();\n    copy.swap(0, 1);\n    copy[0] * {y} + copy[1]\n}}\n");
            let mut c = item_case("either_to_vec_swap", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Slice(3), PKind::Scalar]));
            c
        }
        18 => {
            let body = format!("    let r = &{x};\n    *r * {y} + r.sin()");
            scalar_case(&t, "either_reference", Expect::Either, attr, &body, "")
        }
        19 => {
            let (item, class) = match t.rng.below(5) {
                0 => (format!("/// A generated function.\npub fn f({x}: Vec<{ty}>, {y}: {ty}) -> {ty} {{\n    {x}[0] * {y} + {x}[1].sin()\n}}\n"), "either_vec_param"),
                1 => (format!("/// A generated function.\npub fn f({x}: &{ty}, {y}: {ty}) -> {ty} {{\n    {x} * {y} + {x}.sin()\n}}\n"), "either_ref_scalar_param"),
                2 => (format!("/// A generated function.\npub fn f(p: ({ty}, {ty}), {y}: {ty}) -> {ty} {{\n    p.0 * {y} + p.1.sin()\n}}\n"), "either_tuple_param"),
                3 => (format!("/// A generated function.\npub fn f({x}: &[{ty}], out: &mut [{ty}]) {{\n    for k in 0..{x}.len() {{\n        out[k] = {x}[k].sin();\n    }}\n}}\n"), "either_out_param"),
                _ => (format!("/// A generated function.\npub fn f(mut {x}: {ty}, {y}: {ty}) -> {ty} {{\n    {x} *= {y};\n    {x}.sin()\n}}\n"), "either_mut_param"),
            };
            let item = item.replace(
                "pub fn f(",
                "#[allow(clippy::needless_range_loop)]\npub fn f(",
            );
            // Half the tuple cases are struct parameters instead (no draw
            // of their own, so that the seeds keep their other cases).
            if class == "either_tuple_param" && x.len() % 2 == 0 {
                let prelude = format!("/// Parameters.\n#[derive(Clone, autodiff::Tangent)]\npub struct Params {{\n    /// Weights.\n    pub w: [{ty}; 3],\n    /// Bias.\n    pub b: {ty},\n    /// Steps.\n    #[tangent(skip)]\n    pub n: usize,\n}}\n\n");
                let item = format!("/// A generated function.\npub fn f(p: &Params, {y}: {ty}) -> {ty} {{\n    let mut s = p.b;\n    for k in 0..p.n.min(3) {{\n        s += p.w[k] * {y};\n    }}\n    s.sin()\n}}\n");
                let attr = format!("#[differentiate(wrt(p, {y}))]");
                return item_case(
                    "either_struct_param",
                    Expect::Either,
                    &attr,
                    &item,
                    &prelude,
                );
            }
            item_case(class, Expect::Either, attr, &item, "")
        }
        20 => {
            let a = if t.rng.chance(0.5) {
                "#[differentiate(crate = autodiff)]"
            } else {
                "#[differentiate(crate = \"autodiff\")]"
            };
            let body = format!("    {x} * {y} + {sx}");
            scalar_case(&t, "either_crate_option", Expect::Either, a, &body, "")
        }
        21 => {
            let body = format!("    {x} * {y} + {sx}");
            let mut c = scalar_case(
                &t,
                "either_renamed_crate",
                Expect::Either,
                "#[ad::differentiate]",
                &body,
                "use autodiff as ad;\n\n",
            );
            c.import_attr = false;
            // Without the attribute, `ad` would be an unused import.
            c.plain = false;
            c
        }
        22 => {
            let item = format!("/// A generated function.\npub const fn f({x}: {ty}, {y}: {ty}) -> {ty} {{\n    {x} * {y} + {l}\n}}\n");
            let mut c = item_case("either_const_fn", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Scalar, PKind::Scalar]));
            c
        }
        23 => {
            let prelude = format!("/// Two numbers.\npub struct Pair {{\n    /// First.\n    pub a: {ty},\n    /// Second.\n    pub b: {ty},\n}}\n\n");
            // Shorthand where the names match (clippy's `redundant_field_names`).
            let fa = if x == "a" {
                "a".to_string()
            } else {
                format!("a: {x}")
            };
            let fb = if y == "b" {
                "b".to_string()
            } else {
                format!("b: {y}")
            };
            let body = format!("    let p = Pair {{ {fa}, {fb} }};\n    p.a * p.b + {sx}");
            scalar_case(
                &t,
                "either_struct_literal",
                Expect::Either,
                attr,
                &body,
                &prelude,
            )
        }
        24 => {
            let item = format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}, k: usize) -> {ty} {{\n    if k == 0 {{\n        {x} * {y}\n    }} else {{\n        f({x} * {l}, {y}, k - 1) + {sx}\n    }}\n}}\n");
            let mut c = item_case("either_recursion", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(
                elem,
                &[PKind::Scalar, PKind::Scalar, PKind::Other("2".into())],
            ));
            c
        }
        25 => {
            let item = format!("/// A generated function.\npub fn f({x}: [[{ty}; 2]; 2], {y}: {ty}) -> {ty} {{\n    let row = {x}[1];\n    row[0] * {y} + row[1]\n}}\n");
            let mut c = item_case("either_matrix_row", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Matrix(2, 2), PKind::Scalar]));
            c
        }
        26 => {
            let body = format!("    let m = [[{x}; 2]; 2];\n    m[0][1] * {y} + m[1][0]");
            scalar_case(
                &t,
                "either_fill_with_active",
                Expect::Either,
                attr,
                &body,
                "",
            )
        }
        27 => {
            let item = format!("/// A generated function.\n#[allow(clippy::needless_range_loop)]\npub fn f({x}: [{ty}; 3], {y}: {ty}) -> {ty} {{\n    let k = ({y}.abs() * 2.0) as usize % 3;\n    let mut s = {x}[k];\n    for j in 0..({y}.abs() as usize % 2 + 1) {{\n        s += {x}[j] * {y};\n    }}\n    s\n}}\n");
            let mut c = item_case("either_active_index", Expect::Either, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Array(3), PKind::Scalar]));
            c
        }
        28 => {
            let body = format!(
                "    let Some(c) = Some({x}) else {{\n        return {y};\n    }};\n    c * {y}"
            );
            scalar_case(&t, "either_let_else", Expect::Either, attr, &body, "")
        }
        29 => {
            let body = format!("    let s = 'blk: {{\n        if {x} > {l} {{\n            break 'blk {x} * {y};\n        }}\n        {sy}\n    }};\n    s + {x}");
            scalar_case(&t, "either_labeled_block", Expect::Either, attr, &body, "")
        }
        // ---- not in SPEC §5 ----
        30 => {
            let m = *t.rng.pick(&[
                "to_degrees()",
                "to_radians()",
                "rem_euclid(2.0)",
                "div_euclid(0.5)",
            ]);
            let m = if t.rng.chance(0.3) {
                format!("copysign({y})")
            } else {
                m.to_string()
            };
            let body = format!("    let prod = {x} * {y};\n    prod.{m} + {sx}");
            scalar_case(&t, "reject_unknown_method", Expect::Reject, attr, &body, "")
        }
        31 => {
            let prelude =
                "macro_rules! twice {\n    ($e:expr) => {\n        $e * 2.0\n    };\n}\n\n";
            let body = format!("    let tw = twice!({x});\n    tw * {y}");
            scalar_case(
                &t,
                "reject_macro_on_active",
                Expect::Reject,
                attr,
                &body,
                prelude,
            )
        }
        32 => {
            let body = format!(
                "    match {x} {{\n        el if el > 0.0 => el * {y},\n        el => -el,\n    }}"
            );
            scalar_case(
                &t,
                "reject_match_on_active",
                Expect::Reject,
                attr,
                &body,
                "",
            )
        }
        33 => {
            let chain = match t.rng.below(4) {
                0 => format!("{x}.iter().filter(|v| **v > 0.0).map(|&v| v * v).sum::<{ty}>()"),
                1 => format!("{x}.iter().skip(1).map(|&v| v.sin()).sum::<{ty}>()"),
                2 => format!("{x}.iter().rev().fold(0.5, |a, &v| a * v + 1.0)"),
                _ => format!("{x}.iter().take(2).map(|&v| v * v).sum::<{ty}>()"),
            };
            let item = format!("/// A generated function.\npub fn f({x}: &[{ty}], {y}: {ty}) -> {ty} {{\n    {chain} * {y}\n}}\n");
            let mut c = item_case("reject_iterator_adaptor", Expect::Reject, attr, &item, "");
            c.recipe = Some(scalar_recipe(elem, &[PKind::Slice(4), PKind::Scalar]));
            c
        }
        34 => {
            let (a, class) = match t.rng.below(7) {
                0 => (
                    "#[differentiate(wrt(zz))]".to_string(),
                    "reject_wrt_unknown",
                ),
                1 => ("#[differentiate(wrt)]".to_string(), "reject_wrt_bare"),
                2 => ("#[differentiate(wrt = x)]".to_string(), "reject_wrt_value"),
                3 => ("#[differentiate(wrt(k))]".to_string(), "reject_wrt_integer"),
                4 => (
                    "#[differentiate(wrt(\"x\"))]".to_string(),
                    "reject_wrt_string",
                ),
                5 => ("#[differentiate(wrt(x.y))]".to_string(), "reject_wrt_path"),
                _ => ("#[differentiate(wrt())]".to_string(), "reject_wrt_empty"),
            };
            let item = format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}, k: usize) -> {ty} {{\n    {x} * {y} + k as {ty}\n}}\n");
            item_case(class, Expect::Reject, &a, &item, "")
        }
        35 => {
            let (a, class, expect) = match t.rng.below(9) {
                0 => (
                    "#[differentiate(hesian)]".to_string(),
                    "reject_option_misspelt",
                    Expect::Reject,
                ),
                1 => (
                    "#[differentiate(hessian = true)]".to_string(),
                    "reject_option_value",
                    Expect::Reject,
                ),
                2 => (
                    "#[differentiate(hessian(x))]".to_string(),
                    "reject_option_args",
                    Expect::Reject,
                ),
                3 => (
                    "#[differentiate(hessian, hessian)]".to_string(),
                    "either_option_duplicate",
                    Expect::Either,
                ),
                4 => (
                    format!("#[differentiate(wrt({x}), wrt({y}))]"),
                    "reject_wrt_twice",
                    Expect::Reject,
                ),
                5 => (
                    "#[differentiate(42)]".to_string(),
                    "reject_option_literal",
                    Expect::Reject,
                ),
                6 => (
                    "#[differentiate(crate)]".to_string(),
                    "reject_crate_bare",
                    Expect::Reject,
                ),
                7 => (
                    format!("#[differentiate(wrt({x}, {x}))]"),
                    "either_wrt_duplicate",
                    Expect::Either,
                ),
                _ => (
                    "#[differentiate(hessian,, wrt(x))]".to_string(),
                    "reject_option_double_comma",
                    Expect::Reject,
                ),
            };
            let body = format!("    {x} * {y} + {sx}");
            let mut c = scalar_case(&t, class, expect, &a, &body, "");
            if expect == Expect::Reject {
                c.recipe = None;
            }
            c
        }
        36 => {
            let (item, class) = match t.rng.below(8) {
                0 => (format!("/// A point.\npub struct Point {{\n    /// x.\n    pub {x}: {ty},\n}}\n"), "reject_on_struct"),
                1 => ("/// A choice.\npub enum Choice {\n    /// One.\n    One,\n}\n".to_string(), "reject_on_enum"),
                2 => (format!("/// A constant.\npub const K: {ty} = 1.5;\n"), "reject_on_const"),
                3 => (format!("/// A static.\npub static S: {ty} = 1.5;\n"), "reject_on_static"),
                4 => (format!("/// A unit.\npub struct Unit;\n\nimpl Unit {{\n    /// A method.\n    pub fn g(&self, {x}: {ty}) -> {ty} {{\n        {x} * 2.0\n    }}\n}}\n"), "reject_on_impl"),
                5 => (format!("/// A trait.\npub trait Energy {{\n    /// The energy.\n    fn energy(&self, {x}: {ty}) -> {ty};\n}}\n"), "reject_on_trait"),
                6 => (format!("/// A module.\npub mod inner {{\n    /// A function.\n    pub fn g({x}: {ty}) -> {ty} {{\n        {x} * 2.0\n    }}\n}}\n"), "reject_on_mod"),
                _ => (format!("/// An alias.\npub type Real = {ty};\n"), "reject_on_type_alias"),
            };
            // The attribute goes on the item itself (after its doc line;
            // on the `impl` block, after the struct).
            let (pre, rest) = match item.split_once("\n\nimpl") {
                Some((a, b)) => (format!("{a}\n\n"), format!("impl{b}")),
                None => {
                    let (doc, rest) = item.split_once('\n').expect("a doc line");
                    (format!("{doc}\n"), rest.to_string())
                }
            };
            let mut c = item_case(class, Expect::Reject, "", &rest, &pre);
            c.attr = attr.to_string();
            c.import_attr = true;
            c
        }
        37 => {
            let (item, class) = match t.rng.below(5) {
                0 => (format!("/// A generated function.\npub fn f({x}: {ty}) {{\n    println!(\"{{}}\", {x} * 2.0);\n}}\n"), "reject_no_return_type"),
                1 => (format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}) -> bool {{\n    {x} > {y}\n}}\n"), "reject_returns_bool"),
                2 => (format!("/// A generated function.\npub fn f({x}: {ty}) -> String {{\n    format!(\"{{}}\", {x} * 2.0)\n}}\n"), "reject_returns_string"),
                3 => (format!("/// A generated function.\npub fn f(k: usize) -> {ty} {{\n    k as {ty} * 2.0\n}}\n"), "reject_no_float_param"),
                _ => (format!("/// A generated function.\npub fn f<A: autodiff::Float, B: autodiff::Float>({x}: A, {y}: B) -> A {{\n    {x} * A::from({y}).unwrap()\n}}\n"), "reject_two_float_types"),
            };
            item_case(class, Expect::Reject, attr, &item, "")
        }
        38 => {
            let prelude = format!("/// A scale.\npub struct Scale(pub {ty});\n\nimpl Scale {{\n    /// Applies it.\n    pub fn apply(&self, v: {ty}) -> {ty} {{\n        self.0 * v\n    }}\n}}\n\n");
            let body = format!("    let s = Scale({l});\n    s.apply({x}) * {y}");
            scalar_case(
                &t,
                "reject_method_on_opaque_receiver",
                Expect::Reject,
                attr,
                &body,
                &prelude,
            )
        }
        39 => {
            let (a, class) = if t.rng.chance(0.5) {
                ("#[differentiate(hessian)]", "reject_hessian_of_tuple")
            } else {
                ("#[differentiate(hessian)]", "reject_hessian_of_two_arrays")
            };
            let item = if class == "reject_hessian_of_tuple" {
                format!("/// A generated function.\npub fn f({x}: {ty}, {y}: {ty}) -> ({ty}, {ty}) {{\n    ({x} * {y}, {sx})\n}}\n")
            } else {
                format!("/// A generated function.\npub fn f({x}: [{ty}; 2], {y}: [{ty}; 2]) -> {ty} {{\n    {x}[0] * {y}[1] + {x}[1] * {y}[0]\n}}\n")
            };
            item_case(class, Expect::Reject, a, &item, "")
        }
        40 => {
            let item = format!("/// A generated function.\npub async fn f({x}: {ty}, {y}: {ty}) -> {ty} {{\n    {x} * {y}\n}}\n");
            item_case("either_async_fn", Expect::Either, attr, &item, "")
        }
        41 => {
            let item = format!("/// A generated function.\n///\n/// # Safety\n/// Nothing to uphold.\npub unsafe fn f({x}: {ty}, {y}: {ty}) -> {ty} {{\n    {x} * {y} + {sx}\n}}\n");
            item_case("either_unsafe_fn", Expect::Either, attr, &item, "")
        }
        42 => {
            // Other attributes around it, in either order.
            let body = format!("    {x} * {y} + {sx}");
            let mut c = scalar_case(
                &t,
                "either_other_attributes",
                Expect::Either,
                attr,
                &body,
                "",
            );
            if t.rng.chance(0.5) {
                c.attr = format!("#[inline]\n{attr}\n#[must_use]");
            } else {
                c.attr = format!("#[must_use]\n{attr}");
            }
            c
        }
        _ => {
            let item = format!("/// A unit.\npub struct Unit;\n\nimpl Unit {{\n    /// A method.\n    {attr}\n    pub fn energy(&self, {x}: {ty}, {y}: {ty}) -> {ty} {{\n        {x} * {y} + {sx}\n    }}\n}}\n");
            let mut c = item_case("ok_method_self", Expect::Accept, "", &item, "");
            c.prelude = "use autodiff::differentiate;\n\n".into();
            c.attr = String::new();
            c.plain = false;
            c
        }
    }
}

fn scalar_recipe(elem: Elem, kinds: &[PKind]) -> Recipe {
    Recipe {
        func: "f".into(),
        elem,
        params: kinds
            .iter()
            .map(|k| PRecipe {
                kind: k.clone(),
                wrt: k.is_float(),
            })
            .collect(),
        out: OutKind::Scalar,
        hessian: false,
        linearize: false,
        nan_edges: false,
    }
}
