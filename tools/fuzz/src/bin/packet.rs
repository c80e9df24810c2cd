//! The `packet` fuzz target as a plain binary: see `qis_fuzz::packet` and the README.

fn main() -> std::process::ExitCode {
    qis_fuzz::driver::main(qis_fuzz::driver::Target {
        name: "packet",
        run: qis_fuzz::packet::run,
        seeds: qis_fuzz::packet::seeds,
        max_len: 600,
    })
}
