//! The command line's words: every subcommand, flag and its help, parsed once
//! by clap into these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;
use swapmesh_net::PeerId;
use swapmesh_protocol::AuthorKey;
use swapmesh_protocol::listing::{Condition, DealKind, ListingStatus, Period};

use crate::agree::author_of_peer;
use crate::api::json::{AgreementRole, LegJson, ResolutionJson};
use crate::settings::RawSettings;

const ABOUT: &str = "Lend, rent, lease, swap and give things to your neighbours, peer to peer";

const LONG_ABOUT: &str = "\
swapmesh lets neighbours lend, rent, lease, swap and give each other things — a \
drill for a weekend, a cargo bike for a month — with no platform in between.

Your computer runs a node (`swapmesh run`) that shares your listings with the \
nodes of the people around you and keeps theirs. The other commands talk to your \
running node: publish what you offer or want, look around, and join the meshes \
of your street or club.";

const EXAMPLES: &str = "\
Getting started:
  swapmesh init --name Ana --area u4pru     # once: your key, token and config
  swapmesh run                              # keep it running
  swapmesh listing add --title \"Cordless drill\" --kind rent --price 5 --deposit 50
  swapmesh browse --query drill
  swapmesh listing update cordless-drill-71de39 --status paused";

/// The `swapmesh` command line.
#[derive(Parser, Debug)]
#[command(
    name = "swapmesh",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true
)]
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
    /// Create the data directory, your key, the API token and a commented config.
    #[command(after_long_help = "Example:\n  swapmesh init --name Ana --area u4pru")]
    Init {
        /// Display name for your profile.
        #[arg(long)]
        name: Option<String>,
        /// Your area, a geohash of 5-6 characters (about 5 km).
        #[arg(long)]
        area: Option<String>,
    },
    /// Run your node until Ctrl-C or SIGTERM (initialises first if needed).
    #[command(
        after_long_help = "Example:\n  swapmesh run --area u4pru\n  swapmesh run --role server --external-address /dns4/home.example.org/tcp/7879"
    )]
    Run(RunArgs),
    /// Your node: who it is, where it listens, its meshes, catch-up progress.
    #[command(after_long_help = "Example:\n  swapmesh status\n  swapmesh status --json")]
    Status(ClientArgs),
    /// The nodes yours is connected to; `blocked` and `unblock` for those it
    /// blocked.
    #[command(
        after_long_help = "Example:\n  swapmesh peers\n  swapmesh peers blocked\n  swapmesh peers unblock 12D3KooWQf"
    )]
    Peers(PeersArgs),
    /// Things you offer: add, list, show, update, withdraw.
    #[command(subcommand)]
    Listing(ListingCommand),
    /// Things you want.
    #[command(subcommand)]
    Want(WantCommand),
    /// Look for things in your neighbourhood.
    #[command(
        after_long_help = "Examples:\n  swapmesh browse --query drill\n  swapmesh browse --kind rent,share --limit 20\n  swapmesh browse --all --json"
    )]
    Browse(BrowseArgs),
    /// Agreements: propose on a listing, answer, hand over, return, confirm.
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// Reviews: rate the other party of an ended agreement; read what your node
    /// holds about someone.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Vouches: say publicly that you know someone; take it back.
    #[command(subcommand)]
    Vouch(VouchCommand),
    /// Blocks: hide someone from your node and refuse their proposals.
    #[command(subcommand)]
    Block(BlockCommand),
    /// Someone's trust as your node computes it from where you stand, and why.
    #[command(after_long_help = "Example:\n  swapmesh trust 5d0c7e21")]
    Trust(TrustArgs),
    /// Open your node's web page: a one-time sign-in link, in the browser.
    #[command(
        after_long_help = "Examples:\n  swapmesh open\n  swapmesh open --print\n  swapmesh open --qr --host 192.168.1.20:7878   (a phone on the LAN: the host must be in api_hosts)"
    )]
    Open(OpenArgs),
    /// Web page sessions: sign every browser out.
    #[command(subcommand)]
    WebSessions(WebSessionsCommand),
    /// Photos: save one (a listing's, fetched from its holders if needed) to a file.
    #[command(subcommand)]
    Blob(BlobCommand),
    /// Your key as 24 words: export it, or import it on a new computer.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Your profile: who you are to your neighbours.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// The mailbox a home server keeps for its neighbours: sealed agreement
    /// messages for the people you admit, while they are offline.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Named meshes: create one and invite neighbours, or join with an invite.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    #[command(
        after_long_help = "Example:\n  swapmesh completions bash > ~/.local/share/bash-completion/completions/swapmesh\n  swapmesh completions zsh > ~/.zfunc/_swapmesh"
    )]
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Write the man pages (swapmesh.1 and one per subcommand) into a directory.
    #[command(after_long_help = "Example:\n  swapmesh man ~/.local/share/man/man1")]
    Man {
        /// Where to write them (created if missing).
        dir: PathBuf,
    },
}

