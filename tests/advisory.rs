//! The advisory file: located errors, CVSS scores equal to FIRST's, the affected ranges `plan`
//! shows for the sample project, and the OSV record `run` writes.

use crate::common;

use std::path::{Path, PathBuf};

use common::{Fixture, Run, position};
use embargo::advisory::cvss::{score_v3, score_v4};
use embargo::sample::PIPELINE;

/// A valid advisory for the sample project; tests edit it with [`common::replace_once`].
const ADVISORY: &str = r#"version: 1
summary: "Anonymous access with an expired token"
description: |
  The proxy accepts an expired token as anonymous access.
severity:
  cvss_v3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
  cvss_v4: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"
cwe: [CWE-287]
package: {ecosystem: Go, name: example.org/app}
ghsa_id: null
cve_id: null
received: "2026-11-02"
credits: [{name: Jane Doe, type: finder}]
mitigations: |
  Deny anonymous access at the proxy until you upgrade.
references: ["https://example.org/security"]
people:
  fix_lead: alice
  release_lead: bob
  disclosure_lead: carol
  security_team: [alice, bob, carol]
"#;

/// Writes `advisory` beside the pipeline and a pipeline (the sample's, without GitHub) that
/// names it with `advisory: advisory.yaml`.
fn with_advisory(f: &Fixture, advisory: &str) -> (PathBuf, PathBuf) {
    let file = f.pipeline_named("advisory.yaml", advisory);
    let pipeline = f.pipeline(&format!(
        "{}advisory: advisory.yaml\n",
        common::without_publish(PIPELINE)
    ));
    (pipeline, file)
}

/// `embargo plan` must refuse with exit 2 and an error that starts with `FILE:LINE:COLUMN: `;
/// returns the message after it.
#[track_caller]
fn refused_at(f: &Fixture, advisory: &str, line: usize, column: usize) -> String {
    let (pipeline, file) = with_advisory(f, advisory);
    let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    run.expect(2);
    let first = run.stderr.lines().next().unwrap_or("");
    let prefix = format!("error: {}:{line}:{column}: ", file.display());
    match first.strip_prefix(&prefix) {
        Some(message) => message.to_string(),
        None => panic!("expected `{prefix}...`, got:\n{}", run.stderr),
    }
}

#[test]
fn a_misspelt_key_is_named_with_its_line_and_column() {
    let f = Fixture::new();
    let text = common::replace_once(ADVISORY, &[("received:", "recieved:")]);
    let (line, column) = position(&text, "recieved");
    let message = refused_at(&f, &text, line, column);
    assert!(message.contains("unknown field `recieved`"), "{message}");
}

#[test]
fn a_malformed_vector_names_the_metric_where_it_stands() {
    let f = Fixture::new();
    let text = common::replace_once(ADVISORY, &[("UI:N/S:U", "UI:Q/S:U")]);
    let (line, column) = position(&text, "UI:Q");
    let message = refused_at(&f, &text, line, column);
    assert!(
        message.starts_with("severity.cvss_v3: UI (User Interaction) cannot be `Q`"),
        "{message}"
    );

    // A CVSS 4.0 vector without a base metric: named, at the vector's start (inside the quotes).
    let text = common::replace_once(ADVISORY, &[("AT:N/PR:N", "PR:N")]);
    let (line, column) = position(&text, "CVSS:4.0");
    let message = refused_at(&f, &text, line, column);
    assert!(
        message.contains("AT (Attack Requirements) is missing"),
        "{message}"
    );
}

#[test]
fn a_missing_required_field_is_named() {
    let f = Fixture::new();
    let text = common::replace_once(
        ADVISORY,
        &[("package: {ecosystem: Go, name: example.org/app}\n", "")],
    );
    let (pipeline, file) = with_advisory(&f, &text);
    let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    run.expect(2);
    let first = run.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("error: {}:", file.display())),
        "{}",
        run.stderr
    );
    assert!(first.contains("missing field `package`"), "{}", run.stderr);

    // No vector at all: the severity mapping is named.
    let text = common::replace_once(
        ADVISORY,
        &[
            (
                "  cvss_v3: \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\"\n",
                "",
            ),
            (
                "  cvss_v4: \"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N\"\n",
                "  cvss_v4: null\n",
            ),
        ],
    );
    let (line, column) = position(&text, "cvss_v4: null");
    let message = refused_at(&f, &text, line, column);
    assert!(
        message.starts_with("severity: give a CVSS vector"),
        "{message}"
    );
}

