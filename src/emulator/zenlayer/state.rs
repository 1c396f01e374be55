//! The emulated account's EIPs and IP pools, and how an EIP's status is
//! derived from timestamps (no background tasks): CREATING until its
//! creation time is over, then AVAILABLE (or CREATE_FAILED when it was
//! doomed at allocation: zone SIN-A, or the pool had no free block), and
//! RECYCLE once terminated.
//!
//! The address of an EIP is reserved from the pool at allocation (hidden
//! while CREATING) and goes back to the pool on termination.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use super::pool::Pool;
use super::seed::{self, ResourceGroup, ZoneBehaviour};

/// `eipStatus` values (FACTS §3.3). The emulator produces CREATING,
/// CREATE_FAILED, AVAILABLE and RECYCLE; the others are accepted as filters.
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

#[derive(Debug, Clone)]
struct Eip {
    id: String,
    zone_id: &'static str,
    charge: ChargeType,
    period: Option<u32>,
    netmask: u32,
    resource_group: ResourceGroup,
    tags: Vec<(String, String)>,
    created: OffsetDateTime,
    expires: Option<OffsetDateTime>,
    /// When the AllocateEipAddresses call made it.
    allocated_at: Instant,
    /// When CREATING ends.
    ready_at: Instant,
    /// The reserved block; `None` dooms the EIP to CREATE_FAILED.
    address: Option<Ipv4Addr>,
    terminated: bool,
}

impl Eip {
    fn status(&self, now: Instant) -> EipStatus {
        if self.terminated {
            EipStatus::Recycle
        } else if now < self.ready_at {
            EipStatus::Creating
        } else if self.address.is_none() {
            EipStatus::CreateFailed
        } else {
            EipStatus::Available
        }
    }

    fn view(&self, now: Instant) -> EipView {
        let status = self.status(now);
        let ip_address = match status {
            EipStatus::Creating | EipStatus::CreateFailed | EipStatus::Recycle => None,
            _ => self.address.map(|a| a.to_string()),
        };
        EipView {
            eip_id: self.id.clone(),
            zone_id: self.zone_id.to_owned(),
            ip_address,
            netmask: self.netmask,
            instance_id: None,
            instance_name: None,
            eip_charge_type: self.charge,
            period: self.period,
            create_time: iso8601(self.created),
            expired_time: self.expires.map(iso8601),
            eip_status: status,
            resource_group_id: self.resource_group.id.to_owned(),
            resource_group_name: self.resource_group.name.to_owned(),
            tags: TagsView {
                tags: self
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

/// Why TerminateEipAddress refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateRefusal {
    NotFound,
    Recycled,
    Subscription,
    Creating,
}

/// Every EIP ever allocated (oldest first) and the zones' pools.
#[derive(Debug)]
pub struct Store {
    eips: Vec<Eip>,
    index: HashMap<String, usize>,
    pools: HashMap<&'static str, Pool>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            eips: Vec::new(),
            index: HashMap::new(),
            pools: seed::ZONES
                .iter()
                .filter_map(|z| z.pool.map(|(base, prefix)| (z.id, Pool::new(base, prefix))))
                .collect(),
        }
    }
}

impl Store {
    /// Creates `amount` EIPs, CREATING for `creation_delay` from `now`;
    /// returns their ids in order.
    pub fn allocate(
        &mut self,
        spec: &NewEip,
        amount: u32,
        creation_delay: Duration,
        now: Instant,
        wall_clock: OffsetDateTime,
    ) -> Vec<String> {
        let fails = seed::zone(spec.zone_id).is_none_or(|z| z.behaviour != ZoneBehaviour::Sells);
        let created = wall_clock.replace_nanosecond(0).unwrap_or(wall_clock);
        let expires = spec.period.and_then(|months| add_months(created, months));
        let ready_at = now.checked_add(creation_delay).unwrap_or(now);
        let mut ids = Vec::with_capacity(amount as usize);
        for _ in 0..amount {
            let id = self.fresh_id();
            let address = if fails {
                None
            } else {
                self.pools
                    .get_mut(spec.zone_id)
                    .and_then(|pool| pool.reserve(spec.netmask))
            };
            if address.is_none() && !fails {
                tracing::info!(zone = spec.zone_id, eip_id = %id, "emulated pool exhausted; the EIP will end CREATE_FAILED");
            }
            self.index.insert(id.clone(), self.eips.len());
            self.eips.push(Eip {
                id: id.clone(),
                zone_id: spec.zone_id,
                charge: spec.charge,
                period: spec.period,
                netmask: spec.netmask,
                resource_group: spec.resource_group,
                tags: spec.tags.clone(),
                created,
                expires,
                allocated_at: now,
                ready_at,
                address,
                terminated: false,
            });
            ids.push(id);
        }
        ids
    }

    /// TerminateEipAddress: moves the EIP to RECYCLE and returns its address
    /// to the pool.
    pub fn terminate(&mut self, id: &str, now: Instant) -> Result<(), TerminateRefusal> {
        let Some(&i) = self.index.get(id) else {
            return Err(TerminateRefusal::NotFound);
        };
        let Some(eip) = self.eips.get_mut(i) else {
            return Err(TerminateRefusal::NotFound);
        };
        match eip.status(now) {
            EipStatus::Recycle | EipStatus::Recycling => return Err(TerminateRefusal::Recycled),
            _ if eip.charge == ChargeType::Prepaid => return Err(TerminateRefusal::Subscription),
            EipStatus::Creating => return Err(TerminateRefusal::Creating),
            _ => {}
        }
        eip.terminated = true;
        if let Some(address) = eip.address.take()
            && let Some(pool) = self.pools.get_mut(eip.zone_id)
        {
            pool.release(address, eip.netmask);
        }
        Ok(())
    }

