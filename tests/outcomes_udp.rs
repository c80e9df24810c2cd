//! Outcome packets end to end over real UDP nodes on loopback: several nodes publish, another
//! queries and gets a recommendation, including a context with no exact peer; forged packets
//! are refused by every node.

use qis::exchange::{fetch_packets, publish_packet};
use qis_core::Config;
use qis_core::Id;
use qis_core::Identity;
use qis_core::constants::K;
use qis_core::wire::NetworkId;
use qis_core::{Credentials, Difficulty, IdWork};
use qis_core::{RecordKind, SignedRecord};
use qis_outcomes::parse_packet_file;
use qis_outcomes::recommend;
use qis_outcomes::{Evidence, NoFeedback};
use qis_outcomes::{KeyLevel, rank};
use qis_outcomes::{OutcomePacket, OutcomePolicy, Query};
use qis_udp::{NodeHandle, NodeOptions, SocketOptions, spawn};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const NODES: usize = 40;

async fn start_node(index: usize) -> NodeHandle {
    let identity =
        Identity::from_secret_key(*Id::hash(&(5000 + index as u64).to_le_bytes()).as_bytes());
    let config = Config {
        network: NetworkId::from_name("outcomes-test").expect("a valid network name"),
        policy: Arc::new(OutcomePolicy::strict()),
        ..Config::default()
    };
    let listen = SocketAddr::from((Ipv4Addr::new(127, 1, 0, index as u8 + 1), 0));
    let credentials = Credentials::real(&identity, IdWork(0), Difficulty::NONE)
        .expect("any work meets no difficulty");
    spawn(
        &credentials,
        NodeOptions {
            listen,
            config,
            socket: SocketOptions::default(),
        },
    )
    .await
    .unwrap()
}

