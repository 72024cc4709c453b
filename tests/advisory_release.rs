//! The advisory as the release carries it: the OSV record attached to the draft as an asset and
//! read back like every other, fixed once staged.

use crate::world;

use std::time::Duration;

use world::{UPLOAD, World, embargo_in};

const OSV: &str = "osv.json";

fn osv_file(w: &World) -> Vec<u8> {
    std::fs::read(w.f.state_dir("v1.0.2").join(OSV)).expect("osv.json in the state folder")
}

fn json(run: &crate::common::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The staging actions that upload the OSV record.
fn osv_uploads(actions: &serde_json::Value) -> Vec<serde_json::Value> {
    actions
        .as_array()
        .expect("a list of actions")
        .iter()
        .filter(|a| a["action"] == "upload" && a["name"] == OSV)
        .cloned()
        .collect()
}

/// The dry run previews the upload of the OSV record with the SHA-256 the run then uploads; the
/// draft holds the very bytes of the state folder's `osv.json`; the manifest records them; and
/// publishing reads the record back with the other assets.
#[test]
fn the_osv_record_is_previewed_uploaded_with_the_state_folders_bytes_and_read_back() {
    let w = World::with_advisory();
    let dry = w.embargo(&["run", w.p(), "--dry-run", "--json", "--embargo", "now"]);
    dry.expect(0);
    let dry = json(&dry);
    let previewed = osv_uploads(&dry["actions"]["stage"]);
    assert_eq!(previewed.len(), 1, "{:#}", dry["actions"]["stage"]);
    assert!(
        dry["actions"]["publish"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "read-back"
                && a["assets"].as_array().unwrap().iter().any(|n| n == OSV)),
        "{:#}",
        dry["actions"]["publish"]
    );
    let text = w.embargo(&["run", w.p(), "--dry-run", "--embargo", "now"]);
    text.expect(0);
    assert!(
        text.stdout.contains(&format!(
            "POST <upload_url>?name={OSV}  {} bytes, sha256 {}",
            previewed[0]["size"],
            previewed[0]["sha256"].as_str().unwrap()
        )),
        "{}",
        text.stdout
    );
    assert!(w.gh.releases().is_empty(), "the dry run made a release");

    let run = w.embargo(&["run", w.p(), "--json", "--embargo", "now"]);
    run.expect(0);
    let run = json(&run);
    assert_eq!(osv_uploads(&run["staged"]["actions"]), previewed);
    let bytes = osv_file(&w);
    assert_eq!(
        previewed[0]["sha256"],
        embargo::checksum::sha256_bytes(&bytes)
    );
    assert_eq!(previewed[0]["size"], bytes.len());
    let release = &w.gh.releases_with_tag("v1.0.2")[0];
    assert!(release.draft);
    let asset = release.asset(OSV).expect("osv.json on the draft");
    assert_eq!(asset.state, "uploaded");
    assert_eq!(asset.bytes().expect("kept"), bytes.as_slice());
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(w.f.state_dir("v1.0.2").join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["osv"]["sha256"], previewed[0]["sha256"]);
    let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(record["summary"], "Anonymous access with an expired token");

    let publish = w.embargo(&["publish", w.p(), "--if-due", "--json"]);
    publish.expect(0);
    let published = json(&publish);
    assert!(
        published["assets_verified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == OSV),
        "{published:#}"
    );
    assert_eq!(
        w.gh.releases_with_tag("v1.0.2")[0]
            .asset(OSV)
            .unwrap()
            .bytes()
            .unwrap(),
        bytes.as_slice()
    );
    w.no_violations();
}

/// Once staged, the record is what was uploaded: a later run (with the advisory file edited
/// meanwhile) neither writes the file again nor uploads anything.
#[test]
fn a_run_after_staging_leaves_the_uploaded_osv_record_as_it_is() {
    let w = World::with_advisory();
    let at = embargo_in(3600);
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(0);
    let path = w.f.state_dir("v1.0.2").join(OSV);
    let before = osv_file(&w);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let uploads = w.gh.requests_for(UPLOAD).len();

    let advisory = w.f.work().join("pipelines/advisory.yaml");
    let text = std::fs::read_to_string(&advisory).unwrap();
    std::fs::write(
        &advisory,
        text.replace(
            "Anonymous access with an expired token",
            "Anonymous access with any expired token",
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // The edit itself is refused (the draft says otherwise); kept, the record stays as uploaded.
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(2);
    let again = w.embargo(&["run", w.p(), "--embargo", &at, "--keep-staged"]);
    again.expect(0);
    assert_eq!(osv_file(&w), before);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified,
        "osv.json was written again"
    );
    assert_eq!(w.gh.requests_for(UPLOAD).len(), uploads, "uploaded again");
    let release = &w.gh.releases_with_tag("v1.0.2")[0];
    assert_eq!(
        release.asset(OSV).unwrap().bytes().unwrap(),
        before.as_slice()
    );
}

/// A crash right after the record was uploaded, before staging was journaled: the rerun writes
/// the same bytes (the record is dated by the release commit, not the clock), finds them on the
/// draft and uploads nothing twice.
#[test]
fn a_crash_after_uploading_the_osv_record_resumes_without_a_second_upload() {
    let w = World::with_advisory();
    let at = embargo_in(3600);
    let crashed = w.embargo_env(
        &["run", w.p(), "--embargo", &at],
        &[("EMBARGO_TEST_CRASH_AT", "upload:after:osv.json")],
    );
    assert_ne!(crashed.code, 0, "the crash point was not reached");
    let before = osv_file(&w);
    let osv_uploads = |w: &World| {
        w.gh.requests_for(UPLOAD)
            .iter()
            .filter(|r| r.query_param("name") == Some(OSV))
            .count()
    };
    assert_eq!(osv_uploads(&w), 1);
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(0);
    assert_eq!(osv_file(&w), before);
    assert_eq!(osv_uploads(&w), 1, "osv.json was uploaded twice");
    let release = &w.gh.releases_with_tag("v1.0.2")[0];
    assert_eq!(
        release.asset(OSV).unwrap().bytes().unwrap(),
        before.as_slice()
    );
    w.no_violations();
}

/// Someone replaces the record on the draft before the instant: publishing refuses with exit 3
/// and nothing goes public, whether GitHub gives a digest or the asset has to be downloaded.
#[test]
fn an_osv_record_replaced_on_the_draft_stops_publish_with_exit_3() {
    for digests in [true, false] {
        let w = World::with_advisory();
        if !digests {
            w.gh.without_digests();
        }
        w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
        let release = w.gh.releases_with_tag("v1.0.2")[0].clone();
        let mut forged: serde_json::Value = serde_json::from_slice(&osv_file(&w)).unwrap();
        forged["affected"] = serde_json::json!([]);
        w.gh.replace_asset_bytes(
            release.id,
            OSV,
            &serde_json::to_vec_pretty(&forged).unwrap(),
        );
        let publish = w.embargo(&["publish", w.p(), "--if-due"]);
        publish.expect(3);
        assert!(
            publish.stderr.contains(OSV),
            "digests={digests}: {}",
            publish.stderr
        );
        assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
        assert!(
            w.f.git_in(&w.f.sample.public, &["tag", "--list", "v1.0.2"])
                .is_empty(),
            "the tag went public"
        );
        assert_eq!(w.gh.advisories()[0].state, "draft");
    }
}

/// The state folder's record changed after staging (edited, or replaced): a rerun and publish
/// both refuse with exit 3 instead of carrying on with a record that is not the one uploaded.
#[test]
fn an_osv_record_changed_in_the_state_folder_after_staging_is_refused() {
    let w = World::with_advisory();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let path = w.f.state_dir("v1.0.2").join(OSV);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replace("\"1.0.2\"", "\"1.0.3\"");
    std::fs::write(&path, text).unwrap();
    let run = w.embargo(&["run", w.p(), "--embargo", "now"]);
    run.expect(3);
    assert!(
        run.stderr
            .contains("the OSV record staged onto the release"),
        "{}",
        run.stderr
    );
    let publish = w.embargo(&["publish", w.p(), "--if-due"]);
    publish.expect(3);
    assert!(
        publish
            .stderr
            .contains("the OSV record staged onto the release"),
        "{}",
        publish.stderr
    );
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
}

/// A built file named like the record would be one asset name for two files: refused with
/// exit 2 before anything is staged.
#[test]
fn a_built_file_named_osv_json_is_refused_before_staging() {
    let w = World::with_advisory();
    let text = std::fs::read_to_string(&w.pipeline).unwrap();
    std::fs::write(
        &w.pipeline,
        text.replace("checksums: SHA256SUMS", "checksums: osv.json"),
    )
    .unwrap();
    let run = w.embargo(&["run", w.p(), "--embargo", "now"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("the built file osv.json has the name of the advisory's OSV record"),
        "{}",
        run.stderr
    );
    assert!(w.gh.releases().is_empty(), "a draft was made");
    assert!(
        w.f.git_in(&w.f.sample.private, &["tag", "--list", "v1.0.2"])
            .is_empty(),
        "the release was pushed"
    );
}

const CREATE_ADVISORY: &str = "POST /repos/{owner}/{repo}/security-advisories";

/// GitHub credits users, the advisory file names people: a credit with a `login` goes onto
/// GitHub's draft as `{login, type}`, one without stays in the OSV record (and announcements);
/// `plan` and the dry run say which is which, and the body GitHub receives is the one previewed.
#[test]
fn credits_with_a_login_go_to_github_and_the_others_stay_in_the_osv_record() {
    let w = World::with_advisory();
    let file = w.f.work().join("pipelines/advisory.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let credits = "credits: [{name: Jane Doe, type: finder, login: janedoe}, {name: A. Reporter, type: reporter}]";
    assert!(text.contains("credits: [{name: Jane Doe, type: finder}]"));
    std::fs::write(
        &file,
        text.replace("credits: [{name: Jane Doe, type: finder}]", credits),
    )
    .unwrap();

    let plan = w.embargo(&["plan", w.p()]);
    plan.expect(0);
    for line in [
        "    credits        Jane Doe (finder): on GitHub as janedoe, in the OSV record and announcements",
        "                   A. Reporter (reporter): in the OSV record and announcements; not on GitHub (no login)",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    let plan = w.embargo(&["plan", w.p(), "--json"]);
    plan.expect(0);
    let plan = json(&plan);
    assert_eq!(
        plan["advisory"]["credits"],
        serde_json::json!([
            {"name": "Jane Doe", "type": "finder", "login": "janedoe", "github": true},
            {"name": "A. Reporter", "type": "reporter", "login": null, "github": false},
        ])
    );

    let dry = w.embargo(&["run", w.p(), "--dry-run", "--embargo", "now"]);
    dry.expect(0);
    assert!(
        dry.stdout.contains("    credits=janedoe (finder)\n"),
        "{}",
        dry.stdout
    );
    let dry = w.embargo(&["run", w.p(), "--dry-run", "--json", "--embargo", "now"]);
    dry.expect(0);
    let dry = json(&dry);
    let drafted = dry["actions"]["stage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "draft-advisory")
        .expect("a draft-advisory action")
        .clone();
    let sent_credits = serde_json::json!([{"login": "janedoe", "type": "finder"}]);
    assert_eq!(drafted["advisory"]["credits"], sent_credits);

    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let created = w.gh.requests_for(CREATE_ADVISORY);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].json.as_ref().unwrap()["credits"], sent_credits);
    assert_eq!(w.gh.advisories()[0].credits, sent_credits);
    let record: serde_json::Value = serde_json::from_slice(&osv_file(&w)).unwrap();
    assert_eq!(
        record["credits"],
        serde_json::json!([
            {"name": "Jane Doe", "type": "FINDER", "contact": ["https://github.com/janedoe"]},
            {"name": "A. Reporter", "type": "REPORTER"},
        ])
    );
    w.no_violations();
}

/// Without any login, no `credits` key is sent at all: an empty list would wipe the credits a
/// maintainer gave by hand on a draft named by `ghsa_id`.
#[test]
fn credits_without_a_login_send_no_credits_to_github() {
    let w = World::with_advisory();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let created = w.gh.requests_for(CREATE_ADVISORY);
    assert_eq!(created.len(), 1);
    let body = created[0].json.as_ref().unwrap();
    assert!(body.get("summary").is_some(), "{body:#}");
    assert!(body.get("credits").is_none(), "{body:#}");
}

const ADVISORY_FILE: &str = "pipelines/advisory.yaml";

fn edit_advisory(w: &World, edits: &[(&str, &str)]) {
    let file = w.f.work().join(ADVISORY_FILE);
    let mut text = std::fs::read_to_string(&file).unwrap();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "`{from}` in\n{text}");
        text = text.replace(from, to);
    }
    std::fs::write(&file, text).unwrap();
}

fn nothing_public(w: &World) {
    assert!(
        w.gh.releases_with_tag("v1.0.2")[0].draft,
        "the release was published"
    );
    assert_eq!(
        w.gh.advisories()[0].state,
        "draft",
        "the advisory was published"
    );
    assert!(
        w.f.git_in(&w.f.sample.public, &["tag", "--list", "v1.0.2"])
            .is_empty(),
        "the tag went public"
    );
}

/// The advisory file edited after staging: the draft on GitHub says otherwise, and the draft is
/// what becomes public. `publish` refuses with exit 2 naming each change, publishes nothing, and
/// goes on only with `--keep-staged` (journaled), publishing the draft as staged.
#[test]
fn an_advisory_edited_after_staging_stops_publish_naming_each_change() {
    let w = World::with_advisory();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let staged_summary = w.gh.advisories()[0].summary.clone();
    edit_advisory(
        &w,
        &[
            (
                "summary: \"Anonymous access with an expired token\"",
                "summary: \"Anonymous access with any token\"",
            ),
            ("The proxy accepts", "The proxy still accepts"),
            ("cwe: [CWE-287]", "cwe: [CWE-287, CWE-613]"),
            ("type: finder}", "type: finder, login: janedoe}"),
        ],
    );
    let publish = w.embargo(&["publish", w.p(), "--if-due"]);
    publish.expect(2);
    for says in [
        "the pipeline no longer matches what v1.0.2 was started from",
        "advisory summary: recorded \"Anonymous access with an expired token\"; now \"Anonymous access with any token\"",
        "advisory description: recorded fingerprint ",
        "advisory cwe: recorded [CWE-287]; now [CWE-287, CWE-613]",
        "advisory credits: recorded [Jane Doe (finder)]; now [Jane Doe (finder, GitHub janedoe)]",
        "--keep-staged",
    ] {
        assert!(publish.stderr.contains(says), "{says}\n{}", publish.stderr);
    }
    assert!(
        !publish.stderr.contains("advisory severity"),
        "{}",
        publish.stderr
    );
    nothing_public(&w);

    let kept = w.embargo(&["publish", w.p(), "--if-due", "--keep-staged"]);
    kept.expect(0);
    assert!(
        kept.stderr
            .contains("--keep-staged: going on with what was recorded"),
        "{}",
        kept.stderr
    );
    let advisory = &w.gh.advisories()[0];
    assert_eq!(advisory.state, "published");
    assert_eq!(advisory.summary, staged_summary, "the draft was rewritten");
    assert!(!w.gh.releases_with_tag("v1.0.2")[0].draft, "not published");
    let journal = std::fs::read_to_string(w.f.state_dir("v1.0.2").join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("advisory summary"),
        "the acceptance was not journaled"
    );
    w.no_violations();
}

/// The pipeline no longer names the advisory: the staged draft advisory would still be
/// published, so that is a change to name, too; and an advisory given for a release staged
/// without one would not be.
#[test]
fn an_advisory_dropped_or_added_after_staging_is_named() {
    let w = World::with_advisory();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let pipeline = std::fs::read_to_string(&w.pipeline).unwrap();
    std::fs::write(
        &w.pipeline,
        pipeline.replace("advisory: advisory.yaml\n", ""),
    )
    .unwrap();
    let publish = w.embargo(&["publish", w.p(), "--if-due"]);
    publish.expect(2);
    assert!(
        publish.stderr.contains("advisory: recorded a draft advisory staged with the release; now no advisory file given"),
        "{}",
        publish.stderr
    );
    nothing_public(&w);

    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.f.pipeline_named("advisory.yaml", crate::common::ADVISORY);
    let pipeline = std::fs::read_to_string(&w.pipeline).unwrap();
    std::fs::write(
        &w.pipeline,
        format!("{pipeline}\nadvisory: advisory.yaml\n"),
    )
    .unwrap();
    let publish = w.embargo(&["publish", w.p(), "--if-due"]);
    publish.expect(2);
    assert!(
        publish.stderr.contains(
            "advisory: recorded staged without an advisory; now an advisory file is given"
        ),
        "{}",
        publish.stderr
    );
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft);
}

/// What is read again when it is used (mitigations, people, the date received) and comments
/// may change after staging: publishing goes ahead.
#[test]
fn an_advisory_edited_only_where_it_is_read_when_used_publishes() {
    let w = World::with_advisory();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let file = w.f.work().join(ADVISORY_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = format!("# reviewed by the disclosure lead\n{text}").replace(
        "Deny anonymous access at the proxy",
        "Block anonymous access at the proxy",
    );
    assert_ne!(edited, format!("# reviewed by the disclosure lead\n{text}"));
    std::fs::write(&file, edited).unwrap();
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert_eq!(w.gh.advisories()[0].state, "published");
}
