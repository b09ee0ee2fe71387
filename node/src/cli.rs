//! The `swapmesh` command line: `init` and `run`, and client subcommands that talk
//! to the running node's API, so the CLI and any page always agree.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use swapmesh_protocol::listing::{Condition, DealKind, ListingStatus, Period, Purpose};

use crate::api::json::{
    ListingInput, ListingJson, ListingPatch, MoneyJson, PriceJson, ProfileJson,
};
use crate::client::Client;
use crate::data_dir::DataDir;
use crate::identity;
use crate::run;
use crate::settings::RawSettings;

/// swapmesh: lend, rent, lease, swap and give things to your neighbours, peer to peer.
#[derive(Parser, Debug)]
#[command(name = "swapmesh", version, about, propagate_version = true)]
pub struct Cli {
    /// The data directory (default: $SWAPMESH_DATA_DIR, else ~/.local/share/swapmesh).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the data directory, the node key, the API token and a commented config.
    Init {
        /// Display name for your profile.
        #[arg(long)]
        name: Option<String>,
        /// Your area, a geohash of 5-6 characters.
        #[arg(long)]
        area: Option<String>,
    },
    /// Run the node until SIGINT or SIGTERM (initialises first if needed).
    Run(RunArgs),
    /// This node: peer id, author, addresses, area, meshes, uptime.
    Status(ClientArgs),
    /// Connected peers.
    Peers(ClientArgs),
    /// Your listings: add, list, show, update, withdraw.
    #[command(subcommand)]
    Listing(ListingCommand),
    /// Things you want.
    #[command(subcommand)]
    Want(WantCommand),
    /// Search the listings your node holds.
    Browse(BrowseArgs),
    /// Export or import the node key as 24 words.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Your profile.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Named meshes: create one and invite neighbours, join with an invite.
    #[command(subcommand)]
    Mesh(MeshCommand),
}

