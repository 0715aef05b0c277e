package router

import (
	"encoding/json"
	"fmt"

	"github.com/ingot-paas/ingot/internal/bus"
	"github.com/ingot-paas/ingot/internal/messages"
)

// subscribe joins router.register, router.unregister and router.greet.
// Every router gets every registration, so there is no queue group.
func (r *Router) subscribe() ([]bus.Subscription, error) {
	handlers := []struct {
		subject string
		h       bus.Handler
	}{
		{bus.SubjectRouterRegister, r.onRegister},
		{bus.SubjectRouterUnregister, r.onUnregister},
		{bus.SubjectRouterGreet, r.onGreet},
	}
	subs := make([]bus.Subscription, 0, len(handlers))
	for _, h := range handlers {
		s, err := r.deps.Bus.Subscribe(h.subject, "", h.h)
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return nil, fmt.Errorf("router subscribe %s: %w", h.subject, err)
		}
		subs = append(subs, s)
	}
	return subs, nil
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
