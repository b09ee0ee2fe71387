//! `mailbox allow|deny|list|status`: the mailbox a home server keeps for its
//! neighbours (issue 26), as its operator runs it.

use super::args::MailboxCommand;
use super::client;
use super::text::{Block, print_as};
use super::trust::person_words;
use crate::api::json::{MailboxAdmitInput, MailboxJson, PersonJson};
use crate::data_dir::DataDir;

/// Tells the operator of a node whose mailbox is off that nothing is kept.
fn warn_if_off(mailbox: &MailboxJson) {
    if !mailbox.enabled {
        eprintln!(
            "note: this node keeps no mail: set mailbox = \"allowed\" (or role = \"server\") and restart it"
        );
    }
}

/// Runs a `mailbox` subcommand.
pub(super) fn run(dir: &DataDir, command: MailboxCommand) -> anyhow::Result<()> {
    match command {
        MailboxCommand::Allow { key, client: args } => {
            let c = client(dir, &args)?;
            let input = MailboxAdmitInput {
                author: key.to_string(),
            };
            let done: PersonJson = c.post("/mailbox/admitted", &input)?;
            print_as(args.json, &done, |p| {
                println!(
                    "keeping mail for {} once their profile names this node",
                    person_words(p)
                );
            });
            warn_if_off(&c.get("/mailbox")?);
        }
        MailboxCommand::Deny { key, client: args } => {
            let c = client(dir, &args)?;
            let done: PersonJson = c.delete(&format!("/mailbox/admitted/{key}"))?;
            print_as(args.json, &done, |p| {
                println!("no longer keeping mail for {}", person_words(p));
            });
        }
        MailboxCommand::List { client: args } => {
            let c = client(dir, &args)?;
            let mailbox: MailboxJson = c.get("/mailbox")?;
            print_as(args.json, &mailbox.admitted, |admitted| {
                if admitted.is_empty() {
                    println!("nobody is admitted");
                }
                for p in admitted {
                    println!("{}  {}", p.author, p.name.as_deref().unwrap_or(""));
                }
            });
            warn_if_off(&mailbox);
        }
        MailboxCommand::Status { client: args } => {
            let c = client(dir, &args)?;
            let mailbox: MailboxJson = c.get("/mailbox")?;
            print_as(args.json, &mailbox, |m| {
                let mut b = Block::default();
                b.row("mailbox", if m.enabled { "allowed" } else { "off" })
                    .row("admitted", m.admitted.len().to_string())
                    .row("recipients", m.recipients.len().to_string())
                    .row(
                        "envelopes",
                        m.recipients
                            .iter()
                            .map(|r| u64::from(r.envelopes))
                            .sum::<u64>()
                            .to_string(),
                    )
                    .row(
                        "bytes",
                        m.recipients
                            .iter()
                            .map(|r| r.bytes)
                            .sum::<u64>()
                            .to_string(),
                    )
                    .row(
                        "oldest",
                        m.recipients
                            .iter()
                            .filter_map(|r| r.oldest.clone())
                            .min()
                            .unwrap_or_else(|| "none".into()),
                    )
                    .row(
                        "quotas",
                        format!(
                            "{} envelopes and {} bytes per recipient, {} and {} per sender",
                            m.quotas.recipient_envelopes,
                            m.quotas.recipient_bytes,
                            m.quotas.sender_envelopes,
                            m.quotas.sender_bytes
                        ),
                    );
                b.print();
                for r in &m.recipients {
                    println!(
                        "  {}  {} envelopes  {} bytes  oldest {}",
                        person_words(&r.person),
                        r.envelopes,
                        r.bytes,
                        r.oldest.as_deref().unwrap_or("none")
                    );
                }
            });
        }
    }
    Ok(())
}
