package controller

import (
	"fmt"
	"sync"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/placement"
	"github.com/ingot-paas/ingot/internal/messages"
)

// How long bookkeeping entries live.
const (
	staleTTL    = 30 * time.Second // instances being stopped are ignored this long
	crashMemory = time.Hour        // crash and placement-failure details for stats
	// crashResetAfter: an index that stayed up this long starts counting
	// crashes afresh (the health manager's backoff resets alike).
	crashResetAfter = 5 * time.Minute
	maxDEAs         = 10000
	maxInstances    = 200000
)

type deaAd struct {
	msg     messages.DEAAdvertise
	expires time.Time
}

type liveInstance struct {
	hb  messages.InstanceHeartbeat
	dea string
}

type deaActual struct {
	lastHeard time.Time
	instances map[string]*liveInstance // by instance guid
}

type pendingStart struct {
	appGUID, procType, version string
	index                      int
	dea                        string
	at                         time.Time
}

type indexKey struct {
	app, proc string
	index     int
}

type crashInfo struct {
	instanceGUID string
	at           time.Time
	reason       string
	count        int
	version      string
}

type placeFailure struct {
	at      time.Time
	details string
}

// runtimeView is the controller's in-memory picture of the DEA pool and
// of actual instance state, rebuilt from advertisements, heartbeats and
// exit messages. It is never persisted: after a restart it refills within
// one advertise and one heartbeat interval.
type runtimeView struct {
	adTTL, hbTTL time.Duration
	now          func() time.Time

	mu       sync.Mutex
	ads      map[string]*deaAd
	firstAd  chan struct{}
	gotAd    bool
	deas     map[string]*deaActual
	pending  map[string]*pendingStart // by instance guid
	stale    map[string]time.Time     // instance guid → until
	crashes  map[indexKey]*crashInfo
	failures map[indexKey]*placeFailure
	// gens counts stops per app, so a placement running concurrently with
	// a stop notices and undoes what it started.
	gens map[string]uint64
	// evacuated holds DEAs that announced their evacuation, until when
	// their advertisements are ignored (one still in flight must not put
	// the DEA back in the pool).
	evacuated map[string]time.Time
}

func newRuntimeView(adTTL, hbTTL time.Duration) *runtimeView {
	return &runtimeView{
		adTTL: adTTL, hbTTL: hbTTL, now: time.Now,
		ads: map[string]*deaAd{}, firstAd: make(chan struct{}),
		deas: map[string]*deaActual{}, pending: map[string]*pendingStart{},
		stale: map[string]time.Time{}, crashes: map[indexKey]*crashInfo{},
		failures: map[indexKey]*placeFailure{}, gens: map[string]uint64{},
		evacuated: map[string]time.Time{},
	}
}

// generation returns the app's stop generation.
func (v *runtimeView) generation(appGUID string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gens[appGUID]
}

// bumpGeneration marks a stop of the app.
func (v *runtimeView) bumpGeneration(appGUID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gens[appGUID]++
}

func procType(t string) string {
	if t == "" {
		return "web"
	}
	return t
}

func isLive(state string) bool {
	return state == messages.StateStarting || state == messages.StateRunning
}

// advertise records a DEA advertisement.
func (v *runtimeView) advertise(m messages.DEAAdvertise) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.ads[m.ID]; !ok && len(v.ads) >= maxDEAs {
		return
	}
	if until, ok := v.evacuated[m.ID]; ok {
		if v.now().Before(until) {
			return
		}
		delete(v.evacuated, m.ID)
	}
	ttl := v.adTTL
	if m.ExpiresInSeconds > 0 && time.Duration(m.ExpiresInSeconds)*time.Second < ttl {
		ttl = time.Duration(m.ExpiresInSeconds) * time.Second
	}
	if m.AppIDToCount == nil {
		m.AppIDToCount = map[string]int{}
	}
	v.ads[m.ID] = &deaAd{msg: m, expires: v.now().Add(ttl)}
	if !v.gotAd {
		v.gotAd = true
		close(v.firstAd)
	}
}

