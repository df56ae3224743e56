// Package ballot reads, checks and writes a voter's answers, and makes the
// tracker a voter keeps as a receipt.
//
// # Answers
//
// A ballot answers every question of the Election, by id, with the ids of the
// options chosen:
//
//	{"mayor":["alice"],"council":["b","d"],"budget":["y","x","w"],"motion":[]}
//
// For a Ranked question the options are listed in order of preference, best
// first; for the other kinds the order carries no meaning but is kept. An
// empty list is a blank answer, accepted only where the question allows it.
//
// [Decode] reads this JSON strictly: an object of lists of strings and
// nothing else, at most [MaxSize] bytes of UTF-8, each question once.
// [Validate] then checks the answers against the questions. Both return an
// [*Error] whose Reason is written for the voter, and which never repeats
// what the voter sent: an error names at most a question id or an option id
// of the Election.
//
// # Payload
//
// [Encode] writes answers in one canonical form: no spaces, questions sorted
// by id, options in the order given. It is the opaque payload kept in the
// ballot box, and Encode(Decode(x)) is stable: decoding and encoding it again
// gives the same bytes. For answers that pass Validate (whose ids are ASCII)
// it is also the canonical form of RFC 8785 (JSON Canonicalization Scheme).
//
// # Tracker
//
// [NewTracker] makes the receipt shown to the voter once the ballot is in the
// box: the SHA-256, in hexadecimal, of 32 random bytes followed by the
// payload. The random bytes are thrown away at once; without them nobody can
// confirm a guess of what a ballot says by hashing candidate payloads, so the
// tracker, published on the board at close, reveals nothing of the vote while
// letting each voter find their ballot in the box. [ShortTracker] is a short
// form for display.
package ballot
