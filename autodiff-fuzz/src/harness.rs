//! Compiles cases in batches and classifies them.
//!
//! A batch is a crate of its own under `<target>/autodiff-fuzz/batch-…/`
//! (an empty `[workspace]`, the workspace's `Cargo.lock`, a target
//! directory shared by all batches so dependencies build once). Its
//! `src/lib.rs` is `#![deny(warnings)]` with one module per case, each in
//! its own file (`src/c00042.rs`), so every diagnostic maps to a case by
//! its file name; beside each, `src/p00042.rs` is the case without the
//! attribute, which must be clean (else the generator is at fault).
//!
//! One `cargo clippy --message-format=json` per pass; cases with errors
//! leave and the rest are compiled again until a pass has no error, since
//! rustc stops before its lint passes when there are errors. A rustc crash
//! is bisected down to the cases that cause it. Then the accepted cases
//! with a recipe are built into a check binary (`checkgen`, `support`)
//! and run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::checkgen;
use crate::gen::{Case, Expect};

/// How compiling a case went.
#[derive(Clone, Debug, PartialEq)]
pub enum Compile {
    /// No diagnostic.
    Accepted,
    /// An error of the attribute's own (no error code, on the case's
    /// tokens): the message.
    MacroError(String),
    /// The proc macro panicked.
    Panic(String),
    /// rustc crashed (or hung) on the case.
    Crash(String),
    /// An error with an error code, or any error that is not the macro's.
    ExpansionError(String),
    /// A warning or lint from the generated code.
    Warning(String),
    /// The case without the attribute is not clean: the generator's fault.
    GeneratorBug(String),
    /// The check code calling the companions as the guide documents them
    /// does not compile: a companion's signature differs (or the checker's
    /// reading of the guide is wrong).
    ApiMismatch(String),
}

/// How the numeric check went.
#[derive(Clone, Debug, PartialEq)]
pub enum Numeric {
    /// Not run (not accepted, or no recipe).
    NotRun,
    /// Every companion matched finite differences.
    Ok,
    /// No smooth point found.
    NoSmoothPoint,
    /// A companion disagreed: the numbers.
    Mismatch(String),
    /// NaN where differences are finite.
    NanGradient(String),
    /// A companion panicked.
    RuntimePanic(String),
    /// The check process died in this case (a stack overflow).
    RuntimeCrash(String),
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Compilation.
    pub compile: Compile,
    /// The numeric check.
    pub numeric: Numeric,
    /// Every diagnostic attributed to the case, rendered.
    pub rendered: String,
}

impl Outcome {
    /// The outcome's name for counts and failure files: one of
    /// `accepted`, `macro_error`, `panic`, `crash`, `expansion_error`,
    /// `warning`, `generator_bug`, `numeric_mismatch`, `nan_gradient`,
    /// `runtime_panic`, `runtime_crash`, `no_smooth_point`,
    /// `accepted_outside` and `refused` (the last two for cases whose
    /// expectation was the other one).
    pub fn kind(&self, expect: Expect) -> &'static str {
        match (&self.compile, &self.numeric) {
            (Compile::Panic(_), _) => "panic",
            (Compile::Crash(_), _) => "crash",
            (Compile::ExpansionError(_), _) => "expansion_error",
            (Compile::Warning(_), _) => "warning",
            (Compile::GeneratorBug(_), _) => "generator_bug",
            (Compile::ApiMismatch(_), _) => "api_mismatch",
            (Compile::MacroError(_), _) => {
                if expect == Expect::Accept {
                    "refused"
                } else {
                    "macro_error"
                }
            }
            (Compile::Accepted, Numeric::Mismatch(_)) => "numeric_mismatch",
            (Compile::Accepted, Numeric::NanGradient(_)) => "nan_gradient",
            (Compile::Accepted, Numeric::RuntimePanic(_)) => "runtime_panic",
            (Compile::Accepted, Numeric::RuntimeCrash(_)) => "runtime_crash",
            (Compile::Accepted, _) if expect == Expect::Reject => "accepted_outside",
            (Compile::Accepted, Numeric::NoSmoothPoint) => "no_smooth_point",
            (Compile::Accepted, _) => "accepted",
        }
    }

    /// The message that goes with the outcome.
    pub fn message(&self) -> String {
        let c = match &self.compile {
            Compile::Accepted => String::new(),
            Compile::MacroError(m)
            | Compile::Panic(m)
            | Compile::Crash(m)
            | Compile::ExpansionError(m)
            | Compile::Warning(m)
            | Compile::GeneratorBug(m)
            | Compile::ApiMismatch(m) => m.clone(),
        };
        let n = match &self.numeric {
            Numeric::Mismatch(m)
            | Numeric::NanGradient(m)
            | Numeric::RuntimePanic(m)
            | Numeric::RuntimeCrash(m) => m.clone(),
            _ => String::new(),
        };
        [c, n]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The hard failures: any of them fails a run.
pub const HARD: &[&str] = &[
    "panic",
    "crash",
    "expansion_error",
    "warning",
    "generator_bug",
    "api_mismatch",
    "numeric_mismatch",
    "nan_gradient",
    "runtime_panic",
    "runtime_crash",
];

/// Where things go.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The workspace root (the `autodiff` package).
    pub workspace: PathBuf,
    /// `<target>/autodiff-fuzz`.
    pub root: PathBuf,
}