#[test]
fn ids_dates_and_ecosystems_are_checked_where_they_are_written() {
    let f = Fixture::new();
    for (from, to, at, says) in [
        (
            "cve_id: null",
            "cve_id: CVE-26-1",
            "CVE-26-1",
            "is not a CVE id",
        ),
        (
            "ghsa_id: null",
            "ghsa_id: GHSA-abcd-efgh-ijkl",
            "GHSA-abcd",
            "is not a GitHub advisory id",
        ),
        (
            "\"2026-11-02\"",
            "\"2026-13-02\"",
            "\"2026-13-02\"",
            "is not a date",
        ),
        (
            "ecosystem: Go",
            "ecosystem: go",
            "go,",
            "did you mean `Go`?",
        ),
        ("[CWE-287]", "[287]", "287]", "is not a CWE id"),
    ] {
        let text = common::replace_once(ADVISORY, &[(from, to)]);
        let (line, column) = position(&text, at);
        let message = refused_at(&f, &text, line, column);
        assert!(message.contains(says), "{to}: {message}");
    }
}

/// A credit's `login` must be a name GitHub could have given: each mistake is refused where the
/// wrong character stands, before anything is sent (GitHub would refuse the whole draft).
#[test]
fn a_credit_login_github_would_not_take_is_refused_where_it_is_wrong() {
    let f = Fixture::new();
    let long = "a".repeat(40);
    for (login, at, says) in [
        (
            "\"@janedoe\"",
            "@janedoe",
            "write it without the @, as `janedoe`",
        ),
        ("jane.doe", ".doe}", "`.` is not allowed"),
        ("\"jane doe\"", " doe\"", "` ` is not allowed"),
        ("\"-jane\"", "-jane", "it starts with a hyphen"),
        ("jane--doe", "--doe", "two hyphens in a row"),
        ("jane-", "-}", "it ends with a hyphen"),
        (&long[..], "a}", "longer than GitHub's 39 characters"),
        ("\"\"", "\"}", "it is empty"),
    ] {
        let text = common::replace_once(
            ADVISORY,
            &[(
                "{name: Jane Doe, type: finder}",
                &format!("{{name: Jane Doe, type: finder, login: {login}}}"),
            )],
        );
        let (line, column) = position(&text, at);
        let message = refused_at(&f, &text, line, column);
        assert!(
            message.starts_with("credits.login: ") && message.contains(says),
            "{login}: {message}"
        );
    }
}

#[test]
fn a_missing_advisory_file_is_bad_input_naming_it() {
    let f = Fixture::new();
    let pipeline = f.pipeline(&format!(
        "{}advisory: nowhere.yaml\n",
        common::without_publish(PIPELINE)
    ));
    let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    run.expect(2);
    assert!(
        run.stderr.contains("cannot read advisory") && run.stderr.contains("nowhere.yaml"),
        "{}",
        run.stderr
    );
}

