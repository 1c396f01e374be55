//! The retry budget: tower's `TpsBudget`, with withdrawals made one at a
//! time. `TpsBudget::withdraw` reads the balance and then subtracts from it,
//! so two retries deciding at once can both pass a check only one of them
//! fits (measured: 291 attempts against a bound of 290, about one run in
//! twenty). A withdrawal here holds a lock for that check-and-subtract only
//! (no await inside; retries only, never the first attempt); deposits stay
//! lock-free, since one landing during a withdrawal only adds. Each
//! withdrawal is counted: granted, a retry goes out; refused, the budget
//! stopped one.

use std::sync::{Arc, Mutex};

use tower::retry::budget::{Budget, TpsBudget};

use crate::admin::AccountMetrics;

/// One provider account's retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    budget: TpsBudget,
    withdrawals: Mutex<()>,
    metrics: Arc<AccountMetrics>,
}

impl RetryBudget {
    /// A budget counting into metrics of its own.
    #[cfg(test)]
    pub fn new(budget: TpsBudget) -> Self {
        RetryBudget::counted(budget, AccountMetrics::detached("unnamed"))
    }

    /// A budget counting retries and refusals into `metrics`.
    pub fn counted(budget: TpsBudget, metrics: Arc<AccountMetrics>) -> Self {
        RetryBudget {
            budget,
            withdrawals: Mutex::new(()),
            metrics,
        }
    }

    /// One call made: it adds to what retries may spend.
    pub fn deposit(&self) {
        self.budget.deposit();
    }

    /// Whether one retry may go; if so, it is paid for.
    pub fn withdraw(&self) -> bool {
        // A panic elsewhere cannot leave the unit guard inconsistent.
        let _one_at_a_time = self
            .withdrawals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let granted = self.budget.withdraw();
        if granted {
            self.metrics.retried();
        } else {
            self.metrics.retry_refused_by_budget();
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Many threads withdrawing at once never spend more than the balance:
    /// 10 deposits at a ratio of 1 and no reserve allow exactly 10 retries.
    #[test]
    fn concurrent_withdrawals_never_overdraw() {
        for _ in 0..50 {
            let budget = Arc::new(RetryBudget::new(TpsBudget::new(
                Duration::from_secs(10),
                0,
                1.0,
            )));
            for _ in 0..10 {
                budget.deposit();
            }
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let budget = Arc::clone(&budget);
                    std::thread::spawn(move || (0..10).filter(|_| budget.withdraw()).count())
                })
                .collect();
            let granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(granted, 10);
        }
    }

    /// Every withdrawal is counted: granted ones as retries, the rest as
    /// refusals of the budget.
    #[test]
    fn withdrawals_are_counted() {
        let metrics = AccountMetrics::detached("counted");
        let budget = RetryBudget::counted(
            TpsBudget::new(Duration::from_secs(10), 0, 1.0),
            Arc::clone(&metrics),
        );
        for _ in 0..3 {
            budget.deposit();
        }
        let granted = (0..5).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 3);
        assert_eq!(metrics.retry_counts(), (3, 2));
    }
}
