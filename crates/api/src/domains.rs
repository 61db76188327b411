//! Domains for verified owners, per tenant: register a domain (`POST /api/v1/domains`),
//! prove control of it by a DNS TXT record or by a link mailed to a role address at it
//! (`POST /api/v1/domains/{domain}/verify`; the link's page `GET /api/v1/domains/verify?token=`
//! names who asked and its button `POST /api/v1/domains/verify` verifies), then
//! search it (`GET /api/v3/breacheddomain/{domain}`) and list it
//! (`GET /api/v3/subscribeddomains`) in HIBP's shapes; a verified domain's contact gets an
//! alert when a new breach holds addresses on it.
//!
//! Alerts go to the registration's contact by mail, or, when it names a webhook
//! (`{"url", "secret"}`), to that URL as a signed POST (see `leakwatch_notify::WebhookCall`).
//! A registration is a subscriber row (sealed) of the key's tenant: every key of the tenant
//! shares it, another tenant registers and verifies the same domain for itself. The TXT value
//! is derived from the operator key, the tenant and the domain, so nothing about it is
//! stored. Which domains a key may search is the service's decision (`domains::searchable`). Every endpoint needs an API key and the operator
//! key (503 without).

use std::sync::Arc;

use axum::{
    extract::{Path, RawQuery, Request, State},
    http::StatusCode,
    response::Response,
};
use leakwatch_identity::OperatorKey;
use leakwatch_service::{
    Principal,
    domains::{self, DomainRegistration, LinkVerification, Register, Webhook},
    keys::ApiKey,
    now_unix,
    outbox::{Link, Payload},
};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    pages,
    v3::{Caller, json, query_param},
};

pub(crate) fn operator_key(state: &AppState) -> Result<&OperatorKey, ApiError> {
    state.operator_key.as_ref().ok_or(ApiError::Unavailable(
        "Domains need the operator key: pass --operator-key-file when serving",
    ))
}

pub(crate) fn normalize(domain: &str) -> Result<String, ApiError> {
    leakwatch_identity::normalize_domain(domain)
        .map_err(|_| ApiError::BadRequest("The domain is not a valid domain name"))
}