impl Paths {
    /// From `CARGO_TARGET_DIR` (relative to the workspace) or `target/`.
    pub fn detect() -> Paths {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest
            .parent()
            .expect("autodiff-fuzz sits in the workspace")
            .to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if !t.is_empty() => {
                let t = PathBuf::from(t);
                if t.is_absolute() {
                    t
                } else {
                    workspace.join(t)
                }
            }
            _ => workspace.join("target"),
        };
        Paths {
            workspace,
            root: target.join("autodiff-fuzz"),
        }
    }
}

/// One diagnostic, attributed.
#[derive(Clone, Debug)]
struct Diag {
    level: String,
    code: Option<String>,
    message: String,
    rendered: String,
    /// `c00042` or `p00042`, when it maps to a case file.
    module: Option<String>,
}

/// What one cargo run gave.
struct Run {
    diags: Vec<Diag>,
    success: bool,
    /// rustc died, hung, or cargo failed with no diagnostic to show.
    crash: Option<String>,
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// clippy-driver: in rustc's sysroot, else beside cargo, else on `PATH`.
fn clippy_driver() -> PathBuf {
    let exe = if cfg!(windows) {
        "clippy-driver.exe"
    } else {
        "clippy-driver"
    };
    if let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            .join("bin")
            .join(exe);
        if p.exists() {
            return p;
        }
    }
    if let Some(dir) = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|c| c.parent().map(Path::to_path_buf))
    {
        let p = dir.join(exe);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(exe)
}

/// Runs `cmd` with a time limit, returning (status ok, stdout, stderr,
/// timed out).
fn run_with_timeout(mut cmd: Command, limit: Duration) -> (bool, String, String, bool) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (false, String::new(), format!("could not start: {e}"), false),
    };
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {
                if start.elapsed() > limit {
                    let _ = child.kill();
                    timed_out = true;
                    break child.wait().ok();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => break None,
        }
    };
    let so = t_out.join().unwrap_or_default();
    let se = t_err.join().unwrap_or_default();
    (status.is_some_and(|s| s.success()), so, se, timed_out)
}

/// A batch crate on disk.
pub struct Batch<'c> {
    dir: PathBuf,
    paths: Paths,
    name: String,
    cases: Vec<&'c Case>,
    /// Time limit of one cargo run.
    limit: Duration,
    /// Whether `--offline` works (else cargo is run online).
    offline: bool,
    /// Lines of `main.rs` holding each case's check code.
    main_ranges: Vec<(usize, usize, String)>,
}

