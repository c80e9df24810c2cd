//! `qis recommend --format peft|axolotl|trl|optuna`, checked against the real libraries: every
//! key a fragment sets must be a field of the class it configures, as listed from the pinned
//! library's own source in `tests/fixtures/formats/` (see its README). When `python3` is there
//! the Python fragments are parsed by Python's own parser, and when PyYAML and Optuna are
//! installed (`.ci/run` installs them) the axolotl YAML is loaded with `yaml.safe_load` and the
//! Optuna snippet runs a study of a few trials; otherwise the test says what it skipped.

mod support;

use qis_core::{PublicKey, RecordId};
use qis_outcomes::{
    Evidence, HyperKey, HyperValue, Method, PasteFormat, Recommendation, Trace, packet_example,
    parse_packet_file, paste, recommend,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Held by the tests that start processes: the Python check (Optuna's import takes a core for
/// a second) and the command's test, whose publish through a loaded machine's loopback can
/// miss its node's answers. They take turns rather than race for the two cores.
static PROCESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());

const FORMATS: [PasteFormat; 4] = [
    PasteFormat::Peft,
    PasteFormat::Axolotl,
    PasteFormat::Trl,
    PasteFormat::Optuna,
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

/// The names a fixture lists.
fn listed(file: &str) -> BTreeSet<String> {
    let path = fixtures().join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// One run of the evidence: its publisher byte, method, gain and hyperparameters.
fn evidence(id: u8, method: &str, gain: f64, params: &[(&str, &str)]) -> Evidence {
    let mut draft = parse_packet_file(&packet_example()).unwrap();
    draft.method = Method::parse(method);
    draft.baseline = Some(0.4);
    draft.outcome = Some(0.4 + gain);
    draft.delta = None;
    draft.hyperparams = params
        .iter()
        .map(|(k, v)| (HyperKey::parse(k), HyperValue::parse(v)))
        .collect();
    let body = draft.build().unwrap();
    Evidence::new(RecordId([id; 32]), PublicKey([id; 32]), body, 1.0)
}

/// A recommendation from three publishers who agree on `method` and vary their values.
fn case(method: &str, extra: &[(&str, &str)]) -> Recommendation {
    let runs: [&[(&str, &str)]; 3] = [
        &[
            ("lora_rank", "8"),
            ("learning_rate", "1e-4"),
            ("lora_dropout", "0.05"),
            ("scheduler", "linear"),
        ],
        &[
            ("lora_rank", "16"),
            ("learning_rate", "2e-4"),
            ("lora_dropout", "0.05"),
            ("scheduler", "cosine"),
        ],
        &[
            ("lora_rank", "32"),
            ("learning_rate", "3e-4"),
            ("lora_dropout", "0.1"),
            ("scheduler", "cosine"),
        ],
    ];
    let common: &[(&str, &str)] = &[
        ("lora_alpha", "32"),
        ("epochs", "3"),
        ("batch_size", "16"),
        ("warmup_ratio", "0.03"),
        ("weight_decay", "0.01"),
        ("max_seq_len", "2048"),
        ("optimizer", "paged-adamw-8bit"),
        ("lora_targets", "all"),
    ];
    let evidence: Vec<Evidence> = runs
        .iter()
        .enumerate()
        .map(|(i, own)| {
            let params: Vec<(&str, &str)> =
                own.iter().chain(common).chain(extra).copied().collect();
            evidence(i as u8 + 1, method, 0.04 + 0.01 * i as f64, &params)
        })
        .collect();
    let rec = recommend(&evidence).expect("a recommendation");
    assert_eq!(rec.method.to_string(), method);
    rec
}

fn trace() -> Trace {
    Trace {
        id: "cd".repeat(32),
        saved: true,
        family: Some("llama-3-8b".into()),
        task: "summarization".into(),
        tags: vec!["swahili".into()],
    }
}

/// Hyperparameters as written in a packet file: name and value.
type Params = &'static [(&'static str, &'static str)];

/// The cases every format is rendered for (name, method, extra hyperparameters).
const CASES: &[(&str, &str, Params)] = &[
    ("qlora", "qlora", &[]),
    (
        "dpo-qlora",
        "dpo+qlora",
        &[("pref_beta", "0.1"), ("quant_bits", "4")],
    ),
    ("dora", "dora", &[]),
    ("kto-lora", "kto+lora", &[("pref_beta", "0.2")]),
    ("orpo-lora", "orpo+lora", &[("pref_beta", "0.1")]),
    ("simpo-lora", "simpo+lora", &[("pref_beta", "2.0")]),
    ("grpo-lora", "grpo+lora", &[("pref_beta", "0.04")]),
    (
        "rslora-split",
        "sft+rslora",
        &[
            ("per_device_train_batch_size", "4"),
            ("gradient_accumulation_steps", "4"),
        ],
    ),
    ("full", "full", &[]),
];

/// The keys a Python kwargs fragment sets (`    key=value,` lines).
fn python_keys(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, rest) = l.split_once('=')?;
            let key_ok = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            key_ok.then(|| {
                let value = rest.split("  #").next().unwrap().trim_end_matches(',');
                (key.to_string(), value.trim_matches('"').to_string())
            })
        })
        .collect()
}

