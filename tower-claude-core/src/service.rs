//! What every layer's `call` does with the inner service.

/// The service to call now, leaving a clone in its place.
///
/// Tower's contract is that `call` goes to the service that `poll_ready`
/// reported ready. A layer whose future owns the inner service (to call it
/// after an `await`) must therefore take *that* instance into the future and
/// keep a fresh clone for the next `poll_ready`, not call the clone.
///
/// ```
/// let mut ready = vec![1];
/// let taken = tower_claude_core::take_ready(&mut ready);
/// assert_eq!((taken, ready), (vec![1], vec![1]));
/// ```
pub fn take_ready<S: Clone>(service: &mut S) -> S {
    let clone = service.clone();
    std::mem::replace(service, clone)
}