// removeDEA forgets a DEA that said goodbye, and its instances.
func (v *runtimeView) removeDEA(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.ads, id)
	delete(v.deas, id)
	delete(v.evacuated, id)
}

// evacuating takes a DEA that is evacuating out of the placement pool,
// keeping its instances: they report EVACUATING (not live) until
// replaced, then stop.
func (v *runtimeView) evacuating(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.ads, id)
	if _, ok := v.evacuated[id]; ok || len(v.evacuated) < maxDEAs {
		v.evacuated[id] = v.now().Add(v.adTTL)
	}
}

// candidates returns the live advertisements as placement candidates for
// an app.
func (v *runtimeView) candidates(appGUID string) []placement.Candidate {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	out := make([]placement.Candidate, 0, len(v.ads))
	for id, ad := range v.ads {
		if now.After(ad.expires) {
			delete(v.ads, id)
			continue
		}
		out = append(out, placement.Candidate{
			ID: id, Zone: ad.msg.Zone, Stacks: ad.msg.Stacks,
			MemoryMB: ad.msg.AvailableMemoryMB, DiskMB: ad.msg.AvailableDiskMB,
			AppCount: ad.msg.AppIDToCount[appGUID],
		})
	}
	return out
}

// hasDEAs reports whether any advertisement is live.
func (v *runtimeView) hasDEAs() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, ad := range v.ads {
		if !now.After(ad.expires) {
			return true
		}
	}
	return false
}

// reserve optimistically charges a placement to the cached advertisement
// so a burst of starts spreads out before the next advertisement.
func (v *runtimeView) reserve(deaID, appGUID string, memMB, diskMB int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ad := v.ads[deaID]
	if ad == nil {
		return
	}
	ad.msg.AvailableMemoryMB = max(0, ad.msg.AvailableMemoryMB-memMB)
	ad.msg.AvailableDiskMB = max(0, ad.msg.AvailableDiskMB-diskMB)
	if appGUID != "" {
		ad.msg.AppIDToCount[appGUID]++
	}
}

// heartbeat applies a DEA heartbeat: a full one replaces the DEA's
// instances, a partial one updates those it names.
func (v *runtimeView) heartbeat(hb messages.Heartbeat) {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.deas[hb.DEA]
	if d == nil {
		if len(v.deas) >= maxDEAs {
			return
		}
		d = &deaActual{instances: map[string]*liveInstance{}}
		v.deas[hb.DEA] = d
	}
	d.lastHeard = v.now()
	if !hb.Partial {
		d.instances = make(map[string]*liveInstance, len(hb.Instances))
	}
	for _, in := range hb.Instances {
		if len(d.instances) >= maxInstances {
			break
		}
		in.ProcessType = procType(in.ProcessType)
		d.instances[in.InstanceGUID] = &liveInstance{hb: in, dea: hb.DEA}
		delete(v.pending, in.InstanceGUID)
		if isLive(in.State) {
			k := indexKey{in.AppGUID, in.ProcessType, in.Index}
			// A replacement that has stayed up ends the crash record; one
			// that just started keeps it, so a crash loop's count grows.
			if cr := v.crashes[k]; cr != nil && cr.instanceGUID != in.InstanceGUID && cr.version == in.Version &&
				in.State == messages.StateRunning && !in.StartedAt.IsZero() && v.now().Sub(in.StartedAt) > crashResetAfter {
				delete(v.crashes, k)
			}
			delete(v.failures, k)
		}
	}
}

