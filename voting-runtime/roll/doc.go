// Package roll reads and checks a voter roll: the CSV file in which the
// organisation holding a vote lists who may vote.
//
// # Format
//
// The file is CSV as written by spreadsheets (RFC 4180): UTF-8 (a leading
// byte order mark is ignored), comma-separated, LF or CRLF line endings,
// fields optionally quoted with double quotes, so that a quoted field may
// hold commas, doubled quotes ("") and even line breaks.
//
// The first non-blank line is the header. It names the columns, in any
// order, case-insensitively, surrounding spaces ignored:
//
//	voter_id  required: unique, at most 128 characters, no control characters
//	name      required: at most 200 characters, no control characters
//	email     may be empty: a bare address such as jean@example.org
//	phone     may be empty: E.164, "+" then the country code and number;
//	          spaces, dots, dashes and parentheses are allowed and removed
//	weight    optional column: a whole number from 1 to 1000000, empty means 1
//
// voter_id, name, email and phone must all be in the header, even when a
// column is empty on every line; weight may be left out, and then every voter
// weighs 1. Any other column, or a column named twice, is an error.
//
// A missing email or phone is not an error: Options.Require says which
// channels reach the voters (the phone for SMS codes, the email for mail
// codes and credential letters, both with the election's delivery fallback),
// and a voter none of them reaches is counted as unreachable, a warning
// naming the line. A malformed value (a phone not in E.164 form, an address
// that is not one) is an error.
//
// Every other line is one voter. Surrounding spaces are trimmed from every
// field; blank lines, and lines whose fields are all empty (",,,", as
// spreadsheets leave), are skipped.
//
//	voter_id,name,email,phone,weight
//	A-001,"Dupont, Jeanne",jeanne@example.org,+33 6 12 34 56 78,2
//	A-002,Kofi Mensah,,+233 24 123 4567,
//
// # Results
//
// [Parse] reads the whole file. Either every line is good and it returns the
// [Roll], or it returns an [*Errors] listing the bad lines and no roll at all:
// a roll is never half-imported.
//
// # Rolls in parts
//
// A roll larger than one Kubernetes Secret (1 MiB, about 13,000 voters) is
// given in parts, each a CSV file with the same header. A [Validator] reads
// them one after the other, checking every line as Parse does while keeping
// no voter in memory (a 1,000,000-voter roll validates in under 100 MiB of
// heap); line numbers count from the start of each part, and every problem
// names its part (LineError.Part). Its [Summary] gives the same digest as
// Parse gives for the whole file: the digest does not depend on how the roll
// is cut. [Split] cuts a file into parts, only ever between records, [Join]
// puts them back together, and [PartsDigest] is the digest of the parts' bytes
// that an Election's spec.voterRoll.digest gives.
//
// A good roll may still have warnings: voters no channel reaches
// (Roll.Unreachable and UnreachableLines), and (Roll.Warnings) lines whose voter_id,
// name or email starts with =, +, - or @, which a spreadsheet reads as a
// formula. The line is kept; the participation export writes such a cell with
// a single quote before it (see internal/spreadsheet).
//
// Error messages are meant for Kubernetes status, events and logs, so they
// never repeat what a field holds (no voter id, name, email or phone): they
// give the line number, the column and what is wrong.
package roll
