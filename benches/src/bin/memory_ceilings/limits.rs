//! What this process changes about itself before it starts anything: the open-files limit
//! (which the proxies inherit) and the core it runs on.

use anyhow::{Context, bail};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::Pid;

/// Raises the soft open-files limit to the hard one, and the hard one to `needed` if it is
/// lower (root may); returns the new soft limit. The proxies started afterwards inherit it.
pub fn raise_open_files(needed: u64) -> anyhow::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    let target = hard.max(needed);
    if soft < target {
        setrlimit(Resource::RLIMIT_NOFILE, target, target).with_context(|| {
            format!(
                "cannot raise the open-files limit from {soft} (hard {hard}) to {target}: run \
                 as root or raise `ulimit -n`"
            )
        })?;
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft < needed {
        bail!("the open-files limit is {soft}, the loads need {needed}");
    }
    Ok(soft)
}

/// Runs this process (the clients) on `core` only.
pub fn pin_to(core: usize) -> anyhow::Result<()> {
    let mut set = CpuSet::new();
    set.set(core)
        .with_context(|| format!("no core {core} in a CPU set"))?;
    sched_setaffinity(Pid::from_raw(0), &set).with_context(|| format!("cannot pin to core {core}"))
}
