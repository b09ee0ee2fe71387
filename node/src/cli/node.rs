//! `status`, `peers`, `profile` and `mesh`: the node, its people and its meshes,
//! as aligned text (or the API's JSON with `--json`).

use super::args::{ClientArgs, MeshCommand, PeersArgs, PeersCommand, ProfileCommand};
use super::text::{Block, print_json, print_node, print_profile};
use super::{client, resolve};
use crate::api::json::{
    BlockedPeersJson, CreateMesh, JoinMesh, MeshInvite, MeshJson, MeshKindJson, MeshList, NodeJson,
    PeersJson, ProfileInput, ProfileJson, UnblockedJson,
};
use crate::data_dir::DataDir;

/// `status`.
pub(super) fn status(dir: &DataDir, args: &ClientArgs) -> anyhow::Result<()> {
    let node: NodeJson = client(dir, args)?.get("/node")?;
    if args.json {
        print_json(&node);
    } else {
        print_node(&node);
    }
    Ok(())
}

/// `peers`.
pub(super) fn peers(dir: &DataDir, args: PeersArgs) -> anyhow::Result<()> {
    match args.command {
        None => {
            let args = &args.client;
            let peers: PeersJson = client(dir, args)?.get("/peers")?;
            if args.json {
                print_json(&peers);
            } else {
                Block::default()
                    .row("connected", peers.peers.len().to_string())
                    .rows("peers", peers.peers.iter().cloned(), "none")
                    .print();
            }
        }
        Some(PeersCommand::Blocked { client: args }) => {
            let blocked: BlockedPeersJson = client(dir, &args)?.get("/peers/blocked")?;
            if args.json {
                print_json(&blocked);
            } else if blocked.blocked.is_empty() {
                println!("no peer is blocked");
            } else {
                for b in &blocked.blocked {
                    let until = b.until.as_deref().unwrap_or("until unblocked");
                    println!("{}  {}  until {until}", b.peer, b.reason);
                }
            }
        }
        Some(PeersCommand::Unblock { peer, client: args }) => {
            let done: UnblockedJson =
                client(dir, &args)?.delete(&format!("/peers/blocked/{peer}"))?;
            if args.json {
                print_json(&done);
            } else {
                println!("unblocked {}", done.unblocked);
            }
        }
    }
    Ok(())
}

/// `profile set`, `profile show` and `profile mail-peer …`.
pub(super) fn profile(dir: &DataDir, command: ProfileCommand) -> anyhow::Result<()> {
    match command {
        ProfileCommand::Set {
            name,
            bio,
            contact,
            client: args,
        } => {
            let out: ProfileJson = client(dir, &args)?.put(
                "/profile",
                &ProfileInput {
                    name,
                    bio,
                    contact,
                    mail_peers: None,
                },
            )?;
            if args.json {
                print_json(&out);
            } else {
                println!("profile published (version {})", out.version);
            }
        }
        ProfileCommand::Show {
            author,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let author = match author {
                Some(a) => a,
                None => c.get::<NodeJson>("/node")?.author,
            };
            let out: ProfileJson = c.get(&format!("/profile/{author}"))?;
            if args.json {
                print_json(&out);
            } else {
                print_profile(&out);
            }
        }
        ProfileCommand::MailPeer(command) => super::mail_peers::run(dir, command)?,
    }
    Ok(())
}

/// How a mesh's kind reads.
fn kind_word(kind: MeshKindJson) -> &'static str {
    match kind {
        MeshKindJson::Open => "open",
        MeshKindJson::Private => "private",
    }
}

/// `mesh …`.
pub(super) fn mesh(dir: &DataDir, command: MeshCommand) -> anyhow::Result<()> {
    match command {
        MeshCommand::Create {
            name,
            open,
            undiscoverable,
            client: args,
        } => {
            let create = CreateMesh {
                name,
                open,
                discoverable: undiscoverable.then_some(false),
            };
            let out: MeshInvite = client(dir, &args)?.post("/meshes", &create)?;
            if args.json {
                print_json(&out);
            } else {
                println!(
                    "created {} mesh {} ({})",
                    kind_word(out.kind),
                    out.id,
                    out.name.as_deref().unwrap_or_default()
                );
                println!("{}", out.invite);
            }
        }
        MeshCommand::Invite { mesh, client: args } => {
            let c = client(dir, &args)?;
            let id = resolve::mesh(&c, &mesh)?;
            let out: MeshInvite = c.get(&format!("/meshes/{id}/invite"))?;
            if args.json {
                print_json(&out);
            } else {
                println!("{}", out.invite);
            }
        }
        MeshCommand::Join {
            invite,
            client: args,
        } => {
            let out: MeshJson = client(dir, &args)?.post("/meshes/join", &JoinMesh { invite })?;
            if args.json {
                print_json(&out);
            } else {
                let name = out.name.map(|n| format!(" ({n})")).unwrap_or_default();
                println!("joined {} mesh {}{name}", kind_word(out.kind), out.id);
            }
        }
        MeshCommand::List(args) => {
            let out: MeshList = client(dir, &args)?.get("/meshes")?;
            if args.json {
                print_json(&out);
            } else if out.meshes.is_empty() {
                println!("no named meshes");
            } else {
                let width = out.meshes.iter().map(|m| m.id.len()).max().unwrap_or(0);
                for m in &out.meshes {
                    println!(
                        "{:<width$}  {:<7}  {}",
                        m.id,
                        kind_word(m.kind),
                        m.name.as_deref().unwrap_or("")
                    );
                }
            }
        }
        MeshCommand::Leave { mesh, client: args } => {
            let c = client(dir, &args)?;
            let id = resolve::mesh(&c, &mesh)?;
            let out: MeshJson = c.delete(&format!("/meshes/{id}"))?;
            if args.json {
                print_json(&out);
            } else {
                println!("left mesh {}", out.id);
            }
        }
    }
    Ok(())
}
