// Package belenios is Scrutin's own implementation of the Belenios 2.0 protocol
// (version 1, finite-field group BELENIOS-2048), as docs/belenios.md and the
// compatibility notes describe: what the verifiable mode writes must pass Debian's
// belenios-tool 2.0 `election verify`, untouched.
//
// The package holds the primitives and nothing of Scrutin's runtime: the group
// and its hash (group.go), the wire types and their canonical JSON (types.go,
// json.go), credentials, ElGamal encryption and the disjunctive, blank and
// signature proofs of ballots, trustees' keys (one key, or Pedersen's threshold
// scheme), the homomorphic tally, partial decryptions and the result, and the
// archive (.bel) the public board is published as. The runtime uses it to verify
// ballots and close the vote; clients (kubectl scrutin, the load generator) use
// it to make ballots, keys and partial decryptions.
//
// Big numbers are math/big; every random value comes from crypto/rand.
package belenios
