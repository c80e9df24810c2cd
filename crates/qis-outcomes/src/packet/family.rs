//! Folding model names to a base model family, so that `meta-llama/Meta-Llama-3-8B`,
//! `Llama-3-8B` and `unsloth/llama-3-8b-bnb-4bit` all key as `llama-3-8b`.
//!
//! The folding is deliberately conservative: it removes only what names the *packaging* of a
//! checkpoint (organisation prefix, `-hf`, quantisation suffixes, a dotted release suffix such as
//! `-v0.1`) or its chat/instruct *flavour*, never anything that could name a different base
//! (size, generation, `mini`/`small`, context length). Two names that fold to the same family
//! are treated as the same starting point for fine-tuning.

use super::canon::canonical_token;

/// Suffixes removed, repeatedly, from the end of a lower-cased name. Order matters only in that
/// longer forms come before their tails (`-bnb-4bit` before `-4bit`).
const STRIPPED_SUFFIXES: &[&str] = &[
    "-bnb-4bit",
    "-bnb-8bit",
    "-4bit",
    "-8bit",
    "-awq",
    "-gptq",
    "-gguf",
    "-exl2",
    "-fp16",
    "-bf16",
    "-fp8",
    "-hf",
    "-instruct",
    "-chat",
    "-it",
    "-base",
];

/// Folds a model name or hub id to its canonical base family.
///
/// Steps, in order:
/// 1. drop everything up to the last `/` (the hub organisation, or a local directory);
/// 2. the canonical token: lower case, white space and `_` become `-`;
/// 3. `meta-llama…` becomes `llama…`, and `llama2`/`llama3` (followed by `-`, `.` or the end)
///    gain the dash the official names use (`llama3.1-8b` → `llama-3.1-8b`);
/// 4. strip, until none applies, the suffixes `-hf`, `-instruct`, `-chat`, `-it`, `-base`,
///    quantisation/packaging tags (`-bnb-4bit`, `-4bit`, `-8bit`, `-awq`, `-gptq`, `-gguf`,
///    `-exl2`, `-fp16`, `-bf16`, `-fp8`) and a dotted version suffix `-vN.M` (`-v0.1`; an
///    undotted `-v2` is kept because it often names a generation, as in `deepseek-v2`).
///
/// ```
/// use qis_outcomes::fold_family;
/// assert_eq!(fold_family("meta-llama/Meta-Llama-3-8B"), "llama-3-8b");
/// assert_eq!(fold_family("Llama-3-8B"), "llama-3-8b");
/// assert_eq!(fold_family("mistralai/Mistral-7B-Instruct-v0.2"), "mistral-7b");
/// assert_eq!(fold_family("Qwen/Qwen2.5-7B-Instruct"), "qwen2.5-7b");
/// ```
pub fn fold_family(raw: &str) -> String {
    let trimmed = raw.trim().trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let mut name = canonical_token(last);
    if let Some(rest) = name.strip_prefix("meta-")
        && rest.starts_with("llama")
    {
        name = rest.to_string();
    }
    for generation in ["llama2", "llama3"] {
        if let Some(rest) = name.strip_prefix(generation)
            && (rest.is_empty() || rest.starts_with(['-', '.']))
        {
            name = format!("llama-{}{rest}", &generation[5..]);
        }
    }
    loop {
        let before = name.len();
        for suffix in STRIPPED_SUFFIXES {
            if let Some(stem) = name.strip_suffix(suffix)
                && !stem.is_empty()
            {
                name.truncate(stem.len());
            }
        }
        if let Some(stem) = strip_dotted_version(&name) {
            name.truncate(stem);
        }
        if name.len() == before {
            return name;
        }
    }
}

/// Length of `name` without a trailing `-vN.M[.K…]`, if it has one.
fn strip_dotted_version(name: &str) -> Option<usize> {
    let at = name.rfind("-v")?;
    let version = &name[at + 2..];
    let mut parts = version.split('.');
    let all_numeric = version
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let dotted = parts.next().is_some() && parts.next().is_some();
    (at > 0 && all_numeric && dotted).then_some(at)
}

