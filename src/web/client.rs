//! What a person recognises of the browser a session or event came from.

/// "Firefox on Linux", "Chrome on Windows", "Safari on iPhone": what a
/// person recognises of a user agent, by the woothee parser's rules.
pub fn describe_user_agent(user_agent: Option<&str>) -> String {
    static PARSER: std::sync::LazyLock<woothee::parser::Parser> =
        std::sync::LazyLock::new(woothee::parser::Parser::new);
    let Some(parsed) = user_agent.and_then(|ua| PARSER.parse(ua)) else {
        return "Unknown browser".to_owned();
    };
    let known = |value: &str| (value != woothee::woothee::VALUE_UNKNOWN).then(|| value.to_owned());
    let os = known(parsed.os).map(|os| match os.as_str() {
        os if os.starts_with("Windows") => "Windows".to_owned(),
        "Mac OSX" => "macOS".to_owned(),
        _ => os,
    });
    match (known(parsed.name), os) {
        (Some(name), Some(os)) => format!("{name} on {os}"),
        (Some(name), None) => name,
        (None, Some(os)) => format!("Unknown browser on {os}"),
        (None, None) => "Unknown browser".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn user_agents_are_described_as_people_know_them() {
        for (ua, expected) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
        ] {
            assert_eq!(describe_user_agent(Some(ua)), expected);
        }
        assert_eq!(describe_user_agent(None), "Unknown browser");
        assert_eq!(describe_user_agent(Some("")), "Unknown browser");
    }
}