// exited removes an instance; a crash is remembered for stats.
func (v *runtimeView) exited(m messages.DropletExited) {
	v.mu.Lock()
	defer v.mu.Unlock()
	pt := procType(m.ProcessType)
	for _, d := range v.deas {
		if in, ok := d.instances[m.InstanceGUID]; ok {
			pt = in.hb.ProcessType
			delete(d.instances, m.InstanceGUID)
		}
	}
	if p, ok := v.pending[m.InstanceGUID]; ok {
		pt = p.procType
		delete(v.pending, m.InstanceGUID)
	}
	_, wasStale := v.stale[m.InstanceGUID]
	// Remember the exit so a late start reply or heartbeat cannot revive it.
	v.stale[m.InstanceGUID] = v.now().Add(staleTTL)
	if m.Reason == messages.ReasonCrashed && !wasStale {
		k := indexKey{m.AppGUID, pt, m.Index}
		cr := v.crashes[k]
		if cr == nil {
			cr = &crashInfo{}
			v.crashes[k] = cr
		}
		if v.now().Sub(cr.at) > crashResetAfter || cr.version != m.Version {
			cr.count = 0
		}
		cr.count++
		cr.instanceGUID = m.InstanceGUID
		cr.at = v.now()
		cr.version = m.Version
		cr.reason = m.ExitDescription
		if cr.reason == "" {
			cr.reason = "APP/PROC/" + pt + " crashed"
		}
	}
}

// instances returns the app's live-reported instances from DEAs heard
// from recently, leaving out instances being stopped.
func (v *runtimeView) instances(appGUID string) []messages.InstanceHeartbeat {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.instancesLocked(appGUID)
}

func (v *runtimeView) instancesLocked(appGUID string) []messages.InstanceHeartbeat {
	now := v.now()
	var out []messages.InstanceHeartbeat
	for _, d := range v.deas {
		if now.Sub(d.lastHeard) > v.hbTTL {
			continue
		}
		for g, in := range d.instances {
			if in.hb.AppGUID != appGUID {
				continue
			}
			if until, ok := v.stale[g]; ok && now.Before(until) {
				continue
			}
			out = append(out, in.hb)
		}
	}
	return out
}

// pendingOf returns the app's accepted-but-unreported starts.
func (v *runtimeView) pendingOf(appGUID string) []pendingStart {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	var out []pendingStart
	for g, p := range v.pending {
		if p.appGUID != appGUID {
			continue
		}
		if now.Sub(p.at) > v.hbTTL {
			delete(v.pending, g)
			continue
		}
		out = append(out, *p)
	}
	return out
}

// occupied reports whether index of the app's process type has a live or
// pending instance of version.
func (v *runtimeView) occupied(appGUID, pt, version string, index int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, in := range v.instancesLocked(appGUID) {
		if in.ProcessType == pt && in.Index == index && in.Version == version && isLive(in.State) {
			return true
		}
	}
	now := v.now()
	for _, p := range v.pending {
		if p.appGUID == appGUID && p.procType == pt && p.index == index && p.version == version && now.Sub(p.at) <= v.hbTTL {
			return true
		}
	}
	return false
}

func (v *runtimeView) addPending(instanceGUID string, p pendingStart) {
	v.mu.Lock()
	defer v.mu.Unlock()
	// The DEA's heartbeat or exit may have overtaken its reply.
	if _, gone := v.stale[instanceGUID]; gone {
		return
	}
	for _, d := range v.deas {
		if _, ok := d.instances[instanceGUID]; ok {
			delete(v.failures, indexKey{p.appGUID, p.procType, p.index})
			return
		}
	}
	p.at = v.now()
	v.pending[instanceGUID] = &p
	delete(v.failures, indexKey{p.appGUID, p.procType, p.index})
}

func (v *runtimeView) recordFailure(appGUID, pt string, index int, details string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.failures[indexKey{appGUID, pt, index}] = &placeFailure{at: v.now(), details: details}
}

// indexNote is what stats show for an index without a live instance.
type indexNote struct {
	crashed bool
	details string
	since   time.Time
}

// note returns crash or placement-failure details for an index.
func (v *runtimeView) note(appGUID, pt string, index int) (indexNote, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := indexKey{appGUID, pt, index}
	if cr := v.crashes[k]; cr != nil {
		details := cr.reason
		if cr.count > 1 {
			details = fmt.Sprintf("%s (crashed %d times)", cr.reason, cr.count)
		}
		return indexNote{crashed: true, details: details, since: cr.at}, true
	}
	if f := v.failures[k]; f != nil {
		return indexNote{details: f.details, since: f.at}, true
	}
	return indexNote{}, false
}

