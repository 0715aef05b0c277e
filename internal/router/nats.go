package router

import (
	"encoding/json"
	"fmt"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// subjectRouterAll covers router.register, router.unregister and
// router.greet (plus router.start, which is ignored). One subscription, as
// gorouter has, keeps a register and a following unregister of the same
// endpoint in order; separate subscriptions are delivered on separate
// goroutines and could swap them.
const subjectRouterAll = "router.*"

// subscribe joins the router subjects. Every router gets every
// registration, so there is no queue group.
func (r *Router) subscribe() ([]bus.Subscription, error) {
	s, err := r.deps.Bus.Subscribe(subjectRouterAll, "", r.onMessage)
	if err != nil {
		return nil, fmt.Errorf("router subscribe %s: %w", subjectRouterAll, err)
	}
	return []bus.Subscription{s}, nil
}

func (r *Router) onMessage(m *bus.Msg) {
	switch m.Subject {
	case bus.SubjectRouterRegister:
		r.onRegister(m)
	case bus.SubjectRouterUnregister:
		r.onUnregister(m)
	case bus.SubjectRouterGreet:
		r.onGreet(m)
	}
}

func (r *Router) onRegister(m *bus.Msg) {
	var msg messages.RouterRegister
	if err := messages.Decode(m.Data, &msg); err != nil {
		r.log.Warn("route-message-rejected", "subject", m.Subject, "error", err)
		return
	}
	if err := r.reg.register(&msg); err != nil {
		r.log.Warn("route-register-rejected", "subject", m.Subject, "host", msg.Host,
			"port", msg.Port, "app_guid", msg.App, "error", err)
	}
}

func (r *Router) onUnregister(m *bus.Msg) {
	var msg messages.RouterRegister
	if err := messages.Decode(m.Data, &msg); err != nil {
		r.log.Warn("route-message-rejected", "subject", m.Subject, "error", err)
		return
	}
	if err := r.reg.unregister(&msg); err != nil {
		r.log.Warn("route-unregister-rejected", "subject", m.Subject, "host", msg.Host,
			"port", msg.Port, "app_guid", msg.App, "error", err)
	}
}

func (r *Router) onGreet(m *bus.Msg) {
	if m.Reply == "" {
		return
	}
	data, err := json.Marshal(&r.start)
	if err != nil {
		r.log.Error("router-greet-failed", "error", err)
		return
	}
	if err := r.deps.Bus.Respond(m, data); err != nil {
		r.log.Warn("router-greet-failed", "error", err)
	}
}

// publishStart announces the router so registrars re-register at once and
// learn the register interval.
func (r *Router) publishStart(why string) {
	if err := r.deps.Bus.PublishJSON(bus.SubjectRouterStart, &r.start); err != nil {
		r.log.Warn("router-start-publish-failed", "reason", why, "error", err)
		return
	}
	r.log.Info("router-start-published", "reason", why)
}
