//! How the BFD thread is scheduled (Linux).
//!
//! At 10 ms x 3 a session fails after 30 ms without a packet, and a thread
//! of the normal class can wait longer than that for a CPU on a busy
//! machine: measured with `bench-bfd-soak` on 2 cores at load 8 to 14,
//! with nice -10 the sessions still flapped (gaps of 40 ms and more);
//! SCHED_FIFO at a low real-time priority preempts every normal thread at
//! once, and the gaps stayed under 17 ms (docs/BENCHMARKS.md, "BFD soak").
//! The thread sleeps between packets and does a few microseconds of work
//! per packet, so it takes little from others; the kernel's real-time
//! throttling (`sched_rt_runtime_us`) bounds it if it ever spun.
//!
//! Real-time scheduling needs CAP_SYS_NICE (or RLIMIT_RTPRIO). Without it
//! the thread falls back to a nice value, and without that to the
//! process's own priority; [`Scheduling`] says what it got.

use thread_priority::{
    RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    set_thread_priority_and_policy, thread_native_id,
};

/// What the BFD thread got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// SCHED_FIFO at this priority.
    Fifo(u8),
    /// The normal class at this nice value.
    Nice(i32),
    /// Whatever the process had.
    Inherited,
}

/// Puts the calling thread in SCHED_FIFO at `realtime` if given and
/// allowed, else at nice `nice` if given and allowed.
pub(super) fn apply(realtime: Option<u8>, nice: Option<i32>) -> Scheduling {
    if let Some(priority) = realtime {
        let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        let applied = ThreadPriorityValue::try_from(priority)
            .map_err(|e| e.to_string())
            .and_then(|value| {
                set_thread_priority_and_policy(
                    thread_native_id(),
                    ThreadPriority::Crossplatform(value),
                    fifo,
                )
                .map_err(|e| format!("{e:?}"))
            });
        match applied {
            Ok(()) => return Scheduling::Fifo(priority),
            Err(error) => {
                tracing::info!(priority, %error, "BFD thread: SCHED_FIFO refused");
            }
        }
    }
    if let Some(nice) = nice {
        let tid = rustix::thread::gettid();
        match rustix::process::setpriority_process(Some(tid), nice) {
            Ok(()) => return Scheduling::Nice(nice),
            Err(error) => tracing::info!(nice, %error, "BFD thread: nice value refused"),
        }
    }
    Scheduling::Inherited
}
