//! Reading the YAML files a release lead writes (the pipeline, the advisory): the size limit, UTF-8
//! with the bad byte located, serde-saphyr's strict options, and its errors turned into
//! [`PipelineError`]s that name the file, line and column. Both formats are read the same way, so
//! a mistake reads the same whichever file it is in.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::PipelineError;
use crate::error::Error;

/// The largest file read: a pipeline or an advisory is a page of YAML, not a data set.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The text of `file`. `what` names the format in messages ("pipeline", "advisory"); `hint` says
/// what to give instead when the file cannot be read.
pub fn read_text(file: &Path, what: &str, hint: &str) -> Result<String, Error> {
    let meta = std::fs::metadata(file).map_err(|e| {
        Error::bad_input(format!("cannot read {what} {}: {e}", file.display())).with_hint(hint)
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::bad_input(format!(
            "{}: the file is {} bytes; a {what} may be at most {MAX_FILE_BYTES} bytes",
            file.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| Error::bad_input(format!("cannot read {what} {}: {e}", file.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        // Locate the bad byte like every other error in the file: line and column (characters).
        let valid = e.utf8_error().valid_up_to();
        let before = std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or_default();
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Error::from(PipelineError {
            file: file.to_path_buf(),
            line: before.matches('\n').count() as u64 + 1,
            column: before[line_start..].chars().count() as u64 + 1,
            message: format!(
                "the file is not UTF-8 (invalid byte 0x{:02x} at offset {valid}); save it as UTF-8",
                e.as_bytes()[valid]
            ),
        })
    })
}

/// Parses `text` into the wire type `T` with the options every embargo file is read with: a
/// budget against hostile input, YAML 1.2 booleans, duplicate keys refused.
pub fn parse<T: DeserializeOwned>(file: &Path, text: &str, what: &str) -> Result<T, PipelineError> {
    let options = serde_saphyr::options! {
        budget: Some(serde_saphyr::Budget::default()),
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        // An error met through an alias (`*name`) wraps the error itself.
        let mut cause = &e;
        while let serde_saphyr::Error::AliasError { error, .. }
        | serde_saphyr::Error::WithSnippet { error, .. } = cause
        {
            cause = error;
        }
        PipelineError {
            file: file.to_path_buf(),
            line,
            column,
            message: match cause {
                // serde-saphyr's own wording tells the reader to change its parser options.
                serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => {
                    format!("duplicate key `{key}`: a key may appear only once in a mapping")
                }
                serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => {
                    "duplicate key: a key may appear only once in a mapping".to_string()
                }
                // These three tell the reader to change Rust types or parser options.
                serde_saphyr::Error::NullIntoString { .. } => {
                    "a value is missing here (nothing, `~` or `null` where text belongs)"
                        .to_string()
                }
                serde_saphyr::Error::MultipleDocuments { .. } => format!(
                    "a second YAML document (after a `---` line); a {what} is a single document"
                ),
                serde_saphyr::Error::BinaryNotUtf8 { .. } => {
                    "this !!binary value is not UTF-8 text; write the value as plain text"
                        .to_string()
                }
                // Its wording is a Rust debug dump (`budget breached: Nodes { nodes: 250001 }`).
                serde_saphyr::Error::Budget { breach, .. } => format!(
                    "the YAML exceeds a limit of the reader ({}): a {what} is a page \
                     of YAML, without deep nesting or aliases that expand to a large document",
                    breach_words(breach)
                ),
                _ => clean_yaml_message(&e.to_string()),
            },
        }
    })
}

/// Which limit of the reader a document went over, in words.
fn breach_words(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Events { events } => format!("{events} YAML events"),
        B::Aliases { aliases } => format!("{aliases} aliases (`*name`)"),
        B::Anchors { anchors } => format!("{anchors} anchors (`&name`)"),
        B::Depth { depth } => format!("nested {depth} levels deep"),
        B::Documents { documents } => format!("{documents} documents"),
        B::Nodes { nodes } => format!("{nodes} values"),
        B::ScalarBytes { total_scalar_bytes } => {
            format!("{total_scalar_bytes} bytes of text in its values")
        }
        B::MergeKeys { merge_keys } => format!("{merge_keys} merge keys (`<<`)"),
        B::AliasAnchorRatio { aliases, anchors } => {
            format!("{aliases} aliases of {anchors} anchors")
        }
        B::InputBytes { input_bytes } => format!("{input_bytes} bytes"),
        _ => "its structure".to_string(),
    }
}

/// serde-saphyr appends its own " at line X, column Y", and for an error met through an alias
/// " (defined at line X, column Y) (used at line X, column Y)"; the place of the error is already
/// in our prefix, the place of the anchor is kept.
fn clean_yaml_message(message: &str) -> String {
    let mut text = message.lines().next().unwrap_or(message).trim();
    if let Some(i) = text.rfind(" (used at line ")
        && is_line_column(&text[i + " (used at line ".len()..], ")")
    {
        text = &text[..i];
    }
    let mut defined = "";
    if let Some(i) = text.rfind(" (defined at line ")
        && is_line_column(&text[i + " (defined at line ".len()..], ")")
    {
        defined = &text[i..];
        text = &text[..i];
    }
    if let Some(i) = text.rfind(" at line ")
        && is_line_column(&text[i + " at line ".len()..], "")
    {
        text = &text[..i];
    }
    let text = text.trim_start_matches("error: ");
    // The scanner quotes a character TeX-style (`x'); every other message quotes as `x`.
    if let Some(character) = text
        .strip_prefix("unexpected character: `")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return format!("unexpected character: `{character}`{defined}");
    }
    format!("{text}{defined}")
}

/// Whether `rest` is exactly `N, column M` and then `close`.
fn is_line_column(rest: &str, close: &str) -> bool {
    let Some((line, column)) = rest
        .strip_suffix(close)
        .and_then(|r| r.split_once(", column "))
    else {
        return false;
    };
    [line, column]
        .iter()
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
