/** Keys of the `settings` table that more than one module reads or writes. */

/** The newest audit row written to the structured log. */
export const SHIPPED_KEY = "audit_shipped_seq";
/** The least `spiffe_sequence` to publish (set by a restore: the key records may have gone back in time). */
export const BUNDLE_SEQUENCE_FLOOR_KEY = "bundle_sequence_floor";
