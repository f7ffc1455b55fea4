package inventory

// Decoding what is kept, and nothing else.
//
// Most of a cluster's bytes are fields no check reads. Decoding them into
// their full API types, then keeping a few of them, builds and then
// discards probes, templates, image lists, managedFields and the like. So
// the readers decode each object into a type that names only what is kept:
// pods into the model's own Pod (pod.go), the other kinds through input
// types that name what their keep function reads (decode_small.go);
// encoding/json steps over the rest without building anything.
// TestDecodeMatchesScrub holds every reader to decoding the full types and
// keeping them. Kinds with few objects (namespaces, volumes, webhooks)
// are decoded into their API types and kept by Scrub (kinds.go's into).

// skip is a JSON value that is read past and dropped.
type skip struct{}

func (*skip) UnmarshalJSON([]byte) error { return nil }

// scrubbed marks an object its decoder built already kept: Scrub has
// nothing to do on it.
type scrubbed struct{}
