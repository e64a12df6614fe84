//! An ordered parallel map for batch commands (`rebound parse`): one producer thread, a
//! few worker threads, and the calling thread consuming the results in production order.
//!
//! Takes a producer (reads input and hands out pieces of work), a worker function and a
//! consumer; gives the producer's result. Nobody waits at batch boundaries: workers take the
//! next piece as soon as they are done, and the consumer writes each result the moment the
//! ones before it are written. Memory stays bounded: the producer may run at most `window`
//! pieces ahead of the consumer, however slow one piece is. It never reorders results and
//! never drops one: a panic in a worker is re-raised on the calling thread.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Condvar, Mutex};

/// How far the producer may run ahead of the consumer, in pieces.
struct Window {
    /// Pieces consumed so far; `usize::MAX` once the consumer has stopped.
    consumed: Mutex<usize>,
    moved: Condvar,
}

impl Window {
    /// Waits until piece `seq` may be produced; false when the consumer has stopped.
    fn admit(&self, seq: usize, window: usize) -> bool {
        let mut done = self.consumed.lock().unwrap_or_else(|p| p.into_inner());
        while *done != usize::MAX && seq >= done.saturating_add(window) {
            done = self.moved.wait(done).unwrap_or_else(|p| p.into_inner());
        }
        *done != usize::MAX
    }

    fn set(&self, consumed: usize) {
        *self.consumed.lock().unwrap_or_else(|p| p.into_inner()) = consumed;
        self.moved.notify_all();
    }
}

/// Runs `produce` on a thread of its own, `work` on `workers` threads and `consume` on the
/// calling thread, which sees every result in the order `produce` handed the inputs out.
/// `produce` gets a `send` that returns false once the consumer has stopped (then it should
/// return early); `consume` returns false to stop. Returns what `produce` returned.
pub fn run<I, O, R>(
    workers: usize,
    window: usize,
    produce: impl FnOnce(&mut dyn FnMut(I) -> bool) -> R + Send,
    work: impl Fn(I) -> O + Sync,
    mut consume: impl FnMut(O) -> bool,
) -> R
where
    I: Send,
    O: Send,
    R: Send,
{
    let workers = workers.max(1);
    let window = window.max(workers + 1);
    let gate = Window { consumed: Mutex::new(0), moved: Condvar::new() };
    // A short queue: pieces wait here for a free worker, the rest of the window is results.
    let (to_work, inbox) = sync_channel::<(usize, I)>(workers * 2);
    let inbox = Mutex::new(inbox);
    let (to_consume, results) = channel();
    let mut panicked = None;
    let produced = std::thread::scope(|s| {
        let gate = &gate;
        let producer = s.spawn(move || {
            let mut seq = 0usize;
            let mut send = |item: I| -> bool {
                if !gate.admit(seq, window) || to_work.send((seq, item)).is_err() {
                    return false;
                }
                seq += 1;
                true
            };
            produce(&mut send)
            // `to_work` drops here: the workers finish the queue, then stop.
        });
        for _ in 0..workers {
            let to_consume = to_consume.clone();
            let (inbox, work) = (&inbox, &work);
            s.spawn(move || {
                loop {
                    // The lock is held only to take one piece, never while working on it.
                    let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((seq, item)) = next else { break };
                    let out = catch_unwind(AssertUnwindSafe(|| work(item)));
                    let failed = out.is_err();
                    if to_consume.send((seq, out)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(to_consume);
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        let mut open = true;
        for (seq, out) in results {
            if !open {
                continue;
            }
            pending.insert(seq, out);
            while let Some(out) = pending.remove(&next) {
                next += 1;
                match out {
                    Ok(out) => open = consume(out),
                    Err(p) => {
                        panicked = Some(p);
                        open = false;
                    }
                }
                if open {
                    gate.set(next);
                }
                if !open {
                    // Releases a producer waiting for room, and tells it to stop.
                    gate.set(usize::MAX);
                    pending.clear();
                    break;
                }
            }
        }
        producer.join().unwrap_or_else(|p| resume_unwind(p))
    });
    if let Some(p) = panicked {
        resume_unwind(p);
    }
    produced
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn results_come_in_input_order_whatever_the_work_takes() {
        let mut seen = Vec::new();
        let sent = run(
            3,
            4,
            |send| (0..200u64).take_while(|&i| send(i)).count(),
            // Later items finish first: without reordering the output would be scrambled.
            |i| {
                std::thread::sleep(std::time::Duration::from_micros((200 - i) * 3 % 97));
                i * 2
            },
            |o| {
                seen.push(o);
                true
            },
        );
        assert_eq!(sent, 200);
        assert_eq!(seen, (0..200u64).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_stopped_consumer_stops_the_producer() {
        let mut seen = 0;
        let sent = run(
            2,
            4,
            |send| (0..1_000_000u64).take_while(|&i| send(i)).count(),
            |i| i,
            |_| {
                seen += 1;
                seen < 10
            },
        );
        assert_eq!(seen, 10);
        // At most a window's worth beyond what was consumed is ever handed out.
        assert!(sent < 10 + 4 + 1, "{sent} produced");
    }

    #[test]
    fn a_panicking_worker_panics_the_caller() {
        let r = std::panic::catch_unwind(|| {
            run(2, 4, |send| (0..100u32).take_while(|&i| send(i)).count(), |i| assert!(i != 50, "boom"), |_| true)
        });
        assert!(r.is_err());
    }
}
