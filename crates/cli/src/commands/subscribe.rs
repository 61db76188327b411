//! `leakwatch subscribe`: alert subscriptions of addresses.

use anyhow::{Context, Result};
use leakwatch_service::{Principal, format_date_time, subscriptions};

use super::catalog;
use crate::flags::*;

pub fn subscribe_cmd(cmd: SubscribeCmd) -> Result<()> {
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "subscribers are sealed with the operator key: pass --operator-key-file (or LEAKWATCH_OPERATOR_KEY_FILE)",
        )
    };
    let normalize = |email: &str| {
        leakwatch_identity::normalize_email(email)
            .map_err(|e| anyhow::anyhow!("not an e-mail address: {e}"))
    };
    let by = Principal::operator();
    match cmd {
        SubscribeCmd::Add { data, email, key } => {
            let operator = need_key(&key)?;
            let email = normalize(&email)?;
            let id =
                subscriptions::subscribe_email(&mut catalog(&data.data)?, &operator, &by, &email)?;
            println!("subscriber {id}: alerts for breaches published from now on");
        }
        SubscribeCmd::List { data, key } => {
            let operator = need_key(&key)?;
            println!("id\twatches\talerts to\tsince\tunsubscribed");
            let rows = subscriptions::list(&catalog(&data.data)?, &operator, &by)?;
            super::result_size(rows.len() as u64);
            for row in rows {
                let watches = row
                    .watches
                    .unwrap_or_else(|| "(does not open under this operator key)".into());
                let when = |t: Option<u64>| t.map_or("-".into(), format_date_time);
                println!(
                    "{}\t{watches}\t{}\t{}\t{}",
                    row.id,
                    row.alerts_to,
                    if row.verified.is_some() {
                        when(row.verified)
                    } else {
                        "unverified".into()
                    },
                    when(row.unsubscribed)
                );
            }
        }
        SubscribeCmd::Remove { data, who, key } => {
            let mut catalog = catalog(&data.data)?;
            let id = match who.parse::<i64>() {
                Ok(id) => id,
                Err(_) => {
                    let operator = need_key(&key)?;
                    subscriptions::find_email(&catalog, &operator, &normalize(&who)?)?
                }
            };
            subscriptions::remove(&mut catalog, &by, id)?;
            println!("subscriber {id} removed");
        }
    }
    Ok(())
}
