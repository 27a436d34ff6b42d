pub mod call;
pub mod home;