/// The affected lines `plan --json` computed, as (line, affected, patched).
fn affected(run: &Run) -> Vec<(String, String, Option<String>)> {
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan --json");
    value["advisory"]["affected"]
        .as_array()
        .expect("advisory.affected")
        .iter()
        .map(|l| {
            (
                l["line"].as_str().unwrap_or("").to_string(),
                l["affected"].as_str().unwrap_or("").to_string(),
                l["patched"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn plan_shows_the_advisory_with_its_scores_and_the_ranges_from_the_tags() {
    let f = Fixture::new();
    let (pipeline, _) = with_advisory(&f, ADVISORY);
    let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    run.expect(0);
    let section: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("  advisory"))
        .take_while(|l| !l.starts_with("  state"))
        .collect();
    let expected = [
        "  advisory         Anonymous access with an expired token (pipelines/advisory.yaml)",
        "    score          7.5 high      CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "                   8.7 high      CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N (CVSS-B)",
        "    threshold      8.7 is 4.0 or above: the release keeps its pace",
        "    CVE            requested at staging",
        "    GHSA           a draft advisory created at staging",
        "    CWE            CWE-287",
        "    package        Go example.org/app",
        "    affected       1.0   >= 1.0.0, < 1.0.2   patched in 1.0.2",
        "                   1.1   >= 1.1.0, <= 1.1.0  no fix in this release",
        "    credits        Jane Doe (finder): in the OSV record and announcements; not on GitHub (no login)",
    ];
    let path = f.work().join("pipelines/advisory.yaml");
    let shown: Vec<String> = section
        .iter()
        .map(|l| l.replace(&path.display().to_string(), "pipelines/advisory.yaml"))
        .collect();
    assert_eq!(shown, expected, "\n{}", run.stdout);

    let json = f.embargo(&["plan", pipeline.to_str().unwrap(), "--json"]);
    json.expect(0);
    assert_eq!(
        affected(&json),
        [
            (
                "1.0".into(),
                ">= 1.0.0, < 1.0.2".into(),
                Some("1.0.2".into())
            ),
            ("1.1".into(), ">= 1.1.0, <= 1.1.0".into(), None),
        ]
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let advisory = &value["advisory"];
    assert_eq!(advisory["scores"][0]["score"], 7.5);
    assert_eq!(advisory["scores"][0]["severity"], "high");
    assert_eq!(advisory["scores"][1]["nomenclature"], "CVSS-B");
    assert_eq!(advisory["may_slow_down"], false);
    assert_eq!(advisory["cve_id"], serde_json::Value::Null);
    // Nothing was written: plan is for review.
    assert!(!f.work().join(".git/embargo").exists());
}

#[test]
fn the_flag_names_the_advisory_and_a_low_score_may_slow_the_release_down() {
    let f = Fixture::new();
    let text = common::replace_once(
        ADVISORY,
        &[
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
            ),
            (
                "  cvss_v4: \"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N\"\n",
                "",
            ),
            ("cve_id: null", "cve_id: CVE-2026-0001"),
        ],
    );
    let file = f.pipeline_named("low.yaml", &text);
    let pipeline = f.default_pipeline();
    let run = f.embargo(&[
        "plan",
        pipeline.to_str().unwrap(),
        "--advisory",
        file.to_str().unwrap(),
    ]);
    run.expect(0);
    for want in [
        "    score          3.1 low       CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
        "    threshold      3.1 is below 4.0 (low): the fix team may slow the release down",
        "    CVE            CVE-2026-0001",
    ] {
        assert!(
            run.stdout.contains(want),
            "missing `{want}` in\n{}",
            run.stdout
        );
    }
}

#[test]
fn end_of_life_lines_are_left_out_and_other_lines_are_affected_without_a_fix() {
    let f = Fixture::new();
    // Line 0.9 has a release branch that `cherry_pick.skip: ["release-0.*"]` marks end of life;
    // line 0.8 has only a tag, so nothing says it is.
    let public = f.sample.public.clone();
    let v100 = f.git_in(&public, &["rev-parse", "v1.0.0^{commit}"]);
    for args in [
        vec!["tag", "v0.9.0", &v100],
        vec!["tag", "v0.9.3", &v100],
        vec!["branch", "release-0.9", &v100],
        vec!["tag", "v0.8.0", &v100],
        vec!["tag", "v0.8.5", &v100],
    ] {
        f.git_in(&public, &args);
    }
    let (pipeline, _) = with_advisory(&f, ADVISORY);
    let json = f.embargo(&["plan", pipeline.to_str().unwrap(), "--json"]);
    json.expect(0);
    assert_eq!(
        affected(&json),
        [
            (
                "1.0".into(),
                ">= 1.0.0, < 1.0.2".into(),
                Some("1.0.2".into())
            ),
            ("1.1".into(), ">= 1.1.0, <= 1.1.0".into(), None),
            ("0.8".into(), ">= 0.8.0, <= 0.8.5".into(), None),
        ]
    );
}

#[test]
fn run_writes_an_osv_record_the_osv_schema_accepts() {
    let f = Fixture::new();
    let text = common::replace_once(ADVISORY, &[("cve_id: null", "cve_id: CVE-2026-0001")]);
    let (pipeline, _) = with_advisory(&f, &text);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(0);
    let path = f.state_dir("v1.0.2").join("osv.json");
    assert!(run.stdout.contains("OSV record"), "{}", run.stdout);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("osv.json")).expect("JSON");
    assert_valid_osv(&record);

    assert_eq!(record["id"], "CVE-2026-0001");
    assert_eq!(record["severity"][0]["type"], "CVSS_V3");
    assert_eq!(record["severity"][1]["type"], "CVSS_V4");
    let released = &record["affected"][0];
    assert_eq!(released["package"]["ecosystem"], "Go");
    assert_eq!(
        released["ranges"][0],
        serde_json::json!({"type": "ECOSYSTEM", "events": [{"introduced": "1.0.0"}, {"fixed": "1.0.2"}]})
    );
    // The GIT range: from the line's first release commit to the frozen release commit.
    let git = &released["ranges"][1];
    assert_eq!(git["type"], "GIT");
    assert_eq!(
        git["events"][0]["introduced"],
        f.git(&["rev-parse", "v1.0.0^{commit}"])
    );
    assert_eq!(
        git["events"][1]["fixed"],
        f.git(&["rev-parse", "v1.0.2^{commit}"])
    );
    assert_eq!(
        record["affected"][1]["ranges"][0],
        serde_json::json!({"type": "ECOSYSTEM", "events": [{"introduced": "1.1.0"}, {"last_affected": "1.1.0"}]})
    );
    assert_eq!(
        record["credits"][0],
        serde_json::json!({"name": "Jane Doe", "type": "FINDER"})
    );

    // A dry run writes it too; without any id the record is named privately, and still valid.
    let f = Fixture::new();
    let (pipeline, _) = with_advisory(&f, ADVISORY);
    // Its kept folder goes into the fixture's own temporary folder, removed with it.
    let tmp = f
        .work()
        .parent()
        .expect("the fixture's folder")
        .to_path_buf();
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap(), "--dry-run", "--keep"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    run.expect(0);
    let folder = run
        .stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("dry run: nothing was written outside ")?
                .strip_suffix(" (kept: --keep)")
        })
        .expect("the dry run names its folder");
    let text = std::fs::read_to_string(Path::new(folder).join("state/osv.json")).expect("osv.json");
    let record: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_valid_osv(&record);
    assert_eq!(record["id"], "x_embargo-security-release-v1.0.2");
}

#[track_caller]
fn assert_valid_osv(record: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/osv-schema.json")).expect("the OSV schema");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the OSV schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "OSV schema violations: {errors:#?}\n{record:#}"
    );
}

/// Scores from the CVSS v3.1 examples document FIRST publishes
/// (https://www.first.org/cvss/v3.1/examples): each example's base vector and base score, plus
/// the vector-string example of the v3.1 specification, section 6 (metrics out of order, with
/// temporal ones, base score 3.8). Transcribed, never computed with the crate.
#[rustfmt::skip]
const CVSS_V3_1: &[(&str, &str, f64)] = &[
    ("CVE-2013-1937 phpMyAdmin reflected XSS", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVE-2013-0375 MySQL stored SQL injection", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
    ("CVE-2014-3566 SSLv3 POODLE", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
    ("CVE-2012-1516 VMware guest to host escape", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
    ("CVE-2009-0783 Apache Tomcat XML parser", "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2),
    ("CVE-2012-0384 Cisco IOS command execution", "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
    ("CVE-2015-1098 Apple iWork denial of service", "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
    ("CVE-2014-0160 OpenSSL Heartbleed", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
    ("CVE-2014-6271 GNU Bash Shellshock", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVE-2008-1447 DNS Kaminsky bug", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8),
    ("CVE-2014-2005 Sophos login screen bypass", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8),
    ("CVE-2010-0467 Joomla directory traversal", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8),
    ("CVE-2012-1342 Cisco access control bypass", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8),
    ("CVE-2013-6014 Juniper proxy ARP denial of service", "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3),
    ("CVE-2014-9253 DokuWiki reflected XSS", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4),
    ("CVE-2009-0658 Adobe Acrobat buffer overflow", "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
    ("CVE-2011-1265 Windows Bluetooth remote code execution", "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8),
    ("CVE-2014-2019 Apple iOS security control bypass", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", 4.6),
    ("CVE-2015-0970 SearchBlox cross-site request forgery", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
    ("CVE-2014-0224 SSL/TLS man in the middle", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4),
    ("CVE-2012-5376 Chrome sandbox bypass", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 9.6),
    ("CVE-2019-7551 Cantemo Portal stored XSS", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H", 9.0),
    ("CVE-2016-1645 Chrome PDFium remote code execution", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
    ("CVE-2016-0128 Badlock", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8),
    ("CVE-2017-5942 WordPress mail plugin reflected XSS", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVE-2018-18913 Opera DLL search order hijacking", "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
    ("CVE-2016-5558 Oracle Outside In remote code execution", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:L", 8.6),
    ("CVE-2016-5729 Lenovo ThinkPwn", "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 8.2),
    ("CVE-2015-2890 failure to lock flash on resume", "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H", 6.0),
    ("CVE-2018-3652 Intel DCI", "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 7.6),
    ("CVE-2019-0884 scripting engine memory corruption", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.5),
    ("specification section 6: the vector-string example", "CVSS:3.1/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X", 3.8),
];

/// Scores FIRST publishes for CVSS 4.0, from two of its sources:
/// - the CVSS v4.0 examples document (https://www.first.org/cvss/v4.0/examples): each example's
///   vector and score (CVSS-B, and CVSS-BT/BE/BTE where the example adds metrics);
/// - the calculator validation reference set of the CVSS SIG, `vectorFiles/reference-scores` in
///   https://github.com/FIRSTdotorg/cvss-resources (entries from its first section: threat and
///   environmental metrics at every severity).
///
/// Transcribed, never computed with the crate.
#[rustfmt::skip]
const CVSS_V4_0: &[(&str, f64)] = &[
    // The examples document.
    ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.3),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.7),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", 5.2),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N", 8.3),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/CR:H/IR:L/AR:L/MAV:N/MAC:H/MVC:H/MVI:L/MVA:L", 8.1),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 4.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 5.1),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 6.9),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:N/SA:N", 5.9),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 9.4),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:H/SA:N/S:P/V:D", 8.3),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N/E:A", 8.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A", 10.0),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A", 9.3),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H", 6.4),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/R:I", 9.3),
    ("CVSS:4.0/AV:L/AC:L/AT:P/PR:H/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/R:I", 8.7),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 8.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 7.1),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 8.2),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:L", 8.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:L/E:U", 6.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 5.1),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.7),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", 8.3),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/E:U", 5.6),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A", 9.2),
    ("CVSS:4.0/AV:P/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 5.4),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 8.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 6.9),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N", 6.9),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P", 8.5),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/S:P/AU:Y/V:C/RE:L", 9.4),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:L/IR:H/AR:L/MAV:L/MAC:H/MAT:N/MPR:N/MUI:N/MVC:N/MVI:H/MVA:L/MSC:N/MSI:S/MSA:L", 7.0),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MAV:A/MAC:H/MAT:N/MPR:L/MUI:N/MVC:L/MVI:H/MVA:H/MSC:L/MSI:S/MSA:S/CR:L/IR:H/AR:H/E:P", 7.4),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MAV:N/MAC:H/MAT:N/MPR:L/MUI:N/MVC:H/MVI:H/MVA:H/MSC:H/MSI:S/MSA:H/CR:M/IR:H/AR:M/E:P", 8.7),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/S:P", 8.6),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/MSI:S/S:P", 9.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/V:C", 8.7),
    // The CVSS SIG's reference set.
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A/CR:H/IR:H/AR:H/MSI:S/MSA:S", 10.0),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:H/IR:H/AR:H/MSI:S/MSA:S", 9.8),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/AR:H/MSI:S/MSA:S", 9.5),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:H/IR:H/AR:H", 9.3),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:P/CR:H/IR:H/AR:H", 8.9),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:M/AR:M", 6.8),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:M/AR:M", 5.3),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:H/SC:L/SI:L/SA:L/E:U/CR:M/IR:H/AR:M", 3.0),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/AR:H", 2.7),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:U/CR:H/IR:H/AR:H", 1.7),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/AR:H", 7.7),
    ("CVSS:4.0/AV:A/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U/CR:H/IR:H/AR:H", 6.1),
];

