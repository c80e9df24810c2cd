//! `--config FILE`: a TOML file of a subcommand's settings, keyed by the long names of its
//! flags (`listen = "0.0.0.0:4000"`, `bootstrap = ["a.example:4000"]`, `no-rate-limit =
//! true`). A flag given on the command line wins over the file's key of the same name.
//!
//! The keys are read off the subcommand's clap definition, not a copy of it, so a new flag is
//! a new key without more code, and each value goes through the flag's own parser. The file's
//! settings become flags appended to the command line (`--name=value`, which keeps a value
//! starting with `-` a value), skipping every flag the command line gave itself; a list flag
//! on the command line replaces the file's list rather than adding to it.

use super::CliError;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use std::any::TypeId;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The flag that names the file; a subcommand that takes it has an argument of this id.
pub(super) const CONFIG_ARG: &str = "config";

/// Keys a file may not set: the file itself, and what only makes sense typed.
const NOT_IN_A_FILE: [&str; 3] = [CONFIG_ARG, "help", "version"];

/// The largest configuration file read (a node's settings are a few hundred bytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// What a flag takes, as a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Integer,
    Float,
    Text,
}

impl Scalar {
    /// The value type a flag's parser produces, as TOML writes it.
    fn of(arg: &clap::Arg) -> Scalar {
        let produced = arg.get_value_parser().type_id();
        let integers = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
        ];
        if integers.iter().any(|t| produced == *t) {
            Scalar::Integer
        } else if produced == TypeId::of::<f64>() || produced == TypeId::of::<f32>() {
            Scalar::Float
        } else {
            Scalar::Text
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scalar::Integer => "an integer",
            Scalar::Float => "a number",
            Scalar::Text => "a string",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Scalar::Integer => "integers",
            Scalar::Float => "numbers",
            Scalar::Text => "strings",
        }
    }

    /// `value` as the flag's text, if it has this type.
    fn text(self, value: &toml::Value) -> Option<String> {
        match (self, value) {
            (Scalar::Integer | Scalar::Float, toml::Value::Integer(n)) => Some(n.to_string()),
            (Scalar::Float, toml::Value::Float(x)) => Some(x.to_string()),
            (Scalar::Text, toml::Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

/// The TOML type of `value`, as an error names it.
fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The command line to parse instead of `argv`, and the file, if its subcommand was given
/// `--config`: the file's settings appended as flags, except those the command line gave. `matches` is `argv`
/// parsed once by `command`. Every error is bad input, one line naming the file and the key.
pub(super) fn merged_command_line(
    command: &Command,
    argv: &[OsString],
    matches: &ArgMatches,
) -> Result<Option<(Vec<OsString>, PathBuf)>, CliError> {
    let Some((name, sub_matches)) = matches.subcommand() else {
        return Ok(None);
    };
    let Some(sub) = command.find_subcommand(name) else {
        return Ok(None);
    };
    if !sub.get_arguments().any(|a| a.get_id() == CONFIG_ARG) {
        return Ok(None);
    }
    let Some(path) = sub_matches.get_one::<PathBuf>(CONFIG_ARG) else {
        return Ok(None);
    };
    let table = read_table(path)?;
    let flags = file_flags(sub, sub_matches, &table)
        .map_err(|why| CliError::Input(format!("--config {}: {why}", path.display())))?;
    let mut merged = argv.to_vec();
    merged.extend(flags);
    Ok(Some((merged, path.clone())))
}

/// Reads and parses `path` as TOML.
fn read_table(path: &Path) -> Result<toml::Table, CliError> {
    let bad = |why: String| CliError::Input(format!("--config {}: {why}", path.display()));
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(bad(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map_or(String::new(), |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: ")
        });
        bad(format!(
            "not valid TOML: {at}{}",
            e.message().trim().replace('\n', "; ")
        ))
    })
}

/// The flags `table` sets that the command line did not, checked one key at a time.
fn file_flags(
    sub: &Command,
    sub_matches: &ArgMatches,
    table: &toml::Table,
) -> Result<Vec<OsString>, String> {
    let mut flags = Vec::new();
    for (key, value) in table {
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !NOT_IN_A_FILE.contains(&key.as_str()))
            .ok_or_else(|| unknown_key(sub, key))?;
        let texts = values_of(arg, key, value)?;
        // Checked against the flag's own parser even when the command line overrides it: a
        // file that is wrong should say so now, not on the day the flag is dropped. (A switch
        // has nothing to check, and alone it may lack a flag it requires.)
        if arg.get_action().takes_values() {
            let mut check = vec![OsString::from(sub.get_name())];
            check.extend(texts.iter().map(|t| flag(key, t)));
            if let Err(error) = sub.clone().try_get_matches_from(check) {
                let why = std::error::Error::source(&error)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| one_line(&error));
                return Err(format!("{key} = {value}: {why}"));
            }
        }
        let given =
            sub_matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine);
        if !given {
            flags.extend(texts.iter().map(|t| flag(key, t)));
        }
    }
    Ok(flags)
}

