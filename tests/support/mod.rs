//! Helpers shared by the tests that run real `qis` processes (each test file includes this
//! with `mod support;`; not every file uses every helper).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// A fresh, empty scratch directory for one test: `<tmp>/qis-<suite>-<pid>-<name>`.
pub(crate) fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qis-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// The lines `child` writes on its piped stderr, read by a thread until the pipe closes.
pub(crate) fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// The `qis` binary under test, with `home` as its data home, no `RUST_LOG` from the caller's
/// environment and nothing on stdin; the caller adds the arguments and output handling.
pub(crate) fn qis(home: impl AsRef<Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qis"));
    command
        .env("QIS_HOME", home.as_ref())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}
