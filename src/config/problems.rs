//! Every problem of a configuration, collected so they are reported at
//! once, each naming its key (and the environment variable it came from)
//! and never the value (it may be a secret).

use std::collections::HashMap;
use std::fmt;

/// One problem: the key at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A list of problems; `Display` shows one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the configuration:", many.len())?;
                for problem in many {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

/// Collects problems while a configuration is checked.
#[derive(Debug, Default)]
pub struct Collector {
    problems: Vec<Problem>,
    /// Keys set by an environment variable: key -> variable.
    origins: HashMap<String, String>,
}

impl Collector {
    /// Notes that `key` was set by the environment variable `var`.
    pub fn set_by(&mut self, key: String, var: String) {
        self.origins.insert(key, var);
    }

    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let message = message.into();
        let message = match self.origins.get(&key) {
            Some(var) => format!("{message} (set by {var})"),
            None => message,
        };
        self.problems.push(Problem { key, message });
    }

    /// The value of `result`, or `None` after recording its problem.
    pub fn take<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.add(problem.key, problem.message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn into_problems(self) -> Problems {
        Problems(self.problems)
    }
}

/// A problem with `key`.
pub fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}
