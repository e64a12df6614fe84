//! The fields of one parsed record, as the rules see them.
//!
//! Takes borrowed values from a parsed record (no copies on the hot path); gives each
//! [`Field`]'s text. Absent values read as the empty string, so `is ""` matches "absent".

use super::rule::Field;

/// One record's values; `None` is absent.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub status: Option<&'a str>,
    pub reply_code: Option<u16>,
    pub diagnostic: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub feedback_type: Option<&'a str>,
    pub remote_mta: Option<&'a str>,
    pub reporting_mta: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub dialect: Option<&'a str>,
    pub body: Option<&'a str>,
    /// The MTA's own bounce category (from its log).
    pub mta_category: Option<&'a str>,
}

impl<'a> Facts<'a> {
    /// The text of `field`; `buf` holds the formatted reply code.
    pub fn get<'b>(&'b self, field: Field, buf: &'b mut String) -> &'b str {
        let v = match field {
            Field::Status => self.status,
            Field::StatusClass => self.status.and_then(|s| s.get(..1)),
            Field::ReplyCode => {
                buf.clear();
                if let Some(c) = self.reply_code {
                    use std::fmt::Write;
                    let _ = write!(buf, "{c}");
                }
                return buf.as_str();
            }
            Field::Diagnostic => self.diagnostic,
            Field::Reason => self.reason,
            Field::Kind => self.kind,
            Field::FeedbackType => self.feedback_type,
            Field::RemoteMta => self.remote_mta,
            Field::ReportingMta => self.reporting_mta,
            Field::Recipient => self.recipient,
            Field::RecipientDomain => self.recipient.and_then(|r| r.rsplit_once('@')).map(|(_, d)| d),
            Field::Sender => self.sender,
            Field::Subject => self.subject,
            Field::Dialect => self.dialect,
            Field::Body => self.body,
            Field::MtaCategory => self.mta_category,
        };
        v.unwrap_or("")
    }
}
