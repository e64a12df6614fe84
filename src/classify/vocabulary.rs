//! What the rule editor offers for a condition: the operators the engine applies to a field
//! and the values a field is known to take.
//!
//! Takes a [`Field`]; gives operators and suggested values. Suggestions, not limits: a
//! field may carry other values (a new feedback type, an MTA's own dialect name), and the
//! engine compares whatever it is given. It never validates a rule (`Rule::validate` does).

use super::{Field, Op};
use crate::parse::{Kind, Reason};

impl Op {
    /// Whether the engine applies this operator to `field`: `like` is a status-code pattern.
    pub fn fits(self, field: Field) -> bool {
        self != Op::Like || field == Field::Status
    }
}

/// The values `field` is known to take (empty: free text).
pub fn known_values(field: Field) -> Vec<&'static str> {
    match field {
        Field::Kind => [Kind::Bounce, Kind::Delay, Kind::Complaint, Kind::Autoreply, Kind::Delivered, Kind::Unknown]
            .iter()
            .map(Kind::as_str)
            .collect(),
        Field::StatusClass => vec!["2", "4", "5"],
        // RFC 5965 and 6591, and the not-spam some providers send.
        Field::FeedbackType => vec!["abuse", "fraud", "virus", "other", "auth-failure", "not-spam"],
        Field::Reason => REASONS.iter().map(Reason::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The parser's taxonomy (`parse::Reason`), in its order.
const REASONS: [Reason; 35] = [
    Reason::UserUnknown,
    Reason::HostUnknown,
    Reason::HasMoved,
    Reason::NotAccept,
    Reason::Suspend,
    Reason::MailboxFull,
    Reason::ExceedLimit,
    Reason::MesgTooBig,
    Reason::Filtered,
    Reason::NoRelaying,
    Reason::SyntaxError,
    Reason::Blocked,
    Reason::BadReputation,
    Reason::RequirePtr,
    Reason::SpamDetected,
    Reason::VirusDetected,
    Reason::ContentError,
    Reason::PolicyViolation,
    Reason::Rejected,
    Reason::AuthFailure,
    Reason::SecurityError,
    Reason::FailedStartTls,
    Reason::NotCompliantRfc,
    Reason::TooManyConn,
    Reason::Speeding,
    Reason::SystemError,
    Reason::SystemFull,
    Reason::MailerError,
    Reason::NetworkError,
    Reason::Expired,
    Reason::OnHold,
    Reason::Undefined,
    Reason::Feedback,
    Reason::Vacation,
    Reason::Delivered,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suggested_reason_is_one_the_rules_accept() {
        for r in known_values(Field::Reason) {
            assert!(super::super::known_reason(r), "{r}");
        }
        assert!(Op::Like.fits(Field::Status) && !Op::Like.fits(Field::Diagnostic));
    }
}
