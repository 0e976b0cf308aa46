// Package entity holds Stoke's domain types with their OpenWhisk JSON
// shapes: actions, activations, identities, and the limits that bound
// them. It does no I/O.
package entity
