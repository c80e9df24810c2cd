//! The README is tested: every shell block of `README.md` (and `bench/README.md`, if it has
//! any) runs as written, in order, in one bash session per file, so variables (`Q=...`) and
//! background jobs (`qis node ... &`) carry over from one block to the next.
//!
//! Conventions, kept in the README itself so that it renders as plain `sh` on GitHub:
//!
//! * A block is a fenced block whose info string starts with `sh`, `bash` or `shell`. Other
//!   fenced blocks are text.
//! * A line whose trailing comment contains `long:` is **skipped**; the comment says what it
//!   costs (`cargo test --release   # long: the whole suite, ~N min`). Only whole one-line
//!   commands are marked. The checker reports how many lines it skipped, and which.
//! * A line whose trailing comment contains `prints: TEXT` must print TEXT on stdout (the rest
//!   of the comment after `prints:`): figures quoted in the README come from the command beside
//!   them.
//! * Every other line runs. The session runs with `set -euo pipefail`: any command that fails
//!   fails the block, and the failure names the file, the block and the README line of its
//!   fence, the command that failed, and shows the block with line numbers and its output.
//!
//! The session's world: a fresh temporary directory as `HOME` (`QIS_HOME`, `XDG_DATA_HOME` and
//! `RUST_LOG` unset, so the documented defaults apply), and as the working directory a copy of
//! the repository root: every top-level entry symlinked except `target/`, which holds only
//! `target/release/qis`, a link to the binary cargo built for this test. So the README's
//! `Q=target/release/qis` works (after its `cargo build --release`, which is a `long:` line), and
//! files it writes (`medqa.toml`, `sim-out/`) land in the copy, not in the checkout. No
//! directory holding a `qis` executable stays on `PATH`: a bare `qis` works only after the
//! README itself puts the binary on `PATH`, as a new user's shell would.
//!
//! It runs in release builds only (`cargo test --release`, which the README's test command
//! `tools/test` runs): in a debug build the simulator blocks would take minutes, and it says it
//! skipped.
//!
//! Limits: each block gets [`BLOCK_TIMEOUT`]; the ports that `--listen 127.0.0.1:PORT` lines use
//! are checked free first; bash runs in its own process group, and every process in it (the
//! nodes the README starts) is killed at the end, whether the blocks passed or not. A README
//! that leaves processes running after its last block fails. Concurrent runs of this checker on
//! one machine take turns (a lock file), since the README's ports are fixed. Loopback only.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// The files whose shell blocks run, each in its own session.
const FILES: &[&str] = &["README.md", "bench/README.md"];
/// How long one block may run.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// How many lines of a failing block's output the failure shows (the last ones).
const SHOWN_LINES: usize = 200;
/// What the session prints after each block that ran to its end.
const DONE: &str = "__QIS_README_BLOCK_DONE__";

/// Set up once per session, before the first block.
const PRELUDE: &str = r#"exec 2>&1
set -euo pipefail
__qis_expect() {
  case "$2" in
    *"$1"*) ;;
    *) printf 'README checker: the output above does not contain: %s\n' "$1"; return 1 ;;
  esac
}
trap 'printf "README checker: this command failed (exit status %s): %s\n" "$?" "$BASH_COMMAND"' ERR
"#;

#[test]
fn every_shell_block_of_the_readmes_runs_as_written() {
    if cfg!(debug_assertions) {
        // The README's commands run at release speed (`qis sim` takes seconds there, minutes in
        // a debug build) and the README's test command runs `cargo test --release`.
        println!("README checker: skipped in a debug build; run cargo test --release");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let _turn = take_turn();
    let mut summary = Vec::new();
    for file in FILES {
        let path = root.join(file);
        let Ok(text) = fs::read_to_string(&path) else {
            summary.push(format!("{file}: absent"));
            continue;
        };
        let blocks = shell_blocks(&text);
        if blocks.is_empty() {
            summary.push(format!("{file}: no shell blocks"));
            continue;
        }
        summary.push(run_file(&root, file, &blocks));
    }
    println!("README checker:\n{}", summary.join("\n"));
}

/// One fenced shell block.
#[derive(Debug)]
struct Block {
    /// 1-based, in file order.
    number: usize,
    /// The README line of its opening fence.
    fence_line: usize,
    /// Each line with its README line number.
    lines: Vec<(usize, String)>,
}

/// What the checker does with one line.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    /// Run as written.
    Run,
    /// Skip (marked `long:`).
    Long,
    /// Run the command and check its stdout contains the text.
    Prints { command: &'a str, expect: &'a str },
}

