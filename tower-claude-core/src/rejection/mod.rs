//! Refusals: one type for every layer, shaped into JSON or a gRPC status.

mod grpc;
mod json;
mod rejection;
mod responder;

pub use grpc::{GrpcStatus, is_grpc, percent_encode_grpc_message};
pub use rejection::{Rejection, RejectionReason};
pub use responder::{DefaultResponder, RequestHead, Responder, SharedResponder};
