//! An agreement event's round trip through a mail host against direct
//! delivery, in the same run, and the bytes the host keeps per event against
//! the event's own size (issue 26).
//!
//! Two pairs of in-process nodes on the memory transport, one shared manual
//! clock that never moves (so no mail poll or agreement timer fires by
//! itself), the parties of each pair countering each other's offer in turn:
//!
//! - **direct**: the pair is connected; an event counts when its call answers
//!   "in the chain, delivered" (the other node committed it and acknowledged).
//! - **by mail**: each party is connected only to a mail host that admits both
//!   and that both profiles name; no Kademlia, no mDNS, so neither can reach
//!   the other, and `mail_after` is zero: the outbox seals its request at the
//!   first failed direct try. An event counts from the call that signs it
//!   until the sender has taken the answer by mail, in three steps: sign and
//!   put (the outbox does it by itself; `check_mail` on the sender only if it
//!   has not), `check_mail` on the recipient (fetch, apply, answer by mail,
//!   delete the letter), `check_mail` on the sender (fetch the answer, delete
//!   it; the outbox worker takes it).
//!
//! The two run in interleaved rounds. Bytes: the host's mailbox totals (what
//! `swapmesh_mailbox_bytes` shows: encoded envelopes) after each put, against
//! the signed event and the request frame that would carry it directly.
//! Last, sealing and opening a letter against one `verify_strict`.
//!
//! Run with `cargo bench -p swapmesh-node --bench mail`; `SWAPMESH_BENCH_EVENTS`
//! sets the events per kind (default 50, in 5 rounds). The host's agree/mail
//! request budget is raised (each person sends it about three requests per
//! event, some 150 in a second); `SWAPMESH_BENCH_DEFAULT_FLOOD=1` keeps the
//! default.

use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swapmesh_node::{Acted, Clock, Delivery, ManualClock, Node, NodeConfig, Proposal};
use swapmesh_protocol::agreement::wire::{AgreeRequest, AgreeResponse, Request, Response};
use swapmesh_protocol::agreement::{Deal, EventId, SignedEvent};
use swapmesh_protocol::listing::{Money, Period, Price};
use swapmesh_protocol::mail::{Letter, MAX_MAIL_LIFETIME, MailItem, open, seal};
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AgreementId, AuthorKey, Geohash, ListingId, Signer, encoding, fixtures};
use tempfile::TempDir;

const CELL: &str = "u4pru";
/// Longest any one wait may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(20);

fn config(dir: &Path, clock: &ManualClock) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = Geohash::parse_area(CELL);
    config.mdns = false;
    // People meet only the peers the bench connects.
    config.discovery.kademlia = false;
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    config.sync_interval = Duration::ZERO;
    config.agreement_tick = Duration::ZERO;
    config.clock = Arc::new(clock.clone());
    config
}

/// A started node and the directory it lives in.
struct Running {
    node: Node,
    _dir: TempDir,
}

async fn start(clock: &ManualClock, adjust: impl FnOnce(&mut NodeConfig)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), clock);
    adjust(&mut config);
    let node = Node::start(config).await.unwrap();
    Running { node, _dir: dir }
}

