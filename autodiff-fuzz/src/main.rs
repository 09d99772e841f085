//! `cargo run --release -p autodiff-fuzz -- --seed S --count N [--from K]
//! [--batch B] [--keep] [--print K]`: the long tier of the fuzzer (see the
//! crate README).

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: autodiff-fuzz [--seed S] [--count N] [--from K] [--batch B] [--keep] [--print K]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = autodiff_fuzz::Config {
        seed: 1,
        from: 0,
        count: 250,
        batch: 250,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Option<u64> {
            let v = args.next().and_then(|v| v.parse().ok());
            if v.is_none() {
                eprintln!("{name} needs a number");
            }
            v
        };
        match a.as_str() {
            "--seed" => match num("--seed") {
                Some(v) => config.seed = v,
                None => return usage(),
            },
            "--count" => match num("--count") {
                Some(v) => config.count = v as usize,
                None => return usage(),
            },
            "--from" => match num("--from") {
                Some(v) => config.from = v as usize,
                None => return usage(),
            },
            "--batch" => match num("--batch") {
                Some(v) => config.batch = (v as usize).max(1),
                None => return usage(),
            },
            "--print" => match num("--print") {
                Some(v) => {
                    // Print one case's source (with the attribute).
                    let c = autodiff_fuzz::gen::generate(config.seed, v as usize);
                    println!(
                        "// class {} expect {:?}\n{}",
                        c.class,
                        c.expect,
                        c.source(true)
                    );
                    return ExitCode::SUCCESS;
                }
                None => return usage(),
            },
            "--keep" => config.keep = true,
            _ => return usage(),
        }
    }
    let report = match autodiff_fuzz::run(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("autodiff-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", report.render());
    for l in &report.lines {
        println!("{l}");
    }
    if !report.failures.is_empty() {
        println!("failure files: {}", report.failures.len());
        if let Some(dir) = report.failures[0].parent() {
            println!("  in {}", dir.display());
        }
    }
    println!(
        "{} cases in {:.0} s; {} hard failures",
        config.count,
        report.seconds,
        report.hard()
    );
    if report.hard() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
