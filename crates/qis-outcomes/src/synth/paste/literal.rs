//! Values written as Python and YAML literals, and the lines of a configuration fragment.

use crate::packet::HyperValue;
use crate::packet::hyper::format_number;

/// A value to write: what every format can say.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    /// An integer.
    Int(i64),
    /// A finite number.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// Text.
    Text(String),
}

impl Lit {
    /// A number, or `None` when it is not finite (never written: `NaN` is no literal).
    pub(crate) fn number(x: f64) -> Option<Lit> {
        x.is_finite().then_some(Lit::Float(x))
    }

    /// A whole number as an integer, else `None` (for fields the libraries type as `int`).
    pub(crate) fn whole(x: f64) -> Option<Lit> {
        (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15).then_some(Lit::Int(x as i64))
    }

    /// A hyperparameter's value as it was synthesised (`None` for a non-finite number).
    pub(crate) fn of(value: &HyperValue) -> Option<Lit> {
        match value {
            HyperValue::Int(i) => Some(Lit::Int(*i)),
            HyperValue::Float(x) => Lit::number(f64::from(*x)),
            HyperValue::Bool(b) => Some(Lit::Bool(*b)),
            HyperValue::Text(s) => Some(Lit::Text(s.clone())),
        }
    }

    /// As Python source: `2e-4`, `16`, `True`, `"cosine"`.
    pub(crate) fn python(&self) -> String {
        match self {
            Lit::Int(i) => i.to_string(),
            // format_number's forms (`2e-4`, `0.05`, `3`, `1.5e6`) are all Python literals.
            Lit::Float(x) => format_number(*x),
            Lit::Bool(true) => "True".into(),
            Lit::Bool(false) => "False".into(),
            Lit::Text(s) => quoted(s),
        }
    }

    /// As a YAML scalar that PyYAML's `safe_load` reads back with the same type: floats always
    /// carry a `.` and a signed exponent (YAML 1.1 reads `2e-4` as text), text is quoted (so
    /// `no`, `on` or `1e3` stay text).
    pub(crate) fn yaml(&self) -> String {
        match self {
            Lit::Int(i) => i.to_string(),
            Lit::Float(x) => yaml_float(*x),
            Lit::Bool(b) => b.to_string(),
            Lit::Text(s) => quoted(s),
        }
    }
}

/// Double-quoted text, valid in Python and YAML alike (backslash and quote escaped).
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn yaml_float(x: f64) -> String {
    let text = format_number(x);
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (text.clone(), None),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exponent {
        Some(e) if e.starts_with('-') || e.starts_with('+') => format!("{mantissa}e{e}"),
        Some(e) => format!("{mantissa}e+{e}"),
        None => mantissa,
    }
}

/// `x` rounded to two significant digits, down (towards minus infinity) or up: bounds people
/// can read (`6.6e-5`, not `6.666667e-5`) that still hold every value they were made from.
pub(crate) fn round_bound(x: f64, up: bool) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(1 - x.abs().log10().floor() as i32);
    let scaled = x * scale;
    // A tiny tolerance so that 0.3 (0.29999…) does not round down to 0.29.
    let rounded = if up {
        (scaled - 1e-9).ceil()
    } else {
        (scaled + 1e-9).floor()
    };
    let back = rounded / scale;
    // Keep the bound on the right side of x whatever the decimal text does.
    let back: f64 = format_number(back).parse().unwrap_or(back);
    if up { back.max(x) } else { back.min(x) }
}

/// One line of a fragment: a setting, or a comment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// `key = value`, with an optional comment after it.
    Set {
        /// The library's name for it.
        key: String,
        /// Its value.
        value: Lit,
        /// Where it came from.
        note: Option<String>,
    },
    /// A comment line.
    Comment(String),
}

impl Item {
    /// A setting.
    pub(crate) fn set(key: &str, value: Lit, note: Option<String>) -> Item {
        Item::Set {
            key: key.to_string(),
            value,
            note,
        }
    }
}

/// The items as Python keyword arguments, one a line, indented by four spaces.
pub(crate) fn python_kwargs(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Item::Set { key, value, note } => {
                out.push_str(&format!("    {key}={},", value.python()));
                if let Some(note) = note {
                    out.push_str(&format!("  # {note}"));
                }
            }
            Item::Comment(text) => out.push_str(&format!("    # {text}")),
        }
        out.push('\n');
    }
    out
}

/// The items as top-level YAML keys.
pub(crate) fn yaml_keys(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Item::Set { key, value, note } => {
                out.push_str(&format!("{key}: {}", value.yaml()));
                if let Some(note) = note {
                    out.push_str(&format!("  # {note}"));
                }
            }
            Item::Comment(text) => out.push_str(&format!("# {text}")),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_numbers_are_short_literals() {
        assert_eq!(Lit::Float(f64::from(2e-4f32)).python(), "2e-4");
        assert_eq!(Lit::Float(0.05).python(), "0.05");
        assert_eq!(Lit::Float(3.0).python(), "3");
        assert_eq!(Lit::Float(1.5e6).python(), "1.5e6");
        assert_eq!(Lit::Bool(true).python(), "True");
        assert_eq!(Lit::Text("a\"b".into()).python(), "\"a\\\"b\"");
        assert_eq!(Lit::number(f64::NAN), None);
        assert_eq!(Lit::number(f64::INFINITY), None);
    }

    #[test]
    fn yaml_floats_read_back_as_floats() {
        assert_eq!(Lit::Float(f64::from(2e-4f32)).yaml(), "2.0e-4");
        assert_eq!(Lit::Float(1.5e-5).yaml(), "1.5e-5");
        assert_eq!(Lit::Float(3.0).yaml(), "3.0");
        assert_eq!(Lit::Float(0.05).yaml(), "0.05");
        assert_eq!(Lit::Float(2e6).yaml(), "2.0e+6");
        assert_eq!(Lit::Text("no".into()).yaml(), "\"no\"");
    }

    #[test]
    fn bounds_round_outwards_to_two_digits() {
        assert_eq!(round_bound(2e-4 / 3.0, false), 6.6e-5);
        assert_eq!(round_bound(6e-4, true), 6e-4);
        assert_eq!(round_bound(0.3, false), 0.3);
        assert_eq!(round_bound(0.123, true), 0.13);
        assert_eq!(round_bound(0.0, true), 0.0);
        for x in [1.234e-7, 0.07, 3.3333, 987.6] {
            assert!(round_bound(x, false) <= x && round_bound(x, true) >= x);
        }
    }

    #[test]
    fn whole_numbers_only_become_integers() {
        assert_eq!(Lit::whole(32.0), Some(Lit::Int(32)));
        assert_eq!(Lit::whole(16.5), None);
        assert_eq!(Lit::whole(f64::NAN), None);
    }
}
