//! Currencies: the ISO 4217 table of codes and their minor digits, and money as
//! people type and read it (`5`, `5.50`, `5.00 EUR`).
//!
//! Records carry money in integer minor units with a three-letter code
//! ([`Money`]); the network's rule is only "three upper-case letters" (a newer
//! node may know a newer code). The table is for people: the API and the CLI
//! take a code only if it is in it, and a record whose code is not is shown in
//! minor units with its code.

use std::fmt;

use thiserror::Error;

use crate::listing::Money;

/// ISO 4217 codes of currencies in use, with their minor digits (EUR has 2:
/// 5.00 EUR is 500 minor units; JPY has 0; BHD has 3). Funds and precious
/// metals without minor digits (XAU, XDR, …) are left out: nobody prices a
/// drill in them.
pub const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
    ("ZWL", 2),
];

/// A currency of the ISO 4217 table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Currency {
    code: &'static str,
    minor_digits: u8,
}

/// Why a currency code or an amount typed by a person is refused. Each message
/// names the value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MoneyError {
    /// The code is not in the ISO 4217 table.
    #[error("unknown currency {0:?}: use an ISO 4217 code such as EUR, USD, GBP or JPY")]
    UnknownCurrency(String),
    /// The text is not a plain decimal number.
    #[error("amount {0:?} is not a number such as 5 or 5.50")]
    NotANumber(String),
    /// More decimals than the currency has minor digits.
    #[error("amount {text:?} has more decimals than {currency} has ({digits})")]
    TooManyDecimals {
        /// The amount as typed.
        text: String,
        /// The currency.
        currency: &'static str,
        /// Its minor digits.
        digits: u8,
    },
    /// Too large to count in minor units.
    #[error("amount {0:?} is too large")]
    TooLarge(String),
}

impl Currency {
    /// The currency of an ISO 4217 code (upper case), if it is in the table.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| MoneyError::UnknownCurrency(code.to_owned()))?;
        Self::of(bytes).ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// The currency of a record's code bytes, if the code is in the table.
    pub fn of(code: [u8; 3]) -> Option<Currency> {
        let i = CURRENCIES
            .binary_search_by(|(c, _)| c.as_bytes().cmp(&code[..]))
            .ok()?;
        let (code, minor_digits) = CURRENCIES[i];
        Some(Currency { code, minor_digits })
    }

    /// The code, e.g. `"EUR"`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The code as a record carries it.
    pub fn code_bytes(&self) -> [u8; 3] {
        let mut out = [0u8; 3];
        out.copy_from_slice(self.code.as_bytes());
        out
    }

    /// Digits after the decimal point (EUR 2, JPY 0, BHD 3).
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }

    /// Minor units of an amount as a person types it: `5` and `5.5` and `5.50`
    /// EUR are 500 and 550 and 550. No sign, no thousands separators, no more
    /// decimals than the currency has.
    pub fn parse_amount(&self, text: &str) -> Result<i64, MoneyError> {
        let not_a_number = || MoneyError::NotANumber(text.to_owned());
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || fraction.is_some_and(|f| !digits_only(f)) {
            return Err(not_a_number());
        }
        let fraction = fraction.unwrap_or("");
        let digits = usize::from(self.minor_digits);
        if fraction.len() > digits {
            return Err(MoneyError::TooManyDecimals {
                text: text.to_owned(),
                currency: self.code(),
                digits: self.minor_digits,
            });
        }
        let too_large = || MoneyError::TooLarge(text.to_owned());
        let whole: i64 = whole.parse().map_err(|_| too_large())?;
        let mut minor = whole
            .checked_mul(10i64.pow(u32::from(self.minor_digits)))
            .ok_or_else(too_large)?;
        if !fraction.is_empty() {
            let scale = 10i64.pow((digits - fraction.len()) as u32);
            let part: i64 = fraction.parse().map_err(|_| not_a_number())?;
            minor = minor.checked_add(part * scale).ok_or_else(too_large)?;
        }
        Ok(minor)
    }

    /// An amount in minor units as people read it: `500` EUR is `5.00`, `1000`
    /// JPY is `1000`.
    pub fn format_amount(&self, minor: i64) -> String {
        let digits = u32::from(self.minor_digits);
        if digits == 0 {
            return minor.to_string();
        }
        let scale = 10u64.pow(digits);
        let abs = minor.unsigned_abs();
        let sign = if minor < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = digits as usize
        )
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Money {
    /// Money as people read it: `5.00 EUR`, or, for a code outside the ISO 4217
    /// table (a record from the network may carry one), the minor units with
    /// the code: `1234 XYZ (minor units)`.
    pub fn display(&self) -> String {
        match Currency::of(self.currency) {
            Some(c) => format!("{} {}", c.format_amount(self.amount), c.code()),
            None => format!("{} {} (minor units)", self.amount, self.currency_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_unique_and_three_upper_case_letters() {
        for pair in CURRENCIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?}");
        }
        for (code, digits) in CURRENCIES {
            assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(*digits <= 4, "{code}");
        }
    }

    #[test]
    fn amounts_parse_by_the_currencys_minor_digits() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(eur.parse_amount("5"), Ok(500));
        assert_eq!(eur.parse_amount("5.5"), Ok(550));
        assert_eq!(eur.parse_amount("5.50"), Ok(550));
        assert_eq!(eur.parse_amount("0.07"), Ok(7));
        assert!(matches!(
            eur.parse_amount("5.555"),
            Err(MoneyError::TooManyDecimals { digits: 2, .. })
        ));
        for bad in ["", "-5", "5,50", "5.", ".5", "five", "1e3", " 5"] {
            assert!(
                matches!(eur.parse_amount(bad), Err(MoneyError::NotANumber(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            eur.parse_amount("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(jpy.parse_amount("1000"), Ok(1000));
        assert!(jpy.parse_amount("1000.5").is_err());
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(bhd.parse_amount("1.5"), Ok(1500));
    }

    #[test]
    fn amounts_format_as_people_read_them() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(eur.format_amount(500), "5.00");
        assert_eq!(eur.format_amount(7), "0.07");
        assert_eq!(
            Currency::from_code("JPY").unwrap().format_amount(1000),
            "1000"
        );
        assert_eq!(
            Currency::from_code("BHD").unwrap().format_amount(1500),
            "1.500"
        );
        let money = |amount, code: &[u8; 3]| Money {
            amount,
            currency: *code,
        };
        assert_eq!(money(500, b"EUR").display(), "5.00 EUR");
        assert_eq!(money(1234, b"XYZ").display(), "1234 XYZ (minor units)");
    }

    #[test]
    fn codes_outside_the_table_are_refused() {
        for bad in ["XYZ", "eur", "EURO", "", "XAU"] {
            assert!(
                matches!(
                    Currency::from_code(bad),
                    Err(MoneyError::UnknownCurrency(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(Currency::from_code("EUR").unwrap().code(), "EUR");
    }
}
