//! Mail for the offline (issue 26): a home server keeps sealed agreement
//! messages for the neighbours it admits, so two people who are never online
//! at the same time still complete a rental. All on one moved clock.

use swapmesh_node::{Clock, Delivery, ManualClock, Node};
use swapmesh_protocol::agreement::{Action, Leg, Phase};
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::time::MINUTE;

const HOUR: u64 = 60 * MINUTE;
use swapmesh_protocol::{AgreementId, Content};

use crate::agreements::{
    CELL, chain_bytes, confirm, drill, node_on_with, open_of, proposal, rent, view,
};
use crate::kit::{self, TestNode, wait_until};

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
    let host = mail_host(&clock).await;
    let mut lender = person(&clock).await;
    let mut borrower = person(&clock).await;
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
