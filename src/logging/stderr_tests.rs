//! The batched stderr writer against a sink that records its writes.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// A sink keeping every byte and the size of every write.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<(Vec<u8>, Vec<usize>)>>);

impl Write for Recorder {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut r = self.0.lock().unwrap();
        r.0.extend_from_slice(bytes);
        r.1.push(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Recorder {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
    }

    fn writes(&self) -> Vec<usize> {
        self.0.lock().unwrap().1.clone()
    }

    /// Waits (at most 5 s) until `n` lines were written.
    fn wait_lines(&self, n: usize) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.text();
            if text.lines().count() >= n || Instant::now() > until {
                return text;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn lines_from_many_threads_arrive_whole_in_their_order_and_in_batches() {
    let recorder = Recorder::default();
    let (batched, _guard) = Batched::start(Box::new(recorder.clone())).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let batched = batched.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    batched
                        .append(format!("thread {t} line {i:04} {}\n", "x".repeat(100)).as_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = recorder.wait_lines(2000);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2000);
    for t in 0..4 {
        let own: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(&format!("thread {t} ")))
            .collect();
        let expected: Vec<String> = (0..500)
            .map(|i| format!("thread {t} line {i:04} {}", "x".repeat(100)))
            .collect();
        assert_eq!(own, expected, "thread {t}'s lines, whole and in order");
    }
    // Batched: far fewer writes than lines.
    let writes = recorder.writes().len();
    assert!(writes < 2000 / 4, "{writes} writes for 2000 lines");
}

#[test]
fn a_line_is_written_within_the_flush_delay_without_any_other() {
    let recorder = Recorder::default();
    let (batched, _guard) = Batched::start(Box::new(recorder.clone())).unwrap();
    batched.append(b"alone\n").unwrap();
    assert_eq!(recorder.wait_lines(1), "alone\n");
    // And again after the flusher went back to sleep.
    std::thread::sleep(Duration::from_millis(20));
    batched.append(b"later\n").unwrap();
    assert_eq!(recorder.wait_lines(2), "alone\nlater\n");
}

#[test]
fn dropping_the_guard_writes_out_what_is_buffered_and_later_lines_go_straight_through() {
    let recorder = Recorder::default();
    let (batched, guard) = Batched::start(Box::new(recorder.clone())).unwrap();
    for i in 0..100 {
        batched.append(format!("line {i}\n").as_bytes()).unwrap();
    }
    drop(guard);
    // No waiting: all written by the drop.
    assert_eq!(recorder.text().lines().count(), 100);
    batched.append(b"after the stop\n").unwrap();
    assert!(recorder.text().ends_with("line 99\nafter the stop\n"));
}

#[test]
fn the_buffer_never_holds_more_than_its_bound() {
    let recorder = Recorder::default();
    let (batched, _guard) = Batched::start(Box::new(recorder.clone())).unwrap();
    let line = format!("{}\n", "y".repeat(999));
    // 2,000 KB in a burst, far faster than the flush delay.
    for _ in 0..2000 {
        batched.append(line.as_bytes()).unwrap();
    }
    let text = recorder.wait_lines(2000);
    assert_eq!(text.len(), 2000 * 1000);
    let largest = recorder.writes().into_iter().max().unwrap();
    assert!(largest <= MAX_BUFFER_BYTES, "a write of {largest} bytes");
}

#[test]
fn a_line_larger_than_the_bound_is_written_whole() {
    let recorder = Recorder::default();
    let (batched, _guard) = Batched::start(Box::new(recorder.clone())).unwrap();
    batched.append(b"small\n").unwrap();
    let big = format!("{}\n", "z".repeat(MAX_BUFFER_BYTES + 10));
    batched.append(big.as_bytes()).unwrap();
    let text = recorder.wait_lines(2);
    assert_eq!(text, format!("small\n{big}"));
}
