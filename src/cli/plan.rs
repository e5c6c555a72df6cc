//! `physedit plan`.
use clap::Args;

#[derive(Args, Debug)]
pub struct PlanArgs {}

pub fn run(_args: PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!("`physedit plan` is not implemented yet")
}
