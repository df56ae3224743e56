// Package delivery sends sign-in codes and voting credentials by mail (SMTP) and by
// SMS (an HTTP gateway), through the election store's durable outbox, without ever
// making a voter's request wait on the network.
//
// Every message is a row of the store's outbox ([store.Outbox]) before it is
// sent: a voter's request calls [Outbox.EnqueueCode], which seals the message
// ([Sealer]) and stores it, and returns at once, with [ErrQueueFull] when too
// many codes already wait on the channel, across replicas, so that the caller can
// show a "try again in a moment" page; credential letters are stored in the roll
// import's own transaction. Per channel, this process's workers claim due rows
// (their own or any other replica's: woken at once by this process's enqueues,
// polling every second for the others'), open them, hand them to a [Sender]
// ([NewSMTP] or [NewSMS]) and record the outcome: sent; retried with
// exponential backoff and jitter (1 s, 2 s, 4 s … capped at 60 s, and never
// sooner than a gateway's Retry-After); or failed for good, on a permanent
// refusal (a refused recipient, a wrong gateway token) or once the message is
// worthless (a code past its validity: "expired"). A claim is a lease longer
// than an attempt may take: a row whose worker died (kill -9, OOM, a rollout) is
// claimed again once it runs out, and sent with the same sealed content, so that
// a duplicate never carries a different secret.
//
// # Why not a job queue library
//
// River (github.com/riverqueue/river) was the first candidate: a well-kept queue on
// the database itself, with a pgx and a SQLite driver. The outbox is the store's
// own table instead, because River could not meet three of its promises as they
// stand: a message's secret is erased once sent, while River keeps a job's
// arguments until its cleaner deletes the row; a worker that lost its lease may
// not record an outcome (the attempt guard of [store.Outbox.Finish]), while River
// rescues stuck jobs after a fixed timeout; and the embedded store's single
// SQLite writer, shared with the ballot box, would have had River's own
// concurrent maintenance and schema beside it (its SQLite driver is, in its own
// documentation, in early testing and advises one connection). A voter's
// delivery history and the organisers' counts are plain queries of the same
// table, on both stores.
//
// # Secrets
//
// A Message's Body holds the code or the credential, and its To the voter's address
// or phone. In the store they are sealed: AES-256-GCM under a key derived by
// HKDF-SHA256 from the election's hash key, the voter id, kind and channel bound
// as additional data, and erased once the message is sent or given up. Neither
// ever reaches a log line, an error text, a stored reason or a metric label: the
// outbox logs the voter id, the channel and the outcome only, stores a failure's
// class ("smtp-550", "sms-http-503", "expired"), and the senders build their
// errors ([*Error]) from status codes and plain words, never from the text a
// server or a library returns about the recipient (mail servers often repeat the
// address in a refusal). Metric labels are the channel and fixed outcome words.
//
// # Metrics
//
// An Outbox registers, on OutboxOptions.Registerer:
//
//	scrutin_codes_sent_total{channel,result}           result: sent, failed, expired
//	scrutin_code_delivery_seconds{channel}             enqueue → accepted by the server or gateway
//	scrutin_delivery_queue_depth{channel}              messages queued in the store, every replica's
//	scrutin_delivery_backlog{channel,kind}             the same by kind (code, credential)
//	scrutin_delivery_oldest_queued_seconds{channel,kind} age of the oldest queued message
//	scrutin_delivery_attempts_total{channel,outcome}   outcome: accepted, temporary_error, permanent_error
//	scrutin_delivery_rejected_total{channel,reason}    reason: queue_full, expired, closed
//
// # Settings
//
// [LoadDir] reads both channels' settings from a directory of one-value files, as
// Kubernetes mounts a Secret: smtp.host, smtp.port, smtp.username, smtp.password,
// smtp.from, smtp.tls ("none", "starttls" or "tls") and sms.url, sms.token,
// sms.sender.
//
// Package delivery/sink holds real SMTP and SMS-gateway servers on 127.0.0.1 for
// tests.
package delivery
