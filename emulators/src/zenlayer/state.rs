//! The emulated account's EIPs and IP pools, and how an EIP's status is
//! derived from timestamps (no background tasks): CREATING until its
//! creation time is over, then AVAILABLE (or CREATE_FAILED when it was
//! doomed at allocation: zone SIN-A, or the pool had no free block),
//! RECYCLING for the recycling delay once terminated, then RECYCLE, and gone
//! once released from the recycle bin.
//!
//! The address of an EIP is reserved from the pool at allocation (hidden
//! while CREATING) and goes back to the pool on termination; what is left
//! in a pool decides what DescribeEipAvailableResources reports.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::eip::{ChargeType, Eip, EipStatus, EipView, NewEip, add_months};
use super::pool::Pool;
use super::seed::{self, ZoneBehaviour};

/// Why TerminateEipAddress refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateRefusal {
    NotFound,
    Recycled,
    Subscription,
    Creating,
}

/// Why ReleaseEipAddresses refused (nothing was released).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseRefusal {
    /// No such EIP (never allocated, or already released).
    NotFound(String),
    /// The EIP is not in the recycle bin (status not RECYCLE).
    NotRecycled(String),
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
                spec: spec.clone(),
                created,
                expires,
                allocated_at: now,
                ready_at,
                address,
                terminated_at: None,
                recycled_at: None,
                purged: false,
            });
            ids.push(id);
        }
        ids
    }

    /// TerminateEipAddress: moves the EIP to the recycle bin (RECYCLING for
    /// `recycling_delay`, then RECYCLE) and returns its address to the pool.
    pub fn terminate(
        &mut self,
        id: &str,
        now: Instant,
        recycling_delay: Duration,
    ) -> Result<(), TerminateRefusal> {
        let Some(&i) = self.index.get(id) else {
            return Err(TerminateRefusal::NotFound);
        };
        let Some(eip) = self.eips.get_mut(i).filter(|eip| eip.exists(now)) else {
            return Err(TerminateRefusal::NotFound);
        };
        match eip.status(now) {
            EipStatus::Recycle | EipStatus::Recycling => return Err(TerminateRefusal::Recycled),
            _ if eip.spec.charge == ChargeType::Prepaid => {
                return Err(TerminateRefusal::Subscription);
            }
            EipStatus::Creating => return Err(TerminateRefusal::Creating),
            _ => {}
        }
        eip.terminated_at = Some(now);
        eip.recycled_at = Some(now.checked_add(recycling_delay).unwrap_or(now));
        if let Some(address) = eip.address.take()
            && let Some(pool) = self.pools.get_mut(eip.spec.zone_id)
        {
            pool.release(address, eip.spec.netmask);
        }
        Ok(())
    }

    /// ReleaseEipAddresses: purges every EIP of `ids` from the recycle bin,
    /// or none of them when one is unknown or not RECYCLE (the first such
    /// id, in request order, is named).
    pub fn release(&mut self, ids: &[&str], now: Instant) -> Result<(), ReleaseRefusal> {
        for id in ids {
            match self.live(id, now) {
                None => return Err(ReleaseRefusal::NotFound((*id).to_owned())),
                Some(eip) if eip.status(now) != EipStatus::Recycle => {
                    return Err(ReleaseRefusal::NotRecycled((*id).to_owned()));
                }
                Some(_) => {}
            }
        }
        for id in ids {
            if let Some(eip) = self.live_mut(id, now) {
                eip.purged = true;
            }
        }
        Ok(())
    }

    /// Free aligned blocks for `netmask` in a zone's pool, counted up to
    /// `cap` (0 for zones without a pool).
    pub fn available_blocks(&self, zone_id: &str, netmask: u32, cap: usize) -> usize {
        self.pools
            .get(zone_id)
            .map_or(0, |pool| pool.available_blocks(netmask, cap))
    }

    pub fn get(&self, id: &str, now: Instant) -> Option<EipView> {
        self.live(id, now).map(|eip| eip.view(now))
    }

    /// Every EIP that still exists, newest first.
    pub fn all(&self, now: Instant) -> Vec<EipView> {
        self.eips
            .iter()
            .rev()
            .filter(|eip| eip.exists(now))
            .map(|eip| eip.view(now))
            .collect()
    }

    fn live(&self, id: &str, now: Instant) -> Option<&Eip> {
        self.index
            .get(id)
            .and_then(|&i| self.eips.get(i))
            .filter(|eip| eip.exists(now))
    }

    fn live_mut(&mut self, id: &str, now: Instant) -> Option<&mut Eip> {
        let i = *self.index.get(id)?;
        self.eips.get_mut(i).filter(|eip| eip.exists(now))
    }

    /// Every EIP DescribeEipAddresses shows now, newest first: those
    /// allocated less than `lag` ago are not visible yet.
    pub fn described(&self, now: Instant, lag: Duration) -> Vec<EipView> {
        self.eips
            .iter()
            .rev()
            .filter(|eip| eip.exists(now))
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
            store.terminate("eip-nope", t0, Duration::ZERO),
            Err(TerminateRefusal::NotFound)
        );
        assert_eq!(
            store.terminate(&post[0], t0, Duration::ZERO),
            Err(TerminateRefusal::Creating)
        );
        assert_eq!(
            store.terminate(&pre[0], t0 + delay, Duration::ZERO),
            Err(TerminateRefusal::Subscription)
        );
        let before = store.free_addresses("FRA-A");
        assert_eq!(
            store.terminate(&post[0], t0 + delay, Duration::ZERO),
            Ok(())
        );
        assert_eq!(store.free_addresses("FRA-A"), before + 1);
        let view = store.get(&post[0], t0 + delay).unwrap();
        assert_eq!(
            (view.eip_status, view.ip_address),
            (EipStatus::Recycle, None)
        );
        assert_eq!(
            store.terminate(&post[0], t0 + delay, Duration::ZERO),
            Err(TerminateRefusal::Recycled)
        );
        assert_eq!(
            store.terminate(&failed[0], t0 + delay, Duration::ZERO),
            Ok(())
        );
    }

    #[test]
    fn recycling_lasts_the_recycling_delay() {
        let mut store = Store::default();
        let t0 = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let ids = store.allocate(
            &spec("SEL-A", ChargeType::Postpaid),
            1,
            Duration::ZERO,
            t0,
            wall,
        );
        let delay = Duration::from_secs(5);
        store.terminate(&ids[0], t0, delay).unwrap();
        assert_eq!(
            store.get(&ids[0], t0).unwrap().eip_status,
            EipStatus::Recycling
        );
        assert_eq!(
            store.terminate(&ids[0], t0, delay),
            Err(TerminateRefusal::Recycled)
        );
        assert_eq!(
            store.release(&[ids[0].as_str()], t0),
            Err(ReleaseRefusal::NotRecycled(ids[0].clone()))
        );
        assert_eq!(
            store.get(&ids[0], t0 + delay).unwrap().eip_status,
            EipStatus::Recycle
        );
        assert_eq!(store.release(&[ids[0].as_str()], t0 + delay), Ok(()));
    }

    #[test]
    fn release_purges_recycled_eips_all_or_nothing() {
        let mut store = Store::default();
        let t0 = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let ids = store.allocate(
            &spec("SEL-A", ChargeType::Postpaid),
            3,
            Duration::ZERO,
            t0,
            wall,
        );
        let [a, b, c] = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
        store.terminate(a, t0, Duration::ZERO).unwrap();
        store.terminate(b, t0, Duration::ZERO).unwrap();
        assert_eq!(
            store.release(&[a, c], t0),
            Err(ReleaseRefusal::NotRecycled(c.to_owned()))
        );
        assert_eq!(
            store.release(&[a, "eip-nope"], t0),
            Err(ReleaseRefusal::NotFound("eip-nope".to_owned()))
        );
        assert!(store.get(a, t0).is_some(), "nothing was released");
        assert_eq!(store.release(&[a, b], t0), Ok(()));
        assert!(store.get(a, t0).is_none() && store.get(b, t0).is_none());
        assert_eq!(store.all(t0).len(), 1);
        assert_eq!(
            store.terminate(a, t0, Duration::ZERO),
            Err(TerminateRefusal::NotFound)
        );
        assert_eq!(
            store.release(&[a], t0),
            Err(ReleaseRefusal::NotFound(a.to_owned()))
        );
        // The recycle bin keeps an EIP for 24 hours.
        store.terminate(c, t0, Duration::ZERO).unwrap();
        let later = t0 + crate::zenlayer::eip::RECYCLE_RETENTION;
        assert!(store.get(c, later - Duration::from_secs(1)).is_some());
        assert!(store.get(c, later).is_none());
        assert!(store.described(later, Duration::ZERO).is_empty());
    }
}
