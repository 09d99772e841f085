//! The GradBench tool binary: GradBench's protocol on stdin and stdout.

use std::io;

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    gradbench_tool::protocol::serve(
        stdin.lock(),
        io::stdout().lock(),
        gradbench_tool::evals::defines,
        gradbench_tool::evals::evaluate,
    )
}
