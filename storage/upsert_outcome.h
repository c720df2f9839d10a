// What an upsert did, so `gctl apply` can report "created" / "updated" and skip a
// configuration version bump when nothing changed.
#pragma once

namespace gw::storage {

/// Outcome of a create-or-update by name.
enum class UpsertOutcome {
  kCreated,    // no row had the name; one was inserted
  kUpdated,    // the row existed with other values; they were replaced
  kUnchanged,  // the row already held exactly these values; nothing was written
};

}  // namespace gw::storage
