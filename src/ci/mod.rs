//! Running a release on GitHub Actions: the workflow `embargo ci generate` writes, and the
//! conventions the runner follows inside a job (annotations, the step summary, outputs, the
//! refusal to run in a public repository).

pub mod actions;
pub mod workflow;
