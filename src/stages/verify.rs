//! Stage 3: the binaries must actually run. Each check runs in a fresh scratch folder with the
//! artifacts' folder in `$EMBARGO_DIST`; its standard output must contain `expect_stdout`.
//!
//! The scratch folders are in a private temporary folder outside the clone, removed afterwards.
//! In the sandbox the artifacts are visible read-only, and the state folder not at all.

use super::build::{ConfigWatch, fresh_dir, private_folder, run_job, sandbox, step_job};
use super::{Context, Prepared, Verified};
use crate::error::Error;

pub fn run(ctx: &Context<'_>, prepared: &Prepared) -> Result<Verified, Error> {
    let log = ctx.state_dir().join("verify.log");
    let work = private_folder("verify")?;
    let mut sandbox = sandbox(ctx, work.path());
    let dist = match &mut sandbox {
        Some(sandbox) if sandbox.namespaces => {
            let seen = work.path().join("dist");
            fresh_dir(&seen)?;
            sandbox.read_only.push((ctx.dist_dir(), seen.clone()));
            seen
        }
        _ => ctx.dist_dir(),
    };
    let mut passed = Vec::new();
    for (i, check) in ctx.pipeline.verify.iter().enumerate() {
        let scratch = work
            .path()
            .join(format!("{}-{}", i + 1, sanitize(&check.step.name)));
        fresh_dir(&scratch)?;
        let extra = vec![
            ("EMBARGO_DIST".to_string(), dist.display().to_string()),
            ("EMBARGO_SCRATCH".to_string(), scratch.display().to_string()),
        ];
        let mut job = step_job(
            ctx,
            &check.step,
            &scratch,
            &log,
            &prepared.release_commit,
            &extra,
        );
        job.sandbox = sandbox.clone();
        let watch = ConfigWatch::new(ctx);
        let outcome = run_job(ctx, &job);
        watch.check(&check.step.name)?;
        let outcome = outcome?;
        if let Some(expect) = &check.expect_stdout {
            let wanted = expect.expand(|v| ctx.plan.value(v, Some(&prepared.release_commit)));
            if !outcome.stdout.contains(&wanted) {
                let shown: String = outcome.stdout.chars().take(500).collect();
                return Err(Error::stage_failed(format!(
                    "check `{}`: its output does not contain `{wanted}`; it printed:\n    | {}",
                    check.step.name,
                    if shown.trim().is_empty() {
                        "(nothing)".to_string()
                    } else {
                        shown.trim_end().replace('\n', "\n    | ")
                    }
                ))
                .with_hint(format!(
                    "the built binaries do not report what was released; the whole output is in {}",
                    log.display()
                )));
            }
        }
        passed.push(check.step.name.clone());
    }
    drop(work);
    Ok(Verified {
        checks: passed,
        spec: crate::contract::checks_fingerprint(ctx.pipeline),
    })
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Stage 3: the checks run against the built artifacts.
pub struct Verify<'a> {
    pub prepared: &'a Prepared,
}

impl super::Step for Verify<'_> {
    const STAGE: crate::journal::Stage = crate::journal::Stage::Verify;
    const RESUMED: &'static str = "checks passed on these artifacts";
    type Output = Verified;

    fn run(&self, ctx: &Context<'_>) -> Result<Verified, Error> {
        run(ctx, self.prepared)
    }

    fn summary(&self, _ctx: &Context<'_>, v: &Verified) -> String {
        format!("{} check(s) passed", v.checks.len())
    }
}
