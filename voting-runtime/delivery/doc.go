// Package delivery sends sign-in codes and voting credentials by mail (SMTP) and by
// SMS (an HTTP gateway), without ever making a voter's request wait on the network.
//
// A voter's request calls [Queue.Enqueue], which only puts the message in a bounded
// in-memory buffer: it returns at once, with [ErrQueueFull] when the buffer is full
// so that the caller can show a "try again in a moment" page. Worker goroutines take
// the messages out and hand them to a [Sender] ([NewSMTP] or [NewSMS]), retrying
// temporary failures with exponential backoff and jitter (1 s, 2 s, 4 s … capped at
// 60 s, and never sooner than a gateway's Retry-After) until the message's deadline,
// the end of its code's validity: a code that arrives after it expired is useless,
// so such a message is given up as "expired" rather than retried forever. Permanent
// failures (a refused recipient, a wrong gateway token) stop at once.
// [Queue.Status] tells the sign-in page where a voter's latest message stands.
//
// # Secrets
//
// A Message's Body holds the code or the credential, and its To the voter's address
// or phone. Neither ever reaches a log line, an error text or a metric label: the
// queue logs the voter id, the channel and the outcome only, and the senders build
// their errors ([*Error]) from status codes and plain words, never from the text a
// server or a library returns about the recipient (mail servers often repeat the
// address in a refusal). Metric labels are the channel and fixed outcome words.
//
// # Metrics
//
// A Queue registers, on QueueOptions.Registerer:
//
//	scrutin_codes_sent_total{channel,result}        result: sent, failed, expired
//	scrutin_code_delivery_seconds{channel}          enqueue → accepted by the server or gateway
//	scrutin_delivery_queue_depth{channel}           messages accepted and not yet finished
//	scrutin_delivery_attempts_total{channel,outcome} outcome: accepted, temporary_error, permanent_error
//	scrutin_delivery_rejected_total{channel,reason} reason: queue_full, expired, closed
//
// Two queues (mail and SMS) may share one registry: the second reuses the first's
// collectors.
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