/// The severity FIRST's rating scale gives a score (both specifications, the same table).
fn rating(score: f64) -> &'static str {
    match score {
        0.0 => "none",
        s if s < 4.0 => "low",
        s if s < 7.0 => "medium",
        s if s < 9.0 => "high",
        _ => "critical",
    }
}

#[test]
fn cvss_3_1_scores_equal_firsts_published_scores() {
    assert!(CVSS_V3_1.len() >= 30);
    let wrong: Vec<String> = CVSS_V3_1
        .iter()
        .filter_map(|(name, vector, published)| match score_v3(vector) {
            Ok(s) if s.score == *published && s.severity == rating(*published) => None,
            Ok(s) => Some(format!(
                "{name}: {vector}: {} {} (FIRST: {published})",
                s.score, s.severity
            )),
            Err(e) => Some(format!("{name}: {vector}: {}", e.message)),
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn cvss_4_0_scores_equal_firsts_published_scores() {
    assert!(CVSS_V4_0.len() >= 30);
    let wrong: Vec<String> = CVSS_V4_0
        .iter()
        .filter_map(|(vector, published)| match score_v4(vector) {
            Ok(s) if s.score == *published && s.severity == rating(*published) => None,
            Ok(s) => Some(format!(
                "{vector}: {} {} (FIRST: {published})",
                s.score, s.severity
            )),
            Err(e) => Some(format!("{vector}: {}", e.message)),
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_committed_advisory_schema_accepts_the_documented_example() {
    // The example advisory of this file is what README documents; the schema must take it.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/advisory.schema.json")).expect("schema");
    let value: serde_json::Value = serde_saphyr_to_json(ADVISORY);
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// YAML text as JSON, through the library's own reader (it accepts the advisory).
fn serde_saphyr_to_json(text: &str) -> serde_json::Value {
    let advisory = embargo::advisory::parse(Path::new("advisory.yaml"), text).expect("valid");
    assert_eq!(advisory.summary, "Anonymous access with an expired token");
    serde_saphyr::from_str(text).expect("YAML")
}

/// A value that goes into a message header (the announcement's subject names the package) with
/// a line break in it could add a header of its own: refused where it is written.
#[test]
fn a_package_name_or_credit_with_a_line_break_is_refused_where_it_is_written() {
    let f = Fixture::new();
    for (from, to, at) in [
        (
            "name: example.org/app}",
            "name: \"example.org/app\\r\\nBcc: all@example.org\"}",
            "\"example.org/app\\r",
        ),
        ("{name: Jane Doe,", "{name: \"Jane\\rDoe\",", "\"Jane\\r"),
    ] {
        let text = common::replace_once(ADVISORY, &[(from, to)]);
        let (line, column) = position(&text, at);
        let message = refused_at(&f, &text, line, column);
        assert!(message.contains("one line of text"), "{message}");
    }
}