impl<'c> Batch<'c> {
    /// Writes the crate for `cases` (all with the same seed).
    pub fn new(paths: &Paths, cases: Vec<&'c Case>) -> std::io::Result<Batch<'c>> {
        let seed = cases.first().map_or(0, |c| c.seed);
        let first = cases.first().map_or(0, |c| c.index);
        let name = format!("batch_{seed}_{first}");
        let dir = paths.root.join(format!("batch-{seed}-{first}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src"))?;
        let ws = paths.workspace.display().to_string().replace('\\', "/");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[lib]\nname = \"cases\"\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"check_{name}\"\npath = \"src/main.rs\"\n\n[dependencies]\nautodiff = {{ path = \"{ws}\", package = \"static-autodiff\" }}\n\n[profile.dev]\ndebug = false\nincremental = false\n\n[workspace]\n"
            ),
        )?;
        let lock = paths.workspace.join("Cargo.lock");
        if lock.exists() {
            std::fs::copy(&lock, dir.join("Cargo.lock"))?;
        }
        std::fs::write(dir.join("src/support.rs"), include_str!("support.rs"))?;
        for c in &cases {
            std::fs::write(dir.join(format!("src/{}.rs", c.module())), c.source(true))?;
            if c.plain {
                std::fs::write(
                    dir.join(format!("src/p{}.rs", &c.module()[1..])),
                    c.source(false),
                )?;
            }
        }
        std::fs::write(dir.join("src/main.rs"), "fn main() {}\n")?;
        Ok(Batch {
            dir,
            paths: paths.clone(),
            name,
            cases,
            limit: Duration::from_secs(1200),
            offline: true,
            main_ranges: Vec::new(),
        })
    }

    fn target(&self) -> PathBuf {
        self.paths.root.join("target")
    }

    /// Writes `lib.rs` declaring these modules.
    fn write_lib(&self, modules: &[String]) -> std::io::Result<()> {
        let mut s = String::from("//! Generated cases.\n#![deny(warnings)]\n\n");
        for m in modules {
            let _ = writeln!(s, "pub mod {m};");
        }
        std::fs::write(self.dir.join("src/lib.rs"), s)
    }

    /// `cargo <sub> --message-format=json` on the current `lib.rs`; a
    /// `build` runs clippy's lints too (clippy-driver as the workspace's
    /// rustc wrapper, as `cargo clippy` does for `check`).
    fn cargo(&mut self, sub: &[&str]) -> Run {
        loop {
            let mut cmd = Command::new(cargo());
            cmd.args(sub).arg("--message-format=json").arg("--quiet");
            if sub[0] == "build" {
                cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver());
            }
            if self.offline {
                cmd.arg("--offline");
            }
            cmd.current_dir(&self.dir)
                .env("CARGO_TARGET_DIR", self.target())
                .env_remove("RUSTFLAGS");
            let t = Instant::now();
            let (ok, stdout, stderr, timed_out) = run_with_timeout(cmd, self.limit);
            if std::env::var_os("AUTODIFF_FUZZ_TRACE").is_some() {
                eprintln!(
                    "  cargo {} ({}): {:.1} s",
                    sub.join(" "),
                    self.name,
                    t.elapsed().as_secs_f64()
                );
            }
            let diags = self.parse(&stdout);
            if !ok
                && self.offline
                && diags.is_empty()
                && (stderr.contains("offline") || stderr.contains("failed to download"))
            {
                self.offline = false;
                continue;
            }
            let died = [
                "internal compiler error",
                "has overflowed its stack",
                "SIGSEGV",
                "SIGABRT",
                "signal: ",
                "SIGKILL",
                "(exit status: 101)\n",
            ];
            let crash = if timed_out {
                Some(format!(
                    "cargo {} took longer than {:?}",
                    sub[0], self.limit
                ))
            } else if let Some(d) = died
                .iter()
                .find(|d| stderr.contains(*d) || stdout.contains(*d))
            {
                Some(format!("rustc died ({d}): {}", tail(&stderr, 1500)))
            } else if !ok && !diags.iter().any(|d| d.level == "error") {
                Some(format!(
                    "cargo failed with no error diagnostic: {}",
                    tail(&stderr, 1500)
                ))
            } else {
                None
            };
            return Run {
                diags,
                success: ok,
                crash,
            };
        }
    }

    fn parse(&self, stdout: &str) -> Vec<Diag> {
        let mut out = Vec::new();
        for line in stdout.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["reason"] != "compiler-message" {
                continue;
            }
            let m = &v["message"];
            let level = m["level"].as_str().unwrap_or("").to_string();
            if level != "error" && level != "warning" {
                continue;
            }
            let message = m["message"].as_str().unwrap_or("").to_string();
            let spans = m["spans"].as_array().cloned().unwrap_or_default();
            if spans.is_empty()
                && (message.starts_with("aborting due to")
                    || message.contains("warning emitted")
                    || message.contains("warnings emitted"))
            {
                continue;
            }
            let code = m["code"]["code"].as_str().map(str::to_string);
            let rendered = m["rendered"].as_str().unwrap_or(&message).to_string();
            let module = module_of(m).or_else(|| self.main_case(m));
            out.push(Diag {
                level,
                code,
                message,
                rendered,
                module,
            });
        }
        out
    }

    /// Compiles the attributed copies of the cases and every plain copy:
    /// first `cargo check` (errors), then, without the cases that had
    /// errors, `cargo build` of the lib and the check binary with clippy's
    /// lints (rustc skips lint passes when there are errors, so warnings
    /// only show in an error-free pass), repeated until it builds. Returns
    /// the outcome of each case and the cases the check binary holds.
    fn compile(&mut self) -> (BTreeMap<String, Outcome>, Vec<&'c Case>, bool) {
        let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut live: Vec<String> = self.cases.iter().map(|c| c.module()).collect();
        let mut plain_live: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.plain)
            .map(|c| format!("p{}", &c.module()[1..]))
            .collect();
        let mut built = false;
        for pass in 0..10 {
            let mut mods = live.clone();
            mods.extend(plain_live.iter().cloned());
            if self.write_lib(&mods).is_err() {
                break;
            }
            let runnable: Vec<&'c Case> = self
                .cases
                .iter()
                .copied()
                .filter(|c| c.recipe.is_some() && live.contains(&c.module()))
                .collect();
            let run = if pass == 0 {
                // Errors only (no lints, no code): the cases that had
                // them leave before the build.
                let _ = std::fs::write(self.dir.join("src/main.rs"), "fn main() {}\n");
                self.cargo(&["check", "--lib"])
            } else {
                let (main, ranges) = checkgen::main_source(&runnable);
                let _ = std::fs::write(self.dir.join("src/main.rs"), main);
                self.main_ranges = ranges;
                let bin = format!("check_{}", self.name);
                self.cargo(&["build", "--bin", &bin])
            };
            if let Some(why) = &run.crash {
                // Bisect the attributed cases to those that crash alone.
                let crashing = self.bisect(&live, why);
                if crashing.is_empty() {
                    for m in &live {
                        outcomes.insert(
                            m.clone(),
                            outcome(
                                Compile::Crash(format!("batch crash, not isolated: {why}")),
                                String::new(),
                            ),
                        );
                    }
                    return (outcomes, Vec::new(), false);
                }
                for (m, msg) in crashing {
                    live.retain(|x| *x != m);
                    outcomes.insert(m, outcome(Compile::Crash(msg), String::new()));
                }
                continue;
            }
            let mut by_mod: BTreeMap<String, Vec<Diag>> = BTreeMap::new();
            let mut stray = Vec::new();
            for d in run.diags {
                match &d.module {
                    Some(m) => by_mod.entry(m.clone()).or_default().push(d),
                    None if d.level == "error" => stray.push(d),
                    None => {}
                }
            }
            let mut removed = false;
            for (m, ds) in &by_mod {
                let rendered: String = ds
                    .iter()
                    .map(|d| d.rendered.clone())
                    .collect::<Vec<_>>()
                    .join("\n");
                if let Some(rest) = m.strip_prefix('p') {
                    // The plain copy: the generator's fault.
                    let c = format!("c{rest}");
                    plain_live.retain(|x| x != m);
                    live.retain(|x| *x != c);
                    outcomes.insert(
                        c,
                        outcome(Compile::GeneratorBug(first_line(&ds[0].rendered)), rendered),
                    );
                    removed = true;
                    continue;
                }
                if let Some(c) = m.strip_prefix("main:") {
                    // The check code of case `c` does not compile: its
                    // companions do not have the documented signatures.
                    live.retain(|x| x != c);
                    outcomes.insert(
                        c.to_string(),
                        outcome(Compile::ApiMismatch(first_line(&ds[0].rendered)), rendered),
                    );
                    removed = true;
                    continue;
                }
                let source = self
                    .cases
                    .iter()
                    .find(|c| c.module() == *m)
                    .map(|c| c.source(true))
                    .unwrap_or_default();
                let verdict = classify(ds, &source);
                live.retain(|x| x != m);
                outcomes.insert(m.clone(), outcome(verdict, rendered));
                removed = true;
            }
            if !stray.is_empty() && !removed {
                // Errors we cannot place: bisect them like a crash.
                let why = format!(
                    "diagnostic outside any case file: {}",
                    first_line(&stray[0].rendered)
                );
                let culprits = self.bisect(&live, &why);
                if culprits.is_empty() {
                    for m in &live {
                        outcomes.insert(
                            m.clone(),
                            outcome(
                                Compile::ExpansionError(why.clone()),
                                stray[0].rendered.clone(),
                            ),
                        );
                    }
                    return (outcomes, Vec::new(), false);
                }
                for (m, msg) in culprits {
                    live.retain(|x| *x != m);
                    outcomes.insert(
                        m,
                        outcome(Compile::ExpansionError(msg), stray[0].rendered.clone()),
                    );
                }
                continue;
            }
            if pass > 0 && !removed && run.success {
                built = true;
                break;
            }
        }
        for m in &live {
            outcomes
                .entry(m.clone())
                .or_insert_with(|| outcome(Compile::Accepted, String::new()));
        }
        let runnable = self
            .cases
            .iter()
            .copied()
            .filter(|c| c.recipe.is_some() && live.contains(&c.module()))
            .collect();
        (outcomes, runnable, built)
    }

    /// The cases among `mods` that fail alone (crash, or leave a
    /// diagnostic outside the case files), by halving.
    fn bisect(&mut self, mods: &[String], why: &str) -> Vec<(String, String)> {
        let bad = |b: &mut Self, set: &[String]| -> Option<String> {
            if b.write_lib(set).is_err() {
                return None;
            }
            let run = b.cargo(&["clippy", "--lib"]);
            if let Some(c) = run.crash {
                return Some(c);
            }
            run.diags
                .iter()
                .find(|d| d.module.is_none() && d.level == "error")
                .map(|d| {
                    format!(
                        "diagnostic outside any case file: {}",
                        first_line(&d.rendered)
                    )
                })
        };
        let mut found = Vec::new();
        let mut stack: Vec<Vec<String>> = vec![mods.to_vec()];
        let mut budget = 64;
        while let Some(set) = stack.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if set.len() == 1 {
                if let Some(msg) = bad(self, &set) {
                    found.push((set[0].clone(), msg));
                }
                continue;
            }
            if set.len() < mods.len() && bad(self, &set).is_none() {
                continue;
            }
            let (a, b) = set.split_at(set.len() / 2);
            stack.push(b.to_vec());
            stack.push(a.to_vec());
        }
        let _ = why;
        found
    }

    fn run_checks(
        &self,
        exe: &Path,
        cases: &[&Case],
        outcomes: &mut BTreeMap<String, Outcome>,
        seed: u64,
    ) {
        let mut from = "-".to_string();
        for _attempt in 0..cases.len().max(1) {
            let mut cmd = Command::new(exe);
            cmd.arg(seed.to_string()).arg("-").arg(&from);
            let t = Instant::now();
            let (_ok, stdout, stderr, timed_out) = run_with_timeout(cmd, Duration::from_secs(600));
            if std::env::var_os("AUTODIFF_FUZZ_TRACE").is_some() {
                eprintln!(
                    "  checks ({} cases): {:.1} s",
                    cases.len(),
                    t.elapsed().as_secs_f64()
                );
            }
            let mut last_started: Option<String> = None;
            let mut finished = true;
            for line in stdout.lines() {
                if let Some(name) = line.strip_prefix("START ") {
                    last_started = Some(name.trim().to_string());
                    finished = false;
                } else if let Some(rest) = line.strip_prefix("RESULT ") {
                    finished = true;
                    let mut it = rest.splitn(3, ' ');
                    let (name, kind, msg) = (
                        it.next().unwrap_or(""),
                        it.next().unwrap_or(""),
                        it.next().unwrap_or("").to_string(),
                    );
                    let num = match kind {
                        "ok" => Numeric::Ok,
                        "no_smooth_point" => Numeric::NoSmoothPoint,
                        "numeric_mismatch" => Numeric::Mismatch(msg),
                        "nan_gradient" => Numeric::NanGradient(msg),
                        "runtime_panic" => Numeric::RuntimePanic(msg),
                        "generator_bug" => {
                            if let Some(o) = outcomes.get_mut(name) {
                                o.compile = Compile::GeneratorBug(msg);
                            }
                            continue;
                        }
                        _ => Numeric::RuntimeCrash(format!("unknown result line: {rest}")),
                    };
                    if let Some(o) = outcomes.get_mut(name) {
                        o.numeric = num;
                    }
                }
            }
            match (finished, last_started) {
                (false, Some(name)) => {
                    let why = if timed_out {
                        "timed out".to_string()
                    } else {
                        format!("the check process died: {}", tail(&stderr, 800))
                    };
                    if let Some(o) = outcomes.get_mut(&name) {
                        o.numeric = Numeric::RuntimeCrash(why);
                    }
                    from = name;
                }
                _ => return,
            }
        }
    }
}

