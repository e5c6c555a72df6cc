//! `physedit cost`.
use clap::Args;

#[derive(Args, Debug)]
pub struct CostArgs {}

pub fn run(_args: CostArgs) -> anyhow::Result<()> {
    anyhow::bail!("`physedit cost` is not implemented yet")
}
