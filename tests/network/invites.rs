//! Named meshes joined with nothing but an invite text.

use swapmesh_node::invite::InviteError;
use swapmesh_node::{NodeError, Placement};
use swapmesh_protocol::fixtures;

use crate::kit::{self, Net, held, settle, wait_until};

/// `text` with one character of its body changed, as a typo would.
fn corrupt(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_joined_from_an_invite_alone_gets_its_listings_and_outsiders_do_not() {
    let creator = kit::node(Net::Tcp, None, |_| {}).await;
    // An outsider connected to the creator, in the same (`local`) mesh as
    // everyone, but not in the named one.
    let creator_addr = kit::address(&creator).await;
    let outsider = kit::node(Net::Tcp, None, |c| c.bootstrap = vec![creator_addr]).await;
    kit::wait_connected(&outsider, &creator).await;

    let (mesh, invite) = creator.create_mesh("Rue des Lilas", false).await.unwrap();
    assert!(mesh.is_private(), "a mesh is private by default");
    assert!(invite.starts_with("swapmesh:"));

    // The joiner knows nothing but the invite.
    let joiner = kit::node(Net::Tcp, None, |_| {}).await;
    let refused = joiner.join_invite(&corrupt(&invite)).await.unwrap_err();
    assert!(
        matches!(refused, NodeError::Invite(InviteError::Checksum)),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("mistyped"),
        "unclear error: {refused}"
    );
    assert!(joiner.meshes().is_empty(), "a refused invite joined a mesh");

    assert_eq!(joiner.join_invite(&invite).await.unwrap(), mesh);
    let named = joiner.named_meshes();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].id, mesh);
    assert_eq!(named[0].name.as_deref(), Some("Rue des Lilas"));
    assert!(named[0].private, "joined as a private mesh");
    kit::wait_connected(&joiner, &creator).await;

    let placement = Placement {
        area: None,
        meshes: vec![mesh.clone()],
    };
    let published = creator
        .publish_listing_at(fixtures::listing("bike"), placement)
        .await
        .unwrap();
    let id = kit::listing_id(&creator, "bike");
    wait_until("the joiner to store the mesh's listing", || async {
        held(&joiner, &id) == Some(published.id())
    })
    .await;
    settle().await;
    assert_eq!(held(&outsider, &id), None, "an outsider got the listing");

    for node in [creator, outsider, joiner] {
        node.shutdown().await.unwrap();
    }
}
