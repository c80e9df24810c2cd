//! Bad input to the outcome commands gets an error naming the field and the rule, exit code 2,
//! before anything touches the network.

mod support;

fn fails_with(args: &[&str], expected: &str) {
    let home = support::scratch("outcomes-cli", "input");
    let out = support::qis(&home).args(args).output().expect("run qis");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn a_query_is_held_to_the_rules_of_the_packets_it_looks_for() {
    let nowhere = ["--bootstrap", "127.0.0.1:9"];
    let tags = "a,b,c,d,e,f,g";
    fails_with(
        &[&["query", "--task", "qa", "--tags", tags], &nowhere[..]].concat(),
        "--tags: 7 entries, the limit is 6",
    );
    let long = "x".repeat(40);
    fails_with(
        &[
            &["recommend", "--task", "qa", "--tag", long.as_str()],
            &nowhere[..],
        ]
        .concat(),
        "40 bytes, the limit is 32",
    );
    fails_with(
        &[&["query", "--task", " "], &nowhere[..]].concat(),
        "--task: must not be empty",
    );
    fails_with(
        &[
            &["recommend", "--task", "qa", "--tags", "news/sports"],
            &nowhere[..],
        ]
        .concat(),
        "'/'",
    );
}

#[test]
fn elections_flags_are_checked() {
    fails_with(
        &["elections", "--liars", "1.5"],
        "--liars: 1.5 is outside [0, 1]",
    );
    fails_with(
        &["elections", "--liar-mode", "bogus"],
        "\"bogus\" is not one of inflate, collude, whitewash, sybil",
    );
    fails_with(&["elections", "--publishers", "0"], "at least 1");
}

#[test]
fn packet_new_and_from_run_never_overwrite_without_force() {
    let home = support::scratch("outcomes-cli", "overwrite");
    let file = home.join("p.toml");
    let path = file.to_str().unwrap();
    let new = |extra: &[&str]| {
        support::qis(&home)
            .args([&["packet", "new", path], extra].concat())
            .output()
            .unwrap()
    };
    assert!(new(&[]).status.success());
    let template = std::fs::read_to_string(&file).unwrap();
    let again = new(&["--example"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists and was left as it is"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), template);
    // The template is refused by check until filled in; --force replaces it by the example,
    // which passes.
    let check = support::qis(&home)
        .args(["packet", "check", path])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("placeholder"));
    assert!(new(&["--example", "--force"]).status.success());
    let check = support::qis(&home)
        .args(["packet", "check", path])
        .output()
        .unwrap();
    assert!(check.status.success());
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn from_run_json_lists_every_field_with_its_origin_and_the_file_written() {
    let home = support::scratch("outcomes-cli", "from-run-json");
    let run = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/runs/qlora-llama3-medqa"
    );
    let file = home.join("medqa.toml");
    let out = support::qis(&home)
        .args([
            "packet",
            "from-run",
            run,
            "--task",
            "medical-qa",
            "--json",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing but the JSON on stdout, and no "wrote" line on stderr either.
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json["out"], file.to_str().unwrap());
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("lora_rank")
    );
    let fields = json["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(field("lora_rank")["value"], "16");
    assert_eq!(
        field("lora_rank")["origin"],
        serde_json::json!({"kind": "file", "file": "out/adapter_config.json", "key": "r", "text": "from out/adapter_config.json:r"})
    );
    assert_eq!(field("task")["origin"]["kind"], "override");
    assert_eq!(field("task")["origin"]["flag"], "--task");
    assert!(fields.len() >= 15, "{fields:?}");
    let _ = std::fs::remove_dir_all(&home);
}
