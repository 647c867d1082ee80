//! What happened, in order: one line per fact, printed as it happens, kept for the story to wait on.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

/// Something that really happened on the emulator or in a handler.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A line of the story (what the runner is about to do).
    Story,
    /// The runner created or changed something (an upload, an approval, injected costs).
    Acted,
    /// The runner sent an event the emulator does not emit itself.
    Sent {
        /// Its detail-type.
        detail_type: String,
    },
    /// A rule of the template matched an event and delivered it to its target.
    Delivered {
        /// The rule's logical id.
        rule: String,
        /// The event's detail-type.
        detail_type: String,
    },
    /// A function's handler ran.
    Invoked {
        /// The function's logical id.
        function: String,
        /// Its result, or its error (`errorType: message`).
        result: Result<Value, String>,
    },
    /// A project event was published on a bus.
    Published {
        /// Its detail-type.
        detail_type: String,
        /// Its detail.
        detail: Value,
    },
    /// A notice went out on a topic.
    Notice {
        /// Its subject (its message when it has none).
        subject: String,
        /// Its `severity` attribute.
        severity: String,
        /// Its `kind` attribute.
        kind: String,
    },
    /// A state machine execution changed status.
    Execution {
        /// Its name.
        name: String,
        /// RUNNING, SUCCEEDED, FAILED…
        status: String,
    },
    /// One of the template's alarms changed state (judged locally on the handlers' metrics).
    Alarm {
        /// Its name.
        name: String,
        /// OK, ALARM or INSUFFICIENT_DATA.
        state: String,
    },
    /// Something went wrong in the runner itself (a queue that could not be read, an answer not delivered).
    Trouble,
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Since the timeline started.
    pub at: Duration,
    /// Who did it: a function, a rule, the emulator, the runner.
    pub actor: String,
    /// What, in words.
    pub text: String,
    /// What, as data.
    pub fact: Fact,
}

/// The facts so far; cheap to share.
pub struct Timeline {
    start: Instant,
    entries: Mutex<Vec<Entry>>,
    changed: watch::Sender<usize>,
    echo: bool,
}

impl Timeline {
    /// A timeline that prints each line as it is recorded when `echo` is set.
    pub fn new(echo: bool) -> Self {
        Timeline {
            start: Instant::now(),
            entries: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
            echo,
        }
    }

    /// Records a fact.
    pub fn record(&self, actor: &str, text: impl Into<String>, fact: Fact) {
        let entry = Entry {
            at: self.start.elapsed(),
            actor: actor.to_owned(),
            text: text.into(),
            fact,
        };
        if self.echo {
            println!("{}", format_entry(&entry));
        }
        let len = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            entries.push(entry);
            entries.len()
        };
        self.changed.send_replace(len);
    }

    /// How many facts there are (a mark to wait from).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every entry.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Time since the timeline started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Waits up to `timeout` for a fact recorded at or after `from` that `select` picks, and returns what it
    /// picked; `None` when none came in time.
    pub async fn wait_for<T>(
        &self,
        from: usize,
        timeout: Duration,
        mut select: impl FnMut(&Fact) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changed = self.changed.subscribe();
        let mut seen = from;
        loop {
            let entries = self.entries();
            for entry in entries.iter().skip(seen) {
                if let Some(found) = select(&entry.fact) {
                    return Some(found);
                }
            }
            seen = seen.max(entries.len());
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }
}

/// `  12.3s  actor                  text`; a story line stands on its own after a blank line.
pub fn format_entry(entry: &Entry) -> String {
    if entry.fact == Fact::Story {
        return format!("\n{}", entry.text);
    }
    format!(
        "{:>6.1}s  {:<22} {}",
        entry.at.as_secs_f64(),
        entry.actor,
        entry.text
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_a_fact_recorded_later_and_not_for_earlier_ones() {
        let timeline = std::sync::Arc::new(Timeline::new(false));
        timeline.record(
            "runner",
            "old",
            Fact::Execution {
                name: "a".into(),
                status: "SUCCEEDED".into(),
            },
        );
        let mark = timeline.len();
        let later = std::sync::Arc::clone(&timeline);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            later.record(
                "sfn",
                "new",
                Fact::Execution {
                    name: "b".into(),
                    status: "SUCCEEDED".into(),
                },
            );
        });
        let name = timeline
            .wait_for(mark, Duration::from_secs(5), |f| match f {
                Fact::Execution { name, .. } => Some(name.clone()),
                _ => None,
            })
            .await;
        assert_eq!(name.as_deref(), Some("b"));
        let none = timeline
            .wait_for(timeline.len(), Duration::from_millis(50), |f| {
                matches!(f, Fact::Story).then_some(())
            })
            .await;
        assert_eq!(none, None);
    }
}
