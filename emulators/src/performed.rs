//! [`Performed`]: what an emulated action answers and what it did to the
//! emulated account, shared by both emulators' `actions/`. The handlers
//! count the [`Effect`] and may then drop the answer (faults).

use serde_json::{Map, Value};

use crate::Effect;

/// The result of a performed action.
#[derive(Debug)]
pub struct Performed {
    /// The answer's fields (the response adds the request id).
    pub fields: Map<String, Value>,
    /// What it did (counted; fault injection may then drop the answer).
    pub effect: Effect,
}

impl Performed {
    /// An answer that changed nothing.
    pub fn read(fields: Map<String, Value>) -> Performed {
        Performed {
            fields,
            effect: Effect::None,
        }
    }
}