/// `blob` subcommands.
#[derive(Subcommand, Debug)]
pub enum BlobCommand {
    /// Save a photo by its hash (as `listing show` lists it): fetched from the
    /// nodes that hold it when yours does not. Always a JPEG.
    #[command(
        after_long_help = "Examples:\n  swapmesh blob get 5e0c4bd3c8e3…a1b2 -o drill.jpg\n  swapmesh blob get 5e0c4bd3c8e3…a1b2 --thumb -o drill-small.jpg"
    )]
    Get {
        /// The photo's hash (64 hex).
        hash: String,
        /// The file to write (`-` or none: standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// The thumbnail (at most 320 px) instead of the photo.
        #[arg(long)]
        thumb: bool,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `mesh` subcommands. A mesh is named by its id, its name, or the start of
/// its id.
#[derive(Subcommand, Debug)]
pub enum MeshCommand {
    /// Create a named mesh and print its invite: a private mesh (only people
    /// with the invite can read and post), or with --open one anyone who knows
    /// its id may join.
    #[command(
        after_long_help = "Examples:\n  swapmesh mesh create \"Elm Street\"\n  swapmesh mesh create \"Repair café\" --open"
    )]
    Create {
        /// A name for people, e.g. "Elm Street".
        name: String,
        /// An open mesh: anyone who knows its id may join, read and post.
        #[arg(long)]
        open: bool,
        /// Members do not announce the private mesh's (opaque) id in
        /// Kademlia: they find each other only through the invite's addresses
        /// and the peers they meet.
        #[arg(long, conflicts_with = "open")]
        undiscoverable: bool,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print the invite of a mesh you are in.
    #[command(after_long_help = "Example:\n  swapmesh mesh invite \"Elm Street\"")]
    Invite {
        /// The mesh: its id, its name, or the start of its id.
        mesh: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Join a mesh with an invite (`swapmesh:…`).
    #[command(after_long_help = "Example:\n  swapmesh mesh join swapmesh:…")]
    Join {
        /// The invite text.
        invite: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The named meshes you are in.
    #[command(after_long_help = "Example:\n  swapmesh mesh list")]
    List(ClientArgs),
    /// Leave a mesh.
    #[command(after_long_help = "Example:\n  swapmesh mesh leave \"Elm Street\"")]
    Leave {
        /// The mesh: its id, its name, or the start of its id.
        mesh: String,
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
    /// The currency you price things in (ISO 4217, default EUR).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Do not listen through relays by yourself while unreachable (on by
    /// default for a personal node).
    #[arg(long)]
    pub no_auto_relay: bool,
    /// Most relays to listen through by yourself (default 2).
    #[arg(long, value_name = "N")]
    pub max_relays: Option<String>,
    /// Seconds a web sign-in link stays valid (default 600).
    #[arg(long, value_name = "SECS")]
    pub login_link_ttl: Option<String>,
    /// Disk space for photos in MiB (default 256): beyond it others' least
    /// recently used photos go, never yours.
    #[arg(long, value_name = "MIB")]
    pub blob_budget: Option<String>,
    /// Space for others' records in MiB (default 1024): beyond it the node
    /// stops listening to its farthest cell, one at a time.
    #[arg(long, value_name = "MIB")]
    pub store_budget: Option<String>,
    /// Inbound connections from one IP (default 8).
    #[arg(long, value_name = "COUNT")]
    pub max_connections_per_ip: Option<String>,
    /// Keep mail for the neighbours you admit: allowed or off (default:
    /// allowed on a server).
    #[arg(long, value_name = "allowed|off")]
    pub mailbox: Option<String>,
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
            currency: self.currency.clone(),
            auto_relay: self.no_auto_relay.then(|| "false".to_owned()),
            max_relays: self.max_relays.clone(),
            login_link_ttl: self.login_link_ttl.clone(),
            blob_budget: self.blob_budget.clone(),
            store_budget: self.store_budget.clone(),
            max_connections_per_ip: self.max_connections_per_ip.clone(),
            mailbox: self.mailbox.clone(),
        }
    }
}

/// `swapmesh open`.
#[derive(Args, Debug, Clone)]
pub struct OpenArgs {
    /// Only print the link; do not start a browser.
    #[arg(long)]
    pub print: bool,
    /// Also draw the link as a QR code in the terminal (for a phone).
    #[arg(long)]
    pub qr: bool,
    /// The `host:port` the link names (one of the API's addresses or
    /// `api_hosts`); default the address the CLI reaches the node at.
    #[arg(long, value_name = "HOST:PORT")]
    pub host: Option<String>,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `swapmesh web-sessions`.
#[derive(Subcommand, Debug, Clone)]
pub enum WebSessionsCommand {
    /// Sign every browser out of your node's web page (the API token keeps
    /// working).
    #[command(after_long_help = "Example:\n  swapmesh web-sessions revoke")]
    Revoke {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
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
    /// Print JSON (the API's own answer) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Which page of a listing search to print.
#[derive(Args, Debug, Default, Clone)]
pub struct PageArgs {
    /// Most entries per page (1-500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    /// Continue where the previous page ended (the command prints it).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow the pages to the end and print every entry.
    #[arg(long)]
    pub all: bool,
}

/// `listing` subcommands. A listing is named by its full id
/// (`<author-hex>.<name>`), one of yours by its name (`cordless-drill-71de39`),
/// anyone's by a unique start of its id (at least 8 characters).
#[derive(Subcommand, Debug)]
pub enum ListingCommand {
    /// Publish something you offer.
    #[command(
        after_long_help = "Examples:\n  swapmesh listing add --title \"Cordless drill\" --kind rent --kind share --price 5 --per day --deposit 50 --tag tools\n  swapmesh listing add --title \"Sofa\" --kind give --photo sofa.jpg --photo sofa-back.jpg"
    )]
    Add(AddArgs),
    /// List your own listings.
    #[command(
        after_long_help = "Example:\n  swapmesh listing list\n  swapmesh listing list --all --json"
    )]
    List {
        /// Which page.
        #[command(flatten)]
        page: PageArgs,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a listing.
    #[command(
        after_long_help = "Examples:\n  swapmesh listing show cordless-drill-71de39      # one of yours, by its name\n  swapmesh listing show 3f2a9c01                   # anyone's, by the start of its id"
    )]
    Show {
        /// The listing: your listing's name, or (the start of) its id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Publish a new version of one of your listings.
    #[command(
        after_long_help = "Examples:\n  swapmesh listing update cordless-drill-71de39 --status paused\n  swapmesh listing update cordless-drill-71de39 --price 4.50\n  swapmesh listing update cordless-drill-71de39 --photo case.jpg --remove-photo 5e0c4bd3"
    )]
    Update(UpdateArgs),
    /// Withdraw one of your listings (every node drops it).
    #[command(after_long_help = "Example:\n  swapmesh listing withdraw cordless-drill-71de39")]
    Withdraw {
        /// The listing: your listing's name, or (the start of) its id.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `want` subcommands.
#[derive(Subcommand, Debug)]
pub enum WantCommand {
    /// Publish something you want.
    #[command(
        after_long_help = "Example:\n  swapmesh want add --title \"Ladder, 4 m\" --kind rent --price 3"
    )]
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
    /// Price per --per, as you would say it: 5, 5.50 (in --currency).
    #[arg(long, value_name = "AMOUNT")]
    pub price: Option<String>,
    /// Price period: hour, day, week, month.
    #[arg(long, value_parser = parse_period, default_value = "day")]
    pub per: Period,
    /// Deposit, as you would say it: 50 (in --currency).
    #[arg(long, value_name = "AMOUNT")]
    pub deposit: Option<String>,
    /// Currency (ISO 4217; default: the node's `currency` setting, else EUR).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// A stable name for the listing (default: made from the title).
    #[arg(long)]
    pub name: Option<String>,
    /// A photo to upload and show (repeatable, at most 8): a JPEG, PNG or WebP
    /// file; your node strips its metadata (GPS included) before anyone sees it.
    #[arg(long = "photo", value_name = "PATH")]
    pub photos: Vec<PathBuf>,
    /// Publish in this mesh (repeatable, at most 4: its id, its name, or the
    /// start of its id) instead of your area and open meshes. A private mesh
    /// gets a listing only when named, and it then goes nowhere else (not your
    /// area, not an open mesh).
    #[arg(long = "mesh", value_name = "MESH")]
    pub meshes: Vec<String>,
    /// Keep the listing off your area: only in the meshes (named, or your
    /// open ones).
    #[arg(long)]
    pub no_area: bool,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The fields of `listing update`; only those given change.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The listing: your listing's name, or (the start of) its id.
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
    /// New price per --per, as you would say it: 5, 5.50.
    #[arg(long, value_name = "AMOUNT")]
    pub price: Option<String>,
    /// Price period.
    #[arg(long, value_parser = parse_period, default_value = "day")]
    pub per: Period,
    /// New deposit, as you would say it: 50.
    #[arg(long, value_name = "AMOUNT")]
    pub deposit: Option<String>,
    /// Currency of a new price or deposit (default: the node's `currency` setting).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// A photo to upload and add after the listing's others (repeatable).
    #[arg(long = "photo", value_name = "PATH")]
    pub photos: Vec<PathBuf>,
    /// A photo to take off the listing (repeatable): its hash, or a unique start
    /// of it among the listing's photos.
    #[arg(long = "remove-photo", value_name = "HASH")]
    pub remove_photos: Vec<String>,
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
    /// Only listings of people within this many vouch hops of you (1-3).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub max_distance: Option<u8>,
    /// Which page.
    #[command(flatten)]
    pub page: PageArgs,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `agreement` subcommands. An agreement is named by its id or a unique start
