//! `agreement`: propose on a listing, list and show agreements, and one
//! subcommand per action, each a `POST /agreements/{id}/<action>` with its own
//! body. Agreements are named by a unique start of their id, money is typed
//! as people say it, and an action prints what happened and what may come
//! next; a 202 (the event waits for the provider's node) is a success.

use serde::Serialize;
use swapmesh_protocol::listing::Period;

use super::args::{
    ActArgs, AgreementCommand, AgreementListArgs, ClientArgs, ConfirmArgs, CounterArgs, LegArgs,
    ProposeArgs,
};
use super::pages::{Search, command_words};
use super::text::{acted_line, agreement_line, name_of, print_agreement, print_as, state_line};
use super::{client, money, resolve};
use crate::api::json::{
    AgreementAnswer, AgreementJson, AgreementPage, ConfirmInput, CounterInput, DealJson,
    ExtendInput, LegInput, NoteInput, NoteText, ProposeInput, ResolveInput,
};
use crate::client::Client;
use crate::data_dir::DataDir;

/// Runs an `agreement` subcommand.
pub(super) fn run(
    dir: &DataDir,
    given_dir: Option<&std::path::Path>,
    command: AgreementCommand,
) -> anyhow::Result<()> {
    use AgreementCommand as A;
    match command {
        A::Propose(args) => propose(dir, args),
        A::List(args) => list(dir, given_dir, &args),
        A::Show { id, client } => show(dir, &id, &client),
        A::CancelPending { id, client } => cancel_pending(dir, &id, &client),
        A::Note { id, text, client } => note(dir, &id, text, &client),
        A::Counter(args) => counter(dir, args),
        A::Accept(a) => with_note(dir, a, "accept"),
        A::Decline(a) => with_note(dir, a, "decline"),
        A::Withdraw(a) => with_note(dir, a, "withdraw"),
        A::Cancel(a) => with_note(dir, a, "cancel"),
        A::Dispute(a) => with_note(dir, a, "dispute"),
        A::Handover(a) => leg(dir, a, "handover"),
        A::Return(a) => leg(dir, a, "return"),
        A::Confirm(a) => confirm(dir, a),
        A::Extend(a) => {
            let body = ExtendInput {
                due: a.due,
                note: a.act.note.clone(),
            };
            act(dir, &a.act, "extend", &body)
        }
        A::Resolve(a) => {
            let body = ResolveInput {
                outcome: a.outcome,
                note: a.act.note.clone(),
            };
            act(dir, &a.act, "resolve", &body)
        }
    }
}

/// What an action did, in the past tense, for the line it prints.
fn done(action: &str) -> &'static str {
    match action {
        "propose" => "proposed",
        "counter" => "countered",
        "accept" => "accepted",
        "decline" => "declined",
        "withdraw" => "withdrew",
        "handover" => "handed over",
        "return" => "gave back",
        "confirm" => "confirmed",
        "extend" => "asked to extend",
        "cancel" => "cancelled",
        "dispute" => "disputed",
        "resolve" => "proposed how to end the dispute of",
        _ => "did",
    }
}

/// Prints an action's answer: the API's JSON, or one line.
fn print_answer(action: &str, answer: &AgreementAnswer, json: bool) {
    print_as(json, answer, |a| {
        println!("{}", acted_line(done(action), a))
    });
}

/// `POST /agreements/{id}/<action>` with `body` on the agreement `args.id`
/// names, and prints the answer.
fn act(dir: &DataDir, args: &ActArgs, action: &str, body: &impl Serialize) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    post_action(&c, &args.id, action, body, args.client.json)
}

/// Resolves `short` and posts the action on it.
fn post_action(
    c: &Client,
    short: &str,
    action: &str,
    body: &impl Serialize,
    json: bool,
) -> anyhow::Result<()> {
    let id = resolve::agreement(c, short)?;
    let answer: AgreementAnswer = c.post(&format!("/agreements/{id}/{action}"), body)?;
    print_answer(action, &answer, json);
    Ok(())
}

/// accept, decline, withdraw, cancel, dispute: a note and nothing else.
fn with_note(dir: &DataDir, args: ActArgs, action: &str) -> anyhow::Result<()> {
    let body = NoteInput {
        note: args.note.clone(),
    };
    act(dir, &args, action, &body)
}

/// handover and return.
fn leg(dir: &DataDir, args: LegArgs, action: &str) -> anyhow::Result<()> {
    let body = LegInput {
        leg: args.leg,
        note: args.act.note.clone(),
    };
    act(dir, &args.act, action, &body)
}

/// `confirm`, with the deposit given back typed as people say it (checked
/// before anything is sent).
fn confirm(dir: &DataDir, args: ConfirmArgs) -> anyhow::Result<()> {
    let c = client(dir, &args.act.client)?;
    let deposit_returned = args
        .deposit_returned
        .as_deref()
        .map(|text| money::typed(&c, "deposit-returned", text, args.currency.as_deref()))
        .transpose()?;
    let body = ConfirmInput {
        of: args.of,
        deposit_returned,
        note: args.act.note.clone(),
    };
    post_action(&c, &args.act.id, "confirm", &body, args.act.client.json)
}