/// `--key` or `--key=value`.
fn flag(key: &str, text: &Option<String>) -> OsString {
    match text {
        None => OsString::from(format!("--{key}")),
        Some(text) => OsString::from(format!("--{key}={text}")),
    }
}

/// The values `value` gives flag `arg`: `None` for a switch that is on, nothing for one that
/// is off.
fn values_of(
    arg: &clap::Arg,
    key: &str,
    value: &toml::Value,
) -> Result<Vec<Option<String>>, String> {
    let wrong = |expected: &str| {
        format!(
            "{key}: expected {expected}, found {} ({key} = {value})",
            type_name(value)
        )
    };
    match arg.get_action() {
        ArgAction::SetTrue => match value {
            toml::Value::Boolean(true) => Ok(vec![None]),
            toml::Value::Boolean(false) => Ok(vec![]),
            _ => Err(wrong("a boolean (true or false)")),
        },
        ArgAction::Append => {
            let scalar = Scalar::of(arg);
            let expected = format!("an array of {}", scalar.plural());
            let toml::Value::Array(items) = value else {
                return Err(wrong(&expected));
            };
            items
                .iter()
                .map(|item| scalar.text(item).map(Some).ok_or_else(|| wrong(&expected)))
                .collect()
        }
        ArgAction::Set => {
            let scalar = Scalar::of(arg);
            scalar
                .text(value)
                .map(|t| vec![Some(t)])
                .ok_or_else(|| wrong(scalar.name()))
        }
        _ => Err(format!("{key} cannot be set in a file")),
    }
}

/// The error for a key that is no flag of `sub`, with the keys there are.
fn unknown_key(sub: &Command, key: &str) -> String {
    let keys: Vec<&str> = sub
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|long| !NOT_IN_A_FILE.contains(long))
        .collect();
    let hint = if NOT_IN_A_FILE.contains(&key) {
        format!("`{key}` cannot be set in a file")
    } else if let Some(near) = keys.iter().find(|k| **k == key.replace('_', "-")) {
        format!("unknown key `{key}` (did you mean `{near}`?)")
    } else {
        format!("unknown key `{key}`")
    };
    format!(
        "{hint}; the keys are the long flags of `qis {}`: {}",
        sub.get_name(),
        keys.join(", ")
    )
}