/// of it (at least 8 hex characters); each action answers with what happened
/// and what may come next.
#[derive(Subcommand, Debug)]
pub enum AgreementCommand {
    /// Propose terms on a listing: another's (you receive), or one of yours to --receiver.
    #[command(
        after_long_help = "Examples:\n  swapmesh agreement propose 5d0c7e21 --kind rent --start now --due +3d --price 5 --deposit 50 --note \"For the weekend?\"\n  swapmesh agreement propose 5d0c7e21 --kind share --start 2030-01-04 --due 2030-01-06 --pickup \"by the blue gate\"\n  swapmesh agreement propose 5d0c7e21 --kind swap --theirs ladder-0a1b2c --start 2030-01-04 --until 2030-02-01"
    )]
    Propose(ProposeArgs),
    /// Your agreements, the most recently changed first.
    #[command(
        after_long_help = "Examples:\n  swapmesh agreement list\n  swapmesh agreement list --state offered --role provider\n  swapmesh agreement list --state overdue --all --json"
    )]
    List(AgreementListArgs),
    /// Show an agreement: terms, events, notes, what waits, and what you may do next.
    #[command(after_long_help = "Example:\n  swapmesh agreement show 9c41d2e0")]
    Show {
        /// The agreement: its id or at least 8 of its first characters.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop sending your event that waits for the provider's node.
    #[command(after_long_help = "Example:\n  swapmesh agreement cancel-pending 9c41d2e0")]
    CancelPending {
        /// The agreement: its id or at least 8 of its first characters.
        id: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send a note beside the agreement (it changes nothing).
    #[command(
        after_long_help = "Example:\n  swapmesh agreement note 9c41d2e0 \"I'll be 10 minutes late.\""
    )]
    Note {
        /// The agreement: its id or at least 8 of its first characters.
        id: String,
        /// The message (at most 1 KiB).
        text: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Answer the current terms with new ones; only the terms given change.
    #[command(
        after_long_help = "Examples:\n  swapmesh agreement counter 9c41d2e0 --price 4 --note \"4 a day?\"\n  swapmesh agreement counter 9c41d2e0 --due 2030-01-05 --no-deposit"
    )]
    Counter(CounterArgs),
    /// Accept the current terms.
    #[command(
        after_long_help = "Example:\n  swapmesh agreement accept 9c41d2e0 --note \"See you Saturday.\""
    )]
    Accept(ActArgs),
    /// Say no to the current terms, or to an open extend or resolve.
    #[command(after_long_help = "Example:\n  swapmesh agreement decline 9c41d2e0")]
    Decline(ActArgs),
    /// Take back the terms you proposed or countered.
    #[command(after_long_help = "Example:\n  swapmesh agreement withdraw 9c41d2e0")]
    Withdraw(ActArgs),
    /// Say you handed the thing over (the other party confirms).
    #[command(
        after_long_help = "Examples:\n  swapmesh agreement handover 9c41d2e0\n  swapmesh agreement handover 9c41d2e0 --leg receiver     # in a swap, the receiver's item"
    )]
    Handover(LegArgs),
    /// Say you gave the thing back (the other party confirms).
    #[command(
        after_long_help = "Example:\n  swapmesh agreement return 9c41d2e0 --note \"Left it by the gate.\""
    )]
    Return(LegArgs),
    /// Confirm the other party's open act: a handover, a return, an extend, a resolve.
    #[command(
        after_long_help = "Examples:\n  swapmesh agreement confirm 9c41d2e0\n  swapmesh agreement confirm 9c41d2e0 --deposit-returned 50   # on a return"
    )]
    Confirm(ConfirmArgs),
    /// Ask for a new due date (the other party confirms).
    #[command(after_long_help = "Example:\n  swapmesh agreement extend 9c41d2e0 --due 2030-01-05")]
    Extend(ExtendArgs),
    /// Call it off before any handover; on a running lease, give notice.
    #[command(
        after_long_help = "Example:\n  swapmesh agreement cancel 9c41d2e0 --note \"Sorry, plans changed.\""
    )]
    Cancel(ActArgs),
    /// Say something went wrong.
    #[command(
        after_long_help = "Example:\n  swapmesh agreement dispute 9c41d2e0 --note \"It has not come back.\""
    )]
    Dispute(ActArgs),
    /// Propose how a dispute ends (the other party confirms).
    #[command(
        after_long_help = "Example:\n  swapmesh agreement resolve 9c41d2e0 --outcome returned"
    )]
    Resolve(ResolveArgs),
}

