//! `physedit world`.
use clap::Args;

#[derive(Args, Debug)]
pub struct WorldArgs {}

pub fn run(_args: WorldArgs) -> anyhow::Result<()> {
    anyhow::bail!("`physedit world` is not implemented yet")
}