// crashedSince reports a crash of version at the index after since.
func (v *runtimeView) crashedSince(appGUID, pt, version string, index int, since time.Time) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cr := v.crashes[indexKey{appGUID, pt, index}]
	if cr == nil || cr.version != version || cr.at.Before(since) {
		return "", false
	}
	return cr.reason, true
}

// markStopping hides the app's known instances (optionally only those
// matching keep == false) while they stop, drops its pending starts and
// forgets its crashes, and returns the instance guids concerned.
func (v *runtimeView) markStopping(appGUID string, match func(pt string, index int, version string) bool) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	var guids []string
	for _, in := range v.instancesLocked(appGUID) {
		if match == nil || match(in.ProcessType, in.Index, in.Version) {
			v.stale[in.InstanceGUID] = now.Add(staleTTL)
			guids = append(guids, in.InstanceGUID)
		}
	}
	for g, p := range v.pending {
		if p.appGUID == appGUID && (match == nil || match(p.procType, p.index, p.version)) {
			delete(v.pending, g)
			if _, known := v.stale[g]; !known {
				guids = append(guids, g)
			}
			v.stale[g] = now.Add(staleTTL)
		}
	}
	for k := range v.crashes {
		if k.app == appGUID && (match == nil || match(k.proc, k.index, "")) {
			delete(v.crashes, k)
		}
	}
	for k := range v.failures {
		if k.app == appGUID && (match == nil || match(k.proc, k.index, "")) {
			delete(v.failures, k)
		}
	}
	return guids
}

// dropInstance hides one instance while it stops.
func (v *runtimeView) dropInstance(guid string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.pending, guid)
	v.stale[guid] = v.now().Add(staleTTL)
}

// stopping counts the app's instances that were told to stop but are
// still reported by their DEA.
func (v *runtimeView) stopping(appGUID string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	n := 0
	for _, d := range v.deas {
		if now.Sub(d.lastHeard) > v.hbTTL {
			continue
		}
		for g, in := range d.instances {
			if until, ok := v.stale[g]; ok && now.Before(until) && in.hb.AppGUID == appGUID {
				n++
			}
		}
	}
	return n
}

// forgetApp drops everything about a deleted app.
func (v *runtimeView) forgetApp(appGUID string) {
	v.markStopping(appGUID, nil)
	v.mu.Lock()
	delete(v.gens, appGUID)
	v.mu.Unlock()
}

// findInstance looks an instance up among fresh heartbeats.
func (v *runtimeView) findInstance(guid string) (messages.InstanceHeartbeat, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, d := range v.deas {
		if now.Sub(d.lastHeard) > v.hbTTL {
			continue
		}
		if in, ok := d.instances[guid]; ok {
			return in.hb, true
		}
	}
	return messages.InstanceHeartbeat{}, false
}

// sweep expires old bookkeeping.
func (v *runtimeView) sweep() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for id, ad := range v.ads {
		if now.After(ad.expires) {
			delete(v.ads, id)
		}
	}
	for id, until := range v.evacuated {
		if now.After(until) {
			delete(v.evacuated, id)
		}
	}
	for id, d := range v.deas {
		if now.Sub(d.lastHeard) > 10*v.hbTTL {
			delete(v.deas, id)
		}
	}
	for g, p := range v.pending {
		if now.Sub(p.at) > v.hbTTL {
			delete(v.pending, g)
		}
	}
	for g, until := range v.stale {
		if now.After(until) {
			delete(v.stale, g)
		}
	}
	for k, cr := range v.crashes {
		if now.Sub(cr.at) > crashMemory {
			delete(v.crashes, k)
		}
	}
	for k, f := range v.failures {
		if now.Sub(f.at) > crashMemory {
			delete(v.failures, k)
		}
	}
}
