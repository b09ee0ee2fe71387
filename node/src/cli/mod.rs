//! The `swapmesh` command line: `init` and `run`, and client subcommands that talk
//! to the running node's API (and deserialise its typed answers), so the CLI and
//! any page always agree.
//!
//! - `args`: every subcommand and flag ([`Cli`]), with help and examples;
//! - `listings`: `listing`, `want`, `browse`, with pages and short ids;
//! - `photos`: `--photo` uploads, `--remove-photo`, `blob get`;
//! - `agreements`: `agreement propose|list|show|…` and one subcommand per action;
//! - `reviews`: `review add|list|summary`;
//! - `node`: `status`, `peers`, `profile`, `mesh`;
//! - `mail_peers`: `profile mail-peer add|remove|list`; `mailbox`: `mailbox
//!   allow|deny|list|status`, for a home server's operator;
//! - `money`: amounts as people type them; `resolve`: short ids; `pages`: pages;
//! - `text`: what is printed for people; `docs`: completions and man pages.

mod agreements;
mod args;
mod docs;
mod listings;
mod mail_peers;
mod mailbox;
pub(crate) mod money;
mod node;
mod pages;
mod photos;
mod resolve;
mod reviews;
pub(crate) mod text;
mod trust;
mod web;

use std::io::Read;

use anyhow::{Context, bail};
use swapmesh_protocol::listing::Purpose;

pub use args::{
    ActArgs, AddArgs, AgreementCommand, AgreementListArgs, BlobCommand, BrowseArgs, Cli,
    ClientArgs, Command, ConfirmArgs, CounterArgs, ExtendArgs, KeyCommand, LegArgs, ListingCommand,
    MailPeerCommand, MeshCommand, OpenArgs, PageArgs, ProfileCommand, ProposeArgs, ResolveArgs,
    ReviewCommand, RunArgs, TermsArgs, UpdateArgs, WantCommand, WebSessionsCommand,
};

use crate::client::Client;
use crate::data_dir::DataDir;
use crate::identity;
use crate::run;

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let given_dir = cli.data_dir.clone();
    let dir = DataDir::locate(cli.data_dir);
    match cli.command {
        Command::Init { name, area } => {
            run::init(&dir, name.as_deref(), area.as_deref())?;
            println!("initialised {}", dir.path().display());
            Ok(())
        }
        Command::Run(args) => run::run(&dir, &args.raw()).await,
        Command::Key(KeyCommand::Export) => {
            let key = identity::load_key(&dir)?
                .with_context(|| format!("no node key in {}", dir.path().display()))?;
            println!("{}", swapmesh_protocol::keys::to_mnemonic(&key));
            Ok(())
        }
        Command::Key(KeyCommand::Import { words }) => key_import(&dir, words),
        Command::Completions { shell } => {
            docs::completions(shell);
            Ok(())
        }
        Command::Man { dir: out } => docs::man(&out),
        other => {
            tokio::task::spawn_blocking(move || client_command(&dir, given_dir.as_deref(), other))
                .await?
        }
    }
}

fn key_import(dir: &DataDir, words: Vec<String>) -> anyhow::Result<()> {
    let text = if words.is_empty() {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        words.join(" ")
    };
    let key = swapmesh_protocol::keys::from_mnemonic(text.trim())?;
    dir.prepare()?;
    if identity::load_key(dir)?.is_some() {
        bail!(
            "{} already holds a node key; import only into a data directory with no key",
            dir.path().display()
        );
    }
    identity::write_key(dir, &key)?;
    println!(
        "imported key of author {} into {}",
        swapmesh_protocol::signed::author_of(&key),
        dir.path().display()
    );
    Ok(())
}

/// The API client of a client command.
fn client(dir: &DataDir, args: &ClientArgs) -> anyhow::Result<Client> {
    Ok(Client::new(
        dir,
        args.api.as_deref(),
        args.token.as_deref(),
    )?)
}

fn client_command(
    dir: &DataDir,
    given_dir: Option<&std::path::Path>,
    command: Command,
) -> anyhow::Result<()> {
    match command {
        Command::Status(args) => node::status(dir, &args),
        Command::Peers(args) => node::peers(dir, args),
        Command::Listing(ListingCommand::Add(args)) => listings::add(dir, args, Purpose::Offer),
        Command::Want(WantCommand::Add(args)) => listings::add(dir, args, Purpose::Want),
        Command::Listing(ListingCommand::List { page, client }) => {
            listings::list(dir, given_dir, &page, &client)
        }
        Command::Listing(ListingCommand::Show { id, client }) => listings::show(dir, &id, &client),
        Command::Listing(ListingCommand::Update(args)) => listings::update(dir, args),
        Command::Listing(ListingCommand::Withdraw { id, client }) => {
            listings::withdraw(dir, &id, &client)
        }
        Command::Browse(args) => listings::browse(dir, given_dir, &args),
        Command::Profile(command) => node::profile(dir, command),
        Command::Mailbox(command) => mailbox::run(dir, command),
        Command::Mesh(command) => node::mesh(dir, command),
        Command::Agreement(command) => agreements::run(dir, given_dir, command),
        Command::Review(command) => reviews::run(dir, given_dir, command),
        Command::Vouch(command) => trust::vouch(dir, command),
        Command::Trust(args) => trust::show(dir, &args),
        Command::Block(command) => trust::block(dir, command),
        Command::Open(args) => web::open(dir, &args),
        Command::WebSessions(WebSessionsCommand::Revoke { client }) => web::revoke(dir, &client),
        Command::Blob(command) => photos::run(dir, command),
        Command::Init { .. }
        | Command::Run(_)
        | Command::Key(_)
        | Command::Completions { .. }
        | Command::Man { .. } => unreachable!("handled before the client commands"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
