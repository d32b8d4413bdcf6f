//! Refusals: one type for every layer, shaped into JSON or a gRPC status.

mod grpc;
mod json;
mod refusal;
mod responder;

pub use grpc::{GrpcStatus, is_grpc, percent_encode_grpc_message};
pub use refusal::{Rejection, RejectionReason};
pub use responder::{DefaultResponder, RequestHead, Responder, SharedResponder};