/// An action on an agreement with nothing of its own but a note.
#[derive(Args, Debug)]
pub struct ActArgs {
    /// The agreement: its id or at least 8 of its first characters.
    pub id: String,
    /// A word to the other party (at most 1 KiB).
    #[arg(long, default_value = "", hide_default_value = true)]
    pub note: String,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `handover` and `return`.
#[derive(Args, Debug)]
pub struct LegArgs {
    /// The agreement and a note.
    #[command(flatten)]
    pub act: ActArgs,
    /// In a swap, whose item: provider or receiver (default: the one that is yours to hand over or give back).
    #[arg(long, value_parser = parse_leg)]
    pub leg: Option<LegJson>,
}

/// `confirm`.
#[derive(Args, Debug)]
pub struct ConfirmArgs {
    /// The agreement and a note.
    #[command(flatten)]
    pub act: ActArgs,
    /// The event confirmed, 64 hex (default: the other party's open act).
    #[arg(long, value_name = "EVENT")]
    pub of: Option<String>,
    /// On a return: the deposit you gave back, as you would say it: 50 (in --currency).
    #[arg(long, value_name = "AMOUNT")]
    pub deposit_returned: Option<String>,
    /// Currency of --deposit-returned (default: the node's `currency` setting).
    #[arg(long, value_name = "CODE", requires = "deposit_returned")]
    pub currency: Option<String>,
}

/// `extend`.
#[derive(Args, Debug)]
pub struct ExtendArgs {
    /// The agreement and a note.
    #[command(flatten)]
    pub act: ActArgs,
    /// The new due date (RFC 3339, a date YYYY-MM-DD, or +3d from now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub due: String,
}

/// `resolve`.
#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// The agreement and a note.
    #[command(flatten)]
    pub act: ActArgs,
    /// How it ends: returned, kept or other.
    #[arg(long, value_parser = parse_outcome)]
    pub outcome: ResolutionJson,
}