/// The top-level keys a YAML fragment sets.
fn yaml_keys(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
        .filter_map(|l| {
            let (key, rest) = l.split_once(": ")?;
            let value = rest.split("  #").next().unwrap().trim().trim_matches('"');
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// The TRL class a fragment imports.
fn trl_class(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with("from trl"))
        .expect("an import of trl");
    line.rsplit(' ').next().unwrap().to_string()
}

/// Renders every case in every format into `dir`; how many keys were checked against the
/// fixtures.
fn render_and_check(dir: &Path) -> usize {
    let lora = listed("peft-LoraConfig.txt");
    let task_types = listed("peft-TaskType.txt");
    let axolotl = listed("axolotl-AxolotlInputConfig.txt");
    let rl_types = listed("axolotl-RLType.txt");
    let optimizers = listed("transformers-OptimizerNames.txt");
    let schedulers = listed("transformers-SchedulerType.txt");
    let mut checked = 0;
    for (name, method, extra) in CASES {
        let rec = case(method, extra);
        for format in FORMATS {
            let text = match paste(format, &rec, &trace()) {
                Ok(text) => text,
                // A full fine-tune has no LoraConfig; everything else renders.
                Err(e) if *method == "full" && format == PasteFormat::Peft => {
                    assert!(e.to_string().contains("LoraConfig does not apply"), "{e}");
                    continue;
                }
                Err(e) => panic!("{name} as {format:?}: {e}"),
            };
            assert!(text.starts_with(&format!("# qis recommendation {}", "cd".repeat(32))));
            assert!(!text.contains("NaN") && !text.contains("inf,"), "{text}");
            let (keys, allowed) = match format {
                PasteFormat::Peft => (python_keys(&text), lora.clone()),
                PasteFormat::Trl => (
                    python_keys(&text),
                    listed(&format!("trl-{}.txt", trl_class(&text))),
                ),
                PasteFormat::Axolotl => (yaml_keys(&text), axolotl.clone()),
                PasteFormat::Optuna => (Vec::new(), BTreeSet::new()),
            };
            for (key, value) in &keys {
                assert!(
                    allowed.contains(key),
                    "{name} as {format:?}: {key} is no field of the library's class\n{text}"
                );
                match key.as_str() {
                    "task_type" => assert!(task_types.contains(value), "{value}"),
                    "rl" => assert!(rl_types.contains(value), "{value}"),
                    "optim" | "optimizer" => assert!(optimizers.contains(value), "{value}"),
                    "lr_scheduler_type" | "lr_scheduler" => {
                        assert!(schedulers.contains(value), "{value}")
                    }
                    _ => {}
                }
            }
            checked += keys.len();
            let extension = match format {
                PasteFormat::Axolotl => "yaml",
                _ => "py",
            };
            std::fs::write(
                dir.join(format!("{name}.{}.{extension}", format.name())),
                &text,
            )
            .unwrap();
        }
    }
    checked
}

#[test]
fn every_key_written_is_a_field_of_the_real_library() {
    let dir = support::scratch("formats", "fields");
    let checked = render_and_check(&dir);
    // 9 cases: 8 LoraConfigs of 6 to 7 keys, 9 axolotl fragments, 9 TRL configs.
    assert!(checked > 200, "only {checked} keys checked");
    eprintln!(
        "{checked} keys checked against the field lists of peft, trl, transformers and axolotl"
    );
}

/// Runs the Python `script` file with python3, or `None` when there is no python3.
fn python(script: &Path, args: &[&Path]) -> Option<Output> {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(out)
}

/// The Python side of the check (`tests/fixtures/formats/check_fragments.py`).
fn check_script() -> PathBuf {
    fixtures().join("check_fragments.py")
}

#[test]
fn python_parses_yaml_loads_and_optuna_runs_the_fragments() {
    let _turn = PROCESSES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = support::scratch("formats", "python");
    let checked = render_and_check(&dir);
    let Some(out) = python(&check_script(), &[&fixtures(), &dir]) else {
        eprintln!(
            "skip: no python3 here, so the fragments were checked against the field lists only"
        );
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Python's parser finds exactly the keys the Rust side checked (the axolotl ones aside).
    let axolotl: usize = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| yaml_keys(&std::fs::read_to_string(p).unwrap()).len())
        .sum();
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|n| n.parse::<usize>().unwrap())
    };
    assert_eq!(line("parsed "), Some(checked - axolotl), "{stdout}");
    if let Some(skip) = stdout.lines().find(|l| l.starts_with("skip:")) {
        eprintln!("{skip}");
        return;
    }
    assert_eq!(line("yaml "), Some(axolotl), "{stdout}");
    assert_eq!(line("optuna "), Some(3 * CASES.len()), "{stdout}");
    eprintln!("{stdout}");
}