/// `agreement propose`.
fn propose(dir: &DataDir, args: ProposeArgs) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let t = args.terms;
    let (price, deposit) = money::price_and_deposit(
        &c,
        t.price.as_deref(),
        t.per.unwrap_or(Period::Day),
        t.deposit.as_deref(),
        t.currency.as_deref(),
    )?;
    let input = ProposeInput {
        listing: args.listing,
        version_id: None,
        kind: args.kind,
        start: t.start,
        due: t.due,
        end: t.end,
        from: t.from,
        until: t.until,
        price,
        deposit,
        cancel_before: t.cancel_before,
        notice_days: t.notice_days,
        theirs: args.theirs,
        offer: t.offer,
        receiver: args.receiver,
        pickup: t.pickup,
        offer_expires: t.offer_expires,
        note: t.note,
    };
    let answer: AgreementAnswer = c.post("/agreements", &input)?;
    print_answer("propose", &answer, args.client.json);
    Ok(())
}

/// The period of a countered price: `--per`, else the current price's, else
/// a day.
fn counter_period(c: &Client, id: &str, per: Option<Period>) -> anyhow::Result<Period> {
    if let Some(per) = per {
        return Ok(per);
    }
    let current: AgreementJson = c.get(&format!("/agreements/{id}"))?;
    Ok(match current.terms.deal {
        DealJson::Rent { price, .. } | DealJson::Lease { price, .. } => price.per,
        _ => Period::Day,
    })
}

/// `Some(None)` (take the term away) when `clear`, else `Some(value)` if given.
fn cleared<T>(clear: bool, value: Option<T>) -> Option<Option<T>> {
    if clear { Some(None) } else { value.map(Some) }
}

/// `agreement counter`: only the terms given change.
fn counter(dir: &DataDir, args: CounterArgs) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let id = resolve::agreement(&c, &args.id)?;
    let t = args.terms;
    let per = match t.price {
        Some(_) => counter_period(&c, &id, t.per)?,
        None => Period::Day,
    };
    let (price, deposit) = money::price_and_deposit(
        &c,
        t.price.as_deref(),
        per,
        t.deposit.as_deref(),
        t.currency.as_deref(),
    )?;
    let input = CounterInput {
        kind: None,
        start: t.start,
        due: t.due,
        end: cleared(args.no_end, t.end),
        from: t.from,
        until: cleared(args.no_until, t.until),
        price,
        deposit: cleared(args.no_deposit, deposit),
        cancel_before: cleared(args.no_cancel_before, t.cancel_before),
        notice_days: t.notice_days,
        offer: t.offer,
        pickup: cleared(args.no_pickup, t.pickup),
        offer_expires: t.offer_expires,
        note: t.note,
    };
    let answer: AgreementAnswer = c.post(&format!("/agreements/{id}/counter"), &input)?;
    print_answer("counter", &answer, args.client.json);
    Ok(())
}

/// `agreement list`.
fn list(
    dir: &DataDir,
    given_dir: Option<&std::path::Path>,
    args: &AgreementListArgs,
) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let role = args.role.as_ref().map(name_of);
    let command = command_words(given_dir, &["agreement", "list"]);
    Search::<AgreementPage>::new("/agreements", command, agreement_line)
        .flags(&[
            ("state", "state", &args.state),
            ("role", "role", &role),
            ("listing", "listing", &args.listing),
        ])
        .run(&c, &args.page, args.client.json)
}

/// `agreement show`.
fn show(dir: &DataDir, short: &str, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::agreement(&c, short)?;
    let agreement: AgreementJson = c.get(&format!("/agreements/{id}"))?;
    print_as(args.json, &agreement, print_agreement);
    Ok(())
}

/// Prints an agreement after `cancel-pending` or `note`.
fn print_changed(done: &str, agreement: &AgreementJson, json: bool) {
    print_as(json, agreement, |a| {
        println!("{}", state_line(done, &a.summary, ""));
    });
}

/// `agreement cancel-pending`.
fn cancel_pending(dir: &DataDir, short: &str, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::agreement(&c, short)?;
    let agreement: AgreementJson = c.delete(&format!("/agreements/{id}/pending"))?;
    print_changed(
        "stopped sending your pending event on",
        &agreement,
        args.json,
    );
    Ok(())
}

/// `agreement note`.
fn note(dir: &DataDir, short: &str, text: String, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::agreement(&c, short)?;
    let agreement: AgreementJson = c.post(&format!("/agreements/{id}/note"), &NoteText { text })?;
    print_changed("sent a note on", &agreement, args.json);
    Ok(())
}
