use super::ids::is_id;

/// How a path names an Actor: its id, `username~name`, or `~name` (the token owner's Actor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorRef {
    Id(String),
    Name {
        username: Option<String>,
        name: String,
    },
}

impl ActorRef {
    pub fn parse(s: &str) -> Option<Self> {
        // `username/name` is an accepted spelling too (clients escape it as `username~name`).
        if let Some((username, name)) = s.split_once('~').or_else(|| s.split_once('/')) {
            if name.is_empty() {
                return None;
            }
            let username = (!username.is_empty()).then(|| username.to_owned());
            return Some(ActorRef::Name {
                username,
                name: name.to_owned(),
            });
        }
        is_id(s).then(|| ActorRef::Id(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            ActorRef::parse("abcdefghijklmnopq"),
            Some(ActorRef::Id("abcdefghijklmnopq".into()))
        );
        assert_eq!(
            ActorRef::parse("jane~my-actor"),
            Some(ActorRef::Name {
                username: Some("jane".into()),
                name: "my-actor".into()
            })
        );
        assert_eq!(
            ActorRef::parse("~my-actor"),
            Some(ActorRef::Name {
                username: None,
                name: "my-actor".into()
            })
        );
        assert_eq!(ActorRef::parse("jane~"), None);
        assert_eq!(ActorRef::parse("short"), None);
    }
}
