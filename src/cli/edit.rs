//! `physedit edit`.
use clap::Args;

#[derive(Args, Debug)]
pub struct EditArgs {}

pub fn run(_args: EditArgs) -> anyhow::Result<()> {
    anyhow::bail!("`physedit edit` is not implemented yet")
}