/// Terms as flags, for `propose` and `counter`. Times are RFC 3339, a date
/// YYYY-MM-DD (00:00 UTC), `now`, or a time from now (`+3d`, `+2h`); money is
/// typed as people say it.
#[derive(Args, Debug)]
pub struct TermsArgs {
    /// share, rent, lease, swap: when the thing changes hands.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start: Option<String>,
    /// share, rent: when it is due back.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub due: Option<String>,
    /// lease: when it ends (leave it out to run until notice).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<String>,
    /// give: the start of the pickup window.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<String>,
    /// give: the end of the pickup window; swap: when both items come back.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<String>,
    /// rent, lease: the price per --per, as you would say it: 5, 4.50 (in --currency).
    #[arg(long, value_name = "AMOUNT")]
    pub price: Option<String>,
    /// Price period: hour, day, week, month (default: day; in a counter, the current one).
    #[arg(long, value_parser = parse_period)]
    pub per: Option<Period>,
    /// share, rent: a deposit, as you would say it: 50 (in --currency).
    #[arg(long, value_name = "AMOUNT")]
    pub deposit: Option<String>,
    /// Currency of --price and --deposit (default: the node's `currency` setting).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// rent: after this, only the provider may cancel.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub cancel_before: Option<String>,
    /// lease: days between a notice and the end.
    #[arg(long, value_name = "DAYS")]
    pub notice_days: Option<u16>,
    /// swap: what you give, in words.
    #[arg(long)]
    pub offer: Option<String>,
    /// Where to meet (stays between the two nodes).
    #[arg(long)]
    pub pickup: Option<String>,
    /// When the offer lapses unanswered (default: in 7 days).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub offer_expires: Option<String>,
    /// A word to the other party (at most 1 KiB).
    #[arg(long, default_value = "", hide_default_value = true)]
    pub note: String,
}

