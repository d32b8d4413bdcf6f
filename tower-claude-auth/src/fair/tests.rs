//! Tests of `fair`.

use super::*;

fn limits() -> Limits {
    Limits {
        workers: 1,
        max_queued: 4,
        per_client: 2,
        suspect_for: Duration::from_secs(60),
        max_suspects: 100,
    }
}

fn ip(n: u8) -> Client {
    Some(IpAddr::from([192, 0, 2, n]))
}

#[tokio::test]
async fn a_client_in_good_standing_runs_before_failing_ones() {
    let queue = FairQueue::new(limits());
    queue.failed(ip(1));
    queue.failed(ip(2));
    let running = queue.acquire(ip(1)).await.unwrap();
    // The queue fills with failing clients' jobs...
    let mut waiting = Vec::new();
    for client in [ip(1), ip(2), ip(1), ip(2)] {
        let queue = queue.clone();
        waiting.push(tokio::spawn(async move {
            queue.acquire(client).await.map(drop)
        }));
    }
    tokio::task::yield_now().await;
    while queue.queued() < 4 {
        tokio::task::yield_now().await;
    }
    // ...a newcomer takes a failing client's place, and runs next.
    let newcomer = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.acquire(ip(9)).await.map(|_slot| "ran") })
    };
    while queue.queued() < 4 || waiting.iter().all(|w| !w.is_finished()) {
        tokio::task::yield_now().await;
    }
    drop(running);
    assert_eq!(newcomer.await.unwrap(), Ok("ran"));
    let refused = futures_count(waiting).await;
    assert_eq!(refused, 1, "exactly one failing job made room");
}

async fn futures_count(waiting: Vec<tokio::task::JoinHandle<Result<(), Busy>>>) -> usize {
    let mut refused = 0;
    for job in waiting {
        if job.await.unwrap().is_err() {
            refused += 1;
        }
    }
    refused
}

#[tokio::test]
async fn per_client_and_overall_bounds_hold() {
    let queue = FairQueue::new(limits());
    let _running = queue.acquire(ip(1)).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        let queue = queue.clone();
        held.push(tokio::spawn(
            async move { queue.acquire(ip(1)).await.map(drop) },
        ));
    }
    while queue.queued() < 2 {
        tokio::task::yield_now().await;
    }
    assert_eq!(queue.acquire(ip(1)).await.err(), Some(Busy), "per client");
    for n in 2..4 {
        let queue = queue.clone();
        held.push(tokio::spawn(
            async move { queue.acquire(ip(n)).await.map(drop) },
        ));
    }
    while queue.queued() < 4 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        queue.acquire(ip(7)).await.err(),
        Some(Busy),
        "full, and nobody failing to make room for"
    );
    for job in held {
        job.abort();
    }
}

#[tokio::test]
async fn a_slot_handed_to_a_cancelled_wait_is_handed_on() {
    let queue = FairQueue::new(limits());
    let running = queue.acquire(ip(1)).await.unwrap();
    let mut first = Box::pin(queue.acquire(ip(2)));
    // Polled once: it waits in the queue.
    assert!(futures_poll_once(first.as_mut()).await.is_none());
    drop(running); // the slot goes to the waiting job...
    drop(first); // ...which is dropped before it reads the answer
    assert_eq!(queue.queued(), 0);
    let again = tokio::time::timeout(Duration::from_secs(5), queue.acquire(ip(3))).await;
    assert!(matches!(again, Ok(Ok(_))), "the slot was not lost");
}

async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
    let mut future = future;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn a_cancelled_wait_leaves_the_queue() {
    let queue = FairQueue::new(limits());
    let running = queue.acquire(ip(1)).await.unwrap();
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.acquire(ip(2)).await.map(drop) })
    };
    while queue.queued() < 1 {
        tokio::task::yield_now().await;
    }
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(queue.queued(), 0);
    drop(running);
    // The slot was freed, not handed to the cancelled job.
    let again = queue.acquire(ip(3)).await;
    assert!(again.is_ok());
}
