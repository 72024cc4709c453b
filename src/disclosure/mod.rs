//! The disclosure process around a release: who is on the fix team, and the retrospective
//! written afterwards from the journal. Both only read: the tree, the journal, the advisory.

pub mod retrospective;
pub mod team;
