//! The `answer` fuzz target as a plain binary: see `qis_fuzz::answer` and the README.

fn main() -> std::process::ExitCode {
    qis_fuzz::driver::main(qis_fuzz::driver::Target {
        name: "answer",
        run: qis_fuzz::answer::run,
        seeds: qis_fuzz::answer::seeds,
        max_len: 512,
    })
}
