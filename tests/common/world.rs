//! A sample project and a fake GitHub, with the real binary run against both.

#![allow(dead_code)]

use std::path::PathBuf;

use crate::common::{Fixture, Run};
use crate::fake_github::{self, FakeGitHub};

pub const UPLOAD: &str = "POST /repos/{owner}/{repo}/releases/{release_id}/assets";
pub const ARTIFACT: &str = "app-linux-amd64.tar.gz";

pub struct World {
    pub f: Fixture,
    pub gh: FakeGitHub,
    pub pipeline: PathBuf,
}

pub fn embargo_in(seconds: i64) -> String {
    let at = jiff::Timestamp::now().as_second() + seconds;
    jiff::Timestamp::from_second(at).unwrap().to_string()
}

impl World {
    pub fn new() -> World {
        let f = Fixture::new();
        let gh = FakeGitHub::start();
        let pipeline = f.sample_pipeline();
        World { f, gh, pipeline }
    }

    /// The sample with a security advisory: `pipelines/advisory.yaml`, named by the pipeline.
    pub fn with_advisory() -> World {
        let f = Fixture::new();
        let gh = FakeGitHub::start();
        // No CVE yet: staging asks GitHub to request one.
        f.pipeline_named(
            "advisory.yaml",
            &crate::common::ADVISORY.replace("cve_id: CVE-2026-0001", "cve_id: null"),
        );
        let pipeline = f.pipeline(&format!(
            "{}\nadvisory: advisory.yaml\n",
            embargo::sample::PIPELINE
        ));
        World { f, gh, pipeline }
    }

    pub fn p(&self) -> &str {
        self.pipeline.to_str().unwrap()
    }

    pub fn embargo(&self, args: &[&str]) -> Run {
        self.embargo_env(args, &[])
    }

    /// With more environment variables (a crash point, say).
    pub fn embargo_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let api = self.gh.api_url();
        let mut env = vec![
            ("GITHUB_TOKEN", self.gh.token()),
            ("EMBARGO_GITHUB_API_URL", api.as_str()),
            ("EMBARGO_GITHUB_RETRY_BASE_MS", "20"),
        ];
        env.extend_from_slice(extra);
        self.f.embargo_env(args, &env)
    }

    /// `embargo ARGS` as a command, with the sample's and the fake's environment.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"));
        command
            .args(args)
            .current_dir(self.f.work())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.f.sample.env.iter().map(|(k, v)| (k, v)))
            .env("GITHUB_TOKEN", self.gh.token())
            .env("EMBARGO_GITHUB_API_URL", self.gh.api_url());
        command
    }

    /// Starts `embargo ARGS` without waiting for it (its output is discarded).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting embargo")
    }

    /// Everything a release leaves behind that must not depend on how often it was interrupted:
    /// the refs of both remotes, the releases with their assets, the pull requests.
    pub fn end_state(&self) -> String {
        let refs = |dir: &std::path::Path| {
            self.f
                .git_in(dir, &["for-each-ref", "--format=%(objectname) %(refname)"])
        };
        let mut releases: Vec<String> = self
            .gh
            .releases()
            .iter()
            .map(|r| {
                // By name: assets are uploaded a few at a time, so GitHub's order is the order
                // in which they finished.
                let mut assets: Vec<String> = r
                    .assets
                    .iter()
                    .map(|a| format!("{} {} {} {}", a.name, a.state, a.size, a.sha256))
                    .collect();
                assets.sort();
                format!(
                    "release {} draft={} latest={:?} assets=[{}]",
                    r.tag_name,
                    r.draft,
                    r.make_latest,
                    assets.join(", ")
                )
            })
            .collect();
        releases.sort();
        let mut pulls: Vec<String> = self
            .gh
            .pulls()
            .iter()
            .map(|p| {
                format!(
                    "pull {} -> {} {} {:?}",
                    p.head_ref, p.base, p.state, p.title
                )
            })
            .collect();
        pulls.sort();
        let advisories: Vec<String> = self
            .gh
            .advisories()
            .iter()
            .map(|a| {
                format!(
                    "advisory {} {} cve_requested={} {}",
                    a.state, a.summary, a.cve_requested, a.vulnerabilities
                )
            })
            .collect();
        // Refs of a push in the making, left in the clone: a `git push --mirror` would send them.
        let pushes = self.f.git_in(
            &self.f.sample.work,
            &["for-each-ref", "--format=%(refname)", "refs/embargo/"],
        );
        format!(
            "public:\n{}\nprivate:\n{}\nleft in the clone:\n{pushes}\n{}\n{}\n{}\n",
            refs(&self.f.sample.public),
            refs(&self.f.sample.private),
            releases.join("\n"),
            pulls.join("\n"),
            advisories.join("\n")
        )
    }

    pub fn dist(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.f.state_dir("v1.0.2").join("dist").join(name)).unwrap()
    }

    pub fn sha(&self, name: &str) -> String {
        embargo::checksum::sha256_file(&self.f.state_dir("v1.0.2").join("dist").join(name))
            .unwrap()
            .sha256
    }

    #[track_caller]
    pub fn no_violations(&self) {
        let v = self.gh.violations();
        assert!(
            v.is_empty(),
            "requests or responses that GitHub's API description does not allow:\n{}",
            v.join("\n")
        );
    }

    /// Exactly one release for v1.0.2, with exactly one copy of each asset, all the built bytes.
    #[track_caller]
    pub fn one_release_with_the_built_assets(&self) -> fake_github::Release {
        let releases = self.gh.releases_with_tag("v1.0.2");
        assert_eq!(releases.len(), 1, "{releases:#?}");
        let release = releases.into_iter().next().unwrap();
        let names: Vec<&str> = release.assets.iter().map(|a| a.name.as_str()).collect();
        // With an advisory, its OSV record from the state folder is attached too.
        let osv = std::fs::read(self.f.state_dir("v1.0.2").join("osv.json")).ok();
        assert_eq!(names.len(), 2 + usize::from(osv.is_some()), "{names:?}");
        for name in [ARTIFACT, "SHA256SUMS"] {
            let asset = release
                .asset(name)
                .unwrap_or_else(|| panic!("no {name} in {names:?}"));
            assert_eq!(asset.state, "uploaded");
            assert_eq!(asset.sha256, self.sha(name), "{name}");
            assert_eq!(asset.bytes().unwrap(), self.dist(name).as_slice());
        }
        if let Some(osv) = osv {
            let asset = release
                .asset("osv.json")
                .unwrap_or_else(|| panic!("no osv.json in {names:?}"));
            assert_eq!(asset.state, "uploaded");
            assert_eq!(asset.bytes().unwrap(), osv.as_slice());
        }
        release
    }
}
