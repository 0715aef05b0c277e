package brokerkit

import "github.com/ingot-paas/ingot/internal/broker/osb"

// Service describes a built-in broker's service.
type Service struct {
	ID, Name, Description string
	Tags                  []string
	PlanUpdateable        bool
	// DisplayName, LongDescription and DocumentationURL go in the
	// service's metadata.
	DisplayName, LongDescription, DocumentationURL string
}

// Catalog is the one-service catalog of a built-in broker: bindable, its
// instances and bindings retrievable, provided by ingot.
func Catalog(s Service, plans []osb.Plan) osb.Catalog {
	return osb.Catalog{Services: []osb.Service{{
		ID: s.ID, Name: s.Name,
		Description:          s.Description,
		Tags:                 s.Tags,
		Bindable:             true,
		PlanUpdateable:       s.PlanUpdateable,
		InstancesRetrievable: true,
		BindingsRetrievable:  true,
		Metadata: map[string]any{
			"displayName":         s.DisplayName,
			"longDescription":     s.LongDescription,
			"providerDisplayName": "ingot",
			"documentationUrl":    s.DocumentationURL,
		},
		Plans: plans,
	}}}
}

// FreePlan is a free plan whose metadata carry a display name and bullets.
func FreePlan(id, name, description, displayName string, bullets ...string) osb.Plan {
	return osb.Plan{
		ID: id, Name: name, Description: description, Free: osb.BoolPtr(true),
		Metadata: map[string]any{"displayName": displayName, "bullets": bullets},
	}
}
