//! `physedit card`.
use clap::Args;

#[derive(Args, Debug)]
pub struct CardArgs {}

pub fn run(_args: CardArgs) -> anyhow::Result<()> {
    anyhow::bail!("`physedit card` is not implemented yet")
}