// The command itself, through a node on loopback.

const NETWORK: &str = "formats-test";

/// Starts a node of this suite's network; (the node, its address).
fn node(home: &Path) -> (support::LoopbackNode, String) {
    let node = support::loopback_node(home, NETWORK);
    let addr = node.addr.clone();
    (node, addr)
}

fn qis(home: &Path, args: &[&str]) -> Output {
    support::qis(home).args(args).output().expect("run qis")
}

/// Publishes the example packet with `task` and `outcome` (baseline 0.2140).
fn publish(home: &Path, addr: &str, name: &str, task: &str, outcome: &str) {
    let path = home.join(name);
    let path_text = path.to_str().unwrap();
    assert!(
        qis(home, &["packet", "new", "--example", path_text])
            .status
            .success()
    );
    let text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("delta"))
        .map(|l| match l {
            l if l.starts_with("outcome =") => format!("outcome = {outcome}\n"),
            l if l.starts_with("task =") => format!("task = \"{task}\"\n"),
            l => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    let out = qis(
        home,
        &[
            "publish",
            path_text,
            "--bootstrap",
            addr,
            "--network",
            NETWORK,
            "--id-difficulty",
            "0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn saved_files(home: &Path) -> usize {
    std::fs::read_dir(home.join("recommendations")).map_or(0, |d| d.count())
}

#[test]
fn the_command_prints_traced_fragments_and_refuses_what_it_cannot_paste() {
    let _turn = PROCESSES.lock().unwrap_or_else(|e| e.into_inner());
    let home = support::scratch("formats", "cli");
    let (_node, addr) = node(&home);
    publish(&home, &addr, "gain.toml", "summarization", "0.2610");
    publish(&home, &addr, "loss.toml", "translation", "0.2000");
    let ask = |task: &str, extra: &[&str]| {
        let mut args = vec!["recommend", "--task", task, "--bootstrap", &addr];
        args.extend(["--network", NETWORK, "--id-difficulty", "0"]);
        args.extend(extra);
        qis(&home, &args)
    };
    let out = ask("summarization", &["--format", "axolotl"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap();
    let id = first
        .strip_prefix("# qis recommendation ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    assert!(
        first.contains(" for family (any), task summarization, tags (none): qlora"),
        "{first}"
    );
    assert!(first.contains("1 packet(s) from 1 publisher"), "{first}");
    assert!(
        home.join("recommendations")
            .join(format!("{id}.json"))
            .exists(),
        "{first}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| *l == "lora_r: 16  # stated by 1, 100% of the weight agrees")
            .count(),
        1,
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("--built-on {id}")));
    assert_eq!(saved_files(&home), 1);

    // --no-save: the id is named, marked unsaved, and no file is written.
    let out = ask("summarization", &["--format", "optuna", "--no-save"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .contains("(not saved)")
    );
    assert_eq!(saved_files(&home), 1);

    // --json stays, as --format json, with the context named.
    let out = ask("summarization", &["--json", "--no-save"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["context"]["task"], "summarization");
    assert_eq!(json["recommendation"]["method"], "qlora");
    let out = ask("summarization", &["--format", "json", "--no-save"]);
    let same: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(same["recommendation"], json["recommendation"]);
    // Every fragment rides along (the Python package asks once), the same text --format prints.
    let fragments = json["fragments"].as_object().unwrap();
    assert_eq!(fragments.len(), FORMATS.len());
    let out = ask("summarization", &["--format", "axolotl", "--no-save"]);
    assert_eq!(
        fragments["axolotl"]["text"].as_str(),
        Some(&*String::from_utf8_lossy(&out.stdout))
    );
    let out = ask("summarization", &["--json", "--format", "peft"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give one of --json and --format peft"));

    // Only losses: the table still shows them, a fragment is refused and nothing is saved.
    let out = ask("translation", &["--json", "--no-save"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for format in FORMATS {
        let error = json["fragments"][format.name()]["error"].as_str().unwrap();
        assert!(error.contains("no configuration worth pasting"), "{error}");
    }
    let out = ask("translation", &["--no-save"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("every method's evidence shows a loss"));
    for format in ["peft", "axolotl", "trl", "optuna"] {
        let out = ask("translation", &["--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert!(
            out.stdout.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no configuration worth pasting"),
            "{format}: {stderr}"
        );
    }
    assert_eq!(saved_files(&home), 1);

    // No evidence at all.
    let out = ask("unheard-of-task", &["--format", "trl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to paste"));
}
