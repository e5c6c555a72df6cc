//! The router: every endpoint of `physedit serve` ([`super::http`]'s edit API, [`super::plan_api`]'s
//! plans, recipes and job artifacts, [`super::page`]'s web page) behind one stack of layers.
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use super::error::ApiError;
use super::http::{self, Shared};
use super::{page, plan_api};

/// The router with its layers (from the outside in: access log and request id, panics as 500,
/// errors in OpenAI's shape, keys, the body's deadline and size limit).
pub fn router(state: Shared) -> Router {
    let max_body = state.limits.max_body;
    let body_timeout = state.limits.body_timeout;
    Router::new()
        .route("/v1/images/edits", post(http::images_edits))
        .route("/v1/edits", post(http::create_edit))
        .route(
            "/v1/edits/{id}",
            get(http::get_edit).delete(http::cancel_edit),
        )
        .route("/v1/edits/{id}/image", get(http::edit_image))
        .route("/v1/edits/{id}/events", get(http::edit_events))
        .route("/v1/edits/{id}/frames", get(plan_api::frames))
        .route("/v1/edits/{id}/frames/{index}", get(plan_api::frame))
        .route(
            "/v1/edits/{id}/trajectory.gif",
            get(plan_api::trajectory_gif),
        )
        .route("/v1/edits/{id}/srm-mask", get(plan_api::srm_mask))
        .route("/v1/plan", post(plan_api::plan))
        .route("/v1/recipes", get(plan_api::recipes))
        .route("/v1/models", get(http::models))
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| super::listen::body_deadline(body_timeout, req, next),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::refuse_oversize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::shape_errors,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("the server hit an internal error").into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.http.clone(),
            super::access::access_log,
        ))
        .with_state(state)
}
