//! `embargo` runs a project's security patch release as a declarative pipeline: patch branch from
//! the latest patch tag plus the fix, build, checksum, verify, freeze, and (in later stages)
//! cherry-pick, stage privately and publish at the embargo instant.
//!
//! Data flows one way: CLI -> pipeline -> plan -> stages (through the journal) -> report.

pub mod advisory;
pub mod checksum;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod contract;
pub mod disclosure;
pub mod error;
pub mod failpoint;
pub mod git;
pub mod github;
pub mod journal;
pub mod lock;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod redact;
pub mod report;
pub mod sample;
pub mod sandbox;
pub mod secret;
pub mod stages;
pub mod version;
