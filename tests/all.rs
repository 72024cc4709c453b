//! Every integration test, in one binary: the support modules (the sample project, the fake
//! GitHub and SMTP servers, the snapshot helper) are compiled once, and the tests of all files
//! share both cores.

mod common;
#[path = "common/fake_github.rs"]
mod fake_github;
#[path = "common/fake_smtp.rs"]
mod fake_smtp;
#[path = "common/world.rs"]
mod world;

mod advisory;
mod advisory_release;
mod announce;
mod bad_input;
mod ci;
mod contract;
mod crash;
mod disclosure;
#[path = "fake_github.rs"]
mod fake_github_checks;
mod fanout;
mod github;
mod hostile;
mod init;
mod instant;
mod isolation;
mod lines;
mod onboarding;
mod picks;
mod retrospective;
mod run;
mod smtp_tls;
mod snapshots;
mod team_access;
