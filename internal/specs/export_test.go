package specs

// What the tests of package specs_test read of the builders' internals.

const (
	KeySession         = keySession
	NamespaceNameLabel = namespaceNameLabel
	RuntimeTemplateKey = runtimeTemplateKey
)

var (
	ArchiveCopySelector = archiveCopySelector
	ResourceTimes       = resourceTimes
	RuntimeMemoryLimit  = runtimeMemoryLimit
	RuntimeCPURequest   = runtimeCPURequest
)
