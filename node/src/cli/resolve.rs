//! Short ids, wherever the CLI takes an id (DESIGN §7): a listing of yours by
//! its name, anyone's by a unique start of its id; an agreement by a unique
//! start of its id; a person by `me` or a unique start of their key; a mesh by
//! its id, its name or a unique start of its id. An ambiguous one is an error
//! that lists the candidates.

use anyhow::bail;
use swapmesh_protocol::ListingId;

use crate::api::json::{AgreementPage, ListingPage, MeshList, NodeJson};
use crate::client::Client;

/// Most candidates an ambiguous short id lists.
const MAX_CANDIDATES: usize = 10;
/// Most listings and agreements a person's short key is looked for among.
const PEOPLE_SCAN: usize = 500;

/// The full id of the listing `short` names. A whole id names itself, unless
/// it names nothing live and is the start of exactly one live listing's id
/// (`<author>.bi` for `<author>.bike`); a withdrawn listing is named by its
/// whole id or, if it is ours, its name.
pub(super) fn listing(client: &Client, short: &str) -> anyhow::Result<String> {
    let short = short.trim();
    let whole = short.parse::<ListingId>().is_ok();
    let limit = (MAX_CANDIDATES + 1).to_string();
    let page: ListingPage =
        client.get_with("/listings", &[("id_prefix", short), ("limit", &limit)])?;
    if whole && (page.listings.is_empty() || page.listings.iter().any(|l| l.id == short)) {
        return Ok(short.to_owned());
    }
    match page.listings.as_slice() {
        [] => bail!(
            "no listing matches {short:?}: give the name of one of your listings, or at least 8 characters of a listing id"
        ),
        [one] => Ok(one.id.clone()),
        many => bail!(
            "{short:?} matches several listings, give more of the id: {}",
            candidates(many.iter().map(|l| (&l.id, &l.title)))
        ),
    }
}

/// Least hex characters of an agreement id that name it.
const MIN_AGREEMENT_PREFIX: usize = 8;

/// The full id of the agreement `short` names: its id, or a unique start of
/// it of at least 8 hex characters, as `GET /agreements?id_prefix=` finds it.
/// Anything else is refused here, before asking the node.
pub(super) fn agreement(client: &Client, short: &str) -> anyhow::Result<String> {
    let short = short.trim().to_ascii_lowercase();
    if short.len() < MIN_AGREEMENT_PREFIX
        || short.len() > 64
        || !short.bytes().all(|b| b.is_ascii_hexdigit())
    {
        bail!(
            "{short:?} does not name an agreement: give its id or at least {MIN_AGREEMENT_PREFIX} of its first hex characters"
        );
    }
    let limit = (MAX_CANDIDATES + 1).to_string();
    let page: AgreementPage =
        client.get_with("/agreements", &[("id_prefix", &short), ("limit", &limit)])?;
    match page.agreements.as_slice() {
        [] => bail!("no agreement of this node matches {short:?}"),
        [one] => Ok(one.id.clone()),
        many => bail!(
            "{short:?} matches several agreements, give more of the id: {}",
            candidates(many.iter().map(|a| (&a.id, &a.title)))
        ),
    }
}

/// The key (64 hex) of the person `short` names: a whole key, `me`, or a
/// unique start of one (at least 8 hex characters) among the authors of the
/// listings this node holds and the other parties of its agreements.
pub(super) fn person(client: &Client, short: &str) -> anyhow::Result<String> {
    let short = short.trim().to_ascii_lowercase();
    if short == "me" {
        return Ok(client.get::<NodeJson>("/node")?.author);
    }
    if short.len() == 64 && short.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(short);
    }
    if short.len() < 8 || !short.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{short:?} names nobody: give `me`, a key (64 hex) or at least 8 hex characters of one"
        );
    }
    let limit = PEOPLE_SCAN.to_string();
    let listings: ListingPage =
        client.get_with("/listings", &[("id_prefix", &short), ("limit", &limit)])?;
    let agreements: AgreementPage = client.get_with("/agreements", &[("limit", &limit)])?;
    let mut found: Vec<String> = listings
        .listings
        .into_iter()
        .map(|l| l.author)
        .chain(agreements.agreements.into_iter().map(|a| a.other))
        .filter(|key| key.starts_with(&short))
        .collect();
    found.sort();
    found.dedup();
    match found.as_slice() {
        [] => bail!("nobody your node knows has a key starting {short:?}: give the whole key"),
        [one] => Ok(one.clone()),
        many => bail!(
            "{short:?} starts several keys, give more of it: {}",
            many.join(", ")
        ),
    }
}

/// Candidates of an ambiguous short id, `id (title)`, the first ten of them.
fn candidates<'a>(found: impl ExactSizeIterator<Item = (&'a String, &'a String)>) -> String {
    let more = if found.len() > MAX_CANDIDATES {
        ", …"
    } else {
        ""
    };
    let shown: Vec<String> = found
        .take(MAX_CANDIDATES)
        .map(|(id, title)| format!("{id} ({title})"))
        .collect();
    format!("{}{more}", shown.join(", "))
}

/// The id of the mesh `short` names among those this node is in.
pub(super) fn mesh(client: &Client, short: &str) -> anyhow::Result<String> {
    let list: MeshList = client.get("/meshes")?;
    if let Some(m) = list.meshes.iter().find(|m| m.id == short) {
        return Ok(m.id.clone());
    }
    let by_name: Vec<_> = list
        .meshes
        .iter()
        .filter(|m| {
            m.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(short))
        })
        .collect();
    let candidates = if by_name.is_empty() {
        list.meshes
            .iter()
            .filter(|m| m.id.starts_with(short))
            .collect()
    } else {
        by_name
    };
    match candidates.as_slice() {
        // Not one of ours: the node answers with its own error.
        [] => Ok(short.to_owned()),
        [one] => Ok(one.id.clone()),
        many => {
            let shown: Vec<String> = many
                .iter()
                .map(|m| format!("{} ({})", m.id, m.name.as_deref().unwrap_or("no name")))
                .collect();
            bail!(
                "{short:?} names several meshes, give more of the id: {}",
                shown.join(", ")
            )
        }
    }
}