/// `mesh` subcommands.
#[derive(Subcommand, Debug)]
pub enum MeshCommand {
    /// Create a named mesh and print its invite.
    Create {
        /// A name for people, e.g. "Elm Street".
        name: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print the invite of a mesh this node is in.
    Invite {
        /// The mesh id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Join a mesh with an invite (`swapmesh:…`).
    Join {
        /// The invite text.
        invite: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The named meshes this node is in.
    List(ClientArgs),
    /// Leave a mesh.
    Leave {
        /// The mesh id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Flags of `run`; each overrides swapmesh.toml and SWAPMESH_* variables.
#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Listen address (repeatable), e.g. /ip4/0.0.0.0/tcp/7879.
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// Peer to dial at start (repeatable).
    #[arg(long, value_name = "MULTIADDR")]
    pub bootstrap: Vec<String>,
    /// Where the API listens (127.0.0.1:0 picks a free port; see DIR/api-addr).
    #[arg(long, value_name = "HOST:PORT")]
    pub api: Option<String>,
    /// Your area, a geohash of 5-6 characters.
    #[arg(long)]
    pub area: Option<String>,
    /// A named mesh to be in (repeatable).
    #[arg(long = "mesh", value_name = "ID")]
    pub meshes: Vec<String>,
    /// Do not look for neighbours on the LAN.
    #[arg(long)]
    pub no_mdns: bool,
    /// personal or server.
    #[arg(long)]
    pub role: Option<String>,
    /// An address this server is reachable at (repeatable).
    #[arg(long = "external-address", value_name = "MULTIADDR")]
    pub external_addresses: Vec<String>,
    /// text or json.
    #[arg(long)]
    pub log_format: Option<String>,
}

impl RunArgs {
    /// The flags as the top layer of settings.
    pub fn raw(&self) -> RawSettings {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        RawSettings {
            listen: list(&self.listen),
            bootstrap: list(&self.bootstrap),
            api: self.api.clone(),
            area: self.area.clone(),
            meshes: list(&self.meshes),
            mdns: self.no_mdns.then(|| "false".to_owned()),
            role: self.role.clone(),
            external_addresses: list(&self.external_addresses),
            log_format: self.log_format.clone(),
            name: None,
            api_hosts: None,
        }
    }
}

/// How a client command reaches the node.
#[derive(Args, Debug, Default, Clone)]
pub struct ClientArgs {
    /// The API address (default: read from DIR/api-addr).
    #[arg(long, value_name = "HOST:PORT")]
    pub api: Option<String>,
    /// The API token (default: read from DIR/api-token).
    #[arg(long)]
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `listing` subcommands.
#[derive(Subcommand, Debug)]
pub enum ListingCommand {
    /// Publish an offer.
    Add(AddArgs),
    /// List your own listings.
    List(ClientArgs),
    /// Show a listing by id (<author-hex>.<name>).
    Show {
        /// The listing id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Publish a new version of one of your listings.
    Update(UpdateArgs),
    /// Withdraw one of your listings (everyone drops it).
    Withdraw {
        /// The listing id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `want` subcommands.
#[derive(Subcommand, Debug)]
pub enum WantCommand {
    /// Publish a want.
    Add(AddArgs),
}

/// The fields of a new listing.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Title (up to 140 characters).
    #[arg(long)]
    pub title: String,
    /// Deal kind (repeatable): swap, rent, lease, share, give.
    #[arg(long = "kind", required = true, value_parser = parse_kind)]
    pub kinds: Vec<DealKind>,
    /// Description.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Category, e.g. tools.
    #[arg(long, default_value = "")]
    pub category: String,
    /// Tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Condition: new, like_new, good, fair, poor.
    #[arg(long, value_parser = parse_condition)]
    pub condition: Option<Condition>,
    /// Price in minor units (cents) per --per.
    #[arg(long)]
    pub price: Option<i64>,
    /// Price period: hour, day, week, month.
    #[arg(long, value_parser = parse_period, default_value = "day")]
    pub per: Period,
    /// Deposit in minor units.
    #[arg(long)]
    pub deposit: Option<i64>,
    /// Currency (ISO 4217).
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// A stable name for the listing (default: made from the title).
    #[arg(long)]
    pub name: Option<String>,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The fields of `listing update`; only those given change.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The listing id.
    pub id: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// New category.
    #[arg(long)]
    pub category: Option<String>,
    /// New status: active, paused, reserved, on_loan.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<ListingStatus>,
    /// New price in minor units (with --currency and --per).
    #[arg(long)]
    pub price: Option<i64>,
    /// Price period.
    #[arg(long, value_parser = parse_period, default_value = "day")]
    pub per: Period,
    /// Currency of a new price.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `browse` filters.
#[derive(Args, Debug)]
pub struct BrowseArgs {
    /// Geohash cell(s), comma-separated.
    #[arg(long)]
    pub area: Option<String>,
    /// Mesh id(s), comma-separated.
    #[arg(long)]
    pub mesh: Option<String>,
    /// Deal kind(s), comma-separated.
    #[arg(long)]
    pub kind: Option<String>,
    /// offer or want.
    #[arg(long)]
    pub purpose: Option<String>,
    /// Words that must all appear in title, tags or category.
    #[arg(long)]
    pub query: Option<String>,
    /// Only this author's listings (64 hex).
    #[arg(long)]
    pub author: Option<String>,
    /// Most results.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `key` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Print the node key as 24 words (keep them secret: they are the key).
    Export,
    /// Write a key from 24 words (argument or stdin) into a data directory with no key.
    Import {
        /// The words; read from stdin when absent.
        words: Vec<String>,
    },
}

/// `profile` subcommands.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Publish your profile.
    Set {
        /// Display name.
        #[arg(long)]
        name: String,
        /// About you.
        #[arg(long, default_value = "")]
        bio: String,
        /// How to reach you (repeatable).
        #[arg(long)]
        contact: Vec<String>,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a profile (yours by default).
    Show {
        /// The author (64 hex).
        author: Option<String>,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn enum_text<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
    accepted: &str,
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown {what} {s:?}: use {accepted}"))
}

fn parse_kind(s: &str) -> Result<DealKind, String> {
    enum_text(s, "kind", "swap, rent, lease, share or give")
}
fn parse_condition(s: &str) -> Result<Condition, String> {
    enum_text(s, "condition", "new, like_new, good, fair or poor")
}
fn parse_period(s: &str) -> Result<Period, String> {
    enum_text(s, "period", "hour, day, week or month")
}
fn parse_status(s: &str) -> Result<ListingStatus, String> {
    enum_text(s, "status", "active, paused, reserved or on_loan")
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
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
        other => tokio::task::spawn_blocking(move || client_command(&dir, other)).await?,
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

fn client(dir: &DataDir, args: &ClientArgs) -> anyhow::Result<Client> {
    Ok(Client::new(
        dir,
        args.api.as_deref(),
        args.token.as_deref(),
    )?)
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}

fn money_text(amount: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", amount / 100, (amount % 100).abs())
}

/// The text form of an enum value (its serde name, e.g. `on_loan`).
fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn print_listing_line(l: &ListingJson) {
    let price = l
        .price
        .as_ref()
        .map(|p| {
            format!(
                ", {} per {}",
                money_text(p.amount, &p.currency),
                name_of(&p.per)
            )
        })
        .unwrap_or_default();
    let kinds: Vec<String> = l.kinds.iter().map(name_of).collect();
    println!(
        "{}  v{}  {} {}: {}{}  [{}]",
        l.id,
        l.version,
        name_of(&l.purpose),
        kinds.join("/"),
        l.title,
        price,
        name_of(&l.status)
    );
}

fn client_command(dir: &DataDir, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status(args) => {
            let info: serde_json::Value = client(dir, &args)?.get("/node")?;
            if args.json {
                print_json(&info);
            } else {
                for key in [
                    "peer_id",
                    "author",
                    "area",
                    "meshes",
                    "listen",
                    "version",
                    "uptime_secs",
                ] {
                    println!(
                        "{key:>12}: {}",
                        info.get(key).unwrap_or(&serde_json::Value::Null)
                    );
                }
                let sync = &info["sync"];
                if sync["running"].as_u64().unwrap_or(0) > 0 {
                    println!(
                        "{:>12}: catching up, {} of {} records fetched",
                        "sync", sync["fetched"], sync["expected"]
                    );
                } else {
                    println!(
                        "{:>12}: idle ({} records fetched since start)",
                        "sync", sync["fetched_total"]
                    );
                }
            }
        }
        Command::Peers(args) => {
            let peers: serde_json::Value = client(dir, &args)?.get("/peers")?;
            if args.json {
                print_json(&peers);
            } else {
                for p in peers["peers"].as_array().into_iter().flatten() {
                    println!("{}", p.as_str().unwrap_or_default());
                }
            }
        }
        Command::Listing(ListingCommand::Add(args)) => add(dir, args, Purpose::Offer)?,
        Command::Want(WantCommand::Add(args)) => add(dir, args, Purpose::Want)?,
        Command::Listing(ListingCommand::List(args)) => {
            let c = client(dir, &args)?;
            let node: serde_json::Value = c.get("/node")?;
            let author = node["author"].as_str().unwrap_or_default().to_owned();
            let page: serde_json::Value = c.get(&format!("/listings?author={author}&limit=200"))?;
            print_listings(&page, args.json)?;
        }
        Command::Listing(ListingCommand::Show { id, client: args }) => {
            let listing: ListingJson = client(dir, &args)?.get(&format!("/listings/{id}"))?;
            if args.json {
                print_json(&listing);
            } else {
                print_listing_line(&listing);
                if !listing.description.is_empty() {
                    println!("  {}", listing.description);
                }
            }
        }
        Command::Listing(ListingCommand::Update(args)) => {
            let patch = ListingPatch {
                title: args.title,
                description: args.description,
                category: args.category,
                status: args.status,
                price: args.price.map(|amount| PriceJson {
                    amount,
                    currency: args.currency.clone(),
                    per: args.per,
                }),
                ..ListingPatch::default()
            };
            let listing: ListingJson =
                client(dir, &args.client)?.patch(&format!("/listings/{}", args.id), &patch)?;
            show_listing(&listing, args.client.json);
        }
        Command::Listing(ListingCommand::Withdraw { id, client: args }) => {
            let listing: ListingJson = client(dir, &args)?.delete(&format!("/listings/{id}"))?;
            if args.json {
                print_json(&listing);
            } else {
                println!("withdrew {}", listing.id);
            }
        }
        Command::Browse(args) => {
            let mut query = vec![format!("limit={}", args.limit)];
            for (key, value) in [
                ("area", &args.area),
                ("mesh", &args.mesh),
                ("kind", &args.kind),
                ("purpose", &args.purpose),
                ("q", &args.query),
                ("author", &args.author),
            ] {
                if let Some(v) = value {
                    query.push(format!("{key}={}", encode_query(v)));
                }
            }
            let page: serde_json::Value =
                client(dir, &args.client)?.get(&format!("/listings?{}", query.join("&")))?;
            print_listings(&page, args.client.json)?;
        }
        Command::Profile(ProfileCommand::Set {
            name,
            bio,
            contact,
            client: args,
        }) => {
            let out: serde_json::Value =
                client(dir, &args)?.put("/profile", &ProfileJson { name, bio, contact })?;
            if args.json {
                print_json(&out);
            } else {
                println!("profile published (version {})", out["version"]);
            }
        }
        Command::Profile(ProfileCommand::Show {
            author,
            client: args,
        }) => {
            let c = client(dir, &args)?;
            let author = match author {
                Some(a) => a,
                None => {
                    let node: serde_json::Value = c.get("/node")?;
                    node["author"].as_str().unwrap_or_default().to_owned()
                }
            };
            let out: serde_json::Value = c.get(&format!("/profile/{author}"))?;
            if args.json {
                print_json(&out);
            } else {
                println!(
                    "{} ({})",
                    out["name"].as_str().unwrap_or_default(),
                    out["author"].as_str().unwrap_or_default()
                );
                if let Some(bio) = out["bio"].as_str().filter(|b| !b.is_empty()) {
                    println!("  {bio}");
                }
            }
        }
        Command::Mesh(command) => mesh_command(dir, command)?,
        Command::Init { .. } | Command::Run(_) | Command::Key(_) => {
            unreachable!("handled before the client commands")
        }
    }
    Ok(())
}

fn mesh_command(dir: &DataDir, command: MeshCommand) -> anyhow::Result<()> {
    let show = |value: &serde_json::Value, json: bool, text: &dyn Fn(&serde_json::Value)| {
        if json {
            print_json(value);
        } else {
            text(value);
        }
    };
    match command {
        MeshCommand::Create { name, client: args } => {
            let out: serde_json::Value =
                client(dir, &args)?.post("/meshes", &serde_json::json!({ "name": name }))?;
            show(&out, args.json, &|v| {
                println!(
                    "created mesh {} ({})",
                    v["id"].as_str().unwrap_or_default(),
                    name
                );
                println!("{}", v["invite"].as_str().unwrap_or_default());
            });
        }
        MeshCommand::Invite { id, client: args } => {
            let out: serde_json::Value =
                client(dir, &args)?.get(&format!("/meshes/{id}/invite"))?;
            show(&out, args.json, &|v| {
                println!("{}", v["invite"].as_str().unwrap_or_default());
            });
        }
        MeshCommand::Join {
            invite,
            client: args,
        } => {
            let out: serde_json::Value = client(dir, &args)?
                .post("/meshes/join", &serde_json::json!({ "invite": invite }))?;
            show(&out, args.json, &|v| {
                println!(
                    "joined mesh {} {}",
                    v["id"].as_str().unwrap_or_default(),
                    v["name"]
                        .as_str()
                        .map(|n| format!("({n})"))
                        .unwrap_or_default()
                );
            });
        }
        MeshCommand::List(args) => {
            let out: serde_json::Value = client(dir, &args)?.get("/meshes")?;
            show(&out, args.json, &|v| {
                let meshes = v["meshes"].as_array().cloned().unwrap_or_default();
                if meshes.is_empty() {
                    println!("no named meshes");
                }
                for m in meshes {
                    println!(
                        "{}  {}",
                        m["id"].as_str().unwrap_or_default(),
                        m["name"].as_str().unwrap_or("")
                    );
                }
            });
        }
        MeshCommand::Leave { id, client: args } => {
            let out: serde_json::Value = client(dir, &args)?.delete(&format!("/meshes/{id}"))?;
            show(&out, args.json, &|_| println!("left mesh {id}"));
        }
    }
    Ok(())
}

fn add(dir: &DataDir, args: AddArgs, purpose: Purpose) -> anyhow::Result<()> {
    let input = ListingInput {
        d: args.name,
        purpose: Some(purpose),
        kinds: args.kinds,
        title: args.title,
        description: args.description,
        category: args.category,
        tags: args.tags,
        condition: args.condition,
        price: args.price.map(|amount| PriceJson {
            amount,
            currency: args.currency.clone(),
            per: args.per,
        }),
        deposit: args.deposit.map(|amount| MoneyJson {
            amount,
            currency: args.currency.clone(),
        }),
        availability: Vec::new(),
    };
    let listing: ListingJson = client(dir, &args.client)?.post("/listings", &input)?;
    show_listing(&listing, args.client.json);
    Ok(())
}

fn show_listing(listing: &ListingJson, json: bool) {
    if json {
        print_json(listing);
    } else {
        print_listing_line(listing);
    }
}

fn print_listings(page: &serde_json::Value, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(page);
        return Ok(());
    }
    let listings: Vec<ListingJson> =
        serde_json::from_value(page["listings"].clone()).context("unexpected listing page")?;
    if listings.is_empty() {
        println!("no listings");
    }
    for l in &listings {
        print_listing_line(l);
    }
    if let Some(next) = page["next"].as_str() {
        println!("more: --cursor {next}");
    }
    Ok(())
}

/// Percent-encodes a query value.
fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query("cargo bike&x"), "cargo%20bike%26x");
        assert_eq!(encode_query("u4pru,u4prv"), "u4pru,u4prv");
    }
}