fn shell_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    let mut in_other_fence = false;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```");
        // A closing fence is backticks alone; "```sh" inside a text block is text.
        let closes = is_fence && trimmed.trim_end().chars().all(|c| c == '`');
        if let Some(block) = current.as_mut() {
            if closes {
                blocks.push(current.take().expect("in a block"));
            } else {
                block.lines.push((number, line.to_string()));
            }
        } else if in_other_fence {
            in_other_fence = !closes;
        } else if is_fence {
            let info = trimmed.trim_start_matches('`').trim();
            let language = info.split_whitespace().next().unwrap_or("");
            if matches!(language, "sh" | "bash" | "shell") {
                current = Some(Block {
                    number: blocks.len() + 1,
                    fence_line: number,
                    lines: Vec::new(),
                });
            } else {
                in_other_fence = true;
            }
        }
    }
    assert!(current.is_none(), "a shell block is never closed");
    blocks
}

/// Where a line's comment starts: the first `#` outside quotes at the start of a word.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' && !single {
            escaped = true;
        } else if c == '\'' && !double {
            single = !single;
        } else if c == '"' && !single {
            double = !double;
        } else if c == '#' && !single && !double && previous.is_whitespace() {
            return Some(i);
        }
        previous = c;
    }
    None
}

fn classify(line: &str) -> Line<'_> {
    let Some(hash) = comment_start(line) else {
        return Line::Run;
    };
    let command = line[..hash].trim_end();
    let comment = &line[hash..];
    if command.is_empty() {
        Line::Run
    } else if comment.contains("long:") {
        Line::Long
    } else if let Some(at) = comment.find("prints:") {
        Line::Prints {
            command,
            expect: comment[at + "prints:".len()..].trim(),
        }
    } else {
        Line::Run
    }
}

fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The script the session sources for one block, the skipped lines blanked (so its line numbers
/// stay those of the block), and the counts of skipped and checked lines.
fn block_script(block: &Block, skipped: &mut Vec<String>) -> (String, usize) {
    let mut script = String::new();
    let mut checked = 0;
    for (number, line) in &block.lines {
        match classify(line) {
            Line::Run => script.push_str(line),
            Line::Long => skipped.push(format!("  line {number}: {}", line.trim())),
            Line::Prints { command, expect } => {
                checked += 1;
                script.push_str(&format!(
                    "__qis_out=$({command}); printf '%s\\n' \"$__qis_out\"; __qis_expect {} \"$__qis_out\"",
                    single_quoted(expect)
                ));
            }
        }
        script.push('\n');
    }
    (script, checked)
}

/// Runs one file's blocks in one session; returns its summary line.
fn run_file(root: &Path, file: &str, blocks: &[Block]) -> String {
    let scratch = Scratch::new(file);
    let work = scratch.path.join("work");
    let home = scratch.path.join("home");
    let scripts = scratch.path.join("blocks");
    for dir in [&work, &home, &scripts] {
        fs::create_dir_all(dir).expect("scratch directories");
    }
    copy_of_root(root, &work);
    check_ports_free(file, blocks);

    let mut session = Session::start(&work, &home);
    session.send(PRELUDE);
    let (mut ran, mut checked, mut whole_blocks_skipped) = (0, 0, 0);
    let mut skipped = Vec::new();
    for block in blocks {
        let before = skipped.len();
        let (script, block_checked) = block_script(block, &mut skipped);
        checked += block_checked;
        let runnable = block
            .lines
            .iter()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .count();
        if runnable == skipped.len() - before {
            whole_blocks_skipped += 1;
            continue;
        }
        let path = scripts.join(format!("block-{}.sh", block.number));
        fs::write(&path, script).expect("write the block's script");
        session.send(&format!(
            "source {} </dev/null\nprintf '\\n%s\\n' '{DONE} {}'\n",
            single_quoted(&path.to_string_lossy()),
            block.number
        ));
        let marker = format!("{DONE} {}", block.number);
        if let Err(why) = session.wait_for(&marker, BLOCK_TIMEOUT) {
            panic!(
                "{file}, block {} (the ```sh at line {}) {why}\n--- the block ---\n{}\n--- its output (last {SHOWN_LINES} lines) ---\n{}\n(scratch directory kept: {})",
                block.number,
                block.fence_line,
                block
                    .lines
                    .iter()
                    .map(|(n, l)| format!("{n:>4} | {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                session.tail(),
                scratch.keep().display(),
            );
        }
        ran += 1;
    }
    session.send("exit 0\n");
    if let Err(why) = session.finish() {
        panic!(
            "{file}: after its last block, {why}\n--- output ---\n{}",
            session.tail()
        );
    }
    let mut line = format!(
        "{file}: {} shell blocks: {ran} ran, {whole_blocks_skipped} skipped entirely; {} long lines skipped, {checked} outputs checked",
        blocks.len(),
        skipped.len()
    );
    for s in skipped {
        line.push('\n');
        line.push_str(&s);
    }
    line
}

/// The working directory: the repository root's entries as links, and `target/release/qis`.
fn copy_of_root(root: &Path, work: &Path) {
    for entry in fs::read_dir(root).expect("read the repository root") {
        let entry = entry.expect("a root entry");
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), work.join(&name)).expect("link a root entry");
    }
    let release = work.join("target/release");
    fs::create_dir_all(&release).expect("target/release in the copy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qis"), release.join("qis"))
        .expect("link the qis binary");
}

