//! CVSS scores with the RustSec `cvss` crate: the score and severity FIRST's calculator gives for a
//! vector, and a wrong vector named by the metric that is wrong and where it stands in the text.

use std::str::FromStr;

use serde::Serialize;

/// The process's threshold: below it, the fix team may slow the release down.
pub const SLOW_DOWN_BELOW: f64 = 4.0;

/// A vector with its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// `3.1`, `3.0` or `4.0`.
    pub version: &'static str,
    /// The vector as the crate writes it back (metrics in the specification's order).
    pub vector: String,
    /// For CVSS 3.x the base score; for 4.0 the score of every metric given (CVSS-B when only
    /// the base metrics are).
    pub score: f64,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub severity: &'static str,
    /// CVSS 4.0's name for which metrics the score counts: `CVSS-B`, `CVSS-BT`, `CVSS-BE`, `CVSS-BTE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature: Option<String>,
}

/// A vector the crate refuses, or one it would score without a base metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorError {
    /// Where in the vector's text the fault is (a byte offset), when it has a place.
    pub offset: usize,
    pub message: String,
}

/// Scores a CVSS 3.x vector (`CVSS:3.1/...` or `CVSS:3.0/...`): its base score.
pub fn score_v3(text: &str) -> Result<Scored, VectorError> {
    let vector = cvss::v3::Vector::from_str(text).map_err(|e| explain(text, &e, "3.1"))?;
    // The crate scores a missing base metric as its lowest weight; FIRST's calculator gives no
    // score at all without every base metric, so neither does this.
    use cvss::v3::MetricType as M;
    let present = [
        (M::AV, vector.av.is_some()),
        (M::AC, vector.ac.is_some()),
        (M::PR, vector.pr.is_some()),
        (M::UI, vector.ui.is_some()),
        (M::S, vector.s.is_some()),
        (M::C, vector.c.is_some()),
        (M::I, vector.i.is_some()),
        (M::A, vector.a.is_some()),
    ];
    if let Some((missing, _)) = present.iter().find(|(_, here)| !here) {
        return Err(VectorError {
            offset: 0,
            message: format!(
                "the base metric {} ({}) is missing; a CVSS 3.x vector names all eight: AV, AC, PR, UI, S, C, I, A",
                missing.name(),
                missing.description()
            ),
        });
    }
    let score = vector.base_score();
    Ok(Scored {
        version: if vector.minor_version == 0 {
            "3.0"
        } else {
            "3.1"
        },
        vector: vector.to_string(),
        score: one_decimal(score.value()),
        severity: score.severity().as_str(),
        nomenclature: None,
    })
}

/// Scores a CVSS 4.0 vector.
pub fn score_v4(text: &str) -> Result<Scored, VectorError> {
    let vector = cvss::v4::Vector::from_str(text).map_err(|e| explain(text, &e, "4.0"))?;
    let score = vector.score();
    let severity = score.clone().severity().as_str();
    Ok(Scored {
        version: "4.0",
        vector: vector.to_string(),
        score: one_decimal(score.value()),
        severity,
        nomenclature: Some(vector.nomenclature().to_string()),
    })
}

/// Whether the process lets the fix team slow the release down: every score given is below 4.0
/// (severity low or none). One vector at 4.0 or above is enough to keep the pace.
pub fn may_slow_down(scores: &[&Scored]) -> bool {
    !scores.is_empty() && scores.iter().all(|s| s.score < SLOW_DOWN_BELOW)
}

/// Scores are tenths; the crate's arithmetic may leave a trailing binary fraction.
fn one_decimal(score: f64) -> f64 {
    (score * 10.0).round() / 10.0
}

