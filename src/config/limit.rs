//! Rate limits as configured: the `rate_limits` table, whose limits are
//! written `"5/5m"` (five per five minutes).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The `rate_limits` config table.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Failed sign-ins (browser and token endpoint) per account.
    pub sign_in_per_account: Limit,
    /// Failed sign-ins per client address.
    pub sign_in_per_ip: Limit,
    /// Wrong codes allowed per pending two-factor sign-in.
    pub two_factor_per_sign_in: u32,
    pub sign_up_per_ip: Limit,
    /// Failed API-key authentications per client address.
    pub api_key_failures_per_ip: Limit,
    /// Password-reset requests per client address (each address also
    /// gets at most three reset mails an hour).
    pub password_reset_per_ip: Limit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            sign_in_per_account: Limit::new(5, 300),
            sign_in_per_ip: Limit::new(20, 60),
            two_factor_per_sign_in: 5,
            sign_up_per_ip: Limit::new(10, 3600),
            api_key_failures_per_ip: Limit::new(60, 60),
            password_reset_per_ip: Limit::new(10, 3600),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u32,
}

impl Limit {
    pub const fn new(max: u32, window_secs: u32) -> Limit {
        Limit { max, window_secs }
    }

    /// `<count>/<number><s|m|h|d>`, e.g. `20/1m`, `10/1h`; the number may be
    /// left out (`5/m`).
    pub fn parse(text: &str) -> Option<Limit> {
        let (max, window) = text.trim().split_once('/')?;
        let max: u32 = max.trim().parse().ok()?;
        let window = window.trim();
        let unit = window.chars().last()?;
        let amount = &window[..window.len() - unit.len_utf8()];
        let amount: u32 = if amount.is_empty() {
            1
        } else {
            amount.parse().ok()?
        };
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let window_secs = amount.checked_mul(seconds)?;
        (max > 0 && window_secs > 0).then_some(Limit { max, window_secs })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.max, self.window_secs)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Limit::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a limit like \"5/5m\", \"20/1m\" or \"10/1h\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn limits_parse() {
        assert_eq!(Limit::parse("5/5m"), Some(Limit::new(5, 300)));
        assert_eq!(Limit::parse("20/1m"), Some(Limit::new(20, 60)));
        assert_eq!(Limit::parse("10/1h"), Some(Limit::new(10, 3600)));
        assert_eq!(Limit::parse(" 60 / m "), Some(Limit::new(60, 60)));
        assert_eq!(Limit::parse("3/2d"), Some(Limit::new(3, 172_800)));
        for bad in [
            "",
            "5",
            "5/",
            "0/1m",
            "5/0m",
            "x/1m",
            "5/1y",
            "5/-1m",
            "5/99999999999d",
        ] {
            assert_eq!(Limit::parse(bad), None, "{bad}");
        }
    }
}
