//! `embargo` runs a project's security patch release as a declarative pipeline: patch branch from
//! the latest patch tag plus the fix, build, checksum, verify, freeze, and (in later stages)
//! cherry-pick, stage privately and publish at the embargo instant.
//!
//! Data flows one way: CLI -> pipeline -> plan -> stages (through the journal) -> report.

mod actions;
pub mod advisory;
pub mod checksum;
pub mod ci;
pub mod cli;
mod clock;
pub mod commands;
mod contract;
mod disclosure;
pub mod error;
mod failpoint;
pub mod git;
pub mod github;
mod journal;
mod lock;
pub mod pipeline;
mod plan;
mod process;
mod redact;
mod report;
pub mod sample;
pub mod sandbox;
mod secret;
mod stages;
mod version;