/// The family without its size: `llama-3-8b` → `llama-3`, `qwen2.5-0.5b` → `qwen2.5`,
/// `mixtral-8x7b` → `mixtral`. A family whose last `-` segment is not a size is its own lineage.
/// Used to rank a different size of the same model line above an unrelated family.
pub(crate) fn family_lineage(family: &str) -> &str {
    match family.rsplit_once('-') {
        Some((stem, last)) if !stem.is_empty() && is_size(last) => stem,
        _ => family,
    }
}

/// `8b`, `0.5b`, `135m`, `8x7b`: digits (with `.` or one `x`) followed by `b` or `m`.
fn is_size(segment: &str) -> bool {
    let Some(number) = segment.strip_suffix(['b', 'm']) else {
        return false;
    };
    !number.is_empty()
        && number.starts_with(|c: char| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_examples_fold() {
        assert_eq!(fold_family("meta-llama/Meta-Llama-3-8B"), "llama-3-8b");
        assert_eq!(fold_family("Llama-3-8B"), "llama-3-8b");
        assert_eq!(fold_family("Mistral-7B-v0.1"), "mistral-7b");
        assert_eq!(fold_family("mistralai/Mistral-7B-v0.1"), "mistral-7b");
        assert_eq!(fold_family("Qwen/Qwen2.5-7B-Instruct"), "qwen2.5-7b");
    }

    #[test]
    fn packaging_and_flavour_suffixes_fold() {
        assert_eq!(fold_family("meta-llama/Llama-2-7b-chat-hf"), "llama-2-7b");
        assert_eq!(fold_family("unsloth/llama-3-8b-bnb-4bit"), "llama-3-8b");
        assert_eq!(
            fold_family("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit"),
            "llama-3.1-8b"
        );
        assert_eq!(fold_family("google/gemma-2-9b-it"), "gemma-2-9b");
        assert_eq!(
            fold_family("TheBloke/Mistral-7B-Instruct-v0.2-GPTQ"),
            "mistral-7b"
        );
        assert_eq!(fold_family("llama3-8b"), "llama-3-8b");
        assert_eq!(fold_family("llama3.1_8B"), "llama-3.1-8b");
        assert_eq!(fold_family("  Qwen2.5-7B  "), "qwen2.5-7b");
    }

    #[test]
    fn folding_is_conservative() {
        // Generations, variants and sizes are kept.
        assert_eq!(
            fold_family("deepseek-ai/DeepSeek-V2-Lite"),
            "deepseek-v2-lite"
        );
        assert_eq!(fold_family("deepseek-v2"), "deepseek-v2");
        assert_eq!(
            fold_family("microsoft/Phi-3-mini-4k-instruct"),
            "phi-3-mini-4k"
        );
        assert_eq!(fold_family("Qwen/Qwen2.5-0.5B"), "qwen2.5-0.5b");
        // A name that is only a suffix is not emptied.
        assert_eq!(fold_family("hf"), "hf");
        assert_eq!(fold_family("-it"), "it");
        // Folding is idempotent.
        for name in [
            "meta-llama/Meta-Llama-3-8B",
            "Mistral-7B-Instruct-v0.2",
            "gemma-2-9b-it",
        ] {
            let once = fold_family(name);
            assert_eq!(fold_family(&once), once);
        }
    }

    #[test]
    fn lineage_drops_only_a_size() {
        assert_eq!(family_lineage("llama-3-8b"), "llama-3");
        assert_eq!(family_lineage("qwen2.5-0.5b"), "qwen2.5");
        assert_eq!(family_lineage("mixtral-8x7b"), "mixtral");
        assert_eq!(family_lineage("phi-3-mini-4k"), "phi-3-mini-4k");
        assert_eq!(family_lineage("gpt2"), "gpt2");
    }
}
