package presenters

import "github.com/ingot-paas/ingot/internal/store"

// Deployment is a v3 deployment.
type Deployment struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// State is the pre-status field the CLI still reads on old APIs.
	State  string `json:"state"`
	Status struct {
		Value   string            `json:"value"`
		Reason  string            `json:"reason"`
		Details map[string]string `json:"details"`
	} `json:"status"`
	Strategy string `json:"strategy"`
	Options  struct {
		MaxInFlight int `json:"max_in_flight"`
	} `json:"options"`
	Droplet         GUIDRef      `json:"droplet"`
	PreviousDroplet GUIDRef      `json:"previous_droplet"`
	NewProcesses    []NewProcess `json:"new_processes"`
	// Revision is null: ingot keeps droplets, not revision records.
	Revision      *struct{} `json:"revision"`
	Metadata      Metadata  `json:"metadata"`
	Relationships struct {
		App ToOne `json:"app"`
	} `json:"relationships"`
	Links Links `json:"links"`
}

// NewProcess names a process a deployment brings up.
type NewProcess struct {
	GUID string `json:"guid"`
	Type string `json:"type"`
}

// Deployment renders d; webGUID is the app's web process.
func (p Presenter) Deployment(d *store.Deployment, webGUID string) *Deployment {
	base := "/v3/deployments/" + d.GUID
	out := &Deployment{
		GUID: d.GUID, CreatedAt: Time(d.CreatedAt), UpdatedAt: Time(d.UpdatedAt),
		Strategy: d.Strategy, Droplet: GUIDRef{GUID: d.DropletGUID}, PreviousDroplet: GUIDRef{GUID: d.PreviousDropletGUID},
		NewProcesses: []NewProcess{}, Metadata: emptyMetadata(),
		Links: Links{"self": p.link(base), "app": p.link("/v3/apps/" + d.AppGUID)},
	}
	out.State = d.StatusReason
	out.Status.Value, out.Status.Reason = d.StatusValue, d.StatusReason
	out.Status.Details = map[string]string{"last_status_change": Time(d.UpdatedAt)}
	if d.Error != "" {
		out.Status.Details["error"] = d.Error
	}
	out.Options.MaxInFlight = d.MaxInFlight
	if webGUID != "" {
		out.NewProcesses = append(out.NewProcesses, NewProcess{GUID: webGUID, Type: "web"})
	}
	out.Relationships.App = Rel(d.AppGUID)
	if d.StatusValue == store.DeploymentActive {
		out.Links["cancel"] = p.post(base + "/actions/cancel")
	}
	return out
}
