//! `vouch` and `trust`: vouch for people and take it back, list vouches, and
//! show someone's trust from where you stand, with why.

use super::args::{BlockCommand, ClaimArg, ConfidenceArg, TrustArgs, VouchCommand};
use super::text::{Block, print_as, short_id};
use super::{client, resolve};
use crate::api::json::{
    BlockInput, BlockList, ConfidenceJson, PersonJson, TrustExplainedJson, VouchClaimJson,
    VouchInput, VouchJson, VouchList,
};
use crate::data_dir::DataDir;

/// Runs a `vouch` subcommand.
pub(super) fn vouch(dir: &DataDir, command: VouchCommand) -> anyhow::Result<()> {
    match command {
        VouchCommand::Add {
            person,
            claim,
            confidence,
            note,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let subject = resolve::person(&c, &person)?;
            let input = VouchInput {
                subject,
                claim: match claim {
                    ClaimArg::Neighbour => VouchClaimJson::Neighbour,
                    ClaimArg::KnownInPerson => VouchClaimJson::KnownInPerson,
                    ClaimArg::DealtWith => VouchClaimJson::DealtWith,
                },
                confidence: match confidence {
                    ConfidenceArg::Low => ConfidenceJson::Low,
                    ConfidenceArg::Medium => ConfidenceJson::Medium,
                    ConfidenceArg::High => ConfidenceJson::High,
                },
                note,
            };
            let vouch: VouchJson = c.post("/vouches", &input)?;
            print_as(args.json, &vouch, |v| {
                println!("vouched for {} ({})", v.subject, vouch_words(v));
            });
        }
        VouchCommand::Revoke {
            person,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let subject = resolve::person(&c, &person)?;
            let vouch: VouchJson = c.delete(&format!("/vouches/{subject}"))?;
            print_as(args.json, &vouch, |v| {
                println!("revoked your vouch for {}", v.subject);
            });
        }
        VouchCommand::List {
            subject,
            author,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let subject = subject.map(|s| resolve::person(&c, &s)).transpose()?;
            let author = match (&author, &subject) {
                (Some(a), _) => Some(resolve::person(&c, a)?),
                (None, None) => Some(resolve::person(&c, "me")?),
                (None, Some(_)) => None,
            };
            let mut query = Vec::new();
            if let Some(s) = &subject {
                query.push(("subject", s.as_str()));
            }
            if let Some(a) = &author {
                query.push(("author", a.as_str()));
            }
            let list: VouchList = c.get_with("/vouches", &query)?;
            print_as(args.json, &list, |l| {
                if l.vouches.is_empty() {
                    println!("no vouches");
                }
                for v in &l.vouches {
                    println!(
                        "{} vouches for {}  {}",
                        short_id(&v.author),
                        short_id(&v.subject),
                        vouch_words(v)
                    );
                }
            });
        }
    }
    Ok(())
}

/// `known in person, high: "note"`.
fn vouch_words(v: &VouchJson) -> String {
    let claim = match v.claim {
        VouchClaimJson::Neighbour => "neighbour",
        VouchClaimJson::KnownInPerson => "known in person",
        VouchClaimJson::DealtWith => "dealt with",
    };
    let confidence = match v.confidence {
        ConfidenceJson::Revoked => "revoked",
        ConfidenceJson::Low => "low",
        ConfidenceJson::Medium => "medium",
        ConfidenceJson::High => "high",
    };
    if v.note.is_empty() {
        format!("{claim}, {confidence}")
    } else {
        format!("{claim}, {confidence}: {:?}", v.note)
    }
}

/// `Ana (5d0c7e21…)` or the short key.
pub(super) fn person_words(p: &PersonJson) -> String {
    match &p.name {
        Some(name) => format!("{name} ({})", short_id(&p.author)),
        None => short_id(&p.author).to_owned(),
    }
}

/// `trust PERSON`.
pub(super) fn show(dir: &DataDir, args: &TrustArgs) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let who = resolve::person(&c, &args.person)?;
    let t: TrustExplainedJson = c.get(&format!("/trust/{who}"))?;
    print_as(args.client.json, &t, |t| {
        let mut b = Block::default();
        b.row("person", &t.trust.author)
            .row("trust", crate::api::trust::trust_words(&t.trust))
            .row(
                "score",
                format!("{} ppm (yours: others' nodes differ)", t.trust.score),
            )
            .rows(
                "paths",
                t.paths.iter().map(|p| {
                    let hops: Vec<String> = p.iter().map(person_words).collect();
                    format!("you → {}", hops.join(" → "))
                }),
                "none within 6 vouch hops",
            )
            .rows(
                "deals",
                t.deals.iter().map(|d| {
                    format!(
                        "{} with {}: {}",
                        short_id(&d.agreement),
                        person_words(&d.with),
                        d.why
                    )
                }),
                "none held here",
            )
            .rows(
                "reviews",
                t.reviews
                    .iter()
                    .map(|r| format!("{}/5 by {}: {}", r.rating, person_words(&r.by), r.why)),
                "none held here",
            );
        b.print();
    });
    Ok(())
}

/// Runs a `block` subcommand.
pub(super) fn block(dir: &DataDir, command: BlockCommand) -> anyhow::Result<()> {
    match command {
        BlockCommand::Add {
            person,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let author = resolve::person(&c, &person)?;
            let done: PersonJson = c.post("/blocks", &BlockInput { author })?;
            print_as(args.json, &done, |p| {
                println!("blocked {}", person_words(p));
            });
        }
        BlockCommand::List { client: args } => {
            let c = client(dir, &args)?;
            let list: BlockList = c.get("/blocks")?;
            print_as(args.json, &list, |l| {
                if l.blocks.is_empty() {
                    println!("you block nobody");
                }
                for p in &l.blocks {
                    println!("{}", person_words(p));
                }
            });
        }
        BlockCommand::Remove {
            person,
            client: args,
        } => {
            let c = client(dir, &args)?;
            // A start of a key names one of the people blocked.
            let list: BlockList = c.get("/blocks")?;
            let short = person.trim().to_ascii_lowercase();
            let found: Vec<&PersonJson> = list
                .blocks
                .iter()
                .filter(|p| p.author.starts_with(&short))
                .collect();
            if short.len() < 8 {
                anyhow::bail!("give at least 8 hex characters of the key");
            }
            let author = match found.as_slice() {
                [one] => one.author.clone(),
                [] => anyhow::bail!("you do not block anyone whose key starts with {short:?}"),
                _ => {
                    anyhow::bail!("{short:?} names several people you block: give more of the key")
                }
            };
            let done: PersonJson = c.delete(&format!("/blocks/{author}"))?;
            print_as(args.json, &done, |p| {
                println!("unblocked {}", person_words(p));
            });
        }
    }
    Ok(())
}
