package bus

// Every subject ingot uses, in one place. Payloads are in internal/messages.
const (
	// DEA → controller: messages.DEAAdvertise, every advertise interval.
	SubjectDEAAdvertise = "dea.advertise"
	// Controller → DEAs: empty; every DEA advertises at once.
	SubjectDEALocate = "dea.locate"
	// DEA → controller: messages.DEAShutdown.
	SubjectDEAShutdown = "dea.shutdown"
	// Controller → DEAs: messages.StopInstances (a filter).
	SubjectDEAStop = "dea.stop"
	// Controller → DEAs: messages.UpdateRoutes.
	SubjectDEAUpdate = "dea.update"
	// DEA → HM and controller: messages.Heartbeat.
	SubjectDEAHeartbeat = "dea.heartbeat"
	// DEA → HM and controller: messages.DropletExited.
	SubjectDropletExited = "droplet.exited"
	// HM → DEAs: empty; every DEA heartbeats at once.
	SubjectHMStart = "healthmanager.start"
	// HM → controller (queue group QueueController): messages.HMRequest.
	SubjectHMRequests = "cloudcontrollers.hm.requests"
	// HM → controller (request/reply, queue QueueController):
	// messages.DesiredStateRequest → messages.DesiredStateReply.
	SubjectDesiredState = "cloudcontroller.desired_state"
	// Health managers → controller (request/reply, queue QueueController):
	// messages.LeaseRequest → messages.LeaseReply.
	SubjectLease = "cloudcontroller.lease"

	// Router subjects, gorouter-compatible.
	SubjectRouterRegister   = "router.register"
	SubjectRouterUnregister = "router.unregister"
	SubjectRouterStart      = "router.start"
	SubjectRouterGreet      = "router.greet"

	// LogSubjectPrefix + app guid carries messages.LogLine.
	LogSubjectPrefix = "logs."
	// LogSubjectAll subscribes to every app's log.
	LogSubjectAll = "logs.*"

	// QueueController is the queue group of controllers.
	QueueController = "cc"
)

// DEAStartSubject is the request subject for starting an instance on one DEA
// (messages.StartInstance → messages.StartReply).
func DEAStartSubject(deaID string) string { return "dea." + deaID + ".start" }

// StagingStartSubject is the request subject for staging on one DEA
// (messages.StagingRequest → messages.StagingResult).
func StagingStartSubject(deaID string) string { return "staging." + deaID + ".start" }

// LogSubject is the subject of one app's log lines.
func LogSubject(appGUID string) string { return LogSubjectPrefix + appGUID }
