//! One EIP: its status and charge type, the record the emulator keeps,
//! and its view as DescribeEipAddresses shows it. The status is derived
//! from timestamps (no background tasks): CREATING until its creation time
//! is over, then AVAILABLE (or CREATE_FAILED when it was doomed at
//! allocation), RECYCLING for the recycling delay once terminated, then
//! RECYCLE, gone once purged from the recycle bin (ReleaseEipAddresses, or
//! 24 hours after its termination).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use super::seed::ResourceGroup;

/// `eipStatus` values (FACTS §3.3). The emulator produces CREATING,
/// CREATE_FAILED, AVAILABLE, RECYCLING and RECYCLE; the others are accepted
/// as filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EipStatus {
    Creating,
    CreateFailed,
    Associating,
    Unassociating,
    Associated,
    Available,
    Recycling,
    Recycle,
}

impl EipStatus {
    pub const ALL: [EipStatus; 8] = [
        EipStatus::Creating,
        EipStatus::CreateFailed,
        EipStatus::Associating,
        EipStatus::Unassociating,
        EipStatus::Associated,
        EipStatus::Available,
        EipStatus::Recycling,
        EipStatus::Recycle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EipStatus::Creating => "CREATING",
            EipStatus::CreateFailed => "CREATE_FAILED",
            EipStatus::Associating => "ASSOCIATING",
            EipStatus::Unassociating => "UNASSOCIATING",
            EipStatus::Associated => "ASSOCIATED",
            EipStatus::Available => "AVAILABLE",
            EipStatus::Recycling => "RECYCLING",
            EipStatus::Recycle => "RECYCLE",
        }
    }

    pub fn parse(text: &str) -> Option<EipStatus> {
        EipStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// `eipChargeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChargeType {
    Prepaid,
    Postpaid,
}

impl ChargeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeType::Prepaid => "PREPAID",
            ChargeType::Postpaid => "POSTPAID",
        }
    }

    pub fn parse(text: &str) -> Option<ChargeType> {
        match text {
            "PREPAID" => Some(ChargeType::Prepaid),
            "POSTPAID" => Some(ChargeType::Postpaid),
            _ => None,
        }
    }
}

/// One EIP as DescribeEipAddresses reports it (FACTS §3.2), also what the
/// admin endpoint and the test accessors return. `null` fields are sent as
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EipView {
    pub eip_id: String,
    pub zone_id: String,
    pub ip_address: Option<String>,
    pub netmask: u32,
    pub instance_id: Option<String>,
    pub instance_name: Option<String>,
    pub eip_charge_type: ChargeType,
    /// Months; `None` for POSTPAID.
    pub period: Option<u32>,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub create_time: String,
    /// `None` for POSTPAID.
    pub expired_time: Option<String>,
    pub eip_status: EipStatus,
    pub resource_group_id: String,
    pub resource_group_name: String,
    pub tags: TagsView,
}

/// The wrapped tag list `{"tags": [{"key", "value"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TagsView {
    pub tags: Vec<TagView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagView {
    pub key: String,
    pub value: String,
}

/// An EIP to create, as validated by AllocateEipAddresses.
#[derive(Debug, Clone)]
pub struct NewEip {
    pub zone_id: &'static str,
    pub charge: ChargeType,
    pub period: Option<u32>,
    pub netmask: u32,
    pub resource_group: ResourceGroup,
    pub tags: Vec<(String, String)>,
}

/// One EIP as the emulator keeps it: what was ordered, and its lifecycle.
#[derive(Debug, Clone)]
pub struct Eip {
    pub id: String,
    pub spec: NewEip,
    pub created: OffsetDateTime,
    pub expires: Option<OffsetDateTime>,
    /// When the AllocateEipAddresses call made it.
    pub allocated_at: Instant,
    /// When CREATING ends.
    pub ready_at: Instant,
    /// The reserved block; `None` dooms the EIP to CREATE_FAILED.
    pub address: Option<Ipv4Addr>,
    /// When TerminateEipAddress moved it to the recycle bin.
    pub terminated_at: Option<Instant>,
    /// When RECYCLING ends and RECYCLE begins (set with `terminated_at`).
    pub recycled_at: Option<Instant>,
    /// ReleaseEipAddresses removed it from the recycle bin.
    pub purged: bool,
}

/// How long a terminated EIP stays in the recycle bin before it is released
/// for good (the docs: "released in 24 hours").
pub const RECYCLE_RETENTION: Duration = Duration::from_secs(24 * 3600);

impl Eip {
    /// False once the EIP is gone for good: purged by ReleaseEipAddresses,
    /// or [`RECYCLE_RETENTION`] after its termination.
    pub fn exists(&self, now: Instant) -> bool {
        !self.purged
            && self
                .terminated_at
                .is_none_or(|at| now.saturating_duration_since(at) < RECYCLE_RETENTION)
    }

    pub fn status(&self, now: Instant) -> EipStatus {
        if let Some(recycled_at) = self.recycled_at {
            if now < recycled_at {
                EipStatus::Recycling
            } else {
                EipStatus::Recycle
            }
        } else if self.terminated_at.is_some() {
            EipStatus::Recycle
        } else if now < self.ready_at {
            EipStatus::Creating
        } else if self.address.is_none() {
            EipStatus::CreateFailed
        } else {
            EipStatus::Available
        }
    }

    pub fn view(&self, now: Instant) -> EipView {
        let status = self.status(now);
        let ip_address = match status {
            EipStatus::Creating
            | EipStatus::CreateFailed
            | EipStatus::Recycling
            | EipStatus::Recycle => None,
            _ => self.address.map(|a| a.to_string()),
        };
        EipView {
            eip_id: self.id.clone(),
            zone_id: self.spec.zone_id.to_owned(),
            ip_address,
            netmask: self.spec.netmask,
            instance_id: None,
            instance_name: None,
            eip_charge_type: self.spec.charge,
            period: self.spec.period,
            create_time: iso8601(self.created),
            expired_time: self.expires.map(iso8601),
            eip_status: status,
            resource_group_id: self.spec.resource_group.id.to_owned(),
            resource_group_name: self.spec.resource_group.name.to_owned(),
            tags: TagsView {
                tags: self
                    .spec
                    .tags
                    .iter()
                    .map(|(key, value)| TagView {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `t` plus whole calendar months, the day clamped to the month's length.
pub fn add_months(t: OffsetDateTime, months: u32) -> Option<OffsetDateTime> {
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(t.replace_date(date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_and_timestamps() {
        let t = datetime!(2026-01-31 10:20:30 UTC);
        assert_eq!(iso8601(add_months(t, 1).unwrap()), "2026-02-28T10:20:30Z");
        assert_eq!(iso8601(add_months(t, 12).unwrap()), "2027-01-31T10:20:30Z");
        assert_eq!(iso8601(add_months(t, 13).unwrap()), "2027-02-28T10:20:30Z");
        assert_eq!(add_months(t, u32::MAX), None);
        let offset = datetime!(2026-01-01 01:00:00 +02:00);
        assert_eq!(iso8601(offset), "2025-12-31T23:00:00Z");
        assert_eq!(
            EipStatus::parse("CREATE_FAILED"),
            Some(EipStatus::CreateFailed)
        );
        assert_eq!(EipStatus::parse("creating"), None);
        for s in EipStatus::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().to_owned())
            );
        }
    }
}
