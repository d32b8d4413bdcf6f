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

/// `get_ref`, `get_mut` and `into_inner` for a layer's service whose wrapped
/// service is the field `inner`: every service of these crates has the three,
/// written once here.
#[doc(hidden)]
#[macro_export]
macro_rules! inner_service_access {
    ($service:ident < $inner:ident $(, $param:ident $(: $bound:path)?)* >) => {
        impl<$inner $(, $param $(: $bound)?)*> $service<$inner $(, $param)*> {
            /// The wrapped service.
            pub fn get_ref(&self) -> &$inner {
                &self.inner
            }

            /// The wrapped service, mutably.
            pub fn get_mut(&mut self) -> &mut $inner {
                &mut self.inner
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> $inner {
                self.inner
            }
        }
    };
}
