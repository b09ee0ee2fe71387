//! `profile mail-peer add|remove|list`: the nodes your profile names as
//! keeping mail for you (issue 26). Each change reads your profile, changes
//! only its `mail_peers` and publishes it whole, so the name, bio and contact
//! stay as they were.

use anyhow::bail;

use super::args::{MAX_MAIL_PEERS, MailPeerCommand};
use super::client;
use super::text::print_as;
use crate::api::ErrorCode;
use crate::api::json::{NodeJson, ProfileInput, ProfileJson};
use crate::client::{Client, ClientError};
use crate::data_dir::DataDir;

/// What to tell someone who has no profile yet.
const NO_PROFILE: &str = "you have no profile yet: publish one with `swapmesh profile set --name NAME` first, then name your mail peers";

/// Runs a `profile mail-peer` subcommand.
pub(super) fn run(dir: &DataDir, command: MailPeerCommand) -> anyhow::Result<()> {
    match command {
        MailPeerCommand::Add { key, client: args } => {
            let c = client(dir, &args)?;
            let Some(current) = my_profile(&c)? else {
                bail!(NO_PROFILE);
            };
            let key = key.to_string();
            if current.mail_peers.contains(&key) {
                print_as(args.json, &current, |_| {
                    println!("{key} is already one of your mail peers");
                });
                return Ok(());
            }
            if current.mail_peers.len() >= MAX_MAIL_PEERS {
                bail!(
                    "your profile already names {MAX_MAIL_PEERS} mail peers, and a profile names at most {MAX_MAIL_PEERS}: remove one first (`swapmesh profile mail-peer remove KEY`)"
                );
            }
            let mut peers = current.mail_peers.clone();
            peers.push(key.clone());
            let out = publish(&c, current, peers)?;
            print_as(args.json, &out, |p| {
                println!(
                    "added mail peer {key} (profile version {}; {} of {MAX_MAIL_PEERS})",
                    p.version,
                    p.mail_peers.len()
                );
            });
        }
        MailPeerCommand::Remove { key, client: args } => {
            let c = client(dir, &args)?;
            let key = key.to_string();
            let Some(current) = my_profile(&c)? else {
                bail!("{key} is not one of your mail peers ({NO_PROFILE})");
            };
            if !current.mail_peers.contains(&key) {
                bail!(
                    "{key} is not one of your mail peers (`swapmesh profile mail-peer list` shows them)"
                );
            }
            let peers = current
                .mail_peers
                .iter()
                .filter(|k| **k != key)
                .cloned()
                .collect();
            let out = publish(&c, current, peers)?;
            print_as(args.json, &out, |p| {
                println!("removed mail peer {key} (profile version {})", p.version);
            });
        }
        MailPeerCommand::List { client: args } => {
            let c = client(dir, &args)?;
            match my_profile(&c)? {
                Some(current) => print_as(args.json, &current, |p| {
                    if p.mail_peers.is_empty() {
                        println!("no mail peers");
                    }
                    for k in &p.mail_peers {
                        println!("{k}");
                    }
                }),
                // `--json` prints the profile, and there is none to print.
                None if args.json => bail!(NO_PROFILE),
                None => println!("no mail peers (you have no profile yet)"),
            }
        }
    }
    Ok(())
}

/// Your profile as your node holds it, or `None` before you publish one.
fn my_profile(c: &Client) -> anyhow::Result<Option<ProfileJson>> {
    let me = c.get::<NodeJson>("/node")?.author;
    match c.get::<ProfileJson>(&format!("/profile/{me}")) {
        Ok(p) => Ok(Some(p)),
        Err(ClientError::Api {
            code: Some(ErrorCode::ProfileNotFound),
            ..
        }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Publishes `current` with `mail_peers` in place of its own.
fn publish(
    c: &Client,
    current: ProfileJson,
    mail_peers: Vec<String>,
) -> anyhow::Result<ProfileJson> {
    let input = ProfileInput {
        name: current.name,
        bio: current.bio,
        contact: current.contact,
        mail_peers: Some(mail_peers),
    };
    Ok(c.put("/profile", &input)?)
}
