//! `/events`: what happens on the node, as server-sent events whose `data:`
//! lines are [`EventJson`].

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::json::EventJson;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(event_stream))
}

/// Event stream
///
/// Every node event from now on, as server-sent events: each `data:` line is
/// one JSON `EventJson` told apart by `type` (`record_added`,
/// `record_changed`, `record_withdrawn`, `peer_up`, `peer_down`,
/// `peer_discovered`, `peer_blocked`, `sync_progress`, `sync_finished`,
/// `agreement_changed`, `agreement_delivered`, `agreement_pending`,
/// `agreement_refused`, `agreement_overdue`, `agreement_note`,
/// `receipt_published`, `review_added`, and `lagged` when this reader was too
/// slow and missed some).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses((status = 200, description = "A stream of server-sent events; each `data:` line is one event", body = EventJson, content_type = "text/event-stream"))
)]
async fn event_stream(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.node().subscribe_events();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(event) => EventJson::from(&event),
            // A slow reader misses events rather than stalling the node.
            Err(RecvError::Lagged(missed)) => EventJson::Lagged { missed },
            Err(RecvError::Closed) => return None,
        };
        let data = serde_json::to_string(&event).expect("events serialise");
        Some((Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
