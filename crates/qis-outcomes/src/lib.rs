//! Outcome packets and what qis does with them: a signed fine-tuning result of at most 512
//! bytes ([`OutcomePacket`]), its semantic keys ([`Query`], [`rank`]), its import from the files
//! a training run left on disk ([`from_run`]), and the local synthesis of a recommendation from
//! similar runs ([`recommend()`]). No I/O beyond reading the run folder and packet files it is
//! pointed at.

mod packet;
mod synth;

#[cfg(test)]
mod parser_fuzz_tests;

pub use packet::body::PACKET_FORMAT_VERSION;
pub use packet::check::{
    CheckError, CheckReport, TextError, check as check_packet_file, check_text as check_packet_text,
};
pub use packet::draft::Draft;
pub use packet::family::fold_family;
pub use packet::fromrun::confidence::{binomial_stderr, from_stderr as confidence_from_stderr};
pub use packet::fromrun::{
    FromRunError, Overrides, Provenance, RunDraft, RunProblem, ScoreSource, from_run,
};
pub use packet::hyper::{HyperKind, format_number};
pub use packet::keys::{
    KEY_PREFIX, KEY_SCHEME_VERSION, LEGACY_KEY_PREFIX, LEGACY_KEY_SCHEME_VERSION, Ranked, jaccard,
    legacy_packet_keys, packet_keys, rank,
};
pub use packet::limits;
pub use packet::size::{TYPICAL_CREATED, check_size, record_size};
pub use packet::template::{
    example as packet_example, parse_packet_file, render_packet_file, template as packet_template,
};
pub use packet::validate::{check_query, validate as validate_body};
pub use packet::vocab::{TASKS as TASK_VOCABULARY, TaskEntry};
pub use packet::{
    DataScale, EvalSetting, HyperKey, HyperValue, KeyLevel, Method, NO_FILTER, Objective,
    OutcomeBody, OutcomePacket, OutcomePolicy, PacketError, Query, REPRODUCTION_FORMAT_VERSION,
    Reproduction, ReproductionBody, ReproductionError, ScoreScale, SemanticKey, Tuning,
};
pub use synth::levels::{self as levels, LevelWeights};
pub use synth::proximity::{self as proximity, recipe_proximity};
pub use synth::render::{table as render_table, to_json as render_json};
pub use synth::saved::{self as saved, LedgerFile, SavedError, SavedRecommendation};
pub use synth::standing::{self as standing, Claim, Ledger, OwnOutcome, Reproduced, Standings};
pub use synth::{
    CONFIDENCE_BOUND, EVAL_SAMPLES_BOUND, Evidence, LevelSummary, NoFeedback, PasteError,
    PasteFormat, Recommendation, RecommendedParam, Spread, Trace, Trust, WEIGHED_SHOWN, Weighed,
    paste, recommend,
};