/// Runs a service action on the catalogue connection, off the async threads.
pub(crate) async fn on_catalog<T: Send + 'static>(
    state: &Arc<AppState>,
    action: impl FnOnce(
        &mut leakwatch_service::Catalog,
        &OperatorKey,
    ) -> Result<T, leakwatch_service::ServiceError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let operator = operator_key(state)?.clone();
    let db = state.clone();
    Ok(
        tokio::task::spawn_blocking(move || db.catalog.write(|c| action(c, &operator)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??,
    )
}

/// The calling key's tenant's registration of `domain`, opened.
async fn registration(
    state: &Arc<AppState>,
    key: &ApiKey,
    domain: &str,
) -> Result<Option<DomainRegistration>, ApiError> {
    let (tenant, domain) = (key.tenant.clone(), domain.to_owned());
    on_catalog(state, move |c, op| {
        domains::registration(c, op, &tenant, &domain)
    })
    .await
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Registration {
    domain: String,
    verified: bool,
    dns_txt_record: String,
    verification_addresses: Vec<String>,
}

fn registration_answer(
    operator: &OperatorKey,
    key: &ApiKey,
    domain: &str,
    verified: bool,
    accepts: Accepts,
) -> Response {
    json(
        &Registration {
            domain: domain.to_owned(),
            verified,
            dns_txt_record: domains::dns_token(operator, &key.tenant, domain),
            verification_addresses: domains::ROLE_ADDRESSES
                .iter()
                .map(|r| format!("{r}@{domain}"))
                .collect(),
        },
        accepts,
    )
}

#[derive(serde::Deserialize)]
struct RegisterBody {
    domain: String,
    contact: String,
    #[serde(default)]
    webhook: Option<Webhook>,
}

/// Reads a small JSON body.
async fn json_body<T: serde::de::DeserializeOwned>(request: Request) -> Result<T, ApiError> {
    let body = axum::body::to_bytes(request.into_body(), 4096)
        .await
        .map_err(|_| ApiError::TooLarge("The request body is larger than 4 KiB"))?;
    serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("The body is not the JSON object this endpoint expects"))
}

/// Registers (or re-registers) `domain` for the caller's tenant, alerts to `contact` (and
/// to `webhook`, which the egress guard checks first); the domain as normalised and whether
/// it is verified already. The API's `POST /api/v1/domains` and the dashboard's form.
pub(crate) async fn register_domain(
    state: &Arc<AppState>,
    caller: &Caller,
    domain: &str,
    contact: &str,
    webhook: Option<Webhook>,
) -> Result<(String, bool), ApiError> {
    caller.audit.target(domain);
    let domain = normalize(domain)?;
    let contact = leakwatch_identity::normalize_email(contact)
        .map_err(|_| ApiError::BadRequest("The contact is not a valid e-mail address"))?;
    // The egress guard looks the webhook's host up (blocking, up to seconds): before the
    // catalogue is held.
    let webhook = match webhook {
        None => None,
        Some(hook) => {
            let policy = state.egress();
            Some(
                tokio::task::spawn_blocking(move || {
                    leakwatch_service::egress::check_webhook(&policy, hook)
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(leakwatch_service::ServiceError::from)?,
            )
        }
    };
    let register = Register {
        key: Some(caller.key.id),
        domain: domain.clone(),
        contact: Some(contact),
        webhook: Some(webhook),
    };
    let by = caller.by.clone();
    let row = on_catalog(state, move |c, op| domains::register(c, op, &by, register)).await?;
    Ok((domain, row.verified.is_some()))
}

/// `POST /api/v1/domains` `{"domain", "contact"}`: registers (or re-registers) a domain for
/// the calling key and answers how to verify it.
pub(crate) async fn register(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let operator = operator_key(&state)?.clone();
    let body: RegisterBody = json_body(request).await?;
    let (domain, verified) =
        register_domain(&state, &caller, &body.domain, &body.contact, body.webhook).await?;
    let mut response = registration_answer(&operator, &caller.key, &domain, verified, accepts);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Proves the caller's tenant controls `domain` (normalised, registered): its TXT record is
/// looked up now, and the registration marked verified if it holds the tenant's value.
pub(crate) async fn verify_by_dns(
    state: &Arc<AppState>,
    caller: &Caller,
    row: DomainRegistration,
) -> Result<(), ApiError> {
    let operator = operator_key(state)?.clone();
    let (resolver, id, by) = (state.dns_resolver, row.id, caller.by.clone());
    tokio::task::spawn_blocking(move || domains::check_dns(&operator, &row, resolver))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    on_catalog(state, move |c, _| domains::mark_verified(c, &by, id)).await?;
    Ok(())
}

/// Mails a verification link for the caller's registration `row` to `address`, which must
/// be one of the domain's role addresses (queued; answered 202 with `body`).
pub(crate) async fn verify_by_mail(
    state: Arc<AppState>,
    caller: &Caller,
    row: DomainRegistration,
    address: &str,
    body: &'static str,
) -> Result<Response, ApiError> {
    let address = leakwatch_identity::normalize_email(address)
        .map_err(|_| ApiError::BadRequest("The address is not a valid e-mail address"))?;
    let is_role = domains::ROLE_ADDRESSES
        .iter()
        .any(|r| address == format!("{r}@{}", row.domain));
    if !is_role {
        return Err(ApiError::BadRequest(
            "Verification mail goes only to security@, admin@, hostmaster@, postmaster@ or webmaster@ the domain",
        ));
    }
    crate::check_mail::queue_and_accept(
        state,
        caller.by.clone(),
        Payload::VerifyDomain {
            subscriber: row.id,
            address,
        },
        body,
    )
    .await
}

/// The caller's tenant's registration of `domain` (normalised), 404 if there is none.
pub(crate) async fn registration_of(
    state: &Arc<AppState>,
    caller: &Caller,
    domain: &str,
) -> Result<DomainRegistration, ApiError> {
    registration(state, &caller.key, domain)
        .await?
        .ok_or(ApiError::NotFound)
}

#[derive(serde::Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
enum VerifyBody {
    Dns,
    Mail { address: String },
}

/// `POST /api/v1/domains/{domain}/verify`: `{"method":"dns"}` looks the TXT record up now;
/// `{"method":"mail","address":"security@…"}` mails a verification link to that role address.
pub(crate) async fn verify(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.audit.target(&domain);
    let domain = normalize(&domain)?;
    let body: VerifyBody = json_body(request).await?;
    let row = registration_of(&state, &caller, &domain).await?;
    match body {
        VerifyBody::Dns => {
            verify_by_dns(&state, &caller, row).await?;
            let operator = operator_key(&state)?;
            Ok(registration_answer(
                operator,
                &caller.key,
                &domain,
                true,
                accepts,
            ))
        }
        VerifyBody::Mail { address } => {
            verify_by_mail(
                state,
                &caller,
                row,
                &address,
                "{\"status\":\"queued\",\"message\":\"A verification link is on its way to that address.\"}",
            )
            .await
        }
    }
}

/// The registration a verification link's token names, if the token is this server's, a
/// verification link and unexpired.
fn verification_link(state: &AppState, token: Option<String>) -> Result<i64, ApiError> {
    let operator = operator_key(state)?;
    let Some(Link::VerifyDomain {
        subscriber,
        expires,
    }) = token.and_then(|t| Link::from_token(&t, operator))
    else {
        return Err(ApiError::BadRequest(
            "This link is not valid: copy the whole link from the mail",
        ));
    };
    if now_unix() > expires {
        return Err(ApiError::BadRequest(
            "This verification link has expired: ask for a new one",
        ));
    }
    Ok(subscriber)
}

/// `GET /api/v1/domains/verify?token=`: the link in a domain verification mail opens a page
/// that names who asked (the API key's name and prefix, and the registration's contact) and
/// verifies only from its button. The GET changes nothing: a mail scanner that follows every
/// link at `security@victim.example` verifies no attacker's registration.
pub(crate) async fn verify_page(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let token = query_param(query.as_deref(), "token");
    let id = verification_link(&state, token.clone())?;
    let (registration, key) =
        on_catalog(&state, move |c, op| domains::registration_by_id(c, op, id))
            .await?
            .ok_or(ApiError::NotFound)?;
    let tenant = pages::escape(&registration.tenant);
    let requester = match (&key, registration.key) {
        (Some(k), _) => format!(
            "the API key “{}” (prefix {}) of the tenant “{tenant}”",
            pages::escape(&k.name),
            pages::escape(&k.prefix)
        ),
        (None, Some(_)) => {
            format!("an API key of the tenant “{tenant}” that has since been removed")
        }
        (None, None) => format!("the operator, for the tenant “{tenant}”"),
    };
    let text = format!(
        "<p>Someone asked to verify <strong>{domain}</strong> for leakwatch domain search: {requester}, whose contact address is <strong>{contact}</strong>. Once verified, that key can list every breached address on {domain}, and alerts for {domain} go to that contact.</p><p>Verify only if you know this request and trust its contact. If you do not, close this page: nothing changes.</p>",
        domain = pages::escape(&registration.domain),
        contact = pages::escape(&registration.contact),
    );
    Ok(pages::confirm(
        &format!("Verify {}?", registration.domain),
        &text,
        "/api/v1/domains/verify",
        &token.unwrap_or_default(),
        &format!("Verify {}", registration.domain),
    ))
}

/// `POST /api/v1/domains/verify` (form field `token`): the verification page's button;
/// verifies the registration once.
pub(crate) async fn verify_by_link(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let form = pages::form(request).await?;
    let id = verification_link(&state, query_param(Some(&form), "token"))?;
    let by = Principal::link_holder();
    match on_catalog(&state, move |c, _| domains::verify_by_link(c, &by, id)).await? {
        LinkVerification::Verified => Ok(pages::done(
            "Domain verified",
            "Its owner can now search it, and its contact will get an alert when a new breach holds addresses on it.",
        )),
        LinkVerification::AlreadyUsed => Err(ApiError::Conflict(
            "This link was used already: the domain is verified",
        )),
        _ => Err(ApiError::NotFound),
    }
}

/// `GET /api/v3/breacheddomain/{domain}`: every breached alias on a domain the calling key
/// has verified, with the names of its breaches (HIBP: `{"alias": ["Breach", …]}`).
pub(crate) async fn breached_domain(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    let answer = breached_aliases(&state, &caller, &domain).await?;
    if answer.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(json(&answer, accepts))
}

/// Every breached alias on `domain`, which the caller's tenant has verified, with the names
/// of its live breaches: what `breacheddomain` answers and the dashboard shows and exports.
/// Watched for bulk reading like the API's answer, and as large only for `domain-bulk`.
pub(crate) async fn breached_aliases(
    state: &Arc<AppState>,
    caller: &Caller,
    domain: &str,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, ApiError> {
    caller.audit.target(domain);
    let operator = operator_key(state)?.clone();
    let domain = normalize(domain)?;
    crate::audited::watch(
        state,
        caller,
        leakwatch_service::bulk::Watched::Domains,
        &domain,
    )
    .await?;
    let by = caller.by.clone();
    let bulk_scope = by.require(leakwatch_service::keys::Scope::DomainBulk);
    let asker = by.clone();
    let domain = on_catalog(state, move |c, op| {
        domains::searchable(c, op, &asker, &domain)
    })
    .await?;
    let snap = state.store.snapshot();
    let all = state.catalog.breaches();
    let found = tokio::task::spawn_blocking(move || {
        leakwatch_service::domain_search::search(&snap, &operator, &by, &domain)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let retired = |name: &String| all.iter().any(|b| &b.name == name && b.is_retired);
    let answer: std::collections::BTreeMap<String, Vec<String>> = found
        .into_iter()
        .map(|(alias, names)| {
            (
                alias,
                names
                    .into_iter()
                    .filter(|n| !retired(n))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    // A large domain goes out whole only to a key trusted with bulk answers.
    if state.max_domain_answer > 0 && answer.len() > state.max_domain_answer && bulk_scope.is_err()
    {
        return Err(ApiError::Forbidden(
            "This domain has more breached addresses than this API key may receive in one answer: it needs the scope domain-bulk",
        ));
    }
    caller.audit.size(answer.len());
    Ok(answer)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SubscribedDomain {
    domain_name: String,
    pwn_count: u64,
    pwn_count_excluding_spam_lists: u64,
    pwn_count_excluding_spam_lists_at_last_subscription_renewal: u64,
    next_subscription_renewal: String,
}

/// `GET /api/v3/subscribeddomains`: the calling key's verified domains with how many of
/// their addresses are breached (HIBP's shape; leakwatch subscriptions do not renew).
pub(crate) async fn subscribed_domains(
    Caller { by, audit, .. }: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    let operator = operator_key(&state)?.clone();
    let asker = by.clone();
    let domains = on_catalog(&state, move |c, op| {
        domains::searchable_domains(c, op, &asker)
    })
    .await?;
    let snap = state.store.snapshot();
    let all = state.catalog.breaches();
    let list = tokio::task::spawn_blocking(move || {
        let spam = |name: &String| all.iter().any(|b| &b.name == name && b.is_spam_list);
        let live = |name: &String| all.iter().any(|b| &b.name == name && !b.is_retired);
        domains
            .into_iter()
            .map(|domain| {
                let found =
                    leakwatch_service::domain_search::search(&snap, &operator, &by, &domain)?;
                let pwned = found.values().filter(|n| n.iter().any(live)).count() as u64;
                let not_spam = found
                    .values()
                    .filter(|n| n.iter().any(|b| live(b) && !spam(b)))
                    .count() as u64;
                Ok(SubscribedDomain {
                    domain_name: domain.domain().to_owned(),
                    pwn_count: pwned,
                    pwn_count_excluding_spam_lists: not_spam,
                    pwn_count_excluding_spam_lists_at_last_subscription_renewal: not_spam,
                    next_subscription_renewal: "9999-12-31T23:59:59".to_owned(),
                })
            })
            .collect::<Result<Vec<_>, leakwatch_service::ServiceError>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    audit.size(list.len());
    Ok(json(&list, accepts))
}