/// `PATH` without any directory that holds a `qis` executable.
fn path_without_qis() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| {
            fs::metadata(dir.join("qis"))
                .map(|m| m.permissions().mode() & 0o111 == 0)
                .unwrap_or(true)
        })
        .collect();
    std::env::join_paths(kept)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

/// The UDP ports of the `--listen 127.0.0.1:PORT` lines must be free, or the nodes would not
/// start and the blocks would talk to whatever holds them.
fn check_ports_free(file: &str, blocks: &[Block]) {
    for block in blocks {
        for (number, line) in &block.lines {
            let Some(at) = line.find("--listen 127.0.0.1:") else {
                continue;
            };
            let port: String = line[at + "--listen 127.0.0.1:".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let addr = format!("127.0.0.1:{port}");
            if let Err(e) = std::net::UdpSocket::bind(&addr) {
                panic!(
                    "{file} line {number} listens on {addr}, which is taken ({e}): is a qis node still running?"
                );
            }
        }
    }
}

/// One bash process in its own process group, its stdout and stderr read line by line.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    output: Vec<String>,
}

impl Session {
    fn start(work: &Path, home: &Path) -> Session {
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc"])
            .current_dir(work)
            .env("HOME", home)
            .env("PATH", path_without_qis())
            .env_remove("QIS_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("RUST_LOG")
            .env_remove("BASH_ENV")
            .env_remove("ENV")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("start bash");
        let (sender, lines) = mpsc::channel();
        forward(child.stdout.take().expect("stdout"), sender.clone());
        forward(child.stderr.take().expect("stderr"), sender);
        let stdin = child.stdin.take();
        Session {
            child,
            stdin,
            lines,
            output: Vec::new(),
        }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("the session's stdin");
        // A write error means bash has exited; `wait_for` reports it.
        let _ = stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush());
    }

    /// Reads output until `marker`; an error says why it never came.
    fn wait_for(&mut self, marker: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut exited: Option<(ExitStatus, Instant)> = None;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.trim_end() == marker => return Ok(()),
                Ok(line) => self.output.push(line),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("wait for bash");
                    return Err(format!("failed: the shell exited ({status})"));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Bash may have exited while background jobs keep its output open: give its last
            // lines a moment to arrive, then report.
            if exited.is_none()
                && let Ok(Some(status)) = self.child.try_wait()
            {
                exited = Some((status, Instant::now()));
            }
            if let Some((status, at)) = exited
                && at.elapsed() > Duration::from_millis(500)
            {
                return Err(format!("failed: the shell exited ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
        }
    }

    /// Waits for bash to exit after `exit`, then checks nothing it started is still running.
    fn finish(&mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for bash") {
                break status;
            }
            if Instant::now() > deadline {
                return Err("the shell did not exit within 10 s".into());
            }
            thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
            self.output.push(line);
        }
        if !status.success() {
            return Err(format!("the shell exited with {status}"));
        }
        if group_alive(self.child.id()) {
            return Err(
                "processes it started are still running (stop the nodes at the end: kill -INT %1 ...; wait)"
                    .into(),
            );
        }
        Ok(())
    }

    fn tail(&self) -> String {
        let from = self.output.len().saturating_sub(SHOWN_LINES);
        self.output[from..].join("\n")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Every process of the session's group: bash and the nodes it started.
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

fn forward(stream: impl Read + Send + 'static, sender: Sender<String>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A temporary directory, removed on drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: std::cell::Cell<bool>,
}

impl Scratch {
    fn new(file: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let slug = file.replace(['/', '.'], "-");
        let path =
            std::env::temp_dir().join(format!("qis-readme-{slug}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("scratch directory");
        Scratch {
            path,
            keep: std::cell::Cell::new(false),
        }
    }

    fn keep(&self) -> &Path {
        self.keep.set(true);
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep.get() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// One checker at a time on this machine: the README's ports are fixed.
fn take_turn() -> File {
    let lock = File::create(std::env::temp_dir().join("qis-readme-checker.lock"))
        .expect("the checker's lock file");
    lock.lock().expect("take the checker's lock");
    lock
}

#[test]
fn the_line_conventions_parse() {
    assert_eq!(
        classify("cargo build --release   # long: minutes"),
        Line::Long
    );
    assert_eq!(
        classify("# long: a comment line is not a command"),
        Line::Run
    );
    assert_eq!(
        classify("$Q get greeting   # prints: hello from qis"),
        Line::Prints {
            command: "$Q get greeting",
            expect: "hello from qis"
        }
    );
    assert_eq!(classify("$Q put greeting \"hi # there\" # note"), Line::Run);
    assert_eq!(comment_start("echo '#' \"#\" a#b # c"), Some(17));
    let blocks = shell_blocks("text\n```sh\na\n```\n```text\n```sh\n```\n```bash\nb\n```\n");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].lines, vec![(3, "a".to_string())]);
    assert_eq!(blocks[1].lines, vec![(9, "b".to_string())]);
    assert_eq!(blocks[1].fence_line, 8);
}
