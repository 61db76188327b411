//! `leakwatch subscribe`: alert subscriptions of addresses.

use anyhow::{Context, Result};

use super::catalog;
use crate::flags::*;

pub fn subscribe_cmd(cmd: SubscribeCmd) -> Result<()> {
    use leakwatch_notify::Subscription;
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "subscribers are sealed with the operator key: set LEAKWATCH_OPERATOR_KEY or --operator-key-file",
        )
    };
    let normalize = |email: &str| {
        leakwatch_identity::normalize_email(email)
            .map_err(|e| anyhow::anyhow!("not an e-mail address: {e}"))
    };
    let now = leakwatch_catalog::now_unix();
    match cmd {
        SubscribeCmd::Add { data, email, key } => {
            let operator = need_key(&key)?;
            let s = Subscription::Email {
                email: normalize(&email)?,
            };
            let id = catalog(&data.data)?.put_subscriber(
                &s.digest(&operator),
                &s.seal(&operator),
                None,
                Some(now),
                now,
            )?;
            println!("subscriber {id}: alerts for breaches published from now on");
        }
        SubscribeCmd::List { data, key } => {
            let operator = need_key(&key)?;
            println!("id\twatches\talerts to\tsince\tunsubscribed");
            for row in catalog(&data.data)?.subscribers()? {
                let (watches, to) = match Subscription::open(&row.sealed, &operator) {
                    Some(Subscription::Email { email }) => (email.clone(), email),
                    Some(Subscription::Domain {
                        domain,
                        contact,
                        webhook,
                        ..
                    }) => (format!("*@{domain}"), webhook.map_or(contact, |w| w.url)),
                    _ => (
                        "(does not open under this operator key)".into(),
                        String::new(),
                    ),
                };
                let when =
                    |t: Option<u64>| t.map_or("-".into(), leakwatch_catalog::format_date_time);
                println!(
                    "{}\t{watches}\t{to}\t{}\t{}",
                    row.id,
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
                    let s = Subscription::Email {
                        email: normalize(&who)?,
                    };
                    catalog
                        .subscriber_by_digest(&s.digest(&operator))?
                        .context("no subscriber with that address")?
                        .id
                }
            };
            anyhow::ensure!(catalog.remove_subscriber(id)?, "no subscriber {id}");
            println!("subscriber {id} removed");
        }
    }
    Ok(())
}
