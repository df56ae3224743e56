package contract

// The election's mail and SMS settings: the controller copies the keys of the
// tenant's delivery Secrets into the election's, prefixed, and the runtime
// reads them as files of --delivery-dir. The controller also reads the server's
// host and port for the egress NetworkPolicy.
const (
	// DeliverySMTPPrefix prefixes the keys of spec.delivery.smtp's Secret.
	DeliverySMTPPrefix = "smtp."
	// DeliverySMSPrefix prefixes the keys of spec.delivery.sms's Secret.
	DeliverySMSPrefix = "sms."
	// SettingSMTPHost is the mail server's host.
	SettingSMTPHost = DeliverySMTPPrefix + "host"
	// SettingSMTPPort is the mail server's port (SMTPSubmissionPort when unset).
	SettingSMTPPort = DeliverySMTPPrefix + "port"
	// SettingSMSURL is the SMS gateway's URL.
	SettingSMSURL = DeliverySMSPrefix + "url"
)

// SMTPSubmissionPort is the mail server's port when smtp.port is not set,
// whatever smtp.tls says: the runtime dials it and the controller's egress
// NetworkPolicy allows it.
const SMTPSubmissionPort = 587
