//! One audit record per keyed request (issue #19), written through the service layer's
//! [`AuditLog`](leakwatch_service::auditlog::AuditLog). [`record`] wraps every keyed route:
//! it hands the request an [`AuditSlot`], which [`crate::v3::Caller`] fills with the
//! principal and the handler with the target and how much went out; after the answer it
//! writes the record — queued for the next group commit (every 100 ms, [`flush_loop`]) for
//! a read, synced before the answer for a request that changes state. A request refused
//! before a key was accepted (401) is recorded as the public's, with its peer.
//!
//! Fail closed: while the log cannot be written, keyed requests are answered 503 (an
//! action that leaves no record does not happen).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use leakwatch_service::{Principal, auditlog::Entry};

use crate::{ApiError, AppState};

/// What a request's handling learns for its record.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditSlot(Arc<Mutex<Noted>>);

#[derive(Debug, Default)]
struct Noted {
    by: Option<Principal>,
    target: Option<String>,
    size: u64,
}

impl AuditSlot {
    /// The principal the request acts for (set by `Caller`).
    pub(crate) fn principal(&self, by: &Principal) {
        self.0.lock().expect("an audit slot").by = Some(by.clone());
    }

    /// What the request acts on (an account, a domain, a prefix, a vendor): the record
    /// keeps its keyed digest only.
    pub(crate) fn target(&self, target: &str) {
        self.0.lock().expect("an audit slot").target = Some(target.to_owned());
    }

    /// How much went out: accounts, addresses, breaches or rows.
    pub(crate) fn size(&self, size: usize) {
        self.0.lock().expect("an audit slot").size = size as u64;
    }
}

/// The action a route and method are recorded as: the route without its prefix and
/// parameters, dotted, and the method (`breachedaccount.get`, `vendors.delete`).
fn action(route: &str, method: &Method) -> String {
    let path = route
        .strip_prefix("/api/v3/")
        .or_else(|| route.strip_prefix("/api/v1/"))
        .unwrap_or(route);
    // Written straight into one string: this runs for every keyed request.
    let mut action = String::with_capacity(path.len() + 8);
    for (i, part) in path
        .split('/')
        .filter(|part| !part.is_empty() && !part.starts_with('{'))
        .enumerate()
    {
        if i > 0 {
            action.push('.');
        }
        action.push_str(part);
    }
    action.push('.');
    action.extend(method.as_str().chars().map(|c| c.to_ascii_lowercase()));
    action
}

/// Routes that take a POST body but change nothing: recorded as reads (queued for the next
/// group commit), not synced before the answer.
const READS_BY_POST: &[&str] = &["/api/v1/credentials/check"];

/// The layer of every keyed route (a no-op without an audit log: in-process tests).
pub(crate) async fn record(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(log) = state.audit.clone() else {
        return next.run(request).await;
    };
    if !state.audit_healthy.load(Ordering::Relaxed) {
        return ApiError::Unavailable(
            "The audit log cannot be written at the moment; keyed requests resume once it can",
        )
        .into_response();
    }
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("?", MatchedPath::as_str);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let method = request.method().clone();
    let response = next.run(request).await;
    let noted = std::mem::take(&mut *slot.0.lock().expect("an audit slot"));
    let by = noted.by.unwrap_or(Principal::Public);
    let action = action(route, &method);
    let entry = Entry {
        by: &by,
        action: &action,
        route,
        target: noted.target.as_deref(),
        status: response.status().as_u16(),
        size: noted.size,
        peer,
    };
    if method == Method::GET || method == Method::HEAD || READS_BY_POST.contains(&route) {
        log.record(entry);
        return response;
    }
    // A change: its record is on disk before the answer.
    let event = log.event(&entry);
    let written = tokio::task::spawn_blocking(move || log.commit_event(event, false)).await;
    match written {
        Ok(Ok(())) => response,
        Ok(Err(e)) => {
            tracing::error!("writing an audit record failed: {e}");
            state.audit_healthy.store(false, Ordering::Relaxed);
            ApiError::Internal(format!("writing an audit record failed: {e}")).into_response()
        }
        Err(e) => ApiError::Internal(format!("the audit writer: {e}")).into_response(),
    }
}

