//! `qis recommend --format`: the recommendation as a table, as JSON, or as a fragment to paste
//! into a training library's configuration (rules in `qis_outcomes`' `synth::paste`).

use super::common::CliError;
use qis_outcomes::{PasteFormat, Recommendation, Trace, paste};

/// What `qis recommend` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum OutputFormat {
    /// A table for people (the default).
    Table,
    /// One JSON object for tools (what --json prints).
    Json,
    /// peft.LoraConfig(...) keyword arguments (Python).
    Peft,
    /// An axolotl YAML fragment.
    Axolotl,
    /// A TRL config (SFTConfig, DPOConfig, ...) as Python keyword arguments.
    Trl,
    /// An Optuna search space around the recommendation (Python).
    Optuna,
}

impl OutputFormat {
    /// The library fragment this format is, if it is one.
    pub(super) fn paste(self) -> Option<PasteFormat> {
        match self {
            OutputFormat::Table | OutputFormat::Json => None,
            OutputFormat::Peft => Some(PasteFormat::Peft),
            OutputFormat::Axolotl => Some(PasteFormat::Axolotl),
            OutputFormat::Trl => Some(PasteFormat::Trl),
            OutputFormat::Optuna => Some(PasteFormat::Optuna),
        }
    }
}

/// The format asked for: `--format`, else `--json` (an alias of `--format json`), else the
/// table; `--json` with another `--format` is refused rather than one of them ignored.
pub(super) fn chosen(format: Option<OutputFormat>, json: bool) -> Result<OutputFormat, CliError> {
    match (format, json) {
        (Some(OutputFormat::Json) | None, true) => Ok(OutputFormat::Json),
        (Some(other), true) => Err(CliError::Input(format!(
            "--json is --format json: give one of --json and --format {}",
            clap::ValueEnum::to_possible_value(&other)
                .map_or_else(String::new, |v| v.get_name().to_string())
        ))),
        (Some(format), false) => Ok(format),
        (None, false) => Ok(OutputFormat::Table),
    }
}

/// The fragment for `format`, or why there is none (printed on stderr, exit code 1).
pub(super) fn fragment(
    format: PasteFormat,
    rec: &Recommendation,
    trace: &Trace,
) -> Result<String, CliError> {
    paste(format, rec, trace).map_err(|e| CliError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_an_alias_that_never_overrides_another_format() {
        assert_eq!(chosen(None, false).unwrap(), OutputFormat::Table);
        assert_eq!(chosen(None, true).unwrap(), OutputFormat::Json);
        assert_eq!(
            chosen(Some(OutputFormat::Json), true).unwrap(),
            OutputFormat::Json
        );
        assert_eq!(
            chosen(Some(OutputFormat::Peft), false).unwrap(),
            OutputFormat::Peft
        );
        let err = chosen(Some(OutputFormat::Optuna), true).unwrap_err();
        assert!(err.to_string().contains("--format optuna"), "{err}");
    }
}
