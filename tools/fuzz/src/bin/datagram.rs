//! The `datagram` fuzz target as a plain binary: see `qis_fuzz::datagram` and the README.

fn main() -> std::process::ExitCode {
    qis_fuzz::driver::main(qis_fuzz::driver::Target {
        name: "datagram",
        run: qis_fuzz::datagram::run,
        seeds: qis_fuzz::datagram::seeds,
        max_len: 1300,
    })
}