/// The crate's error in the advisory's words, with the place of the metric it names.
fn explain(text: &str, error: &cvss::Error, version: &str) -> VectorError {
    use cvss::Error as E;
    let at = |offset: Option<usize>, message: String| VectorError {
        offset: offset.unwrap_or(0),
        message,
    };
    match error {
        E::InvalidMetricV3 { metric_type, value } => at(
            component(text, metric_type.name(), 1),
            format!(
                "{} ({}) cannot be `{value}`",
                metric_type.name(),
                metric_type.description()
            ),
        ),
        E::InvalidMetricV4 { metric_type, value } => at(
            component(text, metric_type.name(), 1),
            format!(
                "{} ({}) cannot be `{value}`",
                metric_type.name(),
                metric_type.description()
            ),
        ),
        E::DuplicateMetricV3 { metric_type } => at(
            component(text, metric_type.name(), 2),
            format!(
                "{} ({}) is given twice",
                metric_type.name(),
                metric_type.description()
            ),
        ),
        E::DuplicateMetricV4 { metric_type } => at(
            component(text, metric_type.name(), 2),
            format!(
                "{} ({}) is given twice",
                metric_type.name(),
                metric_type.description()
            ),
        ),
        E::MissingMandatoryMetricV4 { metric_type } => at(
            None,
            format!(
                "the base metric {} ({}) is missing; a CVSS 4.0 vector names all eleven: AV, AC, AT, PR, UI, VC, VI, VA, SC, SI, SA",
                metric_type.name(),
                metric_type.description()
            ),
        ),
        E::UnknownMetric { name } => at(
            component(text, name, 1),
            format!("`{name}` is not a CVSS {version} metric"),
        ),
        E::InvalidComponent { component: part } => at(
            text.find(part.as_str()).filter(|_| !part.is_empty()),
            if part.is_empty() {
                "an empty part (`//`, or `/` at the end); write METRIC:VALUE parts separated by `/`"
                    .to_string()
            } else {
                format!("`{part}` is not a METRIC:VALUE part")
            },
        ),
        E::InvalidPrefix { .. } | E::UnsupportedVersion { .. } => at(
            None,
            format!("a CVSS {version} vector starts with `CVSS:{version}/`"),
        ),
        other => at(None, other.to_string()),
    }
}

/// The byte offset of the `nth` (1-based) `NAME:VALUE` part named `name`, compared as the crate
/// compares it (ignoring case).
fn component(text: &str, name: &str, nth: usize) -> Option<usize> {
    let mut offset = 0;
    let mut seen = 0;
    for part in text.split('/') {
        let id = part.split(':').next().unwrap_or("");
        if offset > 0 && id.eq_ignore_ascii_case(name) {
            seen += 1;
            if seen == nth {
                return Some(offset);
            }
        }
        offset += part.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_value_names_the_metric_and_where_it_is() {
        let text = "CVSS:3.1/AV:N/AC:L/PR:N/UI:Q/S:U/C:H/I:H/A:N";
        let e = score_v3(text).unwrap_err();
        assert_eq!(&text[e.offset..e.offset + 4], "UI:Q", "{e:?}");
        assert!(e.message.contains("UI (User Interaction)"), "{}", e.message);
        assert!(e.message.contains("`Q`"), "{}", e.message);
    }

    #[test]
    fn a_missing_base_metric_is_refused_though_the_crate_would_score_it() {
        let e = score_v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
        assert!(e.message.contains("A (Availability"), "{}", e.message);
        let e = score_v4("CVSS:4.0/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N").unwrap_err();
        assert!(e.message.contains("AC (Attack Complexity"), "{}", e.message);
    }

    #[test]
    fn duplicates_unknown_metrics_and_prefixes_are_named() {
        let text = "CVSS:3.1/AV:N/AC:L/AV:L/PR:N/UI:N/S:U/C:H/I:H/A:N";
        let e = score_v3(text).unwrap_err();
        assert_eq!(&text[e.offset..e.offset + 4], "AV:L");
        let text = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/XX:Y";
        let e = score_v4(text).unwrap_err();
        assert_eq!(&text[e.offset..], "XX:Y");
        assert!(e.message.contains("not a CVSS 4.0 metric"), "{}", e.message);
        let e = score_v3("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N")
            .unwrap_err();
        assert!(
            e.message.contains("starts with `CVSS:3.1/`"),
            "{}",
            e.message
        );
        let e = score_v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N/").unwrap_err();
        assert!(e.message.contains("empty part"), "{}", e.message);
    }

    #[test]
    fn the_release_may_slow_down_only_when_every_score_is_below_four() {
        let low = score_v3("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N").unwrap();
        let four = score_v3("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:N").unwrap();
        assert_eq!(low.score, 3.1);
        assert_eq!(low.severity, "low");
        assert!(four.score >= 4.0, "{four:?}");
        assert!(may_slow_down(&[&low]));
        assert!(!may_slow_down(&[&low, &four]));
        assert!(!may_slow_down(&[]));
    }
}
