//! The password audit: an export of password hashes (pwdump, `user,ntlm` CSV, SHA-1 list)
//! against the store — which accounts use a password seen in a breach, and which share one.

use std::io::Read;

use leakwatch_store::{Namespace, Snapshot};

pub use leakwatch_audit::{Account, AuditError, Export, ExportFormat, Finding, Report};

/// Reads an export (`format`, or detected from its first account line) and audits it against
/// `snap`: the export (with its bad lines counted by number), the report, and the namespace
/// its hashes are in.
pub fn audit_export(
    snap: &Snapshot,
    input: impl Read,
    format: Option<ExportFormat>,
) -> Result<(Export, Report, Namespace), AuditError> {
    let export = leakwatch_audit::read_export(input, format)?;
    let report = leakwatch_audit::audit(snap, &export)?;
    let ns = match export.format {
        Some(ExportFormat::Sha1) => Namespace::Sha1,
        _ => Namespace::Ntlm,
    };
    Ok((export, report, ns))
}
