//! `completions` and `man`: generated from the same clap definition the binary
//! parses with, so they never drift from it.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// Prints the completion script of `shell`.
pub(super) fn completions(shell: Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "swapmesh", &mut std::io::stdout());
}

/// Writes `swapmesh.1` and one page per subcommand (`swapmesh-listing-add.1`)
/// into `dir`.
pub(super) fn man(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    println!("wrote the man pages into {}", dir.display());
    Ok(())
}