/// Notes that `caller` read `target` of `kind` for the bulk-extraction watch; on the
/// request that crosses a threshold, records the anomaly (synced), counts it, mails the
/// operator's contact through the outbox and, when so configured, suspends the key and
/// refuses this request (401 with the reason). Without an audit log (in-process tests)
/// nothing is watched.
pub(crate) async fn watch(
    state: &Arc<AppState>,
    caller: &crate::v3::Caller,
    kind: leakwatch_service::bulk::Watched,
    target: &str,
) -> Result<(), ApiError> {
    let (Some(log), Some(watch)) = (&state.audit, &state.bulk) else {
        return Ok(());
    };
    let now = crate::state::now_ms();
    let Some(anomaly) = watch.note(&caller.key, kind, &log.digest(target), now) else {
        return Ok(());
    };
    state.metrics.anomaly(&caller.key.prefix, kind.name());
    tracing::warn!(
        "API key {} read {} distinct {} this hour (threshold {})",
        caller.key.prefix,
        anomaly.count,
        kind.name(),
        anomaly.threshold
    );
    let (s, key, by) = (state.clone(), caller.key.clone(), caller.by.clone());
    let response = tokio::task::spawn_blocking(move || {
        let log = s.audit.as_ref().expect("checked above");
        log.commit(
            Entry {
                by: &by,
                action: "key.anomaly",
                route: kind.name(),
                target: None,
                status: if anomaly.suspend { 401 } else { 200 },
                size: anomaly.count,
                peer: None,
            },
            false,
        )?;
        let contact = match (&s.operator_contact, &s.operator_key, &s.mail) {
            (Some(address), Some(key), Some(_)) => {
                Some(leakwatch_service::bulk::OperatorContact { address, key })
            }
            _ => {
                tracing::warn!(
                    "no mail about the anomaly: set operator_contact, mail and the operator key"
                );
                None
            }
        };
        let told = s.catalog.write(|c| {
            leakwatch_service::bulk::respond(
                c,
                &Principal::leakwatch(),
                &key,
                &anomaly,
                contact,
                now,
            )
        })?;
        // A suspension holds from the next request on, not from the next reload.
        if told.suspended.is_some()
            && let Err(e) = s.catalog.reload()
        {
            tracing::error!("reloading the keys after a suspension failed: {e}");
        }
        if told.mailed
            && let Some(mail) = &s.mail
        {
            mail.wake_worker();
        }
        Ok::<_, leakwatch_service::ServiceError>(told)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    match response.suspended {
        Some(reason) => Err(ApiError::Suspended(reason)),
        None => Ok(()),
    }
}

/// Writes the queued records every `every` (a read's record is on disk within it), sealing
/// at least every second while records arrive. A write that fails marks the log unhealthy
/// (keyed requests get 503) until one succeeds.
pub(crate) async fn flush_loop(state: Arc<AppState>, every: Duration) {
    let Some(log) = state.audit.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let log = log.clone();
        let result = tokio::task::spawn_blocking(move || log.flush(false)).await;
        let healthy = matches!(result, Ok(Ok(())));
        if let Ok(Err(e)) = &result {
            tracing::error!("writing the audit log failed, will retry: {e}");
        }
        state.audit_healthy.store(healthy, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_the_route_and_method_without_values() {
        let check = |route: &str, method: Method, want: &str| {
            assert_eq!(action(route, &method), want, "{route}");
        };
        check(
            "/api/v3/breachedaccount/{account}",
            Method::GET,
            "breachedaccount.get",
        );
        check(
            "/api/v3/breachedaccount/range/{prefix}",
            Method::GET,
            "breachedaccount.range.get",
        );
        check("/api/v1/vendors/{name}", Method::DELETE, "vendors.delete");
        check(
            "/api/v1/domains/{domain}/verify",
            Method::POST,
            "domains.verify.post",
        );
    }
}
