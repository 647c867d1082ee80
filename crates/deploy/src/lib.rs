//! deploy: when a model version is approved (model-gate's "Model Approved", after it signed the approval), verify
//! it again — Approved now, its lineage record signed and of the model the package serves, the gate's approval or
//! a person's signed one — and make it the group's serving record; refuse loudly otherwise.
//!
//! [`decide`] is the decision, free of AWS types. (Work in progress: the handler, the template's function and
//! the batch launcher follow.)

pub mod decide;