    pub fn get(&self, id: &str, now: Instant) -> Option<EipView> {
        self.index
            .get(id)
            .and_then(|&i| self.eips.get(i))
            .map(|eip| eip.view(now))
    }

    /// Every EIP, newest first.
    pub fn all(&self, now: Instant) -> Vec<EipView> {
        self.eips.iter().rev().map(|eip| eip.view(now)).collect()
    }

    /// Every EIP DescribeEipAddresses shows now, newest first: those
    /// allocated less than `lag` ago are not visible yet.
    pub fn described(&self, now: Instant, lag: Duration) -> Vec<EipView> {
        self.eips
            .iter()
            .rev()
            .filter(|eip| now.saturating_duration_since(eip.allocated_at) >= lag)
            .map(|eip| eip.view(now))
            .collect()
    }

    /// Free addresses in a zone's pool.
    pub fn free_addresses(&self, zone_id: &str) -> usize {
        self.pools.get(zone_id).map_or(0, Pool::free)
    }

    fn fresh_id(&self) -> String {
        loop {
            let uuid = uuid::Uuid::new_v4().simple().to_string();
            let id = format!("eip-{}", &uuid[..20]);
            if !self.index.contains_key(&id) {
                return id;
            }
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

    fn spec(zone_id: &'static str, charge: ChargeType) -> NewEip {
        NewEip {
            zone_id,
            charge,
            period: (charge == ChargeType::Prepaid).then_some(1),
            netmask: 32,
            resource_group: seed::DEFAULT_RESOURCE_GROUP,
            tags: vec![("env".to_owned(), "test".to_owned())],
        }
    }

    #[test]
    fn status_follows_the_clock() {
        let mut store = Store::default();
        let t0 = Instant::now();
        let wall = datetime!(2026-01-31 10:20:30.5 UTC);
        let ids = store.allocate(
            &spec("SEL-A", ChargeType::Postpaid),
            2,
            Duration::from_secs(2),
            t0,
            wall,
        );
        assert_eq!(ids.len(), 2);
        assert!(
            ids.iter()
                .all(|id| id.starts_with("eip-") && id.len() == 24)
        );
        let creating = store.get(&ids[0], t0).unwrap();
        assert_eq!(creating.eip_status, EipStatus::Creating);
        assert_eq!(creating.ip_address, None);
        assert_eq!(creating.create_time, "2026-01-31T10:20:30Z");
        assert_eq!(creating.expired_time, None);
        let later = t0 + Duration::from_secs(2);
        let ready = store.get(&ids[0], later).unwrap();
        assert_eq!(ready.eip_status, EipStatus::Available);
        assert_eq!(ready.ip_address.as_deref(), Some("128.1.32.1"));
        assert_eq!(
            store.get(&ids[1], later).unwrap().ip_address.as_deref(),
            Some("128.1.32.2")
        );
        assert_eq!(store.all(later)[0].eip_id, ids[1]);
    }

    #[test]
    fn failing_zone_and_exhausted_pool_end_create_failed() {
        let mut store = Store::default();
        let t0 = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let ids = store.allocate(
            &spec("SIN-A", ChargeType::Postpaid),
            1,
            Duration::ZERO,
            t0,
            wall,
        );
        assert_eq!(
            store.get(&ids[0], t0).unwrap().eip_status,
            EipStatus::CreateFailed
        );
        let free = store.free_addresses("HKG-A");
        assert_eq!(free, 4094);
        let mut big = spec("HKG-A", ChargeType::Postpaid);
        big.netmask = 28;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.extend(store.allocate(&big, 100, Duration::ZERO, t0, wall));
        }
        // 4096 / 16 = 256 blocks, the first and last hold reserved addresses.
        let failed = ids
            .iter()
            .filter(|id| store.get(id, t0).unwrap().eip_status == EipStatus::CreateFailed)
            .count();
        assert_eq!(failed, 300 - 254);
    }

    #[test]
    fn terminate_rules() {
        let mut store = Store::default();
        let t0 = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let delay = Duration::from_secs(10);
        let post = store.allocate(&spec("FRA-A", ChargeType::Postpaid), 1, delay, t0, wall);
        let pre = store.allocate(&spec("FRA-A", ChargeType::Prepaid), 1, delay, t0, wall);
        let failed = store.allocate(&spec("SIN-A", ChargeType::Postpaid), 1, delay, t0, wall);
        assert_eq!(
            store.terminate("eip-nope", t0),
            Err(TerminateRefusal::NotFound)
        );
        assert_eq!(
            store.terminate(&post[0], t0),
            Err(TerminateRefusal::Creating)
        );
        assert_eq!(
            store.terminate(&pre[0], t0 + delay),
            Err(TerminateRefusal::Subscription)
        );
        let before = store.free_addresses("FRA-A");
        assert_eq!(store.terminate(&post[0], t0 + delay), Ok(()));
        assert_eq!(store.free_addresses("FRA-A"), before + 1);
        let view = store.get(&post[0], t0 + delay).unwrap();
        assert_eq!(
            (view.eip_status, view.ip_address),
            (EipStatus::Recycle, None)
        );
        assert_eq!(
            store.terminate(&post[0], t0 + delay),
            Err(TerminateRefusal::Recycled)
        );
        assert_eq!(store.terminate(&failed[0], t0 + delay), Ok(()));
    }

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
