package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/ingot-paas/ingot/pkg/client"
)

// confirm asks a yes/no question unless force; it reports whether to go
// on. Without a terminal it refuses.
func (s *session) confirm(force bool, question string) (bool, error) {
	if force {
		return true, nil
	}
	answer, err := s.prompt(question)
	if errors.Is(err, ErrNotTerminal) {
		return false, errors.New("refusing to delete without confirmation: stdin is not a terminal (use -f)")
	}
	if err != nil {
		return false, err
	}
	if a := strings.ToLower(answer); a != "y" && a != "yes" {
		s.printf("Delete cancelled\n")
		return false, nil
	}
	return true, nil
}

// lastOperationText renders a last operation as the cf CLI does
// ("create succeeded", "create in progress").
func lastOperationText(op *client.LastOperation) string {
	if op == nil || op.Type == "" {
		return ""
	}
	return op.Type + " " + op.State
}

// serviceInstance finds an instance of the targeted space by name.
func (s *session) serviceInstance(ctx context.Context, name string) (*client.ServiceInstance, error) {
	return s.c.GetServiceInstanceByName(ctx, s.cfg.SpaceGUID, name)
}

// planNames resolves plan guids to "offering/plan" display names.
func (s *session) planNames(ctx context.Context, sis []client.ServiceInstance) (offerings, plans map[string]string) {
	offerings, plans = map[string]string{}, map[string]string{}
	offNames := map[string]string{}
	for _, si := range sis {
		pg := si.Relationships.ServicePlan.GUID()
		if pg == "" || plans[pg] != "" {
			continue
		}
		p, err := s.c.GetServicePlan(ctx, pg)
		if err != nil {
			continue
		}
		plans[pg] = p.Name
		og := p.Relationships.ServiceOffering.GUID()
		if _, ok := offNames[og]; !ok {
			if o, err := s.c.GetServiceOffering(ctx, og); err == nil {
				offNames[og] = o.Name
			}
		}
		offerings[pg] = offNames[og]
	}
	return offerings, plans
}