fn outcome(compile: Compile, rendered: String) -> Outcome {
    Outcome {
        compile,
        numeric: Numeric::NotRun,
        rendered,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn tail(s: &str, n: usize) -> String {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_string()
}

impl Batch<'_> {
    /// `main:<case>` for a diagnostic in the check code of a case.
    fn main_case(&self, m: &serde_json::Value) -> Option<String> {
        let spans = m["spans"].as_array()?;
        let s = spans.iter().find(|s| s["is_primary"] == true)?;
        if !s["file_name"].as_str()?.ends_with("main.rs") {
            return None;
        }
        let line = s["line_start"].as_u64()? as usize;
        self.main_ranges
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&line))
            .map(|(_, _, c)| format!("main:{c}"))
    }
}

/// The case module a diagnostic belongs to: its primary span's file, or
/// the file of the macro call it expands from, or any span of it or of
/// its children in a case file.
fn module_of(m: &serde_json::Value) -> Option<String> {
    fn case_file(f: &str) -> Option<String> {
        let name = Path::new(f).file_stem()?.to_str()?;
        let is_case = (name.starts_with('c') || name.starts_with('p'))
            && name.len() == 6
            && name[1..].chars().all(|c| c.is_ascii_digit());
        (is_case && f.contains("src")).then(|| name.to_string())
    }
    fn from_span(s: &serde_json::Value) -> Option<String> {
        if let Some(m) = s["file_name"].as_str().and_then(case_file) {
            return Some(m);
        }
        let exp = &s["expansion"];
        if exp.is_object() {
            return from_span(&exp["span"]);
        }
        None
    }
    let spans = m["spans"].as_array()?;
    let primary = spans.iter().filter(|s| s["is_primary"] == true);
    for s in primary {
        if let Some(x) = from_span(s) {
            return Some(x);
        }
    }
    for s in spans {
        if let Some(x) = from_span(s) {
            return Some(x);
        }
    }
    for c in m["children"].as_array()? {
        for s in c["spans"].as_array().into_iter().flatten() {
            if let Some(x) = from_span(s) {
                return Some(x);
            }
        }
    }
    None
}

