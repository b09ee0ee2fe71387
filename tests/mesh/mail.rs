//! Mail for the offline (issue 26): a home server keeps sealed agreement
//! messages for the neighbours it admits, so two people who are never online
//! at the same time still complete a rental. All on one moved clock.

use base64::Engine;
use swapmesh_net::Protocol;
use swapmesh_node::{Clock, Delivery, ManualClock, Node, Proposal};
use swapmesh_protocol::agreement::wire::{Note, Request};
use swapmesh_protocol::agreement::{Action, Leg, Phase};
use swapmesh_protocol::mail::{
    Letter, MailItem, MailRequest, MailRequestV1, MailResponse, MailResponseV1, PutRefusal,
    SignedEnvelope, open, seal,
};
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::time::{DAY, MINUTE};
use swapmesh_protocol::{AgreementId, AuthorKey, Content, SignedRecord, Timestamp};

use crate::agreements::{
    CELL, RawTaker, chain_bytes, confirm, drill, misbehaviour_of, node_on_with, open_of, proposal,
    rent, view,
};
use crate::kit::{self, TestNode, wait_until};

const HOUR: u64 = 60 * MINUTE;

/// A home server with a mailbox, on the shared clock.
pub(crate) async fn mail_host(clock: &ManualClock) -> TestNode {
    node_on_with(clock, CELL, |_, c| c.mailbox = true).await
}

/// A person's node on the shared clock. Without Kademlia it can find no one
/// through the host: people meet only the peers the test connects.
pub(crate) async fn person(clock: &ManualClock) -> TestNode {
    node_on_with(clock, CELL, |_, c| c.discovery.kademlia = false).await
}

/// `who` names `host` as its mail peer and the host admits them; waits until
/// the host holds the profile.
pub(crate) async fn use_host(who: &Node, host: &Node) {
    who.set_profile(Profile {
        name: "neighbour".into(),
        bio: String::new(),
        contact: Vec::new(),
        mail_peers: vec![host.author()],
    })
    .await
    .expect("profile");
    host.mailbox_admit(who.author(), true)
        .await
        .expect("admitted");
    wait_until("the host to hold the profile", || async {
        host.profile(who.author())
            .ok()
            .flatten()
            .is_some_and(|(_, p)| p.mail_peers == vec![host.author()])
    })
    .await;
}

/// A mail host, and a lender and a borrower who both name it, hold each
/// other's profiles and the lender's drill, and are connected only to it.
pub(crate) struct Street {
    host: TestNode,
    lender: TestNode,
    borrower: TestNode,
    listing: swapmesh_protocol::ListingId,
}

pub(crate) async fn street(clock: &ManualClock) -> Street {
    let host = mail_host(clock).await;
    let lender = person(clock).await;
    let borrower = person(clock).await;
    kit::connect(&lender, &host).await;
    kit::connect(&borrower, &host).await;
    use_host(&lender, &host).await;
    use_host(&borrower, &host).await;
    let listing = drill(&lender, &[&borrower]).await;
    wait_until("each to hold the other's profile", || async {
        lender.profile(borrower.author()).ok().flatten().is_some()
            && borrower.profile(lender.author()).ok().flatten().is_some()
    })
    .await;
    Street {
        host,
        lender,
        borrower,
        listing,
    }
}

/// Ends `who`'s turn: a minute passes (direct tries fail for `mail_after`),
/// so what `who` owes on `id` goes to the host; waits until it is there.
async fn leave_mail(who: &Node, clock: &ManualClock, id: &AgreementId) {
    clock.advance(MINUTE + 1);
    wait_until("our message left with the host", || async {
        who.check_mail().await;
        matches!(
            who.agreement(id).unwrap().delivery,
            Delivery::InMailbox { .. }
        )
    })
    .await;
}

/// Starts `who`'s turn: reads its mail until `done` holds.
async fn read_mail(who: &Node, what: &str, done: impl Fn(&Node) -> bool) {
    wait_until(what, || async {
        who.check_mail().await;
        done(who)
    })
    .await;
}

