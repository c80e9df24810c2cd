//! One run, one piece of evidence, through real processes on loopback: publishing the same
//! packet file twice (or signing it again after the published folder was lost) gives one
//! packet in `query` and `recommend`; a publish nobody answers says what it kept; `qis
//! published` lists what is republished and withdraws an entry.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

const NETWORK: &str = "once-test";

/// Starts a node of this suite's network; (the node, its address).
fn node(home: &Path) -> (support::LoopbackNode, String) {
    let node = support::loopback_node(home, NETWORK);
    let addr = node.addr.clone();
    (node, addr)
}

fn qis(home: &Path, args: &[&str]) -> Output {
    support::qis(home).args(args).output().expect("run qis")
}

fn ok(home: &Path, args: &[&str]) -> Output {
    let out = qis(home, args);
    assert!(
        out.status.success(),
        "qis {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn published(home: &Path, publisher: &str) -> serde_json::Value {
    json(&ok(home, &["published", "--json", "--data-dir", publisher]))
}

#[test]
fn the_same_packet_published_twice_is_one_packet_and_can_be_withdrawn() {
    let home = support::scratch("publish-once", "twice");
    let (_node, addr) = node(&home.join("node"));
    let net = [
        "--bootstrap",
        addr.as_str(),
        "--network",
        NETWORK,
        "--id-difficulty",
        "0",
    ];
    let publisher = home.join("publisher").to_str().unwrap().to_string();
    let file = home.join("p.toml").to_str().unwrap().to_string();
    ok(&home, &["packet", "new", "--example", &file]);
    let publish = [
        &["publish", file.as_str(), "--json", "--data-dir", &publisher][..],
        &net,
    ]
    .concat();

    let first = json(&ok(&home, &publish));
    assert_eq!(first["already_published"], false);
    let id = first["packet_id"].as_str().unwrap().to_string();
    let again = ok(&home, &publish);
    assert!(
        stderr(&again).contains(&format!("already published as {id} on ")),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("republishing refreshes it"));
    assert_eq!(json(&again)["packet_id"], id.as_str());
    assert_eq!(json(&again)["already_published"], true);
    let listed = published(&home, &publisher);
    assert_eq!(listed["published"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["published"][0]["packet_id"], id.as_str());

    // The folder lost (a new machine with the same key): the body is signed again at a later
    // time, and is still the same packet to holders and readers.
    std::fs::remove_dir_all(Path::new(&publisher).join("published")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let resigned = json(&ok(&home, &publish));
    assert_eq!(resigned["packet_id"], id.as_str());
    assert_eq!(resigned["already_published"], false);

    let context = ["--family", "llama-3-8b", "--task", "summarization"];
    let query = json(&ok(
        &home,
        &[&["query", "--json"][..], &context, &net].concat(),
    ));
    assert_eq!(query["found"], 1, "{query}");
    assert_eq!(query["packets"][0]["packet_id"], id.as_str());
    let recommend = [&["recommend", "--json", "--no-save"][..], &context, &net].concat();
    assert_eq!(json(&ok(&home, &recommend))["found"], 1);

    // Withdrawing: an unknown id is bad input, a prefix as `query` shows it works.
    let unknown = qis(
        &home,
        &[
            "published",
            "withdraw",
            "0123456789ab",
            "--data-dir",
            &publisher,
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no packet of that id"),
        "{}",
        stderr(&unknown)
    );
    let short = qis(
        &home,
        &["published", "withdraw", "abc", "--data-dir", &publisher],
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr(&short).contains("at least 8"), "{}", stderr(&short));
    let withdrawn = ok(
        &home,
        &["published", "withdraw", &id[..12], "--data-dir", &publisher],
    );
    let said = String::from_utf8_lossy(&withdrawn.stdout);
    assert!(said.contains(&format!("withdrew {id}")), "{said}");
    assert!(said.contains("expire within 25 h"), "{said}");
    assert_eq!(
        published(&home, &publisher)["published"],
        serde_json::json!([])
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_publish_nobody_answers_says_what_it_kept_and_a_retry_adds_nothing() {
    let home = support::scratch("publish-once", "timeout");
    let publisher = home.join("publisher").to_str().unwrap().to_string();
    let file = home.join("p.toml").to_str().unwrap().to_string();
    ok(&home, &["packet", "new", "--example", &file]);
    // Port 9 (discard): nobody answers.
    let publish = [
        "publish",
        &file,
        "--data-dir",
        &publisher,
        "--bootstrap",
        "127.0.0.1:9",
        "--network",
        NETWORK,
        "--id-difficulty",
        "0",
        "--timeout",
        "1",
    ];
    let failed = qis(&home, &publish);
    assert_eq!(failed.status.code(), Some(1));
    let said = stderr(&failed);
    assert!(said.contains("the packet is kept in"), "{said}");
    assert!(said.contains("qis published withdraw"), "{said}");
    let retry = qis(&home, &publish);
    assert_eq!(retry.status.code(), Some(1));
    assert!(
        stderr(&retry).contains("already published as"),
        "{}",
        stderr(&retry)
    );
    let listed = published(&home, &publisher);
    assert_eq!(listed["published"].as_array().unwrap().len(), 1, "{listed}");
    let row = &listed["published"][0];
    assert_eq!(row["context"], "llama-3-8b/summarization/news,swahili");
    assert!(row["published_utc"].as_str().unwrap().ends_with(" UTC"));
    let _ = std::fs::remove_dir_all(&home);
}