/// The verdict for a case from its diagnostics (worst first).
fn classify(ds: &[Diag], source: &str) -> Compile {
    let panicked =
        |d: &Diag| d.message.contains("panicked") || d.rendered.contains("proc macro panicked");
    if let Some(d) = ds.iter().find(|d| panicked(d)) {
        let help = d
            .rendered
            .lines()
            .find(|l| l.contains("message:"))
            .unwrap_or(&d.message)
            .trim()
            .to_string();
        return Compile::Panic(help);
    }
    if let Some(d) = ds
        .iter()
        .find(|d| d.level == "error" && d.code.as_deref().is_some_and(|c| c.starts_with('E')))
    {
        return Compile::ExpansionError(first_line(&d.rendered));
    }
    if let Some(d) = ds.iter().find(|d| d.code.is_some()) {
        // A lint (denied or not): generated code is not clean.
        return Compile::Warning(first_line(&d.rendered));
    }
    if let Some(d) = ds.iter().find(|d| d.level == "warning") {
        return Compile::Warning(first_line(&d.rendered));
    }
    // A parse error of the expansion has no code either; it names tokens
    // the user never wrote (`expected identifier, found `0.5_f64``).
    if let Some(d) = ds
        .iter()
        .find(|d| d.message.starts_with("expected") && names_foreign_token(&d.message, source))
    {
        return Compile::ExpansionError(first_line(&d.rendered));
    }
    let msgs: Vec<String> = ds.iter().map(|d| d.message.clone()).collect();
    Compile::MacroError(msgs.join(" | "))
}