async fn connect(a: &Node, b: &Node) {
    let address = loop {
        if let Some(a) = b.listen_addresses().await.unwrap().first() {
            break a.clone();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    a.dial(address).await.unwrap();
    while !a.peers().await.unwrap().contains(&b.peer_id()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > PATIENCE {
            panic!("gave up waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `who` names `host` as its mail peer and the host admits them.
async fn use_host(who: &Node, host: &Node) {
    who.set_profile(Profile {
        name: "neighbour".into(),
        bio: String::new(),
        contact: Vec::new(),
        mail_peers: vec![host.author()],
    })
    .await
    .unwrap();
    host.mailbox_admit(who.author(), true).await.unwrap();
    wait_for("the host to hold the profile", || {
        host.profile(who.author())
            .ok()
            .flatten()
            .is_some_and(|(_, p)| p.mail_peers == vec![host.author()])
    })
    .await;
}

/// The provider publishes the drill; the taker proposes a rental of it.
async fn drill_proposal(provider: &Node, taker: &Node, clock: &ManualClock) -> Proposal {
    provider
        .publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = ListingId {
        author: provider.author(),
        d: "drill".into(),
    };
    wait_for("the listing at the taker", || {
        taker.listing(&listing).unwrap().is_some()
    })
    .await;
    let start = clock.now().plus(DAY);
    Proposal {
        listing,
        version: None,
        receiver: None,
        deal: Deal::Rent {
            start,
            due: start.plus(2 * DAY),
            price: Price {
                money: Money {
                    amount: 500,
                    currency: *b"EUR",
                },
                per: Period::Day,
            },
            deposit: None,
            cancel_before: None,
        },
        theirs: None,
        pickup: None,
        offer_expires: None,
        note: String::new(),
    }
}

/// A counter-offer that changes nothing but its expiry.
async fn counter(node: &Node, id: &AgreementId) -> Acted {
    node.counter(
        id,
        |t| t.offer_expires = t.offer_expires.plus(1),
        String::new(),
    )
    .await
    .unwrap()
}

/// The event an action signed.
fn signed_event(acted: &Acted) -> (AgreementId, EventId) {
    match acted {
        Acted::Pending { view, event } => (view.state.id, *event),
        Acted::InChain { view, .. } => (view.state.id, view.state.head()),
    }
}

/// `node`'s chain of `id` ends with `event`, and nothing of ours waits for
/// `other`: applied here and, for our own event, acknowledged.
fn settled(node: &Node, other: &AuthorKey, id: &AgreementId, event: EventId) -> bool {
    let store = node.store();
    let Some(stored) = store.agreement(id).unwrap() else {
        return false;
    };
    stored.pending.is_none()
        && stored.state.head() == event
        && store
            .outbox(other)
            .unwrap()
            .iter()
            .all(|(key, _)| key.agreement != *id)
}

fn chain(node: &Node, id: &AgreementId) -> Vec<Vec<u8>> {
    node.store()
        .agreement_events(id)
        .unwrap()
        .iter()
        .map(SignedEvent::encode)
        .collect()
}

/// The pair that talks directly.
struct Direct {
    provider: Running,
    taker: Running,
    id: AgreementId,
    turn: usize,
}

impl Direct {
    async fn new(clock: &ManualClock) -> Self {
        let direct = |c: &mut NodeConfig| c.agreement_ack_wait = Duration::from_secs(10);
        let provider = start(clock, direct).await;
        let taker = start(clock, direct).await;
        connect(&taker.node, &provider.node).await;
        let proposal = drill_proposal(&provider.node, &taker.node, clock).await;
        let proposed = taker.node.propose(proposal).await.unwrap();
        let Acted::InChain { view, .. } = proposed else {
            panic!("the provider is right there");
        };
        let id = view.state.id;
        wait_for("the proposal at the provider", || {
            provider.node.agreement(&id).is_ok()
        })
        .await;
        Direct {
            provider,
            taker,
            id,
            turn: 0,
        }
    }

    /// One counter, the parties taking turns: its time and whether the
    /// provider signed it.
    async fn event(&mut self) -> (Duration, bool) {
        let by_provider = self.turn.is_multiple_of(2);
        self.turn += 1;
        let (s, r) = if by_provider {
            (&self.provider.node, &self.taker.node)
        } else {
            (&self.taker.node, &self.provider.node)
        };
        let started = Instant::now();
        let acted = counter(s, &self.id).await;
        let took = started.elapsed();
        let Acted::InChain {
            delivered: true, ..
        } = acted
        else {
            panic!("not acknowledged within the wait: {acted:?}");
        };
        let (_, event) = signed_event(&acted);
        if !settled(r, &s.author(), &self.id, event) || !settled(s, &r.author(), &self.id, event) {
            panic!("acknowledged, but the chains do not both end with the event");
        }
        (took, by_provider)
    }
}

/// One event by mail, step by step, and what the host kept for it.
struct Mailed {
    /// Each of [`STEPS`].
    steps: [Duration; 3],
    /// `check_mail` calls each step needed.
    checks: [u32; 3],
    by_provider: bool,
    /// The signed event, the direct request frame, the envelope kept.
    event_bytes: usize,
    frame_bytes: usize,
    envelope_bytes: u64,
    /// The host's stored value for it (the envelope and its header).
    held_bytes: usize,
    /// The answer: the direct response frame, the envelope kept.
    answer_frame_bytes: usize,
    answer_bytes: u64,
}

/// The steps of an event by mail.
const STEPS: [&str; 3] = [
    // From the call that signs until the host keeps the letter.
    "1 sign and put",
    // The recipient's `check_mail`: fetch, apply, answer, delete.
    "2 fetch, apply, answer",
    // The sender's `check_mail` until its outbox took the answer.
    "3 take the answer",
];

impl Mailed {
    fn total(&self) -> Duration {
        self.steps.iter().sum()
    }
}

/// The host and the pair that only meet through it.
struct ByMail {
    host: Running,
    provider: Running,
    taker: Running,
    id: AgreementId,
    turn: usize,
    /// The proposal, mailed while setting up.
    proposal: Mailed,
}

/// The letters and bytes `host` keeps for `recipient`.
fn kept_for(host: &Node, recipient: &AuthorKey) -> (u32, u64) {
    host.mailbox_status()
        .unwrap()
        .recipients
        .iter()
        .find(|m| m.recipient == *recipient)
        .map_or((0, 0), |m| (m.totals.count, m.totals.bytes))
}

fn kept(host: &Node) -> u32 {
    host.mailbox_status()
        .unwrap()
        .recipients
        .iter()
        .map(|m| m.totals.count)
        .sum()
}

/// A number in `node`'s metrics.
async fn metric(node: &Node, name: &str) -> u64 {
    let text = node.metrics_text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// Calls `check_mail` on `node` until `done` holds; what the mail brought is
/// taken by the outbox worker in its own task, so each call is followed by
/// up to 20 ms of looking (woken by the node's events, else every 1 ms).
/// `look_first`: look before the first call. The calls made.
async fn drive(node: &Node, what: &str, look_first: bool, done: impl Fn() -> bool) -> u32 {
    let mut events = node.subscribe_events();
    let started = Instant::now();
    let mut checks = 0;
    let mut look = look_first;
    loop {
        if look {
            let since = Instant::now();
            while since.elapsed() < Duration::from_millis(20) {
                if done() {
                    return checks;
                }
                let _ = tokio::time::timeout(Duration::from_millis(1), events.recv()).await;
            }
        }
        if done() {
            return checks;
        }
        if started.elapsed() > PATIENCE {
            panic!("by mail: gave up waiting for {what}");
        }
        node.check_mail().await;
        checks += 1;
        look = true;
    }
}

/// Signs with `sign` on `s` and follows the event through `host` to `r`
/// and the answer back.
async fn by_mail(
    host: &Node,
    s: &Node,
    r: &Node,
    by_provider: bool,
    sign: impl Future<Output = Acted>,
) -> (AgreementId, Mailed) {
    let (s_key, r_key) = (s.author(), r.author());
    if kept(host) != 0 {
        panic!("the host keeps letters before the event");
    }

    // 1. Signed; the outbox's first direct try fails and it puts the letter.
    let started = Instant::now();
    let acted = sign.await;
    let (id, event) = signed_event(&acted);
    let put_checks = drive(s, "the letter at the host", true, || {
        s.store().mailed(&id).unwrap().is_some()
    })
    .await;
    let put = started.elapsed();
    if !matches!(
        s.agreement(&id).unwrap().delivery,
        Delivery::InMailbox { .. }
    ) {
        panic!("the sender's view does not show the letter at the host");
    }
    let (count, envelope_bytes) = kept_for(host, &r_key);
    if count != 1 {
        panic!("the host keeps {count} letters for the recipient, not one");
    }
    let gauge = metric(host, "swapmesh_mailbox_bytes").await;
    if gauge != envelope_bytes {
        panic!("swapmesh_mailbox_bytes {gauge}, the totals {envelope_bytes}");
    }
    let (held, _) = host.store().mail_for(&r_key, 0, usize::MAX).unwrap();
    let held_bytes = encoding::encode(&held[0].1).len();

    // 2. The recipient fetches, applies, answers by mail, deletes the letter.
    let started = Instant::now();
    let fetch_checks = drive(r, "the event at the recipient", false, || {
        r.store()
            .agreement(&id)
            .unwrap()
            .is_some_and(|a| a.state.head() == event)
    })
    .await;
    let fetch = started.elapsed();
    let (count, answer_bytes) = kept_for(host, &s_key);
    if count != 1 || kept_for(host, &r_key).0 != 0 {
        panic!("after the recipient's check the host should keep the answer only");
    }

    // 3. The sender fetches the answer and deletes it; its outbox takes it.
    let started = Instant::now();
    let answer_checks = drive(s, "the answer at the sender", false, || {
        settled(s, &r_key, &id, event)
    })
    .await;
    let answer = started.elapsed();
    if kept(host) != 0 {
        panic!("the host still keeps letters after the answer was taken");
    }
    if s.agreement(&id).unwrap().delivery != Delivery::Answered {
        panic!("the sender's view does not show the answer");
    }
    if s.store().mailed(&id).unwrap().is_some() {
        println!("(note: the sender still marks a letter left with the host after its answer)");
    }

    let signed = r.store().agreement_events(&id).unwrap().pop().unwrap();
    if signed.id() != event {
        panic!("the recipient's chain ends with another event");
    }
    let frame_bytes = AgreeRequest::V1(Request::Deliver {
        events: vec![signed.clone()],
    })
    .encode()
    .len();
    let answer_frame_bytes = AgreeResponse::V1(Response::Ack { head: event })
        .encode()
        .len();
    let mailed = Mailed {
        steps: [put, fetch, answer],
        checks: [put_checks, fetch_checks, answer_checks],
        by_provider,
        event_bytes: signed.encode().len(),
        frame_bytes,
        envelope_bytes,
        held_bytes,
        answer_frame_bytes,
        answer_bytes,
    };
    (id, mailed)
}

impl ByMail {
    async fn new(clock: &ManualClock, default_flood: bool) -> Self {
        let host = start(clock, |c| {
            c.mailbox = true;
            if !default_flood {
                c.misbehaviour.flood.requests_per_second = 10_000.0;
                c.misbehaviour.flood.request_burst = 10_000.0;
            }
        })
        .await;
        let person = |c: &mut NodeConfig| {
            c.mail_after = Duration::ZERO;
            // The call returns at once; the bench follows the mail itself.
            c.agreement_ack_wait = Duration::ZERO;
        };
        let provider = start(clock, person).await;
        let taker = start(clock, person).await;
        connect(&provider.node, &host.node).await;
        connect(&taker.node, &host.node).await;
        use_host(&provider.node, &host.node).await;
        use_host(&taker.node, &host.node).await;
        let proposal = drill_proposal(&provider.node, &taker.node, clock).await;
        wait_for("each to hold the other's profile", || {
            let (p, t) = (&provider.node, &taker.node);
            p.profile(t.author()).ok().flatten().is_some()
                && t.profile(p.author()).ok().flatten().is_some()
        })
        .await;
        let (t, p) = (&taker.node, &provider.node);
        let sign = async { t.propose(proposal).await.unwrap() };
        let (id, proposal) = by_mail(&host.node, t, p, false, sign).await;
        ByMail {
            host,
            provider,
            taker,
            id,
            turn: 0,
            proposal,
        }
    }

    /// One counter by mail, the parties taking turns.
    async fn event(&mut self) -> Mailed {
        let by_provider = self.turn.is_multiple_of(2);
        self.turn += 1;
        let (s, r) = if by_provider {
            (&self.provider.node, &self.taker.node)
        } else {
            (&self.taker.node, &self.provider.node)
        };
        let (_, mailed) = by_mail(&self.host.node, s, r, by_provider, counter(s, &self.id)).await;
        mailed
    }
}

/// Microseconds per seal, per verify + open of a letter carrying `event` as
/// the node builds it, and per `verify_strict` of the event's bytes: medians
/// of 5 interleaved rounds.
fn crypto_costs(event: &SignedEvent, reply_to: AuthorKey) -> (f64, f64, f64) {
    const OPS: u32 = 200;
    let sender = fixtures::key(1);
    let recipient = fixtures::key(2);
    let to = AuthorKey(recipient.verifying_key().to_bytes());
    let letter = Letter::V1 {
        reply_to: vec![reply_to],
        item: MailItem::Request(Request::Deliver {
            events: vec![event.clone()],
        }),
    };
    let now = swapmesh_protocol::Timestamp::now();
    let message = event.encode();
    let sig = sender.sign(&message);
    let key = sender.verifying_key();
    let mut rng = rand::thread_rng();
    let per_op = |started: Instant| started.elapsed().as_secs_f64() * 1e6 / f64::from(OPS);
    let (mut sealing, mut opening, mut verifying) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        let mut sealed = None;
        for _ in 0..OPS {
            sealed = Some(seal(&sender, to, &letter, now, MAX_MAIL_LIFETIME, &mut rng).unwrap());
        }
        sealing.push(per_op(started));
        let sealed = sealed.unwrap();
        let started = Instant::now();
        for _ in 0..OPS {
            let envelope = sealed.verify(now).unwrap();
            black_box(open(&envelope, &recipient).unwrap());
        }
        opening.push(per_op(started));
        let started = Instant::now();
        for _ in 0..OPS {
            key.verify_strict(black_box(&message), &sig).unwrap();
        }
        verifying.push(per_op(started));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(&mut sealing),
        median(&mut opening),
        median(&mut verifying),
    )
}

fn quantile<T: Copy + Ord>(values: &[T], q: f64) -> T {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn spread(what: &str, times: &[Duration]) -> Duration {
    let median = quantile(times, 0.5);
    println!(
        "{what:<28} median {:>7.2} ms  (p10 {:.2}, p90 {:.2}, max {:.2}; {} events)",
        ms(median),
        ms(quantile(times, 0.1)),
        ms(quantile(times, 0.9)),
        ms(quantile(times, 1.0)),
        times.len()
    );
    median
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn bench(events: usize, default_flood: bool) {
    let clock = ManualClock::starting_now();
    let mut direct = Direct::new(&clock).await;
    let mut mail = ByMail::new(&clock, default_flood).await;
    let rounds = 5;
    let per_round = events.div_ceil(rounds).next_multiple_of(2);
    let (mut direct_times, mut mailed) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for _ in 0..per_round {
            direct_times.push(direct.event().await);
        }
        for _ in 0..per_round {
            mailed.push(mail.event().await);
        }
    }
    for (a, b, id, n) in [
        (
            &direct.provider,
            &direct.taker,
            direct.id,
            direct_times.len(),
        ),
        (&mail.provider, &mail.taker, mail.id, mailed.len()),
    ] {
        let (a, b) = (chain(&a.node, &id), chain(&b.node, &id));
        if a != b || a.len() != n + 1 {
            panic!("the chains differ or miss events");
        }
    }

    let of = |provider: bool| -> Vec<Duration> {
        direct_times
            .iter()
            .filter(|(_, p)| *p == provider)
            .map(|(t, _)| *t)
            .collect()
    };
    let all: Vec<Duration> = direct_times.iter().map(|(t, _)| *t).collect();
    println!("direct (connected):");
    let direct_median = spread("  every event", &all);
    spread("  the provider's", &of(true));
    spread("  the taker's", &of(false));

    let mail_of = |provider: bool| -> Vec<Duration> {
        mailed
            .iter()
            .filter(|m| m.by_provider == provider)
            .map(Mailed::total)
            .collect()
    };
    let totals: Vec<Duration> = mailed.iter().map(Mailed::total).collect();
    println!("by mail (through the host):");
    let mail_median = spread("  every event", &totals);
    spread("  the provider's", &mail_of(true));
    spread("  the taker's", &mail_of(false));
    for (i, what) in STEPS.iter().enumerate() {
        let times: Vec<Duration> = mailed.iter().map(|m| m.steps[i]).collect();
        spread(&format!("  {what}"), &times);
        let checks: u32 = mailed.iter().map(|m| m.checks[i]).sum();
        println!(
            "{:<28} check_mail calls: {:.2} per event",
            "",
            f64::from(checks) / mailed.len() as f64
        );
    }
    println!(
        "ratio mail / direct (medians): {:.1}x",
        mail_median.as_secs_f64() / direct_median.as_secs_f64()
    );

    let bytes = |what: &str, m: &[&Mailed]| {
        let med = |f: fn(&Mailed) -> usize| {
            let v: Vec<usize> = m.iter().copied().map(f).collect();
            quantile(&v, 0.5)
        };
        let event = med(|m| m.event_bytes);
        let frame = med(|m| m.frame_bytes);
        let envelope = med(|m| m.envelope_bytes as usize);
        let held = med(|m| m.held_bytes);
        let answer_frame = med(|m| m.answer_frame_bytes);
        let answer = med(|m| m.answer_bytes as usize);
        println!(
            "{what}: event {event} B, request frame {frame} B; the host keeps the request \
             {envelope} B = {:.2}x the event, {:.2}x the frame (stored value {held} B); \
             the answer {answer} B against a {answer_frame} B response frame",
            envelope as f64 / event as f64,
            envelope as f64 / frame as f64,
        );
    };
    let counters: Vec<&Mailed> = mailed.iter().collect();
    bytes("counter (median)", &counters);
    bytes("proposal", &[&mail.proposal]);
    let over: Vec<usize> = mailed
        .iter()
        .map(|m| (m.envelope_bytes as usize).saturating_sub(m.frame_bytes))
        .collect();
    println!(
        "envelope beyond the request frame: {}..{} B",
        quantile(&over, 0.0),
        quantile(&over, 1.0)
    );

    let host = &mail.host.node;
    let mut counts = Vec::new();
    for what in ["stored", "refused", "sent", "opened", "dropped"] {
        let line = format!("swapmesh_mail_total{{event=\"{what}\"}}");
        let on_host = metric(host, &line).await;
        let on_people =
            metric(&mail.provider.node, &line).await + metric(&mail.taker.node, &line).await;
        counts.push(format!("{what} {on_host}/{on_people}"));
    }
    println!(
        "mail counters (host/people, {} events and the proposal): {}",
        mailed.len(),
        counts.join(", ")
    );

    let sample = mail
        .provider
        .node
        .store()
        .agreement_events(&mail.id)
        .unwrap();
    let (sealing, opening, verifying) = crypto_costs(sample.last().unwrap(), host.author());
    println!(
        "a counter's letter: seal {sealing:.1} µs = {:.2}x, verify + open {opening:.1} µs = {:.2}x \
         one verify_strict of the event ({verifying:.1} µs)",
        sealing / verifying,
        opening / verifying
    );

    for node in [&direct.provider, &direct.taker, &mail.provider, &mail.taker] {
        node.node.shutdown().await.unwrap();
    }
    host.shutdown().await.unwrap();
}

fn main() {
    let events = env("SWAPMESH_BENCH_EVENTS", 50);
    let default_flood = env("SWAPMESH_BENCH_DEFAULT_FLOOD", 0) == 1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(bench(events, default_flood));
    println!("run time {:.1} s", started.elapsed().as_secs_f64());
}
