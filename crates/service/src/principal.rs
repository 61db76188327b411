//! Who an action is for. Every action of the service layer names its principal: an API key
//! presented to the server, or the operator at a shell on the machine. Scope checks, tenancy
//! and the audit trail are decided from it, in one place.

use std::fmt;

use leakwatch_catalog::{
    keys::{ApiKey, Scope, Scopes},
    tenants::DEFAULT_TENANT,
};

use crate::ServiceError;

/// The one on whose behalf an action runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// An API key (`hibp-api-key`), as the catalogue records it.
    ApiKey {
        /// Its id in the catalogue.
        id: i64,
        /// Who it was issued to.
        name: String,
        /// What it may do.
        scopes: Scopes,
        /// The tenant it acts for: the only one whose rows it sees.
        tenant: String,
    },
    /// The operator running the CLI: the OS user.
    Operator {
        /// The user name (from the password database; the uid when it has none).
        user: String,
        /// The real user id.
        uid: u32,
        /// The tenant it acts for (`--tenant`); none: the operator's own, `default`.
        tenant: Option<String>,
    },
    /// Whoever followed a link the server mailed (a confirmation or an unsubscribe link):
    /// the link, sealed under the operator key, is the authority, and it names what it
    /// allows.
    LinkHolder,
    /// A visitor of the public page without a key (the private check, a subscription
    /// request): may do only what is public.
    Public,
    /// leakwatch itself: the delivery worker queueing and composing what a published breach
    /// sets off, for the subscriptions and inventories their owners set up.
    Leakwatch {
        /// The tenant whose inventory it reads now, if any.
        tenant: Option<String>,
    },
}

impl Principal {
    /// The operator at this process's shell: its real uid and that user's name.
    pub fn operator() -> Principal {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        Principal::Operator {
            user: user_name(uid).unwrap_or_else(|| uid.to_string()),
            uid,
            tenant: None,
        }
    }

    /// leakwatch's delivery worker, across tenants.
    pub fn leakwatch() -> Principal {
        Principal::Leakwatch { tenant: None }
    }

    /// This principal acting for `tenant`: the operator (`--tenant`) and leakwatch's worker
    /// may act for any tenant; an API key only for its own, so asking it for another is
    /// refused, as is asking it of a link's holder or a visitor.
    pub fn acting_for(self, tenant: &str) -> Result<Principal, ServiceError> {
        let tenant = leakwatch_catalog::tenants::validate(tenant)?.to_owned();
        match self {
            Principal::Operator { user, uid, .. } => Ok(Principal::Operator {
                user,
                uid,
                tenant: Some(tenant),
            }),
            Principal::Leakwatch { .. } => Ok(Principal::Leakwatch {
                tenant: Some(tenant),
            }),
            Principal::ApiKey {
                tenant: ref own, ..
            } if *own == tenant => Ok(self),
            _ => Err(ServiceError::NotYourTenant(tenant)),
        }
    }

    /// The tenant whose rows this principal sees and changes: an API key's own, or the one
    /// the operator or worker acts for (the operator's `default` when none was named).
    /// A link's holder and a visitor act for no tenant.
    pub fn tenant(&self) -> Result<&str, ServiceError> {
        match self {
            Principal::ApiKey { tenant, .. } => Ok(tenant),
            Principal::Operator { tenant, .. } | Principal::Leakwatch { tenant } => {
                Ok(tenant.as_deref().unwrap_or(DEFAULT_TENANT))
            }
            Principal::LinkHolder | Principal::Public => {
                Err(ServiceError::NotYourTenant(String::new()))
            }
        }
    }

    /// Whether this is the operator at a shell (trusted with what it sets up).
    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    /// Whoever followed a link the server mailed.
    pub fn link_holder() -> Principal {
        Principal::LinkHolder
    }

    /// The principal of a request made with `key`.
    pub fn api_key(key: &ApiKey) -> Principal {
        Principal::ApiKey {
            id: key.id,
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            tenant: key.tenant.clone(),
        }
    }

    /// Whether this principal may do what `scope` covers: an API key if it holds the scope,
    /// the operator and leakwatch's own worker always (the shell already has the files), a
    /// link's holder and a visitor without a key never (a link allows only what it names,
    /// checked where it is opened).
    pub fn may(&self, scope: Scope) -> bool {
        match self {
            Principal::ApiKey { scopes, .. } => scopes.allows(scope),
            Principal::Operator { .. } | Principal::Leakwatch { .. } => true,
            Principal::LinkHolder | Principal::Public => false,
        }
    }

    /// [`Principal::may`], as an error naming the missing scope.
    pub fn require(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.may(scope) {
            Ok(())
        } else {
            Err(ServiceError::MissingScope(scope))
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::ApiKey {
                id, name, tenant, ..
            } => write!(f, "API key {id} ({name}) of tenant {tenant}"),
            Principal::Operator { user, uid, tenant } => {
                write!(f, "operator {user} (uid {uid})")?;
                match tenant {
                    Some(t) => write!(f, " for tenant {t}"),
                    None => Ok(()),
                }
            }
            Principal::LinkHolder => f.write_str("the holder of a mailed link"),
            Principal::Public => f.write_str("a visitor without a key"),
            Principal::Leakwatch { .. } => f.write_str("leakwatch's delivery worker"),
        }
    }
}

/// The login name of `uid` in the password database.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct (null pointers,
    // zero ids); getpwuid_r only writes it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `pwd` and `found` are live locals, `buf`
    // is a writable buffer of the length passed; the strings it fills point into `buf`.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success `pw_name` is a NUL-terminated string inside `buf`, alive here.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_is_this_process_s_real_user() {
        let Principal::Operator { user, uid, .. } = Principal::operator() else {
            panic!("not an operator");
        };
        // SAFETY: getuid has no preconditions.
        assert_eq!(uid, unsafe { libc::getuid() });
        // An independent reading of the name: `id -un` (coreutils).
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        assert_eq!(user, String::from_utf8_lossy(&id.stdout).trim());
    }
}