/// `agreement propose`.
#[derive(Args, Debug)]
pub struct ProposeArgs {
    /// The listing: your listing's name, or (the start of) its id.
    pub listing: String,
    /// The kind of deal: swap, rent, lease, share or give.
    #[arg(long, value_parser = parse_kind)]
    pub kind: DealKind,
    /// The terms.
    #[command(flatten)]
    pub terms: TermsArgs,
    /// swap: one of your listings given in exchange (its name or id).
    #[arg(long, value_name = "LISTING")]
    pub theirs: Option<String>,
    /// On a listing of yours: whom you propose to (their author key, 64 hex).
    #[arg(long, value_name = "AUTHOR")]
    pub receiver: Option<String>,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `agreement counter`: the terms given replace the current ones.
#[derive(Args, Debug)]
pub struct CounterArgs {
    /// The agreement: its id or at least 8 of its first characters.
    pub id: String,
    /// The new terms.
    #[command(flatten)]
    pub terms: TermsArgs,
    /// Take the deposit away.
    #[arg(long, conflicts_with = "deposit")]
    pub no_deposit: bool,
    /// Take --cancel-before away: either may cancel until the handover.
    #[arg(long, conflicts_with = "cancel_before")]
    pub no_cancel_before: bool,
    /// A lease: run until notice.
    #[arg(long, conflicts_with = "end")]
    pub no_end: bool,
    /// A swap: for good.
    #[arg(long, conflicts_with = "until")]
    pub no_until: bool,
    /// Take the pickup place away.
    #[arg(long, conflicts_with = "pickup")]
    pub no_pickup: bool,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `agreement list` filters.
#[derive(Args, Debug)]
pub struct AgreementListArgs {
    /// Only in this state: offered, accepted, active, disputed, completed, declined, withdrawn, cancelled, resolved, or overdue.
    #[arg(long)]
    pub state: Option<String>,
    /// Only where you are the provider or the receiver.
    #[arg(long, value_parser = parse_role)]
    pub role: Option<AgreementRole>,
    /// Only about this listing: your listing's name, or (the start of) its id.
    #[arg(long)]
    pub listing: Option<String>,
    /// Which page.
    #[command(flatten)]
    pub page: PageArgs,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `key` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Print your key as 24 words (keep them secret: they are the key).
    #[command(after_long_help = "Example:\n  swapmesh key export > words.txt")]
    Export,
    /// Write a key from 24 words (argument or stdin) into a data directory with no key.
    #[command(after_long_help = "Example:\n  swapmesh --data-dir ~/new key import < words.txt")]
    Import {
        /// The words; read from stdin when absent.
        words: Vec<String>,
    },
}

/// `peers`, with or without a subcommand.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PeersArgs {
    /// `blocked` or `unblock`; none: the connected peers.
    #[command(subcommand)]
    pub command: Option<PeersCommand>,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `peers` subcommands.
#[derive(Subcommand, Debug)]
pub enum PeersCommand {
    /// The peers your node blocked for misbehaviour: why, and until when.
    #[command(after_long_help = "Example:\n  swapmesh peers blocked")]
    Blocked {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Unblock a peer (its id, or a start of it that names one blocked peer);
    /// your node dials it again.
    #[command(after_long_help = "Example:\n  swapmesh peers unblock 12D3KooWQf")]
    Unblock {
        /// The peer id, or a start of it.
        peer: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `profile` subcommands.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Publish your profile.
    #[command(
        after_long_help = "Example:\n  swapmesh profile set --name Ana --bio \"Tools and bikes\" --contact \"signal: ana.01\""
    )]
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
    #[command(
        after_long_help = "Example:\n  swapmesh profile show\n  swapmesh profile show <author-hex>"
    )]
    Show {
        /// The author (64 hex).
        author: Option<String>,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The nodes that keep mail for you (at most 4), e.g. your home server:
    /// named in your profile, so others know where to leave it.
    #[command(subcommand)]
    MailPeer(MailPeerCommand),
}

/// Most mail peers a profile names (`PUT /profile` refuses more).
pub(super) const MAX_MAIL_PEERS: usize = 4;

/// `profile mail-peer` subcommands. A node is named by its author key (64 hex)
/// or its peer id (`12D3KooW…`, as `swapmesh status` prints it): the same key.
/// Each change republishes your profile with everything else in it as it was;
/// with `--json`, each prints your profile as the API answers it.
#[derive(Subcommand, Debug)]
pub enum MailPeerCommand {
    /// Name a node that keeps mail for you (at most 4). Your profile must
    /// exist first (`swapmesh profile set --name …`); naming one already
    /// named changes nothing.
    #[command(
        after_long_help = "Examples:\n  swapmesh profile mail-peer add 12D3KooWQfK1…   (your home server's peer id, from its `swapmesh status`)\n  swapmesh profile mail-peer add <author-hex>"
    )]
    Add {
        /// The node: its author key (64 hex) or its peer id.
        #[arg(value_name = "KEY", value_parser = parse_mail_peer)]
        key: AuthorKey,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop naming a node as one that keeps mail for you.
    #[command(after_long_help = "Example:\n  swapmesh profile mail-peer remove 12D3KooWQfK1…")]
    Remove {
        /// The node: its author key (64 hex) or its peer id.
        #[arg(value_name = "KEY", value_parser = parse_mail_peer)]
        key: AuthorKey,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The nodes your profile names as keeping mail for you, one author key
    /// a line (with `--json`, your profile as the API shows it: an error if
    /// you have none yet).
    #[command(after_long_help = "Example:\n  swapmesh profile mail-peer list")]
    List {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `mailbox` subcommands, for a home server's operator. The mailbox keeps
/// mail only for people admitted here whose profile names this node, and only
/// while `mailbox = "allowed"` (the default with `role = "server"`).
#[derive(Subcommand, Debug)]
pub enum MailboxCommand {
    /// Keep mail for someone (they name this node with `swapmesh profile
    /// mail-peer add`).
    #[command(
        after_long_help = "Example:\n  swapmesh mailbox allow 12D3KooWQfK1…   (their peer id, from their `swapmesh status`)\n  swapmesh mailbox allow <author-hex>"
    )]
    Allow {
        /// Their author key (64 hex) or peer id.
        #[arg(value_name = "KEY", value_parser = parse_mail_peer)]
        key: AuthorKey,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop keeping mail for someone: the mail kept for them goes.
    #[command(after_long_help = "Example:\n  swapmesh mailbox deny <author-hex>")]
    Deny {
        /// Their author key (64 hex) or peer id.
        #[arg(value_name = "KEY", value_parser = parse_mail_peer)]
        key: AuthorKey,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The people admitted.
    #[command(after_long_help = "Example:\n  swapmesh mailbox list")]
    List {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// What the mailbox keeps: recipients, envelopes, bytes, the oldest.
    #[command(after_long_help = "Example:\n  swapmesh mailbox status")]
    Status {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// A mail peer as people type it: an author key (64 hex, either case) or a
/// peer id of an ed25519 key, as the author key it is.
fn parse_mail_peer(s: &str) -> Result<AuthorKey, String> {
    let s = s.trim();
    if let Ok(author) = s.to_ascii_lowercase().parse::<AuthorKey>() {
        return Ok(author);
    }
    match s.parse::<PeerId>() {
        Ok(peer) => author_of_peer(&peer)
            .ok_or_else(|| format!("peer id {s} is not of an ed25519 key, as swapmesh nodes' are")),
        Err(_) => Err(format!(
            "{s:?} is neither an author key (64 hex) nor a peer id (12D3KooW…)"
        )),
    }
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
fn parse_leg(s: &str) -> Result<LegJson, String> {
    enum_text(s, "leg", "provider or receiver")
}
fn parse_role(s: &str) -> Result<AgreementRole, String> {
    enum_text(s, "role", "provider or receiver")
}
fn parse_outcome(s: &str) -> Result<ResolutionJson, String> {
    enum_text(s, "outcome", "returned, kept or other")
}

/// A time as people type it, as RFC 3339 UTC to send: RFC 3339, a date
/// `YYYY-MM-DD` (00:00 UTC), `now`, or a duration from now (`+3d`, `+2h`).
fn parse_time(s: &str) -> Result<String, String> {
    let s = s.trim();
    let now = std::time::SystemTime::now;
    let at = if s == "now" {
        now()
    } else if let Some(ahead) = s.strip_prefix('+') {
        let ahead = humantime::parse_duration(ahead)
            .map_err(|e| format!("{s:?} is not a time from now ({e}); e.g. +3d, +2h"))?;
        now() + ahead
    } else {
        let whole = if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_owned()
        };
        humantime::parse_rfc3339_weak(&whole).map_err(|e| {
            format!("{s:?} is not a time ({e}): give RFC 3339, a date YYYY-MM-DD, now or +3d")
        })?
    };
    Ok(humantime::format_rfc3339_seconds(at).to_string())
}

/// `review` subcommands. A person is named by their key (64 hex), `me`, or a
/// unique start of it (at least 8 hex characters) among the people whose
/// listings or agreements your node holds; an agreement by a unique start of
/// its id.
#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Review the other party of one of your agreements that ended with a
    /// receipt; reviewing it again replaces your review everywhere.
    #[command(
        after_long_help = "Example:\n  swapmesh review add 9c41d2e0 --rating 5 --text \"Drill like new, easy handover\""
    )]
    Add {
        /// The agreement: a unique start of its id (at least 8 characters).
        agreement: String,
        /// 1 to 5.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        rating: u8,
        /// What you say (at most 2 KiB).
        #[arg(long, default_value = "")]
        text: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The reviews your node holds of someone (`--subject`) or by someone
    /// (`--author`), newest first.
    #[command(
        after_long_help = "Examples:\n  swapmesh review list --subject 5d0c7e21\n  swapmesh review list --author me --all"
    )]
    List {
        /// Reviews of this person.
        #[arg(long, value_name = "PERSON")]
        subject: Option<String>,
        /// Reviews by this person.
        #[arg(long, value_name = "PERSON")]
        author: Option<String>,
        /// Which page.
        #[command(flatten)]
        page: PageArgs,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// What your node holds about someone (you by default): receipts by
    /// outcome, returns on time, reviews and their mean rating.
    #[command(after_long_help = "Example:\n  swapmesh review summary 5d0c7e21")]
    Summary {
        /// The person (default: you).
        person: Option<String>,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// What a vouch claims, on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ClaimArg {
    /// Lives nearby.
    Neighbour,
    /// Known in person.
    KnownInPerson,
    /// Has dealt with them well.
    DealtWith,
}

/// How sure a vouch is, on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ConfidenceArg {
    /// Somewhat.
    Low,
    /// Fairly.
    Medium,
    /// Fully.
    High,
}

/// `vouch` subcommands. A person is named by their key (64 hex), or a unique
/// start of it (at least 8 hex characters) among the people your node knows.
#[derive(Subcommand, Debug)]
pub enum VouchCommand {
    /// Vouch for someone: public, signed by you, renewed by your node until
    /// you revoke it.
    #[command(
        after_long_help = "Example:\n  swapmesh vouch add 5d0c7e21 --claim known-in-person --confidence high --note \"next door since 2019\""
    )]
    Add {
        /// The person.
        person: String,
        /// What you claim.
        #[arg(long, value_enum, default_value = "known-in-person")]
        claim: ClaimArg,
        /// How sure you are.
        #[arg(long, value_enum, default_value = "medium")]
        confidence: ConfidenceArg,
        /// A public note (at most 280 characters).
        #[arg(long, default_value = "")]
        note: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Take your vouch for someone back.
    #[command(after_long_help = "Example:\n  swapmesh vouch revoke 5d0c7e21")]
    Revoke {
        /// The person.
        person: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The live vouches your node holds: yours by default.
    #[command(
        after_long_help = "Examples:\n  swapmesh vouch list\n  swapmesh vouch list --subject 5d0c7e21"
    )]
    List {
        /// Vouches for this person (then by anyone, unless --author).
        #[arg(long, value_name = "PERSON")]
        subject: Option<String>,
        /// Vouches by this person (default: you, without --subject).
        #[arg(long, value_name = "PERSON")]
        author: Option<String>,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `trust PERSON`.
#[derive(clap::Args, Debug)]
pub struct TrustArgs {
    /// The person.
    pub person: String,
    /// How to reach the node.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `block` subcommands: for you alone; the node still stores, syncs and
/// forwards their records.
#[derive(Subcommand, Debug)]
pub enum BlockCommand {
    /// Block someone: their listings, profile and reviews are hidden from your
    /// node, their vouches and deals lend nothing, their proposals are refused.
    #[command(after_long_help = "Example:\n  swapmesh block add 5d0c7e21")]
    Add {
        /// The person.
        person: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The people you block.
    #[command(after_long_help = "Example:\n  swapmesh block list")]
    List {
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Unblock someone.
    #[command(after_long_help = "Example:\n  swapmesh block remove 5d0c7e21")]
    Remove {
        /// The person: their key, or a start of it (at least 8 hex) among those you block.
        person: String,
        /// How to reach the node.
        #[command(flatten)]
        client: ClientArgs,
    },
}