#[allow(clippy::too_many_arguments)] // one argument per packet field that varies
fn packet(
    publisher: u8,
    family: &str,
    task: &str,
    tags: &str,
    method: &str,
    baseline: f64,
    outcome: f64,
    lr: &str,
    rank: u32,
) -> OutcomePacket {
    let text = format!(
        "family = \"{family}\"\ntask = \"{task}\"\ntags = [{tags}]\ndata_scale = \"1k-10k\"\nbenchmark = \"xlsum\"\nmetric = \"rougel\"\n\
         score_scale = \"unit\"\nhigher_is_better = true\nbaseline = {baseline}\noutcome = {outcome}\nmethod = \"{method}\"\n\
         held_out = true\neval_samples = 400\nconfidence = 0.9\nbuilt_on = []\n\n[hyperparameters]\nlearning_rate = {lr}\nlora_rank = {rank}\n"
    );
    let body = parse_packet_file(&text)
        .expect("packet file parses")
        .build()
        .expect("valid packet");
    let key = Identity::from_secret_key([publisher; 32]);
    OutcomePacket::sign(
        body,
        key.signing_key(),
        1_790_000_000 + u64::from(publisher),
    )
    .expect("fits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_query_and_recommend_across_nodes() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut nodes = vec![start_node(0).await];
        let seed = nodes[0].local_addr();
        for i in 1..NODES {
            let node = start_node(i).await;
            node.bootstrap(vec![seed]).await.unwrap();
            nodes.push(node);
        }
        let published = [
            packet(
                1,
                "meta-llama/Meta-Llama-3-8B",
                "summarization",
                "\"french\", \"news\"",
                "lora",
                0.30,
                0.37,
                "2e-4",
                16,
            ),
            packet(
                2,
                "Llama-3-8B",
                "summarization",
                "\"german\", \"news\"",
                "lora",
                0.31,
                0.36,
                "1e-4",
                16,
            ),
            packet(
                3,
                "mistralai/Mistral-7B-v0.1",
                "summarization",
                "\"english\"",
                "lora",
                0.29,
                0.33,
                "3e-4",
                8,
            ),
            packet(
                4,
                "Qwen/Qwen2.5-7B-Instruct",
                "summarization",
                "\"hindi\", \"news\"",
                "qlora",
                0.25,
                0.30,
                "2e-4",
                32,
            ),
            packet(
                5,
                "llama-3-8b",
                "medical-qa",
                "\"english\"",
                "qlora",
                0.51,
                0.59,
                "2e-4",
                16,
            ),
        ];
        for (i, p) in published.iter().enumerate() {
            let acks = publish_packet(&nodes[1 + i * 5], p).await;
            assert_eq!(acks.len(), p.keys().len());
            assert!(
                acks.iter()
                    .all(|a| a.acks as usize >= K && a.verified == a.acks),
                "packet {i} acks per key: {acks:?}"
            );
        }

        // A Swahili summarisation fine-tuner: no exact peer anywhere.
        let query = Query::new(Some("llama-3-8b"), "summarization", &["swahili", "news"]);
        let keys: Vec<Id> = query.keys().iter().map(|k| k.id).collect();
        let (found, refused) = fetch_packets(&nodes[NODES - 1], &keys).await;
        assert_eq!(refused, 0);
        let ranked = rank(&query, found);
        let ids: Vec<_> = ranked.iter().map(|r| r.id()).collect();
        assert_eq!(
            ranked.len(),
            4,
            "every summarisation packet, none from medical-qa"
        );
        assert!(!ids.contains(&published[4].id()));
        assert!(ranked.iter().all(|r| r.similarity.level != KeyLevel::Exact));
        // Same family first (family + task), then shared-tag runs on other families, then task only.
        assert_eq!(ranked[0].similarity.level, KeyLevel::FamilyTask);
        assert_eq!(ranked[1].similarity.level, KeyLevel::FamilyTask);
        assert_eq!(
            ranked[2].id(),
            published[3].id(),
            "qwen, shares the news tag"
        );
        assert_eq!(ranked[3].id(), published[2].id(), "mistral, task only");

        let evidence: Vec<Evidence> = ranked
            .iter()
            .map(|r| Evidence::from_ranked(r, &NoFeedback))
            .collect();
        let rec = recommend(&evidence).expect("a recommendation");
        assert!(rec.evidence_count >= 4);
        assert!(!rec.contributors.is_empty());
        assert!(rec.expected_gain > 0.0);

        // The exact context, asked by someone else, ranks the exact match first.
        let exact = Query::new(Some("llama-3-8b"), "summarization", &["news", "french"]);
        let exact_keys: Vec<Id> = exact.keys().iter().map(|k| k.id).collect();
        let (found, _) = fetch_packets(&nodes[3], &exact_keys).await;
        let ranked = rank(&exact, found);
        assert_eq!(ranked[0].id(), published[0].id());
        assert_eq!(ranked[0].similarity.level, KeyLevel::Exact);

        for node in &nodes {
            node.shutdown().await;
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_misfiled_packets_are_refused_by_every_node() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut nodes = vec![start_node(100).await];
        let seed = nodes[0].local_addr();
        for i in 101..125 {
            let node = start_node(i).await;
            node.bootstrap(vec![seed]).await.unwrap();
            nodes.push(node);
        }
        let genuine = packet(
            9,
            "llama-3-8b",
            "summarization",
            "\"news\"",
            "lora",
            0.3,
            0.4,
            "2e-4",
            16,
        );
        let key = genuine.keys()[0].id;

        // Tampered after signing: the outcome score changed.
        let mut forged = genuine.record.clone();
        let last = forged.payload.len() - 20;
        forged.payload[last] ^= 0x40;
        let report = nodes[3].put(key, forged).await.unwrap();
        assert_eq!(report.acks, 0);
        assert!(report.refused as usize >= K - 1, "{report:?}");

        // Validly signed but filed under a key that is not one of its own.
        let report = nodes[4]
            .put(Id::hash(b"somewhere else"), genuine.record.clone())
            .await
            .unwrap();
        assert_eq!(report.acks, 0);

        // A raw record on a node that accepts outcome packets only.
        let raw = SignedRecord::sign(
            Identity::from_secret_key([1; 32]).signing_key(),
            RecordKind::Raw,
            1,
            b"x".to_vec(),
        )
        .unwrap();
        assert_eq!(nodes[5].put(key, raw).await.unwrap().acks, 0);

        let mut refused = 0;
        for node in &nodes {
            refused += node.stats().await.unwrap().metrics.store_refused_invalid;
        }
        assert!(
            refused as usize >= 3 * (K - 1),
            "refusals are counted: {refused}"
        );
        // The genuine packet is still accepted.
        assert!(
            nodes[6]
                .put(key, genuine.record.clone())
                .await
                .unwrap()
                .acks as usize
                >= K - 1
        );
        for node in &nodes {
            node.shutdown().await;
        }
    })
    .await
    .expect("bounded in time");
}
