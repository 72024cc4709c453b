//! The disclosure process around a release: who is on the fix team, the announcements to the
//! users, and the retrospective written afterwards from the journal. All are written from what
//! the release recorded: the tree, the journal, the advisory.

pub mod access;
pub mod announce;
pub mod mail;
pub mod retrospective;
pub mod team;