fn phase(node: &Node, id: &AgreementId) -> Option<Phase> {
    node.agreement(id)
        .ok()
        .filter(|a| a.pending.is_none())
        .map(|a| a.state.phase)
}

/// The letters the host keeps, in all.
fn kept(host: &Node) -> u32 {
    host.mailbox_status()
        .unwrap()
        .recipients
        .iter()
        .map(|r| r.totals.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_never_online_together_complete_a_rental() {
    let clock = ManualClock::starting_now();
    let Street {
        host,
        mut lender,
        mut borrower,
        listing,
    } = street(&clock).await;
    let (lender_peer, borrower_peer) = (lender.peer_id(), borrower.peer_id());

    // From here on, one of them is online at a time; 8 hours pass a turn.
    lender.stop().await;
    let start = clock.now().plus(12 * HOUR);
    let due = start.plus(24 * HOUR);
    let proposed = borrower
        .propose(proposal(&listing, rent(start, 1, 500)))
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    leave_mail(&borrower, &clock, &id).await;

    // The lender accepts and hands over.
    borrower.stop().await;
    clock.advance(8 * HOUR);
    lender.resume(|_| {}).await;
    read_mail(&lender, "the proposal by mail", |n| {
        phase(n, &id) == Some(Phase::Offered)
    })
    .await;
    lender.accept(&id, String::new()).await.expect("accept");
    let leg = Leg::Provider;
    lender
        .act(&id, Action::Handover { leg }, String::new())
        .await
        .expect("handover");
    leave_mail(&lender, &clock, &id).await;

    // The borrower confirms the handover.
    lender.stop().await;
    clock.advance(8 * HOUR);
    borrower.resume(|_| {}).await;
    read_mail(&borrower, "the acceptance and handover by mail", |n| {
        n.agreement(&id)
            .is_ok_and(|a| a.pending.is_none() && a.state.open[0].is_some())
    })
    .await;
    let of = open_of(&borrower.agreement(&id).unwrap(), 0);
    borrower
        .act(&id, confirm(of), String::new())
        .await
        .expect("confirm");
    leave_mail(&borrower, &clock, &id).await;

    // The lender takes the confirmation: the drill is out.
    borrower.stop().await;
    clock.advance(8 * HOUR);
    lender.resume(|_| {}).await;
    read_mail(&lender, "the confirmation by mail", |n| {
        phase(n, &id) == Some(Phase::Active)
    })
    .await;
    leave_mail(&lender, &clock, &id).await;

    // The borrower gives it back before the due date.
    lender.stop().await;
    clock.advance(8 * HOUR);
    borrower.resume(|_| {}).await;
    read_mail(&borrower, "the active chain by mail", |n| {
        phase(n, &id) == Some(Phase::Active)
    })
    .await;
    assert!(clock.now() < due, "returned before the due date");
    borrower
        .act(&id, Action::Return { leg }, String::new())
        .await
        .expect("return");
    leave_mail(&borrower, &clock, &id).await;

    // The lender opens the return after the due date, and confirms it.
    borrower.stop().await;
    clock.advance(8 * HOUR);
    lender.resume(|_| {}).await;
    assert!(clock.now() > due, "opened after the due date");
    read_mail(&lender, "the return by mail", |n| {
        n.agreement(&id)
            .is_ok_and(|a| a.pending.is_none() && a.state.open[1].is_some())
    })
    .await;
    let of = open_of(&lender.agreement(&id).unwrap(), 1);
    lender
        .act(&id, confirm(of), String::new())
        .await
        .expect("confirm the return");
    assert_eq!(phase(&lender, &id), Some(Phase::Completed));
    leave_mail(&lender, &clock, &id).await;

    // The borrower signs the receipt; the lender publishes it; the borrower
    // takes it from the lender's answer.
    lender.stop().await;
    clock.advance(8 * HOUR);
    borrower.resume(|_| {}).await;
    read_mail(&borrower, "the completed chain by mail", |n| {
        phase(n, &id) == Some(Phase::Completed)
    })
    .await;
    leave_mail(&borrower, &clock, &id).await;
    borrower.stop().await;
    clock.advance(8 * HOUR);
    lender.resume(|_| {}).await;
    read_mail(&lender, "the receipt signature by mail", |n| {
        n.agreement(&id).unwrap().receipt.is_some()
    })
    .await;
    // The lender's answer waits at the host; the borrower fetches it.
    lender.stop().await;
    clock.advance(8 * HOUR);
    borrower.resume(|_| {}).await;
    read_mail(&borrower, "the receipt by mail", |n| {
        n.agreement(&id).unwrap().receipt.is_some()
    })
    .await;
    lender.resume(|_| {}).await;

    for node in [&lender, &borrower] {
        let record = node.agreement(&id).unwrap().receipt.unwrap();
        let Content::Receipt(receipt) = record.body.content else {
            panic!("not a receipt");
        };
        assert!(receipt.signatures_valid());
        assert_eq!(receipt.statement.on_time, Some(true));
    }
    assert_eq!(chain_bytes(&lender, &id), chain_bytes(&borrower, &id));
    assert_eq!(
        lender.agreement(&id).unwrap().receipt.unwrap().id,
        borrower.agreement(&id).unwrap().receipt.unwrap().id
    );
    assert_eq!(kept(&host), 0, "the mailbox is empty");
    // They never met: neither has ever had an address of the other.
    assert!(lender.known_addresses(borrower_peer).is_empty());
    assert!(borrower.known_addresses(lender_peer).is_empty());
}

/// A mail request from a raw peer; `None` if the host closed the stream.
async fn ask(raw: &RawTaker, host: &Node, request: MailRequestV1) -> Option<MailResponse> {
    let bytes = raw
        .net
        .send_request(
            Protocol::Mail,
            host.peer_id(),
            MailRequest::V1(request).encode(),
        )
        .await
        .ok()?;
    Some(MailResponse::decode(&bytes).expect("a mail response"))
}

/// A letter carrying a note of `text` on a made-up agreement, sealed by
/// `from` to `to`, living `lifetime` from `now`.
fn letter_to(
    from: &RawTaker,
    to: AuthorKey,
    text: &str,
    now: Timestamp,
    lifetime: u64,
) -> SignedEnvelope {
    let note = Note::sign(AgreementId([7; 32]), now, text.to_owned(), &from.key);
    let letter = Letter::V1 {
        reply_to: Vec::new(),
        item: MailItem::Request(Request::Note(note)),
    };
    seal(
        &from.key,
        to,
        &letter,
        now,
        lifetime,
        &mut rand::thread_rng(),
    )
    .expect("sealed")
}

async fn put(raw: &RawTaker, host: &Node, envelope: SignedEnvelope) -> MailResponse {
    ask(raw, host, MailRequestV1::Put { envelope })
        .await
        .expect("an answer to a put")
}

const STORED: MailResponse = MailResponse::V1(MailResponseV1::Stored);

fn refused(why: PutRefusal) -> MailResponse {
    MailResponse::V1(MailResponseV1::Refused(why))
}

/// The envelopes `host` keeps for `recipient`, read back from its store.
fn held_for(host: &Node, recipient: &AuthorKey) -> Vec<SignedEnvelope> {
    host.store()
        .mail_for(recipient, 0, usize::MAX)
        .unwrap()
        .0
        .into_iter()
        .map(|(_, held)| SignedEnvelope::decode(&held.envelope).expect("an envelope"))
        .collect()
}

fn profile_naming(hosts: Vec<AuthorKey>) -> Profile {
    Profile {
        name: "neighbour".into(),
        bio: String::new(),
        contact: Vec::new(),
        mail_peers: hosts,
    }
}

/// Waits until `host` holds `who`'s profile naming exactly `hosts`.
async fn host_holds(host: &Node, who: &Node, hosts: &[AuthorKey]) {
    wait_until("the host to hold the profile", || async {
        host.profile(who.author())
            .ok()
            .flatten()
            .is_some_and(|(_, p)| p.mail_peers == hosts)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_host_sees_no_contents() {
    let clock = ManualClock::starting_now();
    let Street {
        host,
        lender,
        borrower,
        listing,
    } = street(&clock).await;

    let pickup = "by the blue gate at seven";
    let note = "ring twice, the bell is broken";
    let proposed = borrower
        .propose(Proposal {
            pickup: Some(pickup.into()),
            note: note.into(),
            ..proposal(&listing, rent(clock.now().plus(DAY), 1, 500))
        })
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    let stored = borrower.store().agreement(&id).unwrap().unwrap();
    let event = stored.pending.expect("our pending proposal").encode();
    let terms = swapmesh_protocol::encoding::encode(&stored.state.terms);
    leave_mail(&borrower, &clock, &id).await;
    // Unanswered for a day: the same request is sealed and left again.
    clock.advance(DAY + 1);
    wait_until("the request left a second time", || async {
        borrower.check_mail().await;
        held_for(&host, &lender.author()).len() == 2
    })
    .await;

    let envelopes = held_for(&host, &lender.author());
    let host_key = swapmesh_node::identity::load_key(&swapmesh_node::DataDir::new(host.dir()))
        .unwrap()
        .unwrap();
    let lender_key = swapmesh_node::identity::load_key(&swapmesh_node::DataDir::new(lender.dir()))
        .unwrap()
        .unwrap();
    let needles: Vec<Vec<u8>> = [pickup.as_bytes(), note.as_bytes(), &terms, &event]
        .iter()
        .flat_map(|n| {
            // Long needles: a 32-byte window of each form is enough to find it.
            let forms = [
                n.to_vec(),
                hex::encode(n).into_bytes(),
                base64::engine::general_purpose::STANDARD
                    .encode(n)
                    .into_bytes(),
            ];
            forms.map(|f| f[..f.len().min(32)].to_vec())
        })
        .collect();
    let mut letters = Vec::new();
    for signed in &envelopes {
        let bytes = signed.encode();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "the host's copy shows {:?}",
                String::from_utf8_lossy(needle)
            );
        }
        let envelope = signed.verify(clock.now()).expect("a valid envelope");
        assert_eq!(envelope.sender, borrower.author());
        assert_eq!(envelope.recipient, lender.author());
        assert!(
            open(&envelope, &host_key).is_err(),
            "the host cannot open it"
        );
        letters.push(open(&envelope, &lender_key).expect("the lender opens it"));
        let Letter::V1 { item, .. } = letters.last().unwrap();
        let MailItem::Request(Request::Deliver { events }) = item else {
            panic!("not our proposal: {item:?}");
        };
        assert_eq!(events[0].encode(), event, "the proposal inside");
    }
    // One request sealed twice: two different envelopes, one letter.
    assert_ne!(envelopes[0].encode(), envelopes[1].encode());
    assert_ne!(envelopes[0].id(), envelopes[1].id());
    assert_eq!(letters[0], letters[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_host_refuses_strangers_and_enforces_quotas() {
    let clock = ManualClock::starting_now();
    let host = mail_host(&clock).await;
    let ana = person(&clock).await;
    kit::connect(&ana, &host).await;
    let raw = RawTaker::new(301, &host).await;
    let now = clock.now();
    let small = || letter_to(&raw, ana.author(), "hello", now, DAY);

    // Admitted, but her profile names no host: not this host's mailbox.
    ana.set_profile(profile_naming(Vec::new())).await.unwrap();
    host_holds(&host, &ana, &[]).await;
    host.mailbox_admit(ana.author(), true).await.unwrap();
    assert_eq!(
        put(&raw, &host, small()).await,
        refused(PutRefusal::NotMyMailbox)
    );
    // Named, but not admitted.
    host.mailbox_admit(ana.author(), false).await.unwrap();
    ana.set_profile(profile_naming(vec![host.author()]))
        .await
        .unwrap();
    host_holds(&host, &ana, &[host.author()]).await;
    assert_eq!(
        put(&raw, &host, small()).await,
        refused(PutRefusal::NotMyMailbox)
    );
    // A stranger to her: nothing kept.
    assert!(held_for(&host, &ana.author()).is_empty());

    // Admitted and named: kept, up to the sender's 64 envelopes.
    host.mailbox_admit(ana.author(), true).await.unwrap();
    for _ in 0..64 {
        assert_eq!(put(&raw, &host, small()).await, STORED);
    }
    assert_eq!(put(&raw, &host, small()).await, refused(PutRefusal::Quota));
    // A sender's 1 MiB: four letters of 250 KiB fit, a fifth does not.
    let big = "x".repeat(250 * 1024);
    let mut senders = Vec::new();
    for seed in 302..=306 {
        senders.push(RawTaker::new(seed, &host).await);
    }
    for _ in 0..4 {
        let letter = letter_to(&senders[0], ana.author(), &big, now, DAY);
        assert_eq!(put(&senders[0], &host, letter).await, STORED);
    }
    let letter = letter_to(&senders[0], ana.author(), &big, now, DAY);
    assert_eq!(
        put(&senders[0], &host, letter).await,
        refused(PutRefusal::Quota)
    );
    // Her 4 MiB: three more senders' four each fit, the next letter does not.
    for sender in &senders[1..4] {
        for _ in 0..4 {
            let letter = letter_to(sender, ana.author(), &big, now, DAY);
            assert_eq!(put(sender, &host, letter).await, STORED);
        }
    }
    let letter = letter_to(&senders[4], ana.author(), &big, now, DAY);
    assert_eq!(
        put(&senders[4], &host, letter).await,
        refused(PutRefusal::Quota)
    );
    let status = host.mailbox_status().unwrap();
    let hers = status
        .recipients
        .iter()
        .find(|r| r.recipient == ana.author())
        .expect("her mailbox");
    assert_eq!(hers.totals.count, 64 + 16);
    assert!(hers.totals.bytes <= 4 * 1024 * 1024);
    // Nobody was charged for any of it.
    for peer in std::iter::once(&raw).chain(&senders) {
        assert_eq!(misbehaviour_of(&host, peer.net.local_peer_id()).await, 0.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_mail_is_dropped() {
    let clock = ManualClock::starting_now();
    let host = mail_host(&clock).await;
    let ana = person(&clock).await;
    kit::connect(&ana, &host).await;
    use_host(&ana, &host).await;
    let raw = RawTaker::new(311, &host).await;
    let now = clock.now();
    let short = letter_to(&raw, ana.author(), "for an hour", now, HOUR);
    let long = letter_to(&raw, ana.author(), "for a day", now, DAY);
    assert_eq!(put(&raw, &host, short.clone()).await, STORED);
    assert_eq!(put(&raw, &host, long.clone()).await, STORED);
    clock.advance(HOUR);
    host.sweep_now().unwrap();
    let left = held_for(&host, &ana.author());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id(), long.id());
    // Already expired on arrival: refused, uncharged.
    assert_eq!(put(&raw, &host, short).await, refused(PutRefusal::Expired));
    clock.advance(DAY);
    host.sweep_now().unwrap();
    assert!(held_for(&host, &ana.author()).is_empty());
    assert_eq!(host.mailbox_status().unwrap().recipients, Vec::new());
    assert_eq!(misbehaviour_of(&host, raw.net.local_peer_id()).await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_host_from_the_profile_deletes_the_mail() {
    let clock = ManualClock::starting_now();
    let host = mail_host(&clock).await;
    let ana = person(&clock).await;
    kit::connect(&ana, &host).await;
    use_host(&ana, &host).await;
    let raw = RawTaker::new(321, &host).await;
    let now = clock.now();
    for text in ["one", "two"] {
        let letter = letter_to(&raw, ana.author(), text, now, DAY);
        assert_eq!(put(&raw, &host, letter).await, STORED);
    }
    assert_eq!(held_for(&host, &ana.author()).len(), 2);
    // A newer profile without the host: her mail there goes, and no more is kept.
    ana.set_profile(profile_naming(Vec::new())).await.unwrap();
    wait_until("her mail to go", || async {
        held_for(&host, &ana.author()).is_empty()
    })
    .await;
    assert_eq!(kept(&host), 0);
    let letter = letter_to(&raw, ana.author(), "three", now, DAY);
    assert_eq!(
        put(&raw, &host, letter).await,
        refused(PutRefusal::NotMyMailbox)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_can_neither_fetch_nor_delete_anothers_mail() {
    let clock = ManualClock::starting_now();
    let host = mail_host(&clock).await;
    let lender = person(&clock).await;
    kit::connect(&lender, &host).await;
    use_host(&lender, &host).await;
    let raw = RawTaker::new(331, &host).await;
    let letter = letter_to(&raw, lender.author(), "for the lender", clock.now(), DAY);
    let id = letter.id();
    assert_eq!(put(&raw, &host, letter).await, STORED);

    // The sender deletes it by id: the host answers, and keeps it.
    let deleted = ask(&raw, &host, MailRequestV1::Delete { ids: vec![id] }).await;
    assert_eq!(deleted, Some(MailResponse::V1(MailResponseV1::Deleted)));
    assert_eq!(held_for(&host, &lender.author()).len(), 1);
    // A stranger fetches: not its mailbox, nothing handed over, even when it
    // sends the lender's own signed profile along.
    let theirs = lender
        .store()
        .get_current(&swapmesh_protocol::Address {
            author: lender.author(),
            kind: swapmesh_protocol::RecordKind::Profile,
            d: swapmesh_protocol::record::PROFILE_D.to_owned(),
        })
        .unwrap()
        .unwrap()
        .signed;
    for profile in [None, Some(theirs)] {
        let fetched = ask(&raw, &host, MailRequestV1::Fetch { after: 0, profile }).await;
        assert_eq!(fetched, Some(refused(PutRefusal::NotMyMailbox)));
    }
    // Admitted with a profile of its own, it fetches its own mail: none.
    host.mailbox_admit(raw.author(), true).await.unwrap();
    let own = SignedRecord::sign(
        &swapmesh_protocol::fixtures::local_body(
            raw.author(),
            Content::Profile(profile_naming(vec![host.author()])),
            clock.now(),
        ),
        &raw.key,
    );
    let fetched = ask(
        &raw,
        &host,
        MailRequestV1::Fetch {
            after: 0,
            profile: Some(own),
        },
    )
    .await;
    assert_eq!(
        fetched,
        Some(MailResponse::V1(MailResponseV1::Mail {
            items: Vec::new(),
            more: false
        }))
    );
    assert_eq!(held_for(&host, &lender.author()).len(), 1);
    // The lender's own fetch gets it, and its delete removes it.
    lender.check_mail().await;
    assert!(held_for(&host, &lender.author()).is_empty());
}

/// The node's count of events that joined its chains with `action`.
async fn joined(node: &Node, action: &str) -> u64 {
    let metrics = node.metrics_text().await.unwrap();
    let line = format!("swapmesh_agreement_events_total{{action=\"{action}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_and_direct_delivery_of_the_same_event_apply_once() {
    let clock = ManualClock::starting_now();
    let Street {
        host,
        lender,
        borrower,
        listing,
    } = street(&clock).await;
    let proposed = borrower
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 1, 500)))
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    leave_mail(&borrower, &clock, &id).await;

    // They meet: the proposal arrives directly, and its answer with it.
    kit::connect(&lender, &borrower).await;
    borrower.check_mail().await;
    wait_until("the proposal, directly", || async {
        phase(&lender, &id) == Some(Phase::Offered) && phase(&borrower, &id) == Some(Phase::Offered)
    })
    .await;
    assert_eq!(kept(&host), 1, "the letter still waits");
    // The letter, opened after: the same event, acknowledged again, applied once.
    lender.check_mail().await;
    assert_eq!(
        kept(&host),
        1,
        "the lender's answer by mail, for the borrower"
    );
    borrower.check_mail().await;
    assert_eq!(kept(&host), 0);
    assert_eq!(chain_bytes(&lender, &id).len(), 1);
    assert_eq!(chain_bytes(&lender, &id), chain_bytes(&borrower, &id));
    assert_eq!(joined(&lender, "propose").await, 1);
    assert_eq!(joined(&borrower, "propose").await, 1);
    assert_eq!(lender.agreements(&Default::default()).unwrap().0.len(), 1);
    assert_eq!(
        borrower.agreement(&id).unwrap().delivery,
        Delivery::Answered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_its_mnemonic_opens_waiting_mail() {
    let clock = ManualClock::starting_now();
    let Street {
        host,
        mut lender,
        borrower,
        listing,
    } = street(&clock).await;
    let words = {
        let key = swapmesh_node::identity::load_key(&swapmesh_node::DataDir::new(lender.dir()))
            .unwrap()
            .unwrap();
        swapmesh_protocol::keys::to_mnemonic(&key)
    };
    // The lender's laptop dies; a proposal waits for it at the host.
    let lender_author = lender.author();
    lender.stop().await;
    let proposed = borrower
        .propose(proposal(&listing, rent(clock.now().plus(DAY), 1, 500)))
        .await
        .expect("proposal");
    let id = view(&proposed).state.id;
    leave_mail(&borrower, &clock, &id).await;

    // A new machine, restored from the 24 words, with nothing else.
    let restored = node_on_with(&clock, CELL, |dir, c| {
        c.discovery.kademlia = false;
        let key = swapmesh_protocol::keys::from_mnemonic(&words).unwrap();
        swapmesh_node::identity::write_key(&swapmesh_node::DataDir::new(dir), &key).unwrap();
    })
    .await;
    assert_eq!(restored.author(), lender_author);
    kit::connect(&restored, &host).await;
    // Its own profile (naming the host) comes back from the mesh; then its mail.
    read_mail(&restored, "the waiting proposal opened", |n| {
        phase(n, &id) == Some(Phase::Offered)
    })
    .await;
    assert_eq!(restored.store().agreement_events(&id).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_envelope_is_refused_and_charged() {
    let clock = ManualClock::starting_now();
    let host = node_on_with(&clock, CELL, |_, c| {
        c.mailbox = true;
        // A patient host: it charges each forgery but blocks only after many.
        c.misbehaviour.block_threshold = 1000.0;
    })
    .await;
    let lender = person(&clock).await;
    kit::connect(&lender, &host).await;
    use_host(&lender, &host).await;
    let forger = RawTaker::new(341, &host).await;
    let other = RawTaker::new(342, &host).await;
    let now = clock.now();
    let charged = |peer: &RawTaker| {
        let (host, peer) = (host.clone(), peer.net.local_peer_id());
        async move { misbehaviour_of(&host, peer).await }
    };

    // A bad signature: refused and charged.
    let mut bad_sig = letter_to(&forger, lender.author(), "forged", now, DAY);
    bad_sig.sig = swapmesh_protocol::Signature::from_bytes(&[7; 64]);
    assert_eq!(
        put(&forger, &host, bad_sig).await,
        refused(PutRefusal::Invalid)
    );
    let after_sig = charged(&forger).await;
    assert!(after_sig > 0.0);
    // Put by someone other than its sender: refused and charged.
    let others = letter_to(&other, lender.author(), "not yours", now, DAY);
    assert_eq!(
        put(&forger, &host, others).await,
        refused(PutRefusal::Invalid)
    );
    let after_relay = charged(&forger).await;
    assert!(after_relay > after_sig);
    // A lifetime over 30 days, signed by its sender: refused and charged.
    let mut envelope: swapmesh_protocol::mail::Envelope =
        swapmesh_protocol::encoding::decode_canonical(
            &letter_to(&forger, lender.author(), "forever", now, DAY).body,
            1 << 20,
        )
        .unwrap();
    envelope.expires_at = now.plus(31 * DAY);
    let body = swapmesh_protocol::encoding::encode(&envelope);
    let mut signed = swapmesh_protocol::mail::MAIL_DOMAIN.to_vec();
    signed.extend_from_slice(&body);
    let forever = SignedEnvelope {
        sig: swapmesh_protocol::Signer::sign(&forger.key, &signed),
        body,
    };
    assert_eq!(
        put(&forger, &host, forever).await,
        refused(PutRefusal::Invalid)
    );
    let after_life = charged(&forger).await;
    assert!(after_life > after_relay);
    // A frame that does not decode: no answer, charged as a malformed frame.
    let garbage = forger
        .net
        .send_request(Protocol::Mail, host.peer_id(), vec![0, 0, 0xff, 0xff])
        .await;
    assert!(garbage.is_err(), "{garbage:?}");
    wait_until("the malformed frame charged", || async {
        charged(&forger).await > after_life
    })
    .await;
    // A newer version: unsupported, no blame.
    let before = charged(&other).await;
    let newer = other
        .net
        .send_request(Protocol::Mail, host.peer_id(), vec![1, 0])
        .await
        .expect("an answer");
    assert_eq!(
        MailResponse::decode(&newer).unwrap(),
        MailResponse::Unsupported
    );
    assert_eq!(charged(&other).await, before);
    assert!(held_for(&host, &lender.author()).is_empty(), "nothing kept");

    // A body that does not open, validly signed: the host cannot tell, the
    // lender can: dropped, nothing applied, and gone from the host.
    let mut sealed =
        swapmesh_protocol::encoding::decode_canonical::<swapmesh_protocol::mail::Envelope>(
            &letter_to(&other, lender.author(), "scrambled", now, DAY).body,
            1 << 20,
        )
        .unwrap();
    sealed.sealed.iter_mut().for_each(|b| *b ^= 0x5a);
    let body = swapmesh_protocol::encoding::encode(&sealed);
    let mut signed = swapmesh_protocol::mail::MAIL_DOMAIN.to_vec();
    signed.extend_from_slice(&body);
    let scrambled = SignedEnvelope {
        sig: swapmesh_protocol::Signer::sign(&other.key, &signed),
        body,
    };
    assert_eq!(put(&other, &host, scrambled).await, STORED);
    let before = lender.metrics_text().await.unwrap();
    assert!(before.contains("swapmesh_mail_total{event=\"dropped\"} 0"));
    lender.check_mail().await;
    let after = lender.metrics_text().await.unwrap();
    assert!(
        after.contains("swapmesh_mail_total{event=\"dropped\"} 1"),
        "{after}"
    );
    assert!(held_for(&host, &lender.author()).is_empty());
    assert!(lender.agreements(&Default::default()).unwrap().0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agreement_with_an_offline_party_goes_by_mail() {
    let clock = ManualClock::starting_now();
    let Street {
        host,
        mut lender,
        borrower,
        listing,
    } = street(&clock).await;
    let lender_author = lender.author();
    lender.stop().await;
    // Two proposals to the same offline lender: neither waits behind the other.
    let mut ids = Vec::new();
    for week in 1..=2 {
        let start = clock.now().plus(week * 7 * DAY);
        let proposed = borrower
            .propose(proposal(&listing, rent(start, 1, 500)))
            .await
            .expect("proposal");
        ids.push(view(&proposed).state.id);
    }
    clock.advance(MINUTE + 1);
    wait_until("both left with the host", || async {
        borrower.check_mail().await;
        ids.iter().all(|id| {
            matches!(
                borrower.agreement(id).unwrap().delivery,
                Delivery::InMailbox { .. }
            )
        })
    })
    .await;
    assert_eq!(held_for(&host, &lender_author).len(), 2);
    lender.resume(|_| {}).await;
    read_mail(&lender, "both proposals by mail", |n| {
        ids.iter().all(|id| phase(n, id) == Some(Phase::Offered))
    })
    .await;
}