/// A clap error on one line: its message without the `error: ` prefix, the usage and the
/// hint to try `--help`.
pub(super) fn one_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty())
        .collect();
    let line = parts.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The flags a file adds to `qis node <given>`, or its error.
    fn added(file: &str, given: &[&str]) -> Result<Vec<String>, String> {
        let command = super::super::Cli::command();
        let mut argv = vec!["qis", "node", "--config", "node.toml"];
        argv.extend(given);
        let matches = command.clone().try_get_matches_from(&argv).unwrap();
        let (_, sub_matches) = matches.subcommand().unwrap();
        let table: toml::Table = file.parse().unwrap();
        let sub = command.find_subcommand("node").unwrap();
        file_flags(sub, sub_matches, &table).map(|flags| {
            flags
                .into_iter()
                .map(|f| f.into_string().unwrap())
                .collect()
        })
    }

    #[test]
    fn a_file_sets_what_the_command_line_does_not() {
        let file = r#"
            listen = "0.0.0.0:4000"
            bootstrap = ["a.example:4000", "b.example:4000"]
            status-every = 300
            no-rate-limit = true
            metrics-public = false
            port-mapping = true
        "#;
        assert_eq!(
            added(file, &[]).unwrap(),
            [
                "--listen=0.0.0.0:4000",
                "--bootstrap=a.example:4000",
                "--bootstrap=b.example:4000",
                "--status-every=300",
                "--no-rate-limit",
                "--port-mapping",
            ]
        );
    }

    #[test]
    fn flags_win_over_the_file_and_a_list_flag_replaces_the_list() {
        let file = r#"
            listen = "0.0.0.0:4000"
            bootstrap = ["a.example:4000", "b.example:4000"]
            status-every = 300
        "#;
        let given = ["--listen", "127.0.0.1:0", "--bootstrap", "c.example:1"];
        assert_eq!(added(file, &given).unwrap(), ["--status-every=300"]);
        // A flag given its default value explicitly still wins.
        assert_eq!(
            added("status-every = 300", &["--status-every", "30"]).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_merged_command_line_parses_with_the_files_values() {
        let command = super::super::Cli::command();
        let dir = std::env::temp_dir().join(format!("qis-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.toml");
        std::fs::write(&path, "max-per-ip = 7\nnetwork = \"demo\"\n").unwrap();
        let argv: Vec<OsString> = ["qis", "node", "--config", path.to_str().unwrap()]
            .iter()
            .map(OsString::from)
            .chain([OsString::from("--network"), OsString::from("other")])
            .collect();
        let matches = command.clone().try_get_matches_from(&argv).unwrap();
        let (merged, _) = merged_command_line(&command, &argv, &matches)
            .unwrap()
            .unwrap();
        let matches = command.try_get_matches_from(merged).unwrap();
        let (_, node) = matches.subcommand().unwrap();
        assert_eq!(node.get_one::<usize>("max_per_ip"), Some(&7));
        assert_eq!(node.get_one::<String>("network").unwrap(), "other");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let error = added("listne = \"x\"", &[]).unwrap_err();
        assert!(error.starts_with("unknown key `listne`"), "{error}");
        assert!(error.contains("listen, bootstrap"), "{error}");
        let error = added("data_dir = \"x\"", &[]).unwrap_err();
        assert!(error.contains("did you mean `data-dir`?"), "{error}");
        for key in ["config", "help", "version"] {
            let error = added(&format!("{key} = \"x\""), &[]).unwrap_err();
            assert!(error.contains("cannot be set in a file"), "{error}");
        }
        assert!(added("[node]\nlisten = \"x\"", &[]).is_err());
    }

    #[test]
    fn wrong_types_name_the_key_and_the_type_expected() {
        let cases = [
            (
                "status-every = \"30\"",
                "status-every: expected an integer, found a string",
            ),
            (
                "listen = 4000",
                "listen: expected a string, found an integer",
            ),
            (
                "bootstrap = \"a:1\"",
                "bootstrap: expected an array of strings, found a string",
            ),
            (
                "bootstrap = [1]",
                "bootstrap: expected an array of strings, found an array",
            ),
            (
                "no-rate-limit = 1",
                "no-rate-limit: expected a boolean (true or false), found an integer",
            ),
            (
                "id-difficulty = 300",
                "id-difficulty = 300: 300 is not in 0..=255",
            ),
            ("max-per-ip = -1", "max-per-ip = -1:"),
            (
                "metrics = \"1.2.3\"",
                "metrics = \"1.2.3\": invalid socket address syntax",
            ),
        ];
        for (file, want) in cases {
            let error = added(file, &[]).unwrap_err();
            assert!(error.starts_with(want), "{file}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        // Checked even where the command line overrides it.
        assert!(added("status-every = \"30\"", &["--status-every", "5"]).is_err());
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let dir = std::env::temp_dir().join(format!("qis-config-syntax-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.toml");
        std::fs::write(&path, "network = \"demo\"\nlisten = \"127.0.0.1:4000\n").unwrap();
        let error = read_table(&path).unwrap_err().to_string();
        assert!(error.contains("not valid TOML: line 2, column"), "{error}");
        assert!(!error.contains('\n'), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
