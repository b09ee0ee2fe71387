//! Money as people type it: `--price 5`, `--price 5.50`, `--deposit 50`, in the
//! currency of `--currency`, else the node's `currency` setting. The API takes
//! integer minor units, so the amount is converted here, by the currency's ISO
//! 4217 minor digits; too many decimals or a code outside the table is an error
//! naming the flag, and nothing is sent.

use anyhow::Context;
use swapmesh_protocol::Currency;

use crate::api::json::{MoneyJson, NodeJson, PriceJson};
use crate::client::Client;
use swapmesh_protocol::listing::Period;

/// The currency amounts are typed in: `--currency`, else the node's setting.
pub(super) fn currency(client: &Client, flag: Option<&str>) -> anyhow::Result<Currency> {
    let code = match flag {
        Some(code) => code.to_owned(),
        None => client.get::<NodeJson>("/node")?.currency,
    };
    Currency::from_code(&code).context("--currency")
}

/// Minor units of an amount typed for `flag`.
pub(crate) fn minor_units(currency: Currency, flag: &str, text: &str) -> anyhow::Result<i64> {
    currency
        .parse_amount(text.trim())
        .with_context(|| format!("--{flag}"))
}

/// A price typed for `--price`.
fn price(currency: Currency, text: &str, per: Period) -> anyhow::Result<PriceJson> {
    Ok(PriceJson {
        amount: minor_units(currency, "price", text)?,
        currency: currency.code().to_owned(),
        per,
    })
}

/// An amount typed for `--<flag>`, in `currency`.
fn money(currency: Currency, flag: &str, text: &str) -> anyhow::Result<MoneyJson> {
    Ok(MoneyJson {
        amount: minor_units(currency, flag, text)?,
        currency: currency.code().to_owned(),
    })
}

/// An amount typed for `--<flag>` (e.g. `--deposit-returned 50`), in the
/// currency of `--currency`, else the node's setting.
pub(super) fn typed(
    client: &Client,
    flag: &str,
    text: &str,
    currency_flag: Option<&str>,
) -> anyhow::Result<MoneyJson> {
    money(currency(client, currency_flag)?, flag, text)
}

/// The `--price` and `--deposit` a command was given, in the currency of
/// `--currency` (else the node's setting, asked only when an amount was given).
pub(super) fn price_and_deposit(
    client: &Client,
    price_text: Option<&str>,
    per: Period,
    deposit_text: Option<&str>,
    currency_flag: Option<&str>,
) -> anyhow::Result<(Option<PriceJson>, Option<MoneyJson>)> {
    if price_text.is_none() && deposit_text.is_none() {
        return Ok((None, None));
    }
    let currency = currency(client, currency_flag)?;
    Ok((
        price_text.map(|p| price(currency, p, per)).transpose()?,
        deposit_text
            .map(|d| money(currency, "deposit", d))
            .transpose()?,
    ))
}