/// Whether a message quotes (in backticks) a token that is not in `source`.
fn names_foreign_token(message: &str, source: &str) -> bool {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .any(|tok| !tok.is_empty() && !source.contains(tok))
}

/// Runs `cases` (one batch): compiles, classifies, checks numbers.
pub fn run_batch(
    paths: &Paths,
    cases: &[Case],
    seed: u64,
) -> std::io::Result<BTreeMap<String, Outcome>> {
    let mut batch = Batch::new(paths, cases.iter().collect())?;
    let (mut outcomes, runnable, built) = batch.compile();
    if built && !runnable.is_empty() {
        let exe = batch
            .target()
            .join("debug")
            .join(format!("check_{}", batch.name));
        batch.run_checks(&exe, &runnable, &mut outcomes, seed);
    }
    Ok(outcomes)
}

/// Writes the failure files of a batch; returns their paths.
pub fn write_failures(
    paths: &Paths,
    cases: &[Case],
    outcomes: &BTreeMap<String, Outcome>,
) -> Vec<PathBuf> {
    let dir = paths.root.join("failures");
    let _ = std::fs::create_dir_all(&dir);
    let mut written = Vec::new();
    for c in cases {
        let Some(o) = outcomes.get(&c.module()) else {
            continue;
        };
        let kind = o.kind(c.expect);
        if !HARD.contains(&kind) {
            continue;
        }
        let path = dir.join(format!("{kind}-{}-{}.rs", c.seed, c.index));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "// {kind}: case {} of seed {} (class {}, expect {:?})",
            c.index, c.seed, c.class, c.expect
        );
        let _ = writeln!(
            s,
            "// rerun: cargo run --release -p autodiff-fuzz -- --seed {} --from {} --count 1",
            c.seed, c.index
        );
        for l in o.message().lines() {
            let _ = writeln!(s, "// {l}");
        }
        if !o.rendered.is_empty() {
            let _ = writeln!(s, "//\n// diagnostics:");
            for l in o.rendered.lines().take(60) {
                let _ = writeln!(s, "// {l}");
            }
        }
        s.push('\n');
        s.push_str(&c.source(true));
        if std::fs::write(&path, s).is_ok() {
            written.push(path);
        }
    }
    written
}
