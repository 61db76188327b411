//! HIBP's `GET /api/v3/pasteaccount/{email}` (scope `pastes`): the pastes an address was
//! found in, `[{"Source", "Id", "Title", "Date", "EmailCount"}]` with `Title` and `Date`
//! null when unknown; 404 when none; 400 for what is not an address. The catalogue files
//! addresses under digests keyed with the operator key, so without it the route answers 503.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    response::Response,
};
use leakwatch_service::pastes;

use crate::{
    ApiError, AppState,
    compress::Accepts,
    v3::{Caller, json},
};

/// `GET /api/v3/pasteaccount/{email}`.
pub(crate) async fn paste_account(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(email): Path<String>,
) -> Result<Response, ApiError> {
    caller.audit.target(&email);
    let operator = state.operator_key.clone().ok_or(ApiError::Unavailable(
        "Pastes need the operator key: pass --operator-key-file when serving",
    ))?;
    if leakwatch_identity::normalize_email(&email).is_err() {
        return Err(ApiError::BadRequest("The e-mail address is not valid"));
    }
    let (db, by) = (state.clone(), caller.by.clone());
    let found = crate::stealer::blocking(move || {
        let snap = db.store.snapshot();
        db.catalog
            .write(|c| pastes::of_account(c, &snap, &by, &operator, &email))
    })
    .await?;
    if found.is_empty() {
        return Err(ApiError::NotFound);
    }
    caller.audit.size(found.len());
    Ok(json(&found, accepts))
}
